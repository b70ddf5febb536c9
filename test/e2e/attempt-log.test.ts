/**
 * The attempt log stays bounded (lambdas/adapters/delivery-items.ts): one delivery retried 1,000
 * times against a dead endpoint, recorded through the real store on dynalite, keeps its last 20
 * attempts in full (a ring of items in the delivery's own partition) and counts the rest. From the
 * 2nd attempt on, each attempt rewrites two items of fixed size (the summary ≤ 1 KB, in the
 * subscription's log; its ring item ≤ 2 KB) and moves no index key: 3 write units at any attempt
 * number, far under DynamoDB's 400 KB item limit. A success at once is the summary alone, with no
 * index key; a record 0.1 made (its 26-character id) is still read and updated where it is.
 */
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../lambdas/adapters/delivery-store.ts';
import { deliveryKey } from '../../lambdas/adapters/table-keys.ts';
import { deliveryIdFor } from '../../lambdas/core/ids.ts';
import { KEPT_ATTEMPTS, RESPONSE_EXCERPT_BYTES, type Attempt } from '../../lambdas/core/delivery.ts';
import type { startDynamo } from '../../local/emulators.ts';
import { startLocalTable } from '../support/local-table.ts';

const TABLE = 'attempt-log';
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: DynamoDeliveryStore;

beforeAll(async () => {
  dynamo = await startLocalTable(TABLE);
  store = new DynamoDeliveryStore(TABLE);
});

afterAll(async () => {
  await dynamo?.stop();
});

it('keeps the last 20 of 1,000 attempts in a ring, counts them all, and never grows an item or moves an index key', async () => {
  const delivery = {
    id: deliveryIdFor('ten_01HZZZZZZZZZZZZZZZZZZZZZZZ', 'evt_1', 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ', '2026-12-01T00:00:00.000Z'),
    tenantId: 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    subscriptionId: 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    eventId: 'evt_1',
    eventType: 'order.created',
    subject: 'o-1',
    status: 'pending' as const,
    createdAt: '2026-12-01T00:00:00.000Z',
  };
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  const partition = async () =>
    (await client().send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `DLV#${delivery.id}` } }))).Items ?? [];
  const record = async () => (await client().send(new GetCommand({ TableName: TABLE, Key: deliveryKey(delivery.id) }))).Item!;
  const indexKeys = (item: Record<string, unknown>) => JSON.stringify([item.gsi1pk, item.gsi1sk, item.gsi2pk, item.gsi2sk, item.gsi3pk, item.gsi3sk, item.gsi4pk, item.gsi4sk]);
  let firstKeys = '';
  let largest = { summary: 0, attempt: 0 };
  for (let number = 1; number <= 1000; number++) {
    const at = new Date(Date.UTC(2026, 11, 1, 0, 0, number)).toISOString();
    const attempt: Attempt = { number, at, durationMs: 15_000, statusCode: 503, error: 'http_status', responseExcerpt: 'x'.repeat(RESPONSE_EXCERPT_BYTES), nextAttemptAt: at };
    await store.recordAttempt({ delivery: { ...delivery, nextAttemptAt: at }, attempt, status: 'pending', retentionDays: 30 });
    if (number % 50 === 0 || number <= 22) {
      // The ring in the delivery's own partition, the summary in the log: never in one partition.
      const items = await partition();
      expect(items.length).toBe(Math.min(number, KEPT_ATTEMPTS));
      expect(items.every((item) => String(item.sk).startsWith('ATT#'))).toBe(true);
      const summary = await record();
      expect(summary.pk).toMatch(/^SUBDLV#sub_01HZZZZZZZZZZZZZZZZZZZZZZZ#\d+$/);
      // The status list key (gsi3) is written once, then again unchanged: no index write; no log index key.
      if (number === 1) firstKeys = indexKeys(summary);
      expect(indexKeys(summary)).toBe(firstKeys);
      expect(summary.gsi1pk).toBeUndefined();
      expect(summary.gsi2pk).toBeUndefined();
      expect(summary.gsi4pk).toBeUndefined();
      largest = {
        summary: Math.max(largest.summary, Buffer.byteLength(JSON.stringify(summary))),
        attempt: Math.max(largest.attempt, ...items.map((item) => Buffer.byteLength(JSON.stringify(item)))),
      };
    }
  }
  expect(largest.summary).toBeLessThanOrEqual(1024);
  expect(largest.attempt).toBeLessThanOrEqual(2048);
  const read = (await store.getDelivery(delivery.id))!;
  expect(read.attemptCount).toBe(1000);
  expect(read.attempts.map((a) => a.number)).toEqual(Array.from({ length: KEPT_ATTEMPTS }, (_, i) => 981 + i));
  // Each shows its excerpt: the start of the answer, as much as its ring item holds within 1 KB (README "Storage layout").
  expect(read.attempts.every((a) => a.responseExcerpt!.length >= 750 && 'x'.repeat(RESPONSE_EXCERPT_BYTES).startsWith(a.responseExcerpt!))).toBe(true);
  // Recording the same attempt twice (a crash between the POST and the ack) changes nothing.
  const last = read.attempts.at(-1)!;
  await store.recordAttempt({ delivery: { ...delivery, nextAttemptAt: last.at }, attempt: last, status: 'pending', retentionDays: 30 });
  expect(await store.getDelivery(delivery.id)).toEqual({ ...read, updatedAt: last.at });
  // The log lists it with its latest attempt (no excerpt: that stays in the ring).
  const listed = await store.listDeliveries(delivery.tenantId, delivery.subscriptionId, { limit: 10 });
  expect(listed.items).toHaveLength(1);
  expect(listed.items[0]).toMatchObject({ id: delivery.id, status: 'pending', attemptCount: 1000, attempts: [{ number: 1000, statusCode: 503 }] });
  expect(listed.items[0]!.attempts[0]!.responseExcerpt).toBeUndefined();
}, 120_000);

it('a delivery that succeeds at once is one small record: the attempt stays in it whole, no ring item', async () => {
  const delivery = {
    id: deliveryIdFor('ten_01HZZZZZZZZZZZZZZZZZZZZZZZ', 'evt_2', 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ', '2026-12-01T00:00:00.000Z'),
    tenantId: 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    subscriptionId: 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    eventId: 'evt_2',
    eventType: 'order.created',
    subject: 'o-2',
    status: 'succeeded' as const,
    createdAt: '2026-12-01T00:00:00.000Z',
    finishedAt: '2026-12-01T00:00:01.000Z',
  };
  const attempt: Attempt = { number: 1, at: '2026-12-01T00:00:00.500Z', durationMs: 80, statusCode: 200, responseExcerpt: '{"ok":true}' };
  await store.recordAttempt({ delivery, attempt, status: 'succeeded', retentionDays: 30 });
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  const own = (await client().send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `DLV#${delivery.id}` } }))).Items ?? [];
  expect(own).toEqual([]);
  // The record is its log entry (its id's shard, by time) and carries no index key at all.
  const item = (await client().send(new GetCommand({ TableName: TABLE, Key: deliveryKey(delivery.id) }))).Item!;
  expect(item).toMatchObject({ ...deliveryKey(delivery.id), status: 'succeeded' });
  expect(Object.keys(item).filter((name) => /^gsi/.test(name))).toEqual([]);
  expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThanOrEqual(1024);
  expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'succeeded', attemptCount: 1, attempts: [attempt] });
});

it("a record 0.1 made (a 26-character id, in its own partition) is read, retried and finished where it is, and is not in the log", async () => {
  const id = 'dlv_OLDLAYOUT0000000000000000';
  const tenantId = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
  const subscriptionId = 'sub_01HXXXXXXXXXXXXXXXXXXXXXXX';
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  // As 0.1 left it: the summary with its attempts inside, pending.
  const first: Attempt = { number: 1, at: '2026-11-30T00:00:00.000Z', durationMs: 30, statusCode: 500, error: 'http_status', nextAttemptAt: '2026-11-30T00:01:00.000Z' };
  await client().send(
    new PutCommand({
      TableName: TABLE,
      Item: { pk: `DLV#${id}`, sk: '#DLV', id, tenantId, subscriptionId, eventId: 'evt_old', eventType: 'order.created', subject: 'o-old', status: 'pending', createdAt: first.at, updatedAt: first.at, attempts: [first] },
    }),
  );
  expect(deliveryKey(id)).toEqual({ pk: `DLV#${id}`, sk: '#DLV' });
  expect(await store.getDelivery(id)).toMatchObject({ id, status: 'pending', attempts: [first] });
  // An in-flight job of the old id records its next attempt: on the same record.
  const delivery = { id, tenantId, subscriptionId, eventId: 'evt_old', eventType: 'order.created', subject: 'o-old', status: 'succeeded' as const, createdAt: first.at, finishedAt: '2026-11-30T00:01:00.500Z' };
  const second: Attempt = { number: 2, at: '2026-11-30T00:01:00.000Z', durationMs: 20, statusCode: 200 };
  await store.recordAttempt({ delivery, attempt: second, status: 'succeeded', retentionDays: 30 });
  const read = (await store.getDelivery(id))!;
  expect(read).toMatchObject({ id, status: 'succeeded', attemptCount: 2 });
  expect(read.attempts.map((a) => a.number)).toEqual([1, 2]);
  expect((await store.listDeliveries(tenantId, subscriptionId, { limit: 10 })).items).toEqual([]);
});
