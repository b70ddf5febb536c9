/**
 * Pagination tokens through the real API: paging with them returns every item once; a token
 * opens only for the tenant and the list that returned it. Another tenant's, another list's,
 * another subscription's, an edited, a forged or an empty token is a 400 naming nextToken, never
 * a 500 and never another tenant's items.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually, type ApiResponse } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_pagetokens_00000000000000000000000000000';
const SUBS = 3;
const EVENTS = 3;

let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;

interface TenantFixture {
  id: string;
  apiKey: string;
  subs: string[];
}
let alice: TenantFixture;
let bob: TenantFixture;

async function setUp(name: string): Promise<TenantFixture> {
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name })).body;
  const subs: string[] = [];
  for (let i = 0; i < SUBS; i++) {
    const path = `/${name}/${i}`;
    receiver.script(path, Array.from({ length: EVENTS }, () => ({ status: 500 })));
    const sub = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: `${name}-${i}`,
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}${path}` },
      retryPolicy: { schedule: [], maxAttempts: 1 },
    });
    expect(sub.status).toBe(201);
    subs.push(sub.body.id);
  }
  for (let e = 0; e < EVENTS; e++) {
    const published = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${name}-order-${e}`, data: exampleOf('order.created') });
    expect(published.status).toBe(202);
  }
  return { id: tenant.id, apiKey: tenant.apiKey, subs };
}

/** Every page of a list, following nextToken; fails on anything but 200. */
async function pageAll(key: string, path: string): Promise<{ ids: string[]; tokens: string[] }> {
  const ids: string[] = [];
  const tokens: string[] = [];
  let token: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api('GET', `${path}${token ? `${sep}nextToken=${encodeURIComponent(token)}` : ''}`, key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    ids.push(...res.body.items.map((item: { id: string }) => item.id));
    token = res.body.nextToken;
    if (!token) return { ids, tokens };
    tokens.push(token);
  }
  throw new Error(`${path} did not end in 100 pages`);
}

function expectRefused(res: ApiResponse): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.contentType).toContain('application/problem+json');
  expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['nextToken']);
}

const withToken = (path: string, token: string) => `${path}${path.includes('?') ? '&' : '?'}nextToken=${encodeURIComponent(token)}`;

/** One character changed, in the middle. */
function edited(token: string): string {
  const at = Math.floor(token.length / 2);
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  alice = await setUp('alice');
  bob = await setUp('bob');
  for (const tenant of [alice, bob]) {
    await eventually(async () => {
      const res = await api('GET', '/v1/dead-letters?limit=100', tenant.apiKey);
      return res.body.items?.length === SUBS * EVENTS ? true : undefined;
    }, 30_000);
  }
}, 60_000);

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

describe('paging with real tokens', () => {
  it('lists every subscription once, one per page', async () => {
    for (const tenant of [alice, bob]) {
      const { ids, tokens } = await pageAll(tenant.apiKey, '/v1/subscriptions?limit=1');
      expect(ids.sort()).toEqual([...tenant.subs].sort());
      expect(tokens.length).toBeGreaterThanOrEqual(SUBS - 1);
      for (const token of tokens) {
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(token.length).toBeLessThanOrEqual(2048);
        expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('TENANT#');
      }
    }
  });

  it('lists every delivery of a subscription once, and every dead letter once (filtered too)', async () => {
    for (const tenant of [alice, bob]) {
      for (const sub of tenant.subs) {
        const { ids, tokens } = await pageAll(tenant.apiKey, `/v1/subscriptions/${sub}/deliveries?limit=2`);
        expect(ids).toHaveLength(EVENTS);
        expect(new Set(ids).size).toBe(EVENTS);
        expect(tokens.length).toBeGreaterThan(0);
        const failed = await pageAll(tenant.apiKey, `/v1/subscriptions/${sub}/deliveries?limit=1&status=failed`);
        expect(failed.ids.sort()).toEqual([...ids].sort());
        const letters = await pageAll(tenant.apiKey, `/v1/dead-letters?limit=2&subscriptionId=${sub}`);
        expect(letters.ids.sort()).toEqual([...ids].sort());
      }
      const { ids } = await pageAll(tenant.apiKey, '/v1/dead-letters?limit=2');
      expect(ids).toHaveLength(SUBS * EVENTS);
      expect(new Set(ids).size).toBe(SUBS * EVENTS);
    }
  });

  it('lets the admin acting for a tenant use that tenant’s token, and only that tenant’s', async () => {
    const first = await api('GET', '/v1/subscriptions?limit=1', alice.apiKey);
    const asTenant = await api('GET', withToken('/v1/subscriptions?limit=1', first.body.nextToken), alice.apiKey);
    const asAdmin = await api('GET', withToken(`/v1/subscriptions?limit=1&tenantId=${alice.id}`, first.body.nextToken), ADMIN);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.items).toEqual(asTenant.body.items);
    expectRefused(await api('GET', withToken(`/v1/subscriptions?limit=1&tenantId=${bob.id}`, first.body.nextToken), ADMIN));
    // A different page size is the same list.
    expect((await api('GET', withToken('/v1/subscriptions?limit=5', first.body.nextToken), alice.apiKey)).status).toBe(200);
  });
});

describe('tokens that are refused with a 400 naming nextToken', () => {
  let subsToken: string;
  let lettersToken: string;
  let deliveriesToken: string;

  beforeAll(async () => {
    subsToken = (await api('GET', '/v1/subscriptions?limit=1', alice.apiKey)).body.nextToken;
    lettersToken = (await api('GET', '/v1/dead-letters?limit=1', alice.apiKey)).body.nextToken;
    deliveriesToken = (await api('GET', `/v1/subscriptions/${alice.subs[0]}/deliveries?limit=1`, alice.apiKey)).body.nextToken;
    expect([subsToken, lettersToken, deliveriesToken].every(Boolean)).toBe(true);
  });

  it('another tenant’s token', async () => {
    expectRefused(await api('GET', withToken('/v1/subscriptions?limit=1', subsToken), bob.apiKey));
    expectRefused(await api('GET', withToken('/v1/dead-letters?limit=1', lettersToken), bob.apiKey));
    expectRefused(await api('GET', withToken(`/v1/subscriptions/${bob.subs[0]}/deliveries?limit=1`, deliveriesToken), bob.apiKey));
  });

  it('a token from another list', async () => {
    expectRefused(await api('GET', withToken('/v1/dead-letters?limit=1', subsToken), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/subscriptions?limit=1', lettersToken), alice.apiKey));
    expectRefused(await api('GET', withToken(`/v1/subscriptions/${alice.subs[0]}/deliveries?limit=1`, lettersToken), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/dead-letters?limit=1', deliveriesToken), alice.apiKey));
    // The same list filtered differently is another list.
    expectRefused(await api('GET', withToken(`/v1/dead-letters?limit=1&subscriptionId=${alice.subs[0]}`, lettersToken), alice.apiKey));
  });

  it('a token from another subscription’s delivery log', async () => {
    expectRefused(await api('GET', withToken(`/v1/subscriptions/${alice.subs[1]}/deliveries?limit=1`, deliveriesToken), alice.apiKey));
  });

  it('an edited token', async () => {
    for (const [path, token] of [
      ['/v1/subscriptions?limit=1', subsToken],
      ['/v1/dead-letters?limit=1', lettersToken],
      [`/v1/subscriptions/${alice.subs[0]}/deliveries?limit=1`, deliveriesToken],
    ] as const) {
      expectRefused(await api('GET', withToken(path, edited(token)), alice.apiKey));
      expectRefused(await api('GET', withToken(path, token.slice(0, -1)), alice.apiKey));
      expect((await api('GET', withToken(path, token), alice.apiKey)).status).toBe(200);
    }
  });

  it('a forged key (the old token format), garbage and an empty token', async () => {
    const forged = (key: object) => Buffer.from(JSON.stringify(key)).toString('base64url');
    expectRefused(await api('GET', withToken('/v1/subscriptions?limit=1', forged({ pk: `TENANT#${bob.id}`, sk: 'x' })), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/subscriptions?limit=1', forged({ pk: `TENANT#${alice.id}`, sk: `SUB#${alice.subs[0]}` })), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/dead-letters?limit=1', forged({ pk: 'x', sk: 'y', gsi2pk: `DEAD#${bob.id}`, gsi2sk: 'z' })), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/subscriptions?limit=1', forged({ pk: 'CONFIG', sk: 'PAGE_TOKEN_KEY#v1' })), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/subscriptions', 'garbage'), alice.apiKey));
    expectRefused(await api('GET', withToken('/v1/subscriptions', 'AQ'.repeat(40)), alice.apiKey));
    expectRefused(await api('GET', '/v1/subscriptions?nextToken=', alice.apiKey));
  });
});

describe('internal paging and the key', () => {
  it('pages through held jobs with sealed tokens bound to the subscription, and resume still releases them all', async () => {
    const { DynamoDeliveryStore } = await import('../../lambdas/adapters/delivery-store.ts');
    const { ValidationError } = await import('../../lambdas/core/errors.ts');
    const store = new DynamoDeliveryStore(process.env.TABLE_NAME!);
    const [sub, other] = [alice.subs[0]!, alice.subs[1]!];
    expect((await api('POST', `/v1/subscriptions/${sub}/pause`, alice.apiKey, {})).status).toBe(200);
    const held = 5;
    for (let e = 0; e < held; e++) {
      await api('POST', '/v1/events', ADMIN, { tenantId: alice.id, type: 'order.created', subject: `held-${e}`, data: exampleOf('order.created') });
    }
    await herald.settle();
    await eventually(async () => {
      const res = await api('GET', `/v1/subscriptions/${sub}/deliveries?status=held&limit=100`, alice.apiKey);
      return res.body.items?.length === held ? true : undefined;
    });
    const ids: string[] = [];
    const tokens: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await store.listHeld(alice.id, sub, { limit: 2, ...(nextToken ? { nextToken } : {}) });
      ids.push(...page.items.map((job) => job.deliveryId));
      nextToken = page.nextToken;
      if (nextToken) tokens.push(nextToken);
    } while (nextToken);
    expect(new Set(ids).size).toBe(held);
    expect(ids).toHaveLength(held);
    // HELD#<shard> partitions are shared: the token is bound to the tenant and subscription, not only the partition.
    await expect(store.listHeld(alice.id, other, { limit: 2, nextToken: tokens[0]! })).rejects.toBeInstanceOf(ValidationError);
    await expect(store.listHeld(bob.id, sub, { limit: 2, nextToken: tokens[0]! })).rejects.toBeInstanceOf(ValidationError);
    const resumed = await api('POST', `/v1/subscriptions/${sub}/resume`, alice.apiKey, { held: 'discard' });
    expect(resumed.status).toBe(200);
    expect(resumed.body.discarded).toBe(held);
  });

  it('containers racing to create the key agree on one, kept in the table', async () => {
    const { loadOrCreatePageTokenKey } = await import('../../lambdas/adapters/table-queries.ts');
    const { PAGE_TOKEN_KEY_ITEM } = await import('../../lambdas/adapters/table-keys.ts');
    const { ensureTable } = await import('../../local/emulators.ts');
    const { dynamo } = await import('../../lambdas/adapters/clients.ts');
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const table = 'herald-page-token-race';
    await ensureTable(process.env.AWS_ENDPOINT_URL_DYNAMODB!, table);
    const keys = await Promise.all(Array.from({ length: 6 }, () => loadOrCreatePageTokenKey(table)));
    expect(keys[0]).toHaveLength(32);
    for (const key of keys) expect(key.equals(keys[0]!)).toBe(true);
    expect((await loadOrCreatePageTokenKey(table)).equals(keys[0]!)).toBe(true);
    const item = (await dynamo().send(new GetCommand({ TableName: table, Key: PAGE_TOKEN_KEY_ITEM, ConsistentRead: true }))).Item;
    expect(Buffer.from(String(item?.key), 'base64').equals(keys[0]!)).toBe(true);
    // The main table's key differs: a token is also bound to the stack that sealed it.
    expect((await loadOrCreatePageTokenKey(process.env.TABLE_NAME!)).equals(keys[0]!)).toBe(false);
  });
});
