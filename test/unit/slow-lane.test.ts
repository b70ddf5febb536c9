/**
 * The slow lane (lambdas/core/slow-lane.ts, planSlowLane in core/delivery-plan.ts, the deliver
 * worker): when a mark holds and when a fast attempt clears it; a batch reads each subscription's
 * mark once and sets it once, while the slow attempt is still running; an unreadable or
 * unwritable mark never fails a delivery; a marked subscription's standard-queue job moves to the
 * slow lane before anything is reserved or sent, no attempt counted; ordered jobs never move;
 * re-enqueues and retries of a slow-lane job stay on the slow lane.
 */
import type { SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchSlowMarks, clearsMark, isMarkedSlow, SLOW_ATTEMPT_MS, SLOW_MARK_MS, SLOW_MARK_SETTLE_MS } from '../../lambdas/core/slow-lane.ts';
import { IN_FLIGHT_WAIT_SECONDS, planAfterAttempt, planBeforeDue, planSlowLane, planWaitUntil, type Receipt } from '../../lambdas/core/delivery-plan.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { queueNameOf } from '../../lambdas/adapters/sqs-queue.ts';
import { processDeliveryMessage, RetryLater, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import { logger } from '../../lambdas/shared/observability.ts';
import { InMemoryDeliveryStore, InMemorySlowMarkStore } from '../support/in-memory-ports.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const TENANT = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const SUB = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';

function job(extra: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    v: 1,
    deliveryId: 'dlv_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    tenantId: TENANT,
    subscriptionId: SUB,
    event: { specversion: '1.0', id: 'evt_1', source: 'urn:x', type: 'order.created', time: '2026-12-01T11:00:00Z', subject: 'o-1', datacontenttype: 'application/json', tenantid: TENANT, data: {} },
    attemptOffset: 0,
    createdAt: '2026-12-01T11:00:00Z',
    ...extra,
  } as DeliveryJob;
}
const standard = (receiveCount = 1): Receipt => ({ ordered: false, receiveCount, now: T0 });
const slowLane = (receiveCount = 1): Receipt => ({ ordered: false, receiveCount, now: T0, slowLane: true });

describe('the mark', () => {
  it('holds for SLOW_MARK_MS after the slow attempt that set it', () => {
    expect(isMarkedSlow(undefined, T0)).toBe(false);
    expect(isMarkedSlow({ markedAt: T0 }, T0 + SLOW_MARK_MS - 1)).toBe(true);
    expect(isMarkedSlow({ markedAt: T0 }, T0 + SLOW_MARK_MS)).toBe(false);
  });

  it('is cleared by a fast attempt only once it has settled, never by a slow one', () => {
    const mark = { markedAt: T0 };
    expect(clearsMark(mark, 200, T0 + SLOW_MARK_SETTLE_MS - 1)).toBe(false);
    expect(clearsMark(mark, 200, T0 + SLOW_MARK_SETTLE_MS)).toBe(true);
    expect(clearsMark(mark, SLOW_ATTEMPT_MS, T0 + SLOW_MARK_SETTLE_MS)).toBe(false);
    expect(clearsMark(undefined, 200, T0)).toBe(false);
  });
});

describe('a batch’s marks', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('reads each subscription’s mark once for the whole batch', async () => {
    const store = new InMemorySlowMarkStore();
    store.marks.set(`${TENANT}#${SUB}`, { markedAt: T0 - 1000 });
    const marks = new BatchSlowMarks(store, Date.now);
    const answers = await Promise.all([marks.isSlow(TENANT, SUB), marks.isSlow(TENANT, SUB), marks.isSlow(TENANT, 'sub_other')]);
    expect(answers).toEqual([true, true, false]);
    expect(store.reads).toBe(2);
  });

  it('marks the subscription while its slow attempt is still running, once however many attempts run long', async () => {
    const store = new InMemorySlowMarkStore();
    const logged: { message: string; tenantId: string; subscriptionId: string; error?: unknown }[] = [];
    const marks = new BatchSlowMarks(store, Date.now, (message, detail) => logged.push({ message, ...detail }));
    const watches = [marks.watch(TENANT, SUB), marks.watch(TENANT, SUB), marks.watch(TENANT, SUB)];
    await vi.advanceTimersByTimeAsync(SLOW_ATTEMPT_MS - 1);
    expect(store.marks.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    // The attempts have not ended: deliveries arriving now already see the mark.
    expect(store.marks.get(`${TENANT}#${SUB}`)).toEqual({ markedAt: T0 + SLOW_ATTEMPT_MS });
    expect(logged).toEqual([{ message: expect.stringMatching(/receiver slow/), tenantId: TENANT, subscriptionId: SUB }]);
    expect(await new BatchSlowMarks(store, Date.now).isSlow(TENANT, SUB)).toBe(true);
    await vi.advanceTimersByTimeAsync(80_000);
    await Promise.all(watches.map((w) => w.end()));
    expect(store.writes).toBe(1);
  });

  it('writes nothing for a fast attempt of an unmarked subscription (and reads no mark the batch did not read)', async () => {
    const store = new InMemorySlowMarkStore();
    const marks = new BatchSlowMarks(store, Date.now);
    expect(await marks.isSlow(TENANT, SUB)).toBe(false);
    const watch = marks.watch(TENANT, SUB);
    await vi.advanceTimersByTimeAsync(300);
    await watch.end();
    expect(store.writes).toBe(0);
    expect(store.reads).toBe(1);
  });

  it('clears a settled mark after a fast attempt; a fresh one stays (a receiver slow now and then does not flap between lanes)', async () => {
    const store = new InMemorySlowMarkStore();
    store.marks.set(`${TENANT}#${SUB}`, { markedAt: T0 - 10_000 });
    const fresh = new BatchSlowMarks(store, Date.now).watch(TENANT, SUB);
    await vi.advanceTimersByTimeAsync(200);
    await fresh.end();
    expect(store.marks.size).toBe(1);
    vi.setSystemTime(T0 + SLOW_MARK_SETTLE_MS);
    const settled = new BatchSlowMarks(store, Date.now);
    const watches = [settled.watch(TENANT, SUB), settled.watch(TENANT, SUB)];
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all(watches.map((w) => w.end()));
    expect(store.marks.size).toBe(0);
    // One clear per batch.
    expect(store.writes).toBe(1);
  });

  it('never fails a delivery: an unreadable mark is no mark, an unwritable one is logged and left to the next slow attempt', async () => {
    const store = new InMemorySlowMarkStore();
    store.failing = true;
    const logged: string[] = [];
    const marks = new BatchSlowMarks(store, Date.now, (message) => logged.push(message));
    expect(await marks.isSlow(TENANT, SUB)).toBe(false);
    const watch = marks.watch(TENANT, SUB);
    await vi.advanceTimersByTimeAsync(SLOW_ATTEMPT_MS + 1);
    await expect(watch.end()).resolves.toBeUndefined();
    expect(logged).toEqual([expect.stringMatching(/could not read/), expect.stringMatching(/could not mark/)]);
  });
});

describe('the plan', () => {
  it('moves a due standard-queue job of a slow subscription to the slow lane at once, carrying the attempts made', () => {
    expect(planSlowLane(job({ firstEnqueue: true }), standard(), true)).toEqual({ kind: 'reenqueue', job: job(), delaySeconds: 0, lane: 'slow' });
    // Received a third time: two attempts were made on the delivery queue.
    const moved = planSlowLane(job({ slotAt: '2026-12-01T12:00:00.000Z' }), standard(3), true);
    expect(moved).toEqual({ kind: 'reenqueue', delaySeconds: 0, lane: 'slow', job: job({ attemptOffset: 2, firstAttemptAt: '2026-12-01T11:00:00Z', slotAt: '2026-12-01T12:00:00.000Z' }) });
    // A job that hopped (due now) made its attempts before this message; its due time is dropped.
    const hopped = planSlowLane(job({ attemptOffset: 4, notBefore: '2026-12-01T11:59:59Z', firstAttemptAt: '2026-12-01T11:10:00Z' }), standard(), true);
    expect(hopped).toEqual({ kind: 'reenqueue', delaySeconds: 0, lane: 'slow', job: job({ attemptOffset: 4, firstAttemptAt: '2026-12-01T11:10:00Z' }) });
  });

  it('leaves alone a subscription not marked, a job already on the slow lane, and ordered jobs (they hold their subject’s group)', () => {
    expect(planSlowLane(job(), standard(), false)).toBeUndefined();
    expect(planSlowLane(job(), slowLane(), true)).toBeUndefined();
    expect(planSlowLane(job({ orderingGroup: 'g' }), { ...standard(), ordered: true }, true)).toBeUndefined();
  });

  it('keeps a slow-lane job on the slow lane whenever it is re-enqueued (long waits, long retries, throttle waits)', () => {
    expect(planBeforeDue(job({ notBefore: new Date(T0 + 3600_000).toISOString() }), slowLane())).toMatchObject({ kind: 'reenqueue', lane: 'slow' });
    expect(planAfterAttempt(job(), slowLane(), { kind: 'retry', delaySeconds: 3600, attempt: 1 }, '')).toMatchObject({ kind: 'reenqueue', lane: 'slow' });
    expect(planWaitUntil(job(), slowLane(), T0 + 2000, 0)).toMatchObject({ kind: 'reenqueue', lane: 'slow' });
    // A short retry waits hidden, on the queue it came from (the worker names it).
    expect(planAfterAttempt(job(), slowLane(), { kind: 'retry', delaySeconds: IN_FLIGHT_WAIT_SECONDS, attempt: 1 }, '')).toEqual({ kind: 'retryAfter', seconds: IN_FLIGHT_WAIT_SECONDS });
    // The delivery queue's re-enqueues name no lane.
    expect(planAfterAttempt(job(), standard(), { kind: 'retry', delaySeconds: 3600, attempt: 1 }, '')).not.toHaveProperty('lane');
  });
});

describe('the deliver worker with a slow lane', () => {
  const SLOW_LANE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/Herald-DeliverySlowLane1A2B3C';
  const subscription: Subscription = {
    id: SUB,
    tenantId: TENANT,
    name: 'slow',
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: 'https://slow.example.com/hook', timeoutSeconds: 90 },
    payload: 'full',
    ordering: 'none',
    status: 'active',
    secrets: [{ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), createdAt: '2026-12-01T00:00:00Z' }],
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
  } as Subscription;

  function harness(store: InMemorySlowMarkStore, answer: () => Promise<{ statusCode: number; durationMs: number }>) {
    const enqueued: { jobs: DeliveryJob[]; delay: number; lane?: string }[] = [];
    const visibility: { seconds: number; from?: string }[] = [];
    const sent: number[] = [];
    const ports = {
      subscriptions: { getSubscription: async () => subscription, changeSubscriptionStatus: async () => undefined },
      deliveries: new InMemoryDeliveryStore(),
      http: {
        send: async () => {
          sent.push(Date.now());
          return { ...(await answer()), responseExcerpt: '' };
        },
      },
      clock: () => new Date(),
      random: () => 0.5,
      queue: {
        enqueue: async (jobs: DeliveryJob[], delay = 0, lane?: string) => void enqueued.push({ jobs, delay, ...(lane ? { lane } : {}) }),
        changeVisibility: async (_handle: string, seconds: number, from?: string) => void visibility.push({ seconds, from }),
        isSlowLane: (arn: string | undefined) => arn !== undefined && queueNameOf(arn) === queueNameOf(SLOW_LANE_URL),
      },
      deadLetters: { park: async () => undefined },
      config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30 },
      slowMarks: new BatchSlowMarks(store, Date.now),
    } as unknown as DeliveryWorkerPorts;
    return { ports, enqueued, visibility, sent };
  }
  const record = (from: 'deliveries' | 'slow', receiveCount = 1, id = 'm1'): SQSRecord =>
    ({
      messageId: id,
      receiptHandle: `r-${id}`,
      body: JSON.stringify(job()),
      attributes: { ApproximateReceiveCount: String(receiveCount) },
      eventSourceARN: from === 'slow' ? 'arn:aws:sqs:us-east-1:123456789012:Herald-DeliverySlowLane1A2B3C' : 'arn:aws:sqs:us-east-1:123456789012:Herald-DeliveryDeliveriesABCDEF',
    }) as unknown as SQSRecord;

  beforeEach(() => {
    logger.setLogLevel('ERROR');
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('marks a subscription while its first slow attempt runs, and moves its next delivery to the slow lane unattempted', async () => {
    const store = new InMemorySlowMarkStore();
    let answered!: () => void;
    const first = harness(store, () => new Promise((resolve) => (answered = () => resolve({ statusCode: 200, durationMs: 60_000 }))));
    const running = processDeliveryMessage(first.ports, record('deliveries'));
    await vi.advanceTimersByTimeAsync(SLOW_ATTEMPT_MS);
    expect(store.marks.has(`${TENANT}#${SUB}`)).toBe(true);

    // Another batch, while the first attempt still runs: its job goes to the slow lane.
    const next = harness(store, async () => expect.unreachable('a moved delivery is not attempted'));
    await processDeliveryMessage(next.ports, record('deliveries', 2, 'm2'));
    expect(next.sent).toEqual([]);
    expect(next.enqueued).toEqual([{ jobs: [job({ attemptOffset: 1, firstAttemptAt: '2026-12-01T11:00:00Z' })], delay: 0, lane: 'slow' }]);

    await vi.advanceTimersByTimeAsync(55_000);
    answered();
    await running;
    expect(first.sent).toHaveLength(1);
  });

  it('attempts slow-lane jobs there, and a failed one waits hidden on the slow lane', async () => {
    const store = new InMemorySlowMarkStore();
    store.marks.set(`${TENANT}#${SUB}`, { markedAt: T0 - 1000 });
    const { ports, sent, visibility, enqueued } = harness(store, async () => ({ statusCode: 503, durationMs: 30 }));
    await expect(processDeliveryMessage(ports, record('slow'))).rejects.toBeInstanceOf(RetryLater);
    expect(sent).toHaveLength(1);
    expect(enqueued).toEqual([]);
    expect(visibility).toHaveLength(1);
    expect(visibility[0]!.from).toBe('slow');
  });

  it('neither reads nor writes marks for ordered jobs, however long they take', async () => {
    const store = new InMemorySlowMarkStore();
    let answered!: () => void;
    const { ports, sent } = harness(store, () => new Promise((resolve) => (answered = () => resolve({ statusCode: 200, durationMs: 30_000 }))));
    const ordered = { ...record('deliveries'), body: JSON.stringify(job({ orderingGroup: `${SUB}:o-1` })), eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:Herald-Ordered.fifo' } as SQSRecord;
    const running = processDeliveryMessage(ports, ordered);
    await vi.advanceTimersByTimeAsync(30_000);
    answered();
    await running;
    expect(sent).toHaveLength(1);
    expect({ reads: store.reads, writes: store.writes }).toEqual({ reads: 0, writes: 0 });
  });

  it('never moves a delivery when the mark cannot be read', async () => {
    const store = new InMemorySlowMarkStore();
    store.failing = true;
    const { ports, sent, enqueued } = harness(store, async () => ({ statusCode: 200, durationMs: 30 }));
    await processDeliveryMessage(ports, record('deliveries'));
    expect(sent).toHaveLength(1);
    expect(enqueued).toEqual([]);
  });
});
