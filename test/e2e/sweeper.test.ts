/**
 * The reconciliation sweeper on the local runtime: whatever is lost in transit (a queue message
 * before its first attempt, a retry's message, an event that never reached the bus, a hold that
 * missed its release) is found by key and re-enqueued as the same delivery.
 */
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdFor } from '../../lambdas/core/ids.ts';
import { LOCAL_BUS, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_sweeper_00000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;
/** Delivery messages to swallow (acknowledged without running the function): lost in transit. */
const lose = new Map<string, number>();

const jobOf = (record: SQSRecord) => JSON.parse(record.body) as { subscriptionId: string; deliveryId: string };

async function subscribe(path: string, extra: Record<string, unknown> = {}) {
  const prefix = `s${++counter}:`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as string, prefix };
}

async function publish(prefix: string, subject = 'order-1') {
  return api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${prefix}${subject}`, data: exampleOf('order.created') });
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    sweepAfterSeconds: 1,
    wrapDeliver: (deliver) => async (event, context) => {
      const kept = event.Records.filter((record) => {
        const sid = jobOf(record).subscriptionId;
        const remaining = lose.get(sid) ?? 0;
        if (remaining === 0) return true;
        lose.set(sid, remaining - 1);
        return false;
      });
      if (kept.length === 0) return { batchItemFailures: [] };
      return deliver({ Records: kept }, context);
    },
  });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'sweeper' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

describe('the reconciliation sweeper', () => {
  it('re-enqueues a delivery whose queue message was lost before its first attempt', async () => {
    const sub = await subscribe('/lost-first');
    lose.set(sub.id, 1);
    const published = await publish(sub.prefix);
    expect(published.status).toBe(202);
    await eventually(async () => (lose.get(sub.id) === 0 ? true : undefined));
    await later(1200);
    expect(receiver.on('/lost-first')).toHaveLength(0);
    const report = await herald.sweep();
    expect(report.deliveriesEnqueued).toBeGreaterThanOrEqual(1);
    const [request] = await receiver.waitFor('/lost-first', 1);
    // The same delivery: the id fan-out would have given it (made from the event's own time).
    expect(request!.headers['webhook-id']).toBe(deliveryIdFor(tenant.id, published.body.id, sub.id, JSON.parse(request!.body).time));
    // Reconciled: a later sweep takes the event off the list and enqueues nothing more.
    await later(1200);
    await herald.sweep();
    await later(300);
    expect(receiver.on('/lost-first')).toHaveLength(1);
  });

  it('re-enqueues a pending retry whose message was lost, continuing the attempt count', async () => {
    const sub = await subscribe('/lost-retry', { retryPolicy: { schedule: [1, 1] } });
    receiver.script('/lost-retry', [{ status: 500 }]);
    await publish(sub.prefix);
    const [first] = await receiver.waitFor('/lost-retry', 1);
    lose.set(sub.id, 1); // the retry's receive is lost
    await eventually(async () => (lose.get(sub.id) === 0 ? true : undefined), 5000);
    await later(1500);
    const report = await herald.sweep();
    expect(report.pendingRequeued).toBeGreaterThanOrEqual(1);
    const [, second] = await receiver.waitFor('/lost-retry', 2);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    const delivery = await eventually(async () => {
      const res = await api('GET', `/v1/deliveries/${first!.headers['webhook-id']}`, tenant.apiKey);
      return res.body.status === 'succeeded' ? res.body : undefined;
    });
    expect(delivery.attempts.map((a: any) => [a.number, a.statusCode])).toEqual([[1, 500], [2, 200]]);
  });

  it('publishes an accepted event that never reached the bus', async () => {
    const sub = await subscribe('/unpublished');
    herald.bus.failNext(LOCAL_BUS, 1, 'InternalException', 'bus unavailable');
    const res = await publish(sub.prefix);
    expect(res.status).toBe(503);
    expect(res.body.detail).toMatch(/is stored, but the bus refused it/);
    await later(1200);
    const report = await herald.sweep();
    expect(report.eventsPublished).toBe(1);
    await receiver.waitFor('/unpublished', 1);
  });

  it('looks again at a batching buffer whose scheduled look was lost in transit', async () => {
    const sub = await subscribe('/batched-lost', { batching: { maxItems: 10, intervalSeconds: 1 } });
    lose.set(sub.id, 1); // the look fan-out schedules for the buffer
    const published = await publish(sub.prefix);
    expect(published.status).toBe(202);
    await eventually(async () => (lose.get(sub.id) === 0 ? true : undefined), 5000);
    await later(2500); // the look was due after 1 s; the grace period is 1 s more
    expect(receiver.on('/batched-lost')).toHaveLength(0);
    const report = await herald.sweep();
    expect(report.batchLooksRequeued).toBeGreaterThanOrEqual(1);
    const [request] = await receiver.waitFor('/batched-lost', 1);
    const note = JSON.parse(request!.body);
    expect(note).toMatchObject({ batchsize: 1, items: [{ id: published.body.id }] });
    // Looked at and sent: the buffer is off the sweeper's list.
    await later(2200);
    expect((await herald.sweep()).batchLooksRequeued).toBe(0);
  });

  it('releases held deliveries of a subscription that is active again', async () => {
    const sub = await subscribe('/held');
    await api('POST', `/v1/subscriptions/${sub.id}/pause`, tenant.apiKey, {});
    await publish(sub.prefix);
    await eventually(async () => {
      const items = (await api('GET', `/v1/subscriptions/${sub.id}/deliveries?status=held`, tenant.apiKey)).body.items;
      return items.length === 1 ? true : undefined;
    });
    // Resumed behind the API's back (as if the release had crashed half-way).
    await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { name: 'renamed' });
    const { DynamoSubscriptionStore } = await import('../../lambdas/adapters/subscription-store.ts');
    await new DynamoSubscriptionStore(process.env.TABLE_NAME!).changeSubscriptionStatus(tenant.id, sub.id, { from: 'paused', to: 'active', at: new Date().toISOString() });
    const report = await herald.sweep();
    expect(report.heldReleased).toBe(1);
    await receiver.waitFor('/held', 1);
  });
});
