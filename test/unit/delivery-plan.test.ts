/**
 * The delivery plan (lambdas/core/delivery-plan.ts): the one place that decides what becomes of
 * a delivery job's message — acknowledged, hidden until its retry, re-enqueued out of flight,
 * parked with its reason — before an attempt and after it. Then 1,000 attempts of one delivery
 * against a dead endpoint, driven through the real worker, the plan, an in-memory delivery store
 * and a queue on a virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { attemptNumberOf, IN_FLIGHT_WAIT_SECONDS, planAfterAttempt, planBeforeDue, planBehindProbe, planForHeldGroup, planWaitUntil, REENQUEUE_AFTER_RECEIVES, type Receipt } from '../../lambdas/core/delivery-plan.ts';
import type { OrderHold } from '../../lambdas/core/order-hold.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { DeliverOutcome } from '../../lambdas/core/deliver.ts';
import { KEPT_ATTEMPTS } from '../../lambdas/core/delivery.ts';
import { jittered, RETRY_PRESETS } from '../../lambdas/core/retry-policy.ts';
import { ORDERED_MAX_RECEIVES } from '../../lambdas/shared/herald-config.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { processDeliveryMessage, RetryLater, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import { logger } from '../../lambdas/shared/observability.ts';
import { InMemoryDeliveryStore, SimulatedQueue } from '../support/in-memory-ports.ts';
import { MIN_KEPT_EXCERPT_BYTES } from '../../lambdas/adapters/delivery-items.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const TENANT = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const SUBSCRIPTION = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';

function job(extra: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    v: 1,
    deliveryId: 'dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    tenantId: TENANT,
    subscriptionId: SUBSCRIPTION,
    event: { specversion: '1.0', id: 'evt_1', source: 'urn:x', type: 'order.created', time: '2026-12-01T11:00:00Z', subject: 'o-1', datacontenttype: 'application/json', tenantid: TENANT, data: {} },
    attemptOffset: 0,
    createdAt: '2026-12-01T11:00:00Z',
    ...extra,
  } as DeliveryJob;
}
const standard = (receiveCount = 1): Receipt => ({ ordered: false, receiveCount, now: NOW });
const ordered = (receiveCount = 1): Receipt => ({ ordered: true, receiveCount, now: NOW });
const retry = (delaySeconds: number, attempt = 1): DeliverOutcome => ({ kind: 'retry', delaySeconds, attempt });

describe('after an attempt', () => {
  it('a success or a hold acknowledges the message', () => {
    expect(planAfterAttempt(job(), standard(), { kind: 'succeeded', attempt: 1 }, '')).toEqual({ kind: 'ack', why: 'delivered' });
    expect(planAfterAttempt(job(), standard(), { kind: 'held', attempt: 1 }, '')).toEqual({ kind: 'ack', why: 'held' });
  });

  it('an exhausted policy parks the job with its reason and attempt count', () => {
    const plan = planAfterAttempt(job(), standard(), { kind: 'failed', reason: 'retry policy exhausted', attempt: 7 }, '2026-12-01T12:00:00.000Z');
    expect(plan).toEqual({ kind: 'park', letter: { job: job(), reason: 'retry policy exhausted', attempts: 7, failedAt: '2026-12-01T12:00:00.000Z' } });
  });

  it('a short retry waits hidden in flight', () => {
    expect(planAfterAttempt(job(), standard(), retry(60), '')).toEqual({ kind: 'retryAfter', seconds: 60 });
    expect(planAfterAttempt(job(), standard(), retry(IN_FLIGHT_WAIT_SECONDS), '')).toEqual({ kind: 'retryAfter', seconds: IN_FLIGHT_WAIT_SECONDS });
  });

  it('a long retry leaves flight: re-enqueued, due at its time, its attempts carried', () => {
    const plan = planAfterAttempt(job({ firstEnqueue: true }), standard(3), retry(3600, 3), '');
    expect(plan).toEqual({
      kind: 'reenqueue',
      delaySeconds: 900,
      job: job({ attemptOffset: 3, firstAttemptAt: '2026-12-01T11:00:00Z', notBefore: new Date(NOW + 3600_000).toISOString() }),
    });
  });

  it('a message received many times is re-enqueued, so the queue’s redrive only catches crashes', () => {
    expect(planAfterAttempt(job(), standard(REENQUEUE_AFTER_RECEIVES), retry(10, REENQUEUE_AFTER_RECEIVES), '').kind).toBe('reenqueue');
  });

  it('a job that already hopped is re-enqueued for its next retry, even a short one', () => {
    expect(planAfterAttempt(job({ notBefore: '2026-12-01T11:59:00Z', attemptOffset: 4 }), standard(), retry(10, 5), '').kind).toBe('reenqueue');
  });

  it('an ordered retry always waits hidden, holding its group, at most SQS’s 12 h', () => {
    expect(planAfterAttempt(job({ orderingGroup: 'g' }), ordered(), retry(3600), '')).toEqual({ kind: 'retryAfter', seconds: 3600 });
    expect(planAfterAttempt(job({ orderingGroup: 'g' }), ordered(), retry(86_400), '')).toEqual({ kind: 'retryAfter', seconds: 43_200 });
  });
});

describe('before an attempt', () => {
  it('a job without a due time, or past it, is due now', () => {
    expect(planBeforeDue(job(), standard())).toBeUndefined();
    expect(planBeforeDue(job({ notBefore: '2026-12-01T11:00:00Z' }), standard())).toBeUndefined();
  });

  it('a long wait hops out of flight unchanged; a short one waits hidden', () => {
    const later = job({ notBefore: new Date(NOW + 6 * 3600_000).toISOString(), attemptOffset: 3 });
    expect(planBeforeDue(later, standard())).toEqual({ kind: 'reenqueue', job: later, delaySeconds: 900 });
    expect(planBeforeDue(job({ notBefore: new Date(NOW + 60_000).toISOString() }), standard())).toEqual({ kind: 'retryAfter', seconds: 60 });
    expect(planBeforeDue(later, ordered())).toEqual({ kind: 'retryAfter', seconds: 6 * 3600 });
  });

  it('a throttle wait is no attempt: a new message due at the slot, keeping the attempts made', () => {
    const plan = planWaitUntil(job({ firstEnqueue: true }), standard(2), NOW + 2_500, 1);
    expect(plan).toEqual({ kind: 'reenqueue', delaySeconds: 3, job: job({ attemptOffset: 1, firstAttemptAt: '2026-12-01T11:00:00Z', notBefore: new Date(NOW + 2_500).toISOString() }) });
    expect(planWaitUntil(job({ orderingGroup: 'g' }), ordered(), NOW + 2_500, 0)).toEqual({ kind: 'retryAfter', seconds: 3 });
  });

  it('numbers the attempt: receives count, except after a hop or where the log says otherwise', () => {
    expect(attemptNumberOf(job({ attemptOffset: 2 }), standard(3))).toBe(5);
    expect(attemptNumberOf(job({ attemptOffset: 2, notBefore: '2026-12-01T11:00:00Z' }), standard(9))).toBe(3);
    expect(attemptNumberOf(job({ orderingGroup: 'g' }), ordered(6), 2)).toBe(3);
  });
});

describe('an ordered job whose group can be held out of flight (core/order-hold.ts)', () => {
  const orderedJob = (extra: Partial<DeliveryJob> = {}) => job({ orderingGroup: 'g', ...extra });
  const holdable = (receiveCount = 1, head?: OrderHold): Receipt => ({ ordered: true, receiveCount, now: NOW, holds: head ? { head } : {} });
  const hold = (extra: Partial<OrderHold> = {}): OrderHold => ({
    tenantId: TENANT,
    group: 'g',
    head: 'S0001',
    deliveryId: orderedJob().deliveryId,
    dueAt: new Date(NOW).toISOString(),
    attemptsMade: 6,
    ...extra,
  });

  it('a short retry of a message received few times still waits hidden, holding its group', () => {
    expect(planAfterAttempt(orderedJob(), holdable(3), retry(IN_FLIGHT_WAIT_SECONDS, 3), '')).toEqual({ kind: 'retryAfter', seconds: IN_FLIGHT_WAIT_SECONDS });
  });

  it('a longer retry holds the group: the job kept unscheduled, due at its time, its attempts counted', () => {
    const plan = planAfterAttempt(orderedJob({ firstEnqueue: true, slotAt: '2026-12-01T11:59:59Z' }), holdable(4), retry(IN_FLIGHT_WAIT_SECONDS + 1, 4), '');
    expect(plan).toEqual({
      kind: 'holdGroup',
      job: orderedJob({ firstAttemptAt: '2026-12-01T11:00:00Z' }),
      dueAt: new Date(NOW + (IN_FLIGHT_WAIT_SECONDS + 1) * 1000).toISOString(),
      attemptsMade: 4,
      attempted: true,
    });
  });

  it('so does any retry of a message received often enough to near the redrive policy', () => {
    expect(planAfterAttempt(orderedJob(), holdable(REENQUEUE_AFTER_RECEIVES), retry(1, REENQUEUE_AFTER_RECEIVES), '')).toMatchObject({ kind: 'holdGroup', attemptsMade: REENQUEUE_AFTER_RECEIVES });
    expect(planAfterAttempt(orderedJob(), holdable(REENQUEUE_AFTER_RECEIVES - 1), retry(1), '')).toEqual({ kind: 'retryAfter', seconds: 1 });
  });

  it('a waiting hold’s head goes back to the hold for every retry, however short, naming the hold it heads', () => {
    const head = hold();
    expect(planAfterAttempt(orderedJob(), holdable(1, head), retry(20, 7), '')).toMatchObject({ kind: 'holdGroup', head, attemptsMade: 7, dueAt: new Date(NOW + 20_000).toISOString() });
  });

  it('a head that ends (delivered, dead-lettered, held for a pause) advances the hold', () => {
    const head = hold();
    expect(planAfterAttempt(orderedJob(), holdable(1, head), { kind: 'succeeded', attempt: 7 }, '')).toEqual({ kind: 'ack', why: 'delivered', advance: head });
    expect(planAfterAttempt(orderedJob(), holdable(1, head), { kind: 'held', attempt: 7 }, '')).toEqual({ kind: 'ack', why: 'held', advance: head });
    expect(planAfterAttempt(orderedJob(), holdable(1, head), { kind: 'failed', reason: 'retry policy exhausted', attempt: 7 }, 'x')).toEqual({
      kind: 'park',
      letter: { job: orderedJob(), reason: 'retry policy exhausted', attempts: 7, failedAt: 'x' },
      advance: head,
    });
    // Not a head: nothing to advance.
    expect(planAfterAttempt(orderedJob(), holdable(), { kind: 'succeeded', attempt: 1 }, '')).toEqual({ kind: 'ack', why: 'delivered' });
  });

  it('a long wait before an attempt (due later, or a throttle slot far ahead) holds the group, no attempt counted', () => {
    const due = new Date(NOW + 3600_000).toISOString();
    expect(planBeforeDue(orderedJob({ notBefore: due, attemptOffset: 2 }), holdable())).toEqual({ kind: 'holdGroup', job: orderedJob({ attemptOffset: 2, firstAttemptAt: '2026-12-01T11:00:00Z' }), dueAt: due, attemptsMade: 2, attempted: false });
    expect(planWaitUntil(orderedJob(), holdable(), NOW + 3600_000, 0)).toMatchObject({ kind: 'holdGroup', dueAt: due, attemptsMade: 0, attempted: false });
    expect(planWaitUntil(orderedJob(), holdable(), NOW + 2_500, 0)).toEqual({ kind: 'retryAfter', seconds: 3 });
  });

  it('while its group is held, the head is attempted when due; early it is a duplicate; any other job is kept behind', () => {
    expect(planForHeldGroup(orderedJob(), holdable(), undefined)).toBeUndefined();
    expect(planForHeldGroup(orderedJob(), holdable(), hold())).toBeUndefined();
    expect(planForHeldGroup(orderedJob(), holdable(), hold({ dueAt: new Date(NOW + 600_000).toISOString() }))).toEqual({ kind: 'ack', why: 'notDue' });
    const other = orderedJob({ deliveryId: 'dlv_OTHER0000000000000000000', firstEnqueue: true });
    expect(planForHeldGroup(other, holdable(), hold())).toEqual({ kind: 'keepBehind', job: orderedJob({ deliveryId: 'dlv_OTHER0000000000000000000' }), hold: hold() });
  });
});

describe('behind a degraded subscription’s probe', () => {
  const ends = NOW + 3600_000;

  it('a loser waits out of flight, no attempt counted: a new message due after its wait, its old schedule and slot dropped', () => {
    const plan = planBehindProbe(job({ firstEnqueue: true, slotAt: '2026-12-01T11:59:59Z', notBefore: '2026-12-01T11:59:00Z', attemptOffset: 2 }), standard(), 2, ends, 600);
    expect(plan).toEqual({ kind: 'reenqueue', delaySeconds: 600, job: job({ attemptOffset: 2, firstAttemptAt: '2026-12-01T11:00:00Z', notBefore: new Date(NOW + 600_000).toISOString() }) });
    // A first attempt that lost keeps none: its policy has not started.
    expect(planBehindProbe(job(), standard(), 0, ends, 300)).toEqual({ kind: 'reenqueue', delaySeconds: 300, job: job({ notBefore: new Date(NOW + 300_000).toISOString() }) });
  });

  it('never waits past the point where its policy would have ended: it comes back then, for a last chance', () => {
    const plan = planBehindProbe(job(), standard(), 3, NOW + 90_500, 900);
    expect(plan).toMatchObject({ kind: 'reenqueue', delaySeconds: 90, job: { notBefore: new Date(NOW + 90_000).toISOString(), attemptOffset: 3 } });
  });

  it('past that point it is parked, with a reason that says so and the attempts it made', () => {
    const plan = planBehindProbe(job(), standard(), 4, NOW + 500, 600);
    expect(plan).toEqual({
      kind: 'park',
      letter: { job: job(), attempts: 4, failedAt: new Date(NOW).toISOString(), reason: expect.stringMatching(/^retry policy ended while its subscription was degraded: 4 attempt\(s\) made, then waited behind the trial attempts/) },
    });
  });
});

/** One delivery against an endpoint that always answers 503, from first attempt to dead letter. */
async function deliverToDeadEndpoint(ordering: 'none' | 'subject') {
  const subscription: Subscription = {
    id: SUBSCRIPTION,
    tenantId: TENANT,
    name: 'dead',
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: 'https://dead.example.com/hook' },
    retryPolicy: { preset: 'fulfillmenttools' },
    payload: 'full',
    ordering,
    status: 'active',
    secrets: [{ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), createdAt: '2026-12-01T00:00:00Z' }],
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
  };
  // A thousand retry lines would bury the test's output.
  logger.setLogLevel('WARN');
  const sim = new SimulatedQueue(NOW);
  const store = new InMemoryDeliveryStore();
  const sentAt: number[] = [];
  const ports = {
    subscriptions: { getSubscription: async () => subscription, changeSubscriptionStatus: async () => undefined },
    deliveries: store,
    http: {
      send: async () => {
        sentAt.push(sim.now);
        return { statusCode: 503, durationMs: 5, responseExcerpt: 'x'.repeat(1024) };
      },
    },
    clock: () => new Date(sim.now),
    random: () => 0.5,
    queue: sim.queue,
    deadLetters: sim.deadLetters,
    events: { putEventIfAbsent: async () => true, markEventUnpublished: async () => undefined },
    publisher: { publish: async () => undefined },
    config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30 },
  } as unknown as DeliveryWorkerPorts;

  const first = job({ createdAt: new Date(NOW).toISOString(), firstEnqueue: true, ...(ordering === 'subject' ? { orderingGroup: `${SUBSCRIPTION}:o-1` } : {}) });
  sim.add(JSON.stringify(first), ordering === 'subject');
  let peakMessages = 0;
  for (let receives = 0; sim.size > 0; receives++) {
    if (receives > 20_000) throw new Error('runaway: the delivery never ended');
    const record = sim.next()!;
    try {
      await processDeliveryMessage(ports, record);
      sim.delete(record.receiptHandle);
    } catch (error) {
      if (!(error instanceof RetryLater)) throw error;
    }
    peakMessages = Math.max(peakMessages, sim.size);
  }
  return { sim, store, sentAt, peakMessages, delivery: (await store.getDelivery(first.deliveryId))! };
}

describe('1,000 attempts of one delivery against a dead endpoint (fulfillmenttools policy)', () => {
  it('every attempt is numbered once, the log stays bounded, the message never nears maxReceiveCount, and it is parked once', async () => {
    const { sim, store, sentAt, peakMessages, delivery } = await deliverToDeadEndpoint('none');
    const attempts = sentAt.length;
    expect(attempts).toBeGreaterThanOrEqual(1000);
    // Each attempt numbered once, in order: the log's count is the number of POSTs.
    expect(delivery.attemptCount).toBe(attempts);
    expect(delivery.attempts.map((a) => a.number)).toEqual(Array.from({ length: KEPT_ATTEMPTS }, (_, i) => attempts - KEPT_ATTEMPTS + 1 + i));
    expect(delivery.status).toBe('failed');
    // Each retried attempt writes its ring item (≤ 1 KB, its excerpt cut to fit) and the summary
    // (≤ 1 KB): 2 write units whatever its number; the exhausting one the summary alone, the
    // attempt whole in it, cut to fit. No item grows (the indexes' part, the status list's moves
    // on the first and the exhausting attempt, is measured on dynalite in
    // test/e2e/delivery-record.test.ts: 3, 2, 3).
    const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
    const byAttempt = new Map<number, number>();
    for (const write of store.writes) byAttempt.set(write.attempt, (byAttempt.get(write.attempt) ?? 0) + units(write.bytes));
    expect(byAttempt.size).toBe(attempts);
    expect(Math.max(...byAttempt.values())).toBeLessThanOrEqual(2);
    expect(byAttempt.get(attempts)).toBe(1);
    expect(Math.max(...store.writes.filter((w) => w.item === 'summary').map((w) => w.bytes))).toBeLessThanOrEqual(1024);
    expect(Math.max(...store.writes.filter((w) => w.item === 'attempt').map((w) => w.bytes))).toBeLessThanOrEqual(1024);
    const summaries = store.writes.filter((w) => w.item === 'summary').map((w) => w.bytes);
    expect(summaries[999]).toBeLessThanOrEqual(summaries[1]! + 16);
    // The ring never holds more than KEPT_ATTEMPTS items; reading the delivery gives the last ones whole.
    expect(store.ring.size).toBe(KEPT_ATTEMPTS);
    // Each shows its excerpt: a start of the answer, as much as its item holds within 1 KB.
    expect(delivery.attempts.slice(0, -1).every((a) => a.responseExcerpt!.length >= 750 && 'x'.repeat(1024).startsWith(a.responseExcerpt!))).toBe(true);
    expect(delivery.attempts.at(-1)!.responseExcerpt!.length).toBeGreaterThanOrEqual(MIN_KEPT_EXCERPT_BYTES);
    // One message at a time, never near the standard queue's maxReceiveCount.
    expect(peakMessages).toBe(1);
    expect(sim.maxReceiveCount).toBeLessThanOrEqual(REENQUEUE_AFTER_RECEIVES);
    // Parked exactly once, with its reason; the gaps follow the policy (20 s doubling to 600 s).
    expect(sim.parked).toHaveLength(1);
    expect(sim.parked[0]).toMatchObject({ attempts, reason: expect.stringMatching(/^retry policy exhausted after \d+ attempt\(s\); last: endpoint answered HTTP 503/) });
    const policy = RETRY_PRESETS.fulfillmenttools.policy;
    const gaps = sentAt.slice(1).map((t, i) => (t - sentAt[i]!) / 1000);
    expect(gaps.slice(0, 6)).toEqual([20, 40, 80, 160, 320, 600].map((base) => jittered(base, 0.5)));
    expect(gaps.every((gap) => gap <= policy.maxSeconds * 1.2 + 1)).toBe(true);
    expect((sentAt[attempts - 1]! - NOW) / 1000).toBeLessThanOrEqual(policy.maxAgeSeconds);
  });

  it('an ordered delivery keeps its group past 100 attempts and is parked, with its reason, at the ordered queue’s last receive', async () => {
    // A worker without a hold store: every wait hidden, so the receive limit ends it. Deployed,
    // long waits hold the group in the table instead (test/unit/order-holds.test.ts).
    const { sim, sentAt, peakMessages, delivery } = await deliverToDeadEndpoint('subject');
    // Never re-enqueued (that would put it behind its subject's later events): one message throughout.
    expect(sim.sent).toEqual([]);
    expect(peakMessages).toBe(1);
    expect(sentAt).toHaveLength(ORDERED_MAX_RECEIVES);
    expect(sim.maxReceiveCount).toBe(ORDERED_MAX_RECEIVES);
    expect(delivery).toMatchObject({ status: 'failed', attemptCount: ORDERED_MAX_RECEIVES });
    expect(sim.parked).toHaveLength(1);
    expect(sim.parked[0]!.reason).toMatch(/^ordered delivery received 1000 times, the most the ordered queue allows; last: endpoint answered HTTP 503; ordered delivery: the subject's later events proceed without this one$/);
  });
});
