/**
 * The attempt log stays bounded (lambdas/adapters/delivery-items.ts): one delivery retried 1,000
 * times against a dead endpoint, recorded through the real store on dynalite, keeps its last 20
 * attempts in full (a ring of items) and counts the rest. From the 2nd attempt on, each attempt
 * rewrites two items of fixed size (the summary ≤ 1 KB, its ring item ≤ 2 KB) and moves no index
 * key: 3 write units at any attempt number, far under DynamoDB's 400 KB item limit.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../lambdas/adapters/delivery-store.ts';
import { deliveryLogShardOf } from '../../lambdas/adapters/table-keys.ts';
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
    id: 'dlv_BOUNDEDLOG000000000000000',
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
  const indexKeys = (item: Record<string, unknown>) => JSON.stringify([item.gsi1pk, item.gsi1sk, item.gsi2pk, item.gsi2sk, item.gsi3pk, item.gsi3sk, item.gsi4pk, item.gsi4sk]);
  let firstKeys = '';
  let largest = { summary: 0, attempt: 0 };
  for (let number = 1; number <= 1000; number++) {
    const at = new Date(Date.UTC(2026, 11, 1, 0, 0, number)).toISOString();
    const attempt: Attempt = { number, at, durationMs: 15_000, statusCode: 503, error: 'http_status', responseExcerpt: 'x'.repeat(RESPONSE_EXCERPT_BYTES), nextAttemptAt: at };
    await store.recordAttempt({ delivery: { ...delivery, nextAttemptAt: at }, attempt, status: 'pending', retentionDays: 30 });
    if (number % 50 === 0 || number <= 22) {
      const items = await partition();
      expect(items.length).toBe(1 + Math.min(number, KEPT_ATTEMPTS));
      const summary = items.find((item) => item.sk === '#DLV')!;
      // The status list (gsi3) and log (gsi4) keys are written once, then again unchanged: no index write.
      if (number === 1) firstKeys = indexKeys(summary);
      expect(indexKeys(summary)).toBe(firstKeys);
      expect(summary.gsi1pk).toBeUndefined();
      expect(summary.gsi2pk).toBeUndefined();
      largest = {
        summary: Math.max(largest.summary, Buffer.byteLength(JSON.stringify(summary))),
        attempt: Math.max(largest.attempt, ...items.filter((item) => item.sk !== '#DLV').map((item) => Buffer.byteLength(JSON.stringify(item)))),
      };
    }
  }
  expect(largest.summary).toBeLessThanOrEqual(1024);
  expect(largest.attempt).toBeLessThanOrEqual(2048);
  const read = (await store.getDelivery(delivery.id))!;
  expect(read.attemptCount).toBe(1000);
  expect(read.attempts.map((a) => a.number)).toEqual(Array.from({ length: KEPT_ATTEMPTS }, (_, i) => 981 + i));
  expect(read.attempts.every((a) => a.responseExcerpt === 'x'.repeat(RESPONSE_EXCERPT_BYTES))).toBe(true);
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
    id: 'dlv_ATONCE00000000000000000000',
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
  const items = (await client().send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `DLV#${delivery.id}` } }))).Items ?? [];
  expect(items.map((item) => item.sk)).toEqual(['#DLV']);
  expect(Buffer.byteLength(JSON.stringify(items[0]))).toBeLessThanOrEqual(1024);
  // On the log only (gsi4, its id's shard), on no status list (gsi3).
  expect(items[0]).toMatchObject({ gsi4pk: `SUBDLV#${delivery.tenantId}#${delivery.subscriptionId}#${deliveryLogShardOf(delivery.id)}` });
  expect(items[0]!.gsi3pk).toBeUndefined();
  expect(await store.getDelivery(delivery.id)).toMatchObject({ status: 'succeeded', attemptCount: 1, attempts: [attempt] });
});
