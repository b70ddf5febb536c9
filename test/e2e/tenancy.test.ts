/**
 * Authentication and tenant isolation through the local API Gateway and the real authorizer:
 * 401 without a valid key (including a revoked one), 403 for tenant keys on admin routes, and
 * 404 with no data for every route tried against another tenant's resources.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_tenancy_0000000000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let alice: { id: string; apiKey: string };
let mallory: { id: string; apiKey: string };
let aliceSub: { id: string };
let aliceDelivery: string;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  alice = (await api('POST', '/v1/tenants', ADMIN, { name: 'Alice' })).body;
  mallory = (await api('POST', '/v1/tenants', ADMIN, { name: 'Mallory' })).body;
  aliceSub = (
    await api('POST', '/v1/subscriptions', alice.apiKey, {
      name: 'alice',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/alice`, headers: { 'x-alice-token': 'alice-private-token' } },
      retryPolicy: { schedule: [], maxAttempts: 1 },
    })
  ).body;
  receiver.script('/alice', [{ status: 500 }]);
  await api('POST', '/v1/events', ADMIN, { tenantId: alice.id, type: 'order.created', subject: 'alice-order', data: exampleOf('order.created') });
  const [request] = await receiver.waitFor('/alice', 1);
  aliceDelivery = String(request!.headers['webhook-id']);
  await eventually(async () => ((await api('GET', `/v1/dead-letters`, alice.apiKey)).body.items?.length ? true : undefined));
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

describe('authentication', () => {
  it.each([
    ['no header', undefined],
    ['empty bearer', ''],
    ['unknown key', 'hk_unknown_0000000000000000000000000000000000000000'],
    ['admin key with a typo', `${ADMIN}x`],
  ])('answers 401 for %s', async (_label, key) => {
    const res = await api('GET', '/v1/subscriptions', key === '' ? ' ' : key);
    expect(res.status).toBe(401);
    expect(res.contentType).toContain('application/problem+json');
  });

  it('answers 401 for a revoked key, and lists keys only by prefix', async () => {
    const created = await api('POST', '/v1/keys', alice.apiKey);
    expect(created.status).toBe(201);
    expect(created.body.apiKey).toContain(`hk_${created.body.prefix}_`);
    expect((await api('GET', '/v1/subscriptions', created.body.apiKey)).status).toBe(200);
    const listed = await api('GET', '/v1/keys', alice.apiKey);
    expect(listed.body.items.map((k: { prefix: string }) => k.prefix)).toContain(created.body.prefix);
    expect(JSON.stringify(listed.body)).not.toMatch(/hk_[A-Za-z0-9]+_[A-Za-z0-9_-]{20,}/);
    expect(JSON.stringify(listed.body)).not.toContain('hash');
    expect((await api('DELETE', `/v1/keys/${created.body.prefix}`, alice.apiKey)).status).toBe(204);
    expect((await api('GET', '/v1/subscriptions', created.body.apiKey)).status).toBe(401);
    expect((await api('GET', '/v1/subscriptions', alice.apiKey)).status).toBe(200);
  });

  it('lets the admin issue a key for a tenant, and no tenant revoke another tenant’s key', async () => {
    const issued = await api('POST', `/v1/tenants/${alice.id}/keys`, ADMIN);
    expect(issued.status).toBe(201);
    expect((await api('DELETE', `/v1/keys/${issued.body.prefix}`, mallory.apiKey)).status).toBe(404);
    expect((await api('GET', '/v1/subscriptions', issued.body.apiKey)).status).toBe(200);
  });

  it('answers 403 to tenant keys on admin routes', async () => {
    expect((await api('POST', '/v1/tenants', alice.apiKey, { name: 'x' })).status).toBe(403);
    expect((await api('POST', `/v1/tenants/${alice.id}/keys`, alice.apiKey)).status).toBe(403);
    const publish = await api('POST', '/v1/events', alice.apiKey, { tenantId: alice.id, type: 'order.created', subject: 's', data: exampleOf('order.created') });
    expect(publish.status).toBe(403);
  });
});

describe('isolation', () => {
  const routes = (): [string, string, unknown?][] => [
    ['GET', `/v1/subscriptions/${aliceSub.id}`],
    ['PATCH', `/v1/subscriptions/${aliceSub.id}`, { name: 'owned' }],
    ['DELETE', `/v1/subscriptions/${aliceSub.id}`],
    ['POST', `/v1/subscriptions/${aliceSub.id}/rotate-secret`],
    ['POST', `/v1/subscriptions/${aliceSub.id}/test`],
    ['GET', `/v1/subscriptions/${aliceSub.id}/deliveries`],
    ['POST', `/v1/subscriptions/${aliceSub.id}/resend`, { subject: 'alice-order' }],
    ['GET', `/v1/deliveries/${aliceDelivery}`],
    ['POST', `/v1/deliveries/${aliceDelivery}/resend`],
    ['POST', '/v1/dead-letters/redrive', { subscriptionId: aliceSub.id }],
    ['GET', `/v1/subscriptions?tenantId=${alice.id}`],
    ['GET', `/v1/dead-letters?tenantId=${alice.id}`],
    ['POST', '/v1/subscriptions', { tenantId: alice.id, name: 'x', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/x` } }],
    ['GET', `/v1/keys?tenantId=${alice.id}`],
  ];

  it('answers 404 with nothing of Alice’s on every route Mallory tries', async () => {
    for (const [method, path, body] of routes()) {
      const res = await api(method, path, mallory.apiKey, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      const text = JSON.stringify(res.body);
      for (const secret of [alice.id, 'alice-private-token', 'alice-order']) expect(text, `${method} ${path}`).not.toContain(secret);
    }
  });

  it('shows Mallory empty lists and leaves Alice’s data untouched', async () => {
    expect((await api('GET', '/v1/subscriptions', mallory.apiKey)).body.items).toEqual([]);
    expect((await api('GET', '/v1/dead-letters', mallory.apiKey)).body.items).toEqual([]);
    expect((await api('POST', '/v1/dead-letters/redrive', mallory.apiKey, {})).body.count).toBe(0);
    const sub = await api('GET', `/v1/subscriptions/${aliceSub.id}`, alice.apiKey);
    expect(sub.status).toBe(200);
    expect(sub.body.name).toBe('alice');
    expect((await api('GET', '/v1/dead-letters', alice.apiKey)).body.items.map((d: { id: string }) => d.id)).toContain(aliceDelivery);
  });

  it('never returns signing secrets after creation', async () => {
    for (const path of [`/v1/subscriptions/${aliceSub.id}`, '/v1/subscriptions', `/v1/subscriptions/${aliceSub.id}/deliveries`, `/v1/deliveries/${aliceDelivery}`, '/v1/dead-letters']) {
      expect(JSON.stringify((await api('GET', path, alice.apiKey)).body)).not.toContain('whsec_');
    }
  });
});
