/**
 * Destination trust (core/destination-trust.ts) on the local runtime: two customer buses in two
 * customers' accounts, each bound to its own tenant by the platform admin. A tenant reaches only
 * what it is bound to, never the operator's account (unless bound there on purpose) and never
 * Herald's own bus; a binding removed later stops deliveries (`destination_not_allowed`, dead-
 * lettered, not retried); what Herald delivers is marked and never fanned out again.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BUS, localBusArn, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { generateApiKey } from '../../lambdas/core/api-keys.ts';
import { newId } from '../../lambdas/core/ids.ts';
import { exampleOf } from '../support/catalogue.ts';

const ADMIN = 'hk_admin_e2e_trust_000000000000000000000000000000000';
const ACCOUNT_A = '333333333333';
const ACCOUNT_B = '444444444444';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let fanouts = 0;
type Tenant = { id: string; apiKey: string };
let a: Tenant;
let b: Tenant;
let ops: Tenant;

/**
 * The tenant the operator binds its own account to. Deployed, `herald:operatorAccountTenants`
 * names an existing tenant and the functions read it at cold start; here its id is chosen first,
 * the setting made before Herald starts, and the tenant written with that id.
 */
const OPS_TENANT_ID = newId('ten');

async function seedTenant(id: string, name: string): Promise<Tenant> {
  const { DynamoTenantStore } = await import('../../lambdas/adapters/tenant-store.ts');
  const { DynamoApiKeyStore } = await import('../../lambdas/adapters/api-key-store.ts');
  const createdAt = new Date().toISOString();
  const key = generateApiKey();
  await new DynamoTenantStore(process.env.TABLE_NAME!).putTenant({ id, name, createdAt });
  await new DynamoApiKeyStore(process.env.TABLE_NAME!).putApiKey({ hash: key.hash, prefix: key.prefix, role: 'tenant', tenantId: id, createdAt });
  return { id, apiKey: key.key };
}

beforeAll(async () => {
  // As `herald:operatorAccountTenants` does deployed: the operator's account, bound on purpose.
  process.env.HERALD_DESTINATION_TRUST = JSON.stringify({ operatorAccountTenants: [OPS_TENANT_ID], reservedSources: ['com.platform'] });
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    customerBuses: [`bus-a@${ACCOUNT_A}`, `bus-b@${ACCOUNT_B}`, 'ops-bus@000000000000'],
    onInvocation: (fn) => {
      if (fn === 'fanout') fanouts++;
    },
  });
  api = apiClient(herald.url);
  a = (await api('POST', '/v1/tenants', ADMIN, { name: 'A' })).body;
  b = (await api('POST', '/v1/tenants', ADMIN, { name: 'B' })).body;
  ops = await seedTenant(OPS_TENANT_ID, 'Operator tooling');
  expect((await api('PUT', `/v1/tenants/${a.id}/destination-binding`, ADMIN, { accounts: [ACCOUNT_A] })).status).toBe(200);
  expect((await api('PUT', `/v1/tenants/${b.id}/destination-binding`, ADMIN, { eventBusArns: [localBusArn('bus-b')] })).status).toBe(200);
});

afterAll(async () => {
  delete process.env.HERALD_DESTINATION_TRUST;
  await herald?.stop();
});

let counter = 0;
async function subscribe(tenant: Tenant, destination: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const subject = `trust-${++counter}`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: subject,
    eventTypes: ['order.created'],
    filter: { subject: [subject] },
    destination: { type: 'eventbridge', ...destination },
    retryPolicy: { schedule: [1, 1, 1] },
    ...extra,
  });
  return { res, subject };
}

async function publish(tenant: Tenant, subject: string) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject, data: exampleOf('order.created') });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function busEvents(name: string): Promise<any[]> {
  const res = await fetch(`${herald.url}/local/buses/${name}/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.json()) as { items: any[] }).items;
}

describe('bindings', () => {
  it('lets A deliver to its own bus, marked and under its own source', async () => {
    const { res, subject } = await subscribe(a, { eventBusArn: localBusArn('bus-a') });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const eventId = await publish(a, subject);
    const landed = await eventually(async () => (await busEvents('bus-a')).find((e) => e.detail?.id === eventId));
    expect(landed.source).toBe(`herald.tenant.${a.id}`);
    expect(landed.detail.heralddelivery).toMatch(/^dlv_/);
  });

  it("refuses A's subscription to B's bus at create, naming the field", async () => {
    const { res } = await subscribe(a, { eventBusArn: localBusArn('bus-b') });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ path: 'destination.eventBusArn', message: expect.stringMatching(/not in this tenant's destination binding/) });
  });

  it("stops B's deliveries once B's binding is removed: destination_not_allowed, dead-lettered, not retried", async () => {
    const { res, subject } = await subscribe(b, { eventBusArn: localBusArn('bus-b') });
    expect(res.status).toBe(201);
    expect((await api('DELETE', `/v1/tenants/${b.id}/destination-binding`, ADMIN)).status).toBe(204);
    const eventId = await publish(b, subject);
    const letter = await eventually(async () => {
      const list = await api('GET', `/v1/dead-letters?subscriptionId=${res.body.id}`, b.apiKey);
      return list.body.items?.[0];
    }, 20_000);
    expect(letter.attempts).toHaveLength(1);
    expect(letter.attempts[0]).toMatchObject({ error: 'destination_not_allowed' });
    expect((await busEvents('bus-b')).some((e) => e.detail?.id === eventId)).toBe(false);
    expect((await api('GET', `/v1/tenants/${b.id}/destination-binding`, b.apiKey)).body).toMatchObject({ accounts: [], eventBusArns: [] });
  });

  it('lets only the admin change a binding, and a tenant read only its own', async () => {
    expect((await api('PUT', `/v1/tenants/${a.id}/destination-binding`, a.apiKey, { accounts: [ACCOUNT_B] })).status).toBe(403);
    expect((await api('GET', `/v1/tenants/${a.id}/destination-binding`, b.apiKey)).status).toBe(404);
    const bad = await api('PUT', `/v1/tenants/${a.id}/destination-binding`, ADMIN, { accounts: ['12345'] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('accounts[0]');
  });
});

describe("the operator's resources", () => {
  it("refuses Herald's own bus and the operator's account, whatever the binding", async () => {
    for (const tenant of [a, ops]) {
      const herald = await subscribe(tenant, { eventBusArn: localBusArn(LOCAL_BUS) });
      expect(herald.res.status).toBe(400);
      expect(herald.res.body.errors[0].message).toMatch(/Herald's own bus/);
    }
    const operator = await subscribe(a, { eventBusArn: localBusArn('ops-bus') });
    expect(operator.res.status).toBe(400);
    expect(operator.res.body.errors[0].message).toMatch(/operator's own account/);
  });

  it('refuses sources the platform reserves', async () => {
    for (const source of ['herald.events', 'herald.anything', 'com.platform.billing', 'aws.ec2']) {
      const { res } = await subscribe(a, { eventBusArn: localBusArn('bus-a'), source });
      expect(res.status, source).toBe(400);
      expect(res.body.errors.some((e: { path: string }) => e.path === 'destination.source'), source).toBe(true);
    }
  });

  it('with the operator account bound to one tenant, one publish puts exactly one event and fans out once', async () => {
    const { res, subject } = await subscribe(ops, { eventBusArn: localBusArn('ops-bus') });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await herald.settle();
    const before = fanouts;
    const eventId = await publish(ops, subject);
    await eventually(async () => ((await busEvents('ops-bus')).some((e) => e.detail?.id === eventId) ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await herald.settle();
    expect((await busEvents('ops-bus')).filter((e) => e.detail?.id === eventId)).toHaveLength(1);
    // Fanned out once, by the API at publish: the fan-out function never ran for it.
    expect(fanouts - before).toBe(0);
    const deliveries = (await api('GET', `/v1/subscriptions/${res.body.id}/deliveries`, ops.apiKey)).body.items;
    expect(deliveries.filter((d: { eventId?: string; eventIds?: string[] }) => d.eventId === eventId)).toHaveLength(1);
  });

  it('never fans out again what Herald delivered, even if it reaches the Herald bus', async () => {
    const { res, subject } = await subscribe(a, { eventBusArn: localBusArn('bus-a') });
    expect(res.status).toBe(201);
    const eventId = await publish(a, subject);
    const landed = await eventually(async () => (await busEvents('bus-a')).find((e) => e.detail?.id === eventId));
    // Replay the delivered event onto Herald's own bus as if a loop had formed.
    const client = new EventBridgeClient({ endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await herald.settle();
    const before = (await api('GET', `/v1/subscriptions/${res.body.id}/deliveries`, a.apiKey)).body.items.length;
    await client.send(new PutEventsCommand({ Entries: [{ EventBusName: LOCAL_BUS, Source: 'herald.events', DetailType: landed['detail-type'], Detail: JSON.stringify({ ...landed.detail, id: `${eventId}-again` }) }] }));
    await herald.settle();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await api('GET', `/v1/subscriptions/${res.body.id}/deliveries`, a.apiKey)).body.items.length).toBe(before);
    client.destroy();
  });
});
