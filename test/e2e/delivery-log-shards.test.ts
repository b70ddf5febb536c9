/**
 * A subscription's delivery log on the real store (dynalite): each delivery's record is its log
 * entry, in one of 16 partitions of the table named by its id (no index), and listing merges
 * them newest first, page by page with sealed tokens, with or without a status filter: every
 * delivery once, in order, another tenant's never, and a token opens for its own list only.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DynamoDeliveryStore as Store } from '../../lambdas/adapters/delivery-store.ts';
import { DELIVERY_LOG_SHARDS, deliveryKey, deliveryLogShardOf } from '../../lambdas/adapters/table-keys.ts';
import { deliveryIdFor } from '../../lambdas/core/ids.ts';
import type { Attempt, Delivery } from '../../lambdas/core/delivery.ts';
import type { startDynamo } from '../../local/emulators.ts';
import { startLocalTable } from '../support/local-table.ts';

const TABLE = 'delivery-log-shards';
const T = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const S = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: Store;
/** Delivery ids, oldest first; every fifth failed, the others succeeded. */
const ids: string[] = [];

beforeAll(async () => {
  dynamo = await startLocalTable(TABLE);
  const { DynamoDeliveryStore } = await import('../../lambdas/adapters/delivery-store.ts');
  store = new DynamoDeliveryStore(TABLE);
  for (let n = 0; n < 60; n++) {
    const createdAt = new Date(Date.UTC(2026, 11, 1, 0, 0, n)).toISOString();
    const id = deliveryIdFor(T, `evt_${n}`, S, createdAt);
    const failed = n % 5 === 0;
    const delivery = { id, tenantId: T, subscriptionId: S, eventId: `evt_${n}`, eventType: 'order.created', subject: `o-${n}`, status: (failed ? 'failed' : 'succeeded') as Delivery['status'], createdAt, finishedAt: createdAt };
    const attempt: Attempt = { number: 1, at: createdAt, durationMs: 5, statusCode: failed ? 410 : 200 };
    await store.recordAttempt({ delivery, attempt, status: delivery.status, retentionDays: 30 });
    ids.push(id);
  }
}, 60_000);

afterAll(async () => {
  await dynamo?.stop();
});

async function listAll(limit: number, status?: Delivery['status']) {
  const seen: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await store.listDeliveries(T, S, { limit, ...(status ? { status } : {}), ...(nextToken ? { nextToken } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seen.push(...page.items.map((d) => d.id));
    nextToken = page.nextToken;
  } while (nextToken && ++pages < 100);
  return seen;
}

it('spreads the log over the shards and lists it newest first, every delivery once, at any page size', async () => {
  expect(new Set(ids.map(deliveryLogShardOf)).size).toBeGreaterThan(DELIVERY_LOG_SHARDS / 2);
  expect(new Set(ids.map((id) => deliveryKey(id).pk)).size).toBe(new Set(ids.map(deliveryLogShardOf)).size);
  const newestFirst = [...ids].reverse();
  for (const limit of [1, 7, 25, 100]) expect(await listAll(limit)).toEqual(newestFirst);
});

it('filters by status across the shards', async () => {
  const failed = ids.filter((_, n) => n % 5 === 0).reverse();
  expect(await listAll(3, 'failed')).toEqual(failed);
  expect(await listAll(100, 'succeeded')).toEqual(ids.filter((_, n) => n % 5 !== 0).reverse());
});

it("a token opens for its own list only: not with another filter or another subscription's log", async () => {
  const first = await store.listDeliveries(T, S, { limit: 5 });
  expect(first.nextToken).toBeDefined();
  await expect(store.listDeliveries(T, S, { limit: 5, status: 'failed', nextToken: first.nextToken! })).rejects.toMatchObject({ status: 400 });
  await expect(store.listDeliveries(T, 'sub_01HYYYYYYYYYYYYYYYYYYYYYYY', { limit: 5, nextToken: first.nextToken! })).rejects.toMatchObject({ status: 400 });
  await expect(store.listDeliveries(T, S, { limit: 5, nextToken: `${first.nextToken!.slice(0, -2)}AA` })).rejects.toMatchObject({ status: 400 });
});

it("never lists another tenant's delivery, even in a log partition it shares", async () => {
  // Subscription ids are unique across tenants; were one not, the tenant filter still holds.
  const other = 'ten_01HYYYYYYYYYYYYYYYYYYYYYYY';
  const createdAt = new Date(Date.UTC(2026, 11, 1, 0, 5, 0)).toISOString();
  const id = deliveryIdFor(other, 'evt_other', S, createdAt);
  const delivery = { id, tenantId: other, subscriptionId: S, eventId: 'evt_other', eventType: 'order.created', subject: 'x', status: 'succeeded' as const, createdAt, finishedAt: createdAt };
  await store.recordAttempt({ delivery, attempt: { number: 1, at: createdAt, durationMs: 5, statusCode: 200 }, status: 'succeeded', retentionDays: 30 });
  expect(await listAll(7)).toEqual([...ids].reverse());
  expect((await store.listDeliveries(other, S, { limit: 10 })).items.map((d) => d.id)).toEqual([id]);
});
