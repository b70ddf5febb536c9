/**
 * The slow lane on the local runtime (lambdas/core/slow-lane.ts; local/runtime.ts polls it with
 * its own small concurrency, one record per invocation): a receiver that takes 7 s is marked slow
 * while its first attempt still runs; its later deliveries move to the slow lane unattempted, so
 * they never hold a delivery-queue invocation, and another tenant's deliveries, published all the
 * while, arrive promptly. Every one of the slow receiver's deliveries arrives, once, each in one
 * attempt (the move counts none). Timing thresholds are generous: the point is 7 s holds absent
 * from the fast tenant's figures, not milliseconds.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSlowMarkStore } from '../../lambdas/adapters/slow-mark-store.ts';
import { SLOW_ATTEMPT_MS } from '../../lambdas/core/slow-lane.ts';
import { LOCAL_TABLE, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { SLOW_LANE_QUEUE } from '../../local/emulators.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_slow_lane_000000000000000000000000000';
const SLOW_MS = 7_000;
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
/** Every record the deliver function was invoked with: its subscription and the queue it came from. */
const invocations: { subscriptionId: string; slowLane: boolean; batch: number }[] = [];

beforeAll(async () => {
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    // Few delivery-queue pollers, so a handful of 7 s holds would stall them all.
    pollerConcurrency: 3,
    slowLaneConcurrency: 2,
    wrapDeliver: (deliver) => async (event: SQSEvent, context) => {
      for (const record of event.Records) {
        const body = JSON.parse(record.body) as { subscriptionId?: string };
        if (body.subscriptionId) invocations.push({ subscriptionId: body.subscriptionId, slowLane: record.eventSourceARN.endsWith(`:${SLOW_LANE_QUEUE}`), batch: event.Records.length });
      }
      return (await deliver(event, context)) as SQSBatchResponse;
    },
  });
  receiver = await new Receiver().start();
  receiver.otherwise('/slow', { status: 200, delayMs: SLOW_MS });
  api = apiClient(herald.url);
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

async function tenantWithSubscription(name: string, path: string, timeoutSeconds: number) {
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name })).body as { id: string; apiKey: string };
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name,
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: `${receiver.url}${path}`, timeoutSeconds },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { tenant, subscriptionId: res.body.id as string };
}

async function publish(tenantId: string, subject: string): Promise<string> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId, type: 'order.created', subject, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a slow receiver beside a fast tenant', () => {
  it('moves the slow subscription’s deliveries to the slow lane, where they all arrive, while the fast tenant’s arrive promptly', { timeout: 90_000 }, async () => {
    const slow = await tenantWithSubscription('slow receiver', '/slow', 20);
    const fast = await tenantWithSubscription('fast receiver', '/fast', 10);
    // The adapter as the deliver function uses it (the local runtime set the table's endpoint), a
    // fresh one each look: one store keeps an answer 10 s (READ_CACHE_MS), and a first look
    // before the mark would hide it for that long; the test watches the table, not a cache.
    const readMark = () => new DynamoSlowMarkStore(LOCAL_TABLE).read(slow.tenant.id, slow.subscriptionId);

    // One delivery starts the slow receiver's first 7 s attempt on the delivery queue: it is marked
    // at 5 s, while that attempt still runs.
    await publish(slow.tenant.id, 'first');
    await receiver.waitFor('/slow', 1, 15_000);
    const mark = await eventually(readMark, SLOW_ATTEMPT_MS + 5_000);
    expect(receiver.on('/slow')).toHaveLength(1);
    expect(mark.markedAt).toBeGreaterThan(0);

    // Then both publish together: the slow tenant 4 events, the fast one 12.
    const fastPublished = new Map<string, number>();
    const slowEvents = ['first'];
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) {
        await publish(slow.tenant.id, `s-${i}`);
        slowEvents.push(`s-${i}`);
      }
      const at = Date.now();
      fastPublished.set(await publish(fast.tenant.id, `f-${i}`), at);
      await sleep(300);
    }

    const fastRequests = await receiver.waitFor('/fast', 12, 30_000);
    const latencies = fastRequests.map((r) => r.at - fastPublished.get(JSON.parse(r.body).id)!);
    // A delivery-queue invocation held by a 7 s attempt would show as a wait of several seconds.
    expect(Math.max(...latencies), `fast tenant's publish→receive (ms): ${latencies.join(', ')}`).toBeLessThan(SLOW_MS / 2);

    // Nothing lost: every slow delivery arrives, each once, two at a time at most on the slow lane.
    const slowRequests = await receiver.waitFor('/slow', slowEvents.length, 60_000);
    await sleep(1_000);
    expect(receiver.on('/slow')).toHaveLength(slowEvents.length);
    expect(new Set(slowRequests.map((r) => r.headers['webhook-id'])).size).toBe(slowEvents.length);
    expect(receiver.peakInFlight.get('/slow')).toBeLessThanOrEqual(3);

    // The later ones were attempted from the slow lane, one record per invocation.
    const slowLaneRecords = invocations.filter((i) => i.subscriptionId === slow.subscriptionId && i.slowLane);
    expect(slowLaneRecords).toHaveLength(slowEvents.length - 1);
    expect(slowLaneRecords.every((i) => i.batch === 1)).toBe(true);
    // The fast tenant never went there.
    expect(invocations.filter((i) => i.subscriptionId === fast.subscriptionId && i.slowLane)).toEqual([]);

    // The move counted no attempt: each delivery succeeded at its first.
    for (const request of slowRequests) {
      const delivery = await eventually(async () => {
        const res = await api('GET', `/v1/deliveries/${String(request.headers['webhook-id'])}`, slow.tenant.apiKey);
        return res.status === 200 && res.body.status === 'succeeded' ? res.body : undefined;
      });
      expect(delivery.attempts.map((a: { number: number }) => a.number)).toEqual([1]);
    }
  });
});
