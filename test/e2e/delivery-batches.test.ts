/**
 * Deliver batches past SQS's 10 a request (herald-config.ts DELIVER_BATCH_SIZE): with a batching
 * window the delivery queue's mapping hands the deliver function up to 100 records, filled by
 * several receives and deleted 10 a request, as Lambda's event source mapping does. Through the
 * local runtime with a 1 s window: 10 subscriptions × 10 events arrive once each, in batches of
 * more than 10, and statistics cost one block write per subscription and batch, not per delivery.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DELIVER_BATCH_SIZE } from '../../lambdas/shared/herald-config.ts';
import { currentFunction } from '../../local/invocations.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_delivery_batches_000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
/** Records in each deliver invocation from the standard delivery queue. */
const batchSizes: number[] = [];
/** The deliver function's statistics block writes (UpdateItem on a STATS# key). */
let statsWrites = 0;

beforeAll(async () => {
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    batchWindowMs: 1000,
    wrapDeliver: (deliver) => async (event, context) => {
      if (!event.Records[0]?.eventSourceARN.endsWith('.fifo')) batchSizes.push(event.Records.length);
      return deliver(event, context);
    },
  });
  const { dynamo } = await import('../../lambdas/adapters/clients.ts');
  dynamo().middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { pk?: unknown } }).Key;
      if (currentFunction() === 'herald-deliver' && context.commandName === 'UpdateCommand' && String(key?.pk ?? '').startsWith('STATS#') && !String((args.input as { Key: { sk?: unknown } }).Key.sk).startsWith('HEALTH')) statsWrites++;
      return next(args);
    },
    { step: 'initialize', name: 'countStatsWrites' },
  );
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

it('10 subscriptions × 10 events: each delivered once, in batches of more than 10, with a statistics write per subscription and batch', async () => {
  expect(DELIVER_BATCH_SIZE).toBe(100);
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'batches' })).body;
  for (let i = 0; i < 10; i++) {
    const created = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: `s${i}`, eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/s${i}` } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
  batchSizes.length = 0;
  statsWrites = 0;
  const events = Array.from({ length: 10 }, (_, n) => ({ tenantId: tenant.id, type: 'order.created', subject: `order-${n}`, data: { ...exampleOf('order.created'), orderId: `OB-${n}` } }));
  const published = await api<{ items: { status: number }[] }>('POST', '/v1/events/batch', ADMIN, { events });
  expect(published.body.items.map((i) => i.status)).toEqual(events.map(() => 202));

  for (let i = 0; i < 10; i++) await receiver.waitFor(`/s${i}`, 10);
  await herald.settle();
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < 10; i++) {
    const ids = receiver.on(`/s${i}`).map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size, `/s${i}`).toBe(10);
    expect(ids, `/s${i}: each delivery once`).toHaveLength(10);
  }
  // 100 deliveries in far fewer invocations than 10 a batch would take.
  expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(100);
  expect(Math.max(...batchSizes)).toBeGreaterThan(10);
  expect(batchSizes.length).toBeLessThan(10);
  // One block write per subscription and batch (a batch holding deliveries of 10 subscriptions writes 10).
  expect(statsWrites).toBeLessThanOrEqual(10 * batchSizes.length);
  expect(statsWrites / 100).toBeLessThan(1);
}, 60_000);
