/**
 * Deliver batches past SQS's 10 a request (herald-config.ts DELIVER_BATCH_SIZE): with a batching
 * window the delivery queue's mapping hands the deliver function up to 100 records, filled by
 * several receives and deleted 10 a request, as Lambda's event source mapping does. Through the
 * local runtime with a 1 s window: 10 subscriptions × 10 events arrive once each, in batches of
 * more than 10, and statistics cost one delta write per batch (one tenant; the first batch of a
 * minute writes the 10 blocks), not one per subscription and batch.
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
/** The deliver function's statistics writes: deltas (PutItem on STATSDELTA#), blocks (UpdateItem on a STATS# block). */
let deltaWrites = 0;
let blockWrites = 0;

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
      const input = args.input as { Key?: { pk?: unknown; sk?: unknown }; Item?: { pk?: unknown } };
      if (currentFunction() === 'herald-deliver' && /^Update(Item)?Command$/.test(context.commandName ?? '') && String(input.Key?.pk ?? '').startsWith('STATS#') && String(input.Key?.sk).startsWith('B#')) blockWrites++;
      if (currentFunction() === 'herald-deliver' && /^Put(Item)?Command$/.test(context.commandName ?? '') && String(input.Item?.pk ?? '').startsWith('STATSDELTA#')) deltaWrites++;
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

it('10 subscriptions × 10 events: each delivered once, in batches of more than 10, with one statistics write per batch', async () => {
  expect(DELIVER_BATCH_SIZE).toBe(100);
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'batches' })).body;
  for (let i = 0; i < 10; i++) {
    const created = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: `s${i}`, eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/s${i}` } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
  batchSizes.length = 0;
  deltaWrites = 0;
  blockWrites = 0;
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
  // One delta per batch, however many of the 10 subscriptions it holds, but for the first batch of
  // each minute (the test may straddle one), which writes the blocks: the rest are the sweeper's.
  expect(blockWrites % 10).toBe(0);
  expect(blockWrites / 10).toBeLessThanOrEqual(2);
  expect(deltaWrites + blockWrites / 10).toBe(batchSizes.length);
  const stats = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const subscription = (await api<{ items: { id: string; name: string }[] }>('GET', '/v1/subscriptions?limit=100', tenant.apiKey)).body.items.find((s) => s.name === `s${i}`)!;
      return (await api<{ windows: { '1h': { events: number; succeeded: number } } }>('GET', `/v1/subscriptions/${subscription.id}/stats`, tenant.apiKey)).body.windows['1h'];
    }),
  );
  expect(stats.map((w) => [w.events, w.succeeded])).toEqual(stats.map(() => [10, 10]));
}, 60_000);
