/**
 * The slow marks' store on the table (dynalite; lambdas/adapters/slow-mark-store.ts): a mark is
 * one small item beside the subscription's throttle state, never moved back in time by a late
 * timer, removed by a clear only while it is still the mark that clear read (a renewal since
 * wins), and it carries the table's TTL so DynamoDB removes it after it lapsed.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DynamoSlowMarkStore as Store } from '../../lambdas/adapters/slow-mark-store.ts';
import { slowMarkKey, TTL } from '../../lambdas/adapters/table-keys.ts';
import { SLOW_MARK_MS } from '../../lambdas/core/slow-lane.ts';
import type { startDynamo } from '../../local/emulators.ts';
import { startLocalTable } from '../support/local-table.ts';

const TABLE = 'slow-mark-store';
const T = 'ten_1';
const S = 'sub_1';
const T0 = Date.parse('2026-12-01T12:00:00Z');
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: Store;

beforeAll(async () => {
  dynamo = await startLocalTable(TABLE);
  const { DynamoSlowMarkStore } = await import('../../lambdas/adapters/slow-mark-store.ts');
  store = new DynamoSlowMarkStore(TABLE);
});

afterAll(async () => {
  await dynamo?.stop();
});

it('keeps the latest mark, expires by TTL after it lapsed, and is cleared only by a clear of that same mark', async () => {
  expect(await store.read(T, S)).toBeUndefined();
  await store.mark(T, S, T0, T0 + SLOW_MARK_MS);
  expect(await store.read(T, S)).toEqual({ markedAt: T0 });
  // A timer that fired earlier but wrote later does not move the mark back.
  await store.mark(T, S, T0 - 5_000, T0 - 5_000 + SLOW_MARK_MS);
  expect(await store.read(T, S)).toEqual({ markedAt: T0 });
  await store.mark(T, S, T0 + 60_000, T0 + 60_000 + SLOW_MARK_MS);
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  const item = (await client().send(new GetCommand({ TableName: TABLE, Key: slowMarkKey(T, S) }))).Item!;
  expect(item[TTL]).toBeGreaterThan((T0 + 60_000 + SLOW_MARK_MS) / 1000);
  // A clear of the mark it read before a renewal leaves the renewal.
  await store.clear(T, S, T0);
  expect(await store.read(T, S)).toEqual({ markedAt: T0 + 60_000 });
  await store.clear(T, S, T0 + 60_000);
  expect(await store.read(T, S)).toBeUndefined();
  // Clearing what is gone is no error.
  await expect(store.clear(T, S, T0 + 60_000)).resolves.toBeUndefined();
  // Marks are per subscription.
  await store.mark(T, 'sub_2', T0, T0 + SLOW_MARK_MS);
  expect(await store.read(T, S)).toBeUndefined();
});

it('keeps each answer for READ_CACHE_MS in its container, its own writes at once, another container’s after that', async () => {
  const { DynamoSlowMarkStore, READ_CACHE_MS } = await import('../../lambdas/adapters/slow-mark-store.ts');
  let now = T0;
  const here = new DynamoSlowMarkStore(TABLE, () => now);
  const there = new DynamoSlowMarkStore(TABLE, () => now);
  const sub = 'sub_cached';
  expect(await here.read(T, sub)).toBeUndefined();
  // Another container marks the receiver slow: this one keeps its answer a little longer...
  await there.mark(T, sub, T0, T0 + SLOW_MARK_MS);
  now += READ_CACHE_MS - 1;
  expect(await here.read(T, sub)).toBeUndefined();
  // ...and reads the table again once it has kept it READ_CACHE_MS.
  now += 1;
  expect(await here.read(T, sub)).toEqual({ markedAt: T0 });
  // Its own renewal and clear are what it answers at once.
  await here.mark(T, sub, T0 + 1_000, T0 + 1_000 + SLOW_MARK_MS);
  expect(await here.read(T, sub)).toEqual({ markedAt: T0 + 1_000 });
  await here.clear(T, sub, T0 + 1_000);
  expect(await here.read(T, sub)).toBeUndefined();
  // A refused write (a later mark stored by another container) drops what it kept: the next read sees the stored mark.
  await there.mark(T, sub, T0 + 9_000, T0 + 9_000 + SLOW_MARK_MS);
  await here.mark(T, sub, T0 + 2_000, T0 + 2_000 + SLOW_MARK_MS);
  expect(await here.read(T, sub)).toEqual({ markedAt: T0 + 9_000 });
});
