/**
 * The attempt log stays bounded (lambdas/adapters/delivery-items.ts): one delivery retried 1,000
 * times against a dead endpoint, recorded through the real store on dynalite, keeps its last 10
 * attempts in full and counts the rest; its item stays the same size from the 11th attempt on,
 * far under DynamoDB's 400 KB item limit, so no write ever fails after the request went out.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../lambdas/adapters/delivery-store.ts';
import { KEPT_ATTEMPTS, RESPONSE_EXCERPT_BYTES, type Attempt } from '../../lambdas/core/delivery.ts';
import { ensureTable, startDynamo } from '../../local/emulators.ts';

const TABLE = 'attempt-log';
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: DynamoDeliveryStore;

beforeAll(async () => {
  dynamo = await startDynamo();
  await ensureTable(dynamo.endpoint, TABLE);
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  store = new DynamoDeliveryStore(TABLE);
});

afterAll(async () => {
  await dynamo?.stop();
});

it('keeps the last 10 of 1,000 attempts, counts them all, and never grows the item', async () => {
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
  const sizes: number[] = [];
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  for (let number = 1; number <= 1000; number++) {
    const at = new Date(Date.UTC(2026, 11, 1, 0, 0, number)).toISOString();
    const attempt: Attempt = { number, at, durationMs: 15_000, statusCode: 503, error: 'http_status', responseExcerpt: 'x'.repeat(RESPONSE_EXCERPT_BYTES), nextAttemptAt: at };
    await store.recordAttempt({ delivery: { ...delivery, nextAttemptAt: at }, attempt, status: 'pending', retentionDays: 30 });
    if (number % 100 === 0 || number <= 12) {
      const raw = await client().send(new GetCommand({ TableName: TABLE, Key: { pk: `DLV#${delivery.id}`, sk: '#DLV' } }));
      sizes.push(Buffer.byteLength(JSON.stringify(raw.Item)));
    }
  }
  const read = (await store.getDelivery(delivery.id))!;
  expect(read.attemptCount).toBe(1000);
  expect(read.attempts.map((a) => a.number)).toEqual(Array.from({ length: KEPT_ATTEMPTS }, (_, i) => 991 + i));
  // From the 11th attempt on, every write replaces a slot: the item stops growing.
  const steady = sizes.slice(KEPT_ATTEMPTS);
  expect(Math.max(...steady) - Math.min(...steady)).toBeLessThan(64);
  expect(Math.max(...sizes)).toBeLessThan(16 * 1024);
  // Recording the same attempt twice (a crash between the POST and the ack) changes nothing.
  const last = read.attempts.at(-1)!;
  await store.recordAttempt({ delivery: { ...delivery, nextAttemptAt: last.at }, attempt: last, status: 'pending', retentionDays: 30 });
  expect((await store.getDelivery(delivery.id))!.attemptCount).toBe(1000);
}, 120_000);
