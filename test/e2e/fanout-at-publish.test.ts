/**
 * Fan-out at publish on the local runtime: the API enqueues the deliveries of the events it
 * accepts itself, a batch publish's jobs packed 10 to a SendMessageBatch, and the fan-out
 * function does not run for them (the bus rule skips their marked copies). Covers 1 and 10
 * subscriptions, the marker on the bus copy and nowhere else (stored event, delivered payload),
 * the fallback when the API's send fails (the fan-out function delivers every event), ordered
 * subscriptions in publish order, and batching subscriptions still buffering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FANNED_OUT_ATTRIBUTE } from '../../lambdas/shared/herald-config.ts';
import { currentFunction } from '../../local/invocations.ts';
import { LOCAL_BUS, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_fanout_at_publish_00000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;
let fanoutInvocations = 0;
/** SQS calls by function: `herald-api:SendMessageBatch` → entries of each call. */
const sqsCalls = new Map<string, number[]>();
/** The next SendMessageBatch calls the API makes fail, as a refused or timed-out send does. */
let failApiSends = 0;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0, onInvocation: (fn) => void (fn === 'fanout' && fanoutInvocations++) });
  const { sqs } = await import('../../lambdas/adapters/clients.ts');
  sqs().middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName).replace(/Command$/, '');
      const fn = currentFunction() ?? 'test';
      if (fn === 'herald-api' && op === 'SendMessageBatch' && failApiSends > 0) {
        failApiSends--;
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError' });
      }
      const key = `${fn}:${op}`;
      const entries = (args.input as { Entries?: unknown[] }).Entries?.length ?? 1;
      sqsCalls.set(key, [...(sqsCalls.get(key) ?? []), entries]);
      return next(args);
    },
    { step: 'initialize', name: 'fanoutAtPublishCount' },
  );
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'fan-out at publish' })).body;
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

/** `count` subscriptions of their own (a subject prefix), each to its own path. */
async function subscribe(name: string, count = 1, extra: Record<string, unknown> = {}) {
  const prefix = `fp${++counter}:`;
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `/${name}/${i}`;
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: `${name}-${i}`,
      eventTypes: ['order.created'],
      filter: { subject: [{ prefix }] },
      destination: { type: 'webhook', url: `${receiver.url}${path}` },
      ...extra,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    paths.push(path);
  }
  return { prefix, paths };
}

const event = (prefix: string, n: number, subject = `order-${n}`) => ({
  tenantId: tenant.id,
  type: 'order.created',
  subject: `${prefix}${subject}`,
  data: { ...exampleOf('order.created'), orderId: `OM-${n}` },
});

async function publishBatch(events: unknown[]): Promise<string[]> {
  const res = await api<{ items: { id: string; status: number }[] }>('POST', '/v1/events/batch', ADMIN, { events });
  expect(res.status, JSON.stringify(res.body)).toBe(207);
  expect(res.body.items.map((i) => i.status)).toEqual(events.map(() => 202));
  return res.body.items.map((i) => i.id);
}

/** Counts from now: the API's SendMessageBatch calls and jobs, and fan-out invocations. */
function counting() {
  sqsCalls.clear();
  const fanoutBefore = fanoutInvocations;
  return {
    apiBatches: () => sqsCalls.get('herald-api:SendMessageBatch') ?? [],
    fanouts: () => fanoutInvocations - fanoutBefore,
  };
}

const busCopies = (ids: string[]) => (herald.bus.received.get(LOCAL_BUS) ?? []).filter((e) => ids.includes((e.detail as { id: string }).id));

describe('fan-out at publish', () => {
  it('a batch of 10 to 1 subscription: one SendMessageBatch from the API, no fan-out invocation, each event delivered once', async () => {
    const { prefix, paths } = await subscribe('one');
    const count = counting();
    const ids = await publishBatch(Array.from({ length: 10 }, (_, n) => event(prefix, n)));

    const delivered = await receiver.waitFor(paths[0]!, 10);
    await herald.settle();
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.on(paths[0]!)).toHaveLength(10);
    expect(new Set(delivered.map((r) => JSON.parse(r.body).id))).toEqual(new Set(ids));
    expect(count.apiBatches()).toEqual([10]);
    expect(count.fanouts()).toBe(0);
  });

  it('a batch of 10 to 10 subscriptions: 100 jobs in 10 SendMessageBatch calls, no fan-out invocation, 100 deliveries once each', async () => {
    const { prefix, paths } = await subscribe('ten', 10);
    const count = counting();
    const ids = await publishBatch(Array.from({ length: 10 }, (_, n) => event(prefix, n)));

    for (const path of paths) {
      const requests = await receiver.waitFor(path, 10, 30_000);
      expect(new Set(requests.map((r) => JSON.parse(r.body).id))).toEqual(new Set(ids));
    }
    await herald.settle();
    await new Promise((r) => setTimeout(r, 300));
    for (const path of paths) expect(receiver.on(path)).toHaveLength(10);
    expect(count.apiBatches()).toEqual(Array(10).fill(10));
    expect(count.fanouts()).toBe(0);
  });

  it('marks the bus copy, and only it: the stored event and the delivered payload carry no marker', async () => {
    const { prefix, paths } = await subscribe('marker');
    const [id] = await publishBatch([event(prefix, 1)]);
    const single = await api('POST', '/v1/events', ADMIN, event(prefix, 2));
    expect(single.status).toBe(202);
    const ids = [id!, single.body.id as string];

    const delivered = await receiver.waitFor(paths[0]!, 2);
    const copies = busCopies(ids);
    expect(copies).toHaveLength(2);
    for (const copy of copies) expect((copy.detail as Record<string, unknown>)[FANNED_OUT_ATTRIBUTE]).toBe(true);
    for (const request of delivered) expect(JSON.parse(request.body)).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
    for (const eventId of ids) {
      const stored = await api('GET', `/v1/events/${eventId}`, tenant.apiKey);
      expect(stored.status).toBe(200);
      expect(stored.body).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
      expect(JSON.stringify(stored.body)).not.toContain(FANNED_OUT_ATTRIBUTE);
    }
  });

  it('falls back to the fan-out function when the API’s send fails: accepted, unmarked on the bus, every event delivered once', async () => {
    const { prefix, paths } = await subscribe('fallback');
    const count = counting();
    failApiSends = 1;
    const ids = await publishBatch(Array.from({ length: 5 }, (_, n) => event(prefix, n)));

    const delivered = await receiver.waitFor(paths[0]!, 5);
    await herald.settle();
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.on(paths[0]!)).toHaveLength(5);
    expect(new Set(delivered.map((r) => JSON.parse(r.body).id))).toEqual(new Set(ids));
    expect(failApiSends).toBe(0);
    expect(count.fanouts()).toBe(5);
    for (const copy of busCopies(ids)) expect(copy.detail).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
    for (const request of delivered) expect(JSON.parse(request.body)).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
  });

  it('keeps publish order for an ordered subscription (one subject, one batch)', async () => {
    const { prefix, paths } = await subscribe('ordered', 1, { ordering: 'subject' });
    const count = counting();
    await publishBatch(Array.from({ length: 10 }, (_, n) => event(prefix, n, 'same-order')));

    const delivered = await receiver.waitFor(paths[0]!, 10, 30_000);
    expect(delivered.map((r) => JSON.parse(r.body).data.orderId)).toEqual(Array.from({ length: 10 }, (_, n) => `OM-${n}`));
    expect(count.apiBatches()).toEqual([10]);
    expect(count.fanouts()).toBe(0);
  });

  it('still buffers for a batching subscription: one notification of the batch’s 10 events, no fan-out invocation', async () => {
    const { prefix, paths } = await subscribe('batching', 1, { batching: { maxItems: 10, intervalSeconds: 1 } });
    const count = counting();
    const ids = await publishBatch(Array.from({ length: 10 }, (_, n) => event(prefix, n)));

    const [note] = await receiver.waitFor(paths[0]!, 1, 20_000);
    const body = JSON.parse(note!.body);
    expect(body.batchsize).toBe(10);
    expect(new Set(body.items.map((i: { id: string }) => i.id))).toEqual(new Set(ids));
    expect(count.apiBatches()).toEqual([]);
    expect(count.fanouts()).toBe(0);
  });
});
