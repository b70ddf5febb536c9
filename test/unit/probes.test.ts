/**
 * Trial attempts of a degraded subscription (lambdas/core/degrade.ts, `admitProbe` in
 * core/deliver.ts, `planBehindProbe` in core/delivery-plan.ts), driven through the real worker on
 * a queue with a virtual clock, an in-memory delivery store and health records, one record per
 * batch with the batch's statistics recorded after it, as the deliver handler does:
 * - a backlog of 50 deliveries to a dead endpoint makes one attempt per probe interval, the others
 *   wait out of flight with no attempt counted, and once the endpoint answers every one arrives;
 * - a delivery whose policy would have ended while it waited is parked with that reason;
 * - ordered deliveries, test events sent by hand and healthy subscriptions are not gated.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchProbeGate, DEGRADED_MIN_RETRY_SECONDS, PROBE_WAIT } from '../../lambdas/core/degrade.ts';
import { admitProbe } from '../../lambdas/core/deliver.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import { recordBatchStats } from '../../lambdas/core/health.ts';
import type { HttpRequest } from '../../lambdas/core/ports.ts';
import type { RetryPolicy } from '../../lambdas/core/retry-policy.ts';
import type { AttemptObservation } from '../../lambdas/core/stats.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { processDeliveryMessage, RetryLater, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import { logger } from '../../lambdas/shared/observability.ts';
import { InMemoryDeliveryStore, InMemoryStatsStore, SimulatedQueue } from '../support/in-memory-ports.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const TENANT = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const SUBSCRIPTION = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const MINUTE = 60_000;

beforeAll(() => logger.setLogLevel('WARN'));

function subscriptionWith(retryPolicy?: RetryPolicy, ordering: 'none' | 'subject' = 'none'): Subscription {
  return {
    id: SUBSCRIPTION,
    tenantId: TENANT,
    name: 'dead',
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: 'https://dead.example.com/hook' },
    ...(retryPolicy ? { retryPolicy } : {}),
    payload: 'full',
    ordering,
    status: 'active',
    secrets: [{ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), createdAt: '2026-12-01T00:00:00Z' }],
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
  };
}

function jobOf(n: number, extra: Partial<DeliveryJob> = {}): DeliveryJob {
  const deliveryId = `dlv_PROBE${String(n).padStart(21, '0')}`;
  return {
    v: 1,
    deliveryId,
    tenantId: TENANT,
    subscriptionId: SUBSCRIPTION,
    event: { specversion: '1.0', id: `evt_${n}`, source: 'urn:x', type: 'order.created', time: '2026-12-01T12:00:00Z', subject: `o-${n}`, datacontenttype: 'application/json', tenantid: TENANT, data: {} },
    attemptOffset: 0,
    createdAt: new Date(T0).toISOString(),
    firstEnqueue: true,
    ...extra,
  } as DeliveryJob;
}

/** A small deterministic generator, so the losers' waits spread as Math.random would spread them. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * A degraded subscription (10 failures over the last 10 minutes) whose endpoint answers 503 until
 * `upAt`, then 200; `jobs` are queued at T0. Runs until the queue is empty.
 */
async function run(options: { subscription: Subscription; jobs: DeliveryJob[]; upAt: number; ordered?: boolean; healthy?: boolean }) {
  const sim = new SimulatedQueue(T0);
  const deliveries = new InMemoryDeliveryStore();
  const stats = new InMemoryStatsStore();
  if (!options.healthy) stats.health.set(`${TENANT}#${SUBSCRIPTION}`, { consecutiveFailures: 10, failingSince: new Date(T0 - 10 * MINUTE).toISOString() });
  const sent: { at: number; deliveryId: string; ok: boolean }[] = [];
  const base = {
    subscriptions: { getSubscription: async () => options.subscription, changeSubscriptionStatus: async () => undefined },
    deliveries,
    stats,
    http: {
      send: async (request: HttpRequest) => {
        const ok = sim.now >= options.upAt;
        sent.push({ at: sim.now, deliveryId: request.headers['webhook-id']!, ok });
        return { statusCode: ok ? 200 : 503, durationMs: 5 };
      },
    },
    clock: () => new Date(sim.now),
    random: seeded(7),
    queue: sim.queue,
    deadLetters: sim.deadLetters,
    events: { putEventIfAbsent: async () => true, markEventUnpublished: async () => undefined },
    publisher: { publish: async () => undefined },
    config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30 },
  };
  for (const job of options.jobs) sim.add(JSON.stringify(job), options.ordered ?? false);
  for (let receives = 0; sim.size > 0; receives++) {
    if (receives > 20_000) throw new Error('runaway: the backlog never drained');
    const record = sim.next()!;
    const observations: AttemptObservation[] = [];
    const ports = { ...base, probes: new BatchProbeGate(stats, () => sim.now) } as unknown as DeliveryWorkerPorts;
    try {
      await processDeliveryMessage(ports, record, observations);
      sim.delete(record.receiptHandle);
    } catch (error) {
      if (!(error instanceof RetryLater)) throw error;
    }
    await recordBatchStats(ports, observations);
  }
  return { sim, deliveries, stats, sent };
}

describe('a degraded subscription with a backlog of 50 deliveries', () => {
  it('makes one attempt per probe interval while its endpoint is down, and delivers every one once it answers', async () => {
    const upAt = T0 + 30 * MINUTE;
    const jobs = Array.from({ length: 50 }, (_, i) => jobOf(i));
    const { sim, deliveries, stats, sent } = await run({ subscription: subscriptionWith(), jobs, upAt });

    // While down: never two attempts within one interval, and about one per interval (the backlog
    // comes back every few seconds, so a window rarely opens without a taker). Without probes,
    // all 50 would have gone at once and again at every retry.
    const whileDown = sent.filter((s) => !s.ok).map((s) => s.at);
    const gaps = whileDown.slice(1).map((t, i) => t - whileDown[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(DEGRADED_MIN_RETRY_SECONDS * 1000);
    expect(whileDown.length).toBeGreaterThanOrEqual(20);
    expect(whileDown.length).toBeLessThanOrEqual(31);

    // Nothing lost: every delivery arrived exactly once (one success each), none parked, the queue empty.
    const delivered = sent.filter((s) => s.ok).map((s) => s.deliveryId);
    expect(new Set(delivered).size).toBe(50);
    expect(delivered).toHaveLength(50);
    expect(sim.parked).toEqual([]);
    for (const job of jobs) {
      const delivery = (await deliveries.getDelivery(job.deliveryId))!;
      expect(delivery.status).toBe('succeeded');
      // Waiting was no attempt: the count is the requests this delivery made, numbered in order.
      expect(delivery.attemptCount).toBe(sent.filter((s) => s.deliveryId === job.deliveryId).length);
    }
    // A delivery that only waited arrived within a loser's longest wait of the recovery (plus an
    // interval); one that was a probe and failed, at its own policy's next retry (here up to 30 min).
    const soonAfter = upAt + (PROBE_WAIT.maxSeconds + DEGRADED_MIN_RETRY_SECONDS) * 1000;
    for (const job of jobs) {
      const mine = sent.filter((s) => s.deliveryId === job.deliveryId);
      const arrival = mine.find((s) => s.ok)!.at;
      const lastFailure = mine.filter((s) => !s.ok).at(-1)?.at;
      expect(arrival).toBeLessThanOrEqual(lastFailure === undefined ? soonAfter : Math.max(soonAfter, lastFailure + 1800 * 1.2 * 1000));
    }
    expect(sent.filter((s) => s.ok && s.at <= soonAfter).length).toBeGreaterThanOrEqual(50 - whileDown.length);
    // The recovery was noticed within about an interval: the first success followed soon after.
    const firstSuccess = Math.min(...sent.filter((s) => s.ok).map((s) => s.at));
    expect(firstSuccess - upAt).toBeLessThanOrEqual(2 * DEGRADED_MIN_RETRY_SECONDS * 1000);
    expect(stats.health.get(`${TENANT}#${SUBSCRIPTION}`)!.consecutiveFailures).toBe(0);

    // A trickle, not a storm: waiting 5 to 15 minutes, 50 deliveries over 30 minutes re-enqueue
    // a few hundred times, each recorded (pending until its new due time, for the sweeper) once.
    const waits = deliveries.withoutAttempt;
    expect(waits.length).toBeGreaterThan(50);
    expect(waits.length).toBeLessThanOrEqual(50 * 7);
    for (const wait of waits) {
      const seconds = (Date.parse(wait.nextAttemptAt!) - Date.parse(wait.at)) / 1000;
      expect(seconds).toBeGreaterThanOrEqual(PROBE_WAIT.minIntervals * DEGRADED_MIN_RETRY_SECONDS);
      expect(seconds).toBeLessThanOrEqual(PROBE_WAIT.maxSeconds);
      // Each wait is a new message due then.
      expect(sim.sent.some((s) => s.job.deliveryId === wait.deliveryId && s.job.notBefore === wait.nextAttemptAt && s.delaySeconds === seconds)).toBe(true);
    }
  });
});

describe('waiting past the end of the policy', () => {
  it('parks each delivery whose policy would have ended, with the reason, and never strands one', async () => {
    // 10 minutes of retries at most; the endpoint never comes back.
    const policy = { schedule: [60, 60, 60], maxAgeSeconds: 600 };
    const jobs = Array.from({ length: 20 }, (_, i) => jobOf(i));
    const { sim, deliveries, sent } = await run({ subscription: subscriptionWith(policy), jobs, upAt: Number.POSITIVE_INFINITY });
    expect(sim.size).toBe(0);
    expect(sim.parked).toHaveLength(20);
    // None waited beyond its policy's end (600 s after it was created, plus the receive it came back on).
    for (const letter of sim.parked) expect(Date.parse(letter.failedAt) - T0).toBeLessThanOrEqual(600_000 + 1000);
    const unattempted = sim.parked.filter((l) => l.reason.startsWith('retry policy ended while its subscription was degraded'));
    expect(unattempted.length).toBeGreaterThan(0);
    for (const letter of unattempted) {
      const id = (letter.job as DeliveryJob).deliveryId;
      const delivery = (await deliveries.getDelivery(id))!;
      expect(delivery).toMatchObject({ status: 'failed', reason: letter.reason });
      expect(letter.attempts).toBe(sent.filter((s) => s.deliveryId === id).length);
    }
    // The others were probes whose policy ran out in the ordinary way.
    for (const letter of sim.parked.filter((l) => !unattempted.includes(l))) expect(letter.reason).toMatch(/^retry policy exhausted after \d+ attempt\(s\)/);
    expect(sent.length).toBeLessThanOrEqual(11);
  });
});

describe('not gated', () => {
  it('ordered deliveries keep their group: each goes when due, its retries only paced', async () => {
    const jobs = Array.from({ length: 3 }, (_, i) => jobOf(i, { orderingGroup: `${SUBSCRIPTION}:o-${i}`, firstEnqueue: undefined }));
    const { sim, sent } = await run({ subscription: subscriptionWith(undefined, 'subject'), jobs, upAt: T0 + 2 * MINUTE, ordered: true });
    expect(sent.filter((s) => s.at === T0)).toHaveLength(3);
    expect(sim.sent).toEqual([]);
    expect(new Set(sent.filter((s) => s.ok).map((s) => s.deliveryId)).size).toBe(3);
  });

  it('a test event sent by hand goes at once, even after the interval’s trial attempt: the tenant’s own probe', async () => {
    const ping = jobOf(0, { event: { ...jobOf(0).event, type: 'herald.ping' } });
    const backlog = Array.from({ length: 5 }, (_, i) => jobOf(i + 1));
    const { sent } = await run({ subscription: subscriptionWith(), jobs: [...backlog, ping], upAt: T0 + 1 });
    // The first of the backlog won the probe; the ping went too, in the same interval; the rest waited.
    expect(sent.filter((s) => s.at === T0).map((s) => s.deliveryId)).toEqual([backlog[0]!.deliveryId, ping.deliveryId]);
  });

  it('a healthy subscription’s deliveries all go at once', async () => {
    const jobs = Array.from({ length: 10 }, (_, i) => jobOf(i));
    const { sent, deliveries } = await run({ subscription: subscriptionWith(), jobs, upAt: T0, healthy: true });
    expect(sent.filter((s) => s.at === T0 && s.ok)).toHaveLength(10);
    expect(deliveries.withoutAttempt).toEqual([]);
  });
});

describe('a message for a delivery that is no longer pending', () => {
  it('is acknowledged when it loses the probe, not sent round again: it was a duplicate', async () => {
    const stats = new InMemoryStatsStore();
    stats.health.set(`${TENANT}#${SUBSCRIPTION}`, { consecutiveFailures: 10, failingSince: new Date(T0 - 10 * MINUTE).toISOString(), probeAt: new Date(T0 - 1000).toISOString() });
    const deliveries = new InMemoryDeliveryStore();
    const job = jobOf(1);
    const done = { id: job.deliveryId, tenantId: TENANT, subscriptionId: SUBSCRIPTION, eventId: job.event.id, eventType: job.event.type, subject: job.event.subject, status: 'succeeded', createdAt: job.createdAt, updatedAt: job.createdAt };
    deliveries.summaries.set(job.deliveryId, done as never);
    const ports = {
      subscriptions: { getSubscription: async () => subscriptionWith() },
      probes: new BatchProbeGate(stats, () => T0),
      deliveries,
      clock: () => new Date(T0),
      random: () => 0.5,
      config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30 },
    } as unknown as Parameters<typeof admitProbe>[0];
    expect(await admitProbe(ports, job, { ordered: false, receiveCount: 1, now: T0 })).toEqual({ kind: 'ack', why: 'finished' });
    expect(deliveries.summaries.get(job.deliveryId)!.status).toBe('succeeded');
    // The same message for a pending delivery waits instead.
    expect(await admitProbe(ports, jobOf(2), { ordered: false, receiveCount: 1, now: T0 })).toMatchObject({ kind: 'reenqueue', delaySeconds: 600 });
  });
});
