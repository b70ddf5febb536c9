/**
 * Ordered groups held out of flight (lambdas/core/order-hold.ts): the real deliver worker and the
 * sweeper's part (`sendDueHeads`) on a FIFO queue with a virtual clock (one message group per
 * subscription and subject, a group's next message received only once the one before it was
 * deleted), with in-memory delivery and hold stores and the sweeper run every minute.
 * - 1,000 attempts of one ordered delivery to a dead endpoint (fulfillmenttools policy, 7 days):
 *   its long waits leave flight, no message is received often enough to near the redrive policy,
 *   the subject's later events arrive after it in order once its policy ends (dead letter with the
 *   policy's reason), another subject never waits, and each held attempt costs a few small writes;
 * - a crash at every step of holding, keeping, sending and advancing: duplicates at most, never a
 *   lost or reordered event.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import { REENQUEUE_AFTER_RECEIVES, IN_FLIGHT_WAIT_SECONDS } from '../../lambdas/core/delivery-plan.ts';
import { orderingGroupFor, deliveryIdFor } from '../../lambdas/core/ids.ts';
import { sendDueHeads } from '../../lambdas/core/order-hold.ts';
import type { HttpRequest, OrderHoldStore } from '../../lambdas/core/ports.ts';
import type { RetryPolicy } from '../../lambdas/core/retry-policy.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { processDeliveryMessage, RetryLater, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import { logger } from '../../lambdas/shared/observability.ts';
import { InMemoryDeliveryStore, InMemoryOrderHoldStore, SimulatedQueue } from '../support/in-memory-ports.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const TENANT = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const SUBSCRIPTION = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const MINUTE = 60_000;
const GRACE_SECONDS = 600;

beforeAll(() => logger.setLogLevel('ERROR'));

/** A simulated crash: the message is neither deleted nor hidden on purpose (it comes back after the queue's visibility). */
class Crash extends Error {}

function subscriptionWith(retryPolicy: RetryPolicy): Subscription {
  return {
    id: SUBSCRIPTION,
    tenantId: TENANT,
    name: 'ordered',
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: 'https://receiver.example.com/hook' },
    retryPolicy,
    payload: 'full',
    ordering: 'subject',
    status: 'active',
    secrets: [{ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), createdAt: '2026-12-01T00:00:00Z' }],
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
  };
}

/** Fan-out's job for event `n` of `subject`, published at `at`. */
function jobOf(subject: string, n: number, at: number): DeliveryJob {
  const eventId = `evt_${subject}_${n}`;
  return {
    v: 1,
    deliveryId: deliveryIdFor(TENANT, eventId, SUBSCRIPTION, new Date(at).toISOString()),
    tenantId: TENANT,
    subscriptionId: SUBSCRIPTION,
    event: { specversion: '1.0', id: eventId, source: 'urn:x', type: 'order.created', time: new Date(at).toISOString(), subject, datacontenttype: 'application/json', tenantid: TENANT, data: { n } },
    attemptOffset: 0,
    createdAt: new Date(at).toISOString(),
    orderingGroup: orderingGroupFor(SUBSCRIPTION, subject),
    firstEnqueue: true,
  } as DeliveryJob;
}

/** Crash right after the `call`-th call of `target` (e.g. `holds.createHead`) returned: its write happened, what follows did not. */
interface CrashPoint {
  target: string;
  call: number;
  /** Set once the crash happened. */
  fired?: boolean;
}

function crashing<T extends object>(name: string, inner: T, crash: CrashPoint | undefined): T {
  if (!crash?.target.startsWith(`${name}.`)) return inner;
  const method = crash.target.slice(name.length + 1);
  let calls = 0;
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (++calls === crash.call) {
          crash.fired = true;
          throw new Crash(`crash after ${crash.target} #${calls}`);
        }
        return result;
      };
    },
  });
}

interface Hit {
  at: number;
  subject: string;
  n: number;
  ok: boolean;
  webhookId: string;
}

/**
 * The world: a FIFO queue, the stores, a receiver answering by `answer`, the events to publish
 * (by time), and a sweeper run every minute. `holds` may be wrapped (crash injection).
 */
function world(policy: RetryPolicy, answer: (hit: Omit<Hit, 'ok'>) => boolean, crash?: CrashPoint) {
  const sim = new SimulatedQueue(T0, { fifo: true });
  const holdStore = new InMemoryOrderHoldStore();
  const holds: OrderHoldStore = crashing('holds', holdStore, crash);
  const store = crashing('deliveries', new InMemoryDeliveryStore(), crash);
  const queue = crashing('queue', sim.queue, crash);
  const hits: Hit[] = [];
  const subscription = subscriptionWith(policy);
  const ports = {
    subscriptions: { getSubscription: async () => subscription, changeSubscriptionStatus: async () => undefined },
    deliveries: store,
    http: {
      send: async (request: HttpRequest) => {
        const event = JSON.parse(request.body) as { subject: string; data: { n: number } };
        const hit = { at: sim.now, subject: event.subject, n: event.data.n, webhookId: request.headers['webhook-id']! };
        const ok = answer(hit);
        hits.push({ ...hit, ok });
        return ok ? { statusCode: 200, durationMs: 5 } : { statusCode: 503, durationMs: 5, responseExcerpt: 'down' };
      },
    },
    clock: () => new Date(sim.now),
    random: () => 0.5,
    queue,
    deadLetters: sim.deadLetters,
    holds,
    events: { putEventIfAbsent: async () => true, markEventUnpublished: async () => undefined },
    publisher: { publish: async () => undefined },
    config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30 },
  } as unknown as DeliveryWorkerPorts;
  const publishes: { at: number; job: DeliveryJob }[] = [];
  const samples: { at: number; held: boolean; headDueIn: number; groupInFlight: number }[] = [];
  let nextSweep = T0 + MINUTE;

  /** Runs until nothing is queued, held or left to publish (or `until`). */
  async function run({ watch, until = Infinity }: { watch?: string; until?: number } = {}): Promise<void> {
    publishes.sort((a, b) => a.at - b.at);
    for (let steps = 0; ; steps++) {
      if (steps > 200_000) throw new Error('runaway: the deliveries never ended');
      const messageAt = sim.nextAt();
      const publishAt = publishes[0]?.at;
      if (messageAt === undefined && publishAt === undefined && holdStore.heads.size === 0) return;
      if (Math.min(messageAt ?? Infinity, publishAt ?? Infinity, nextSweep) > until) return;
      if (publishAt !== undefined && publishAt <= (messageAt ?? Infinity) && publishAt <= nextSweep) {
        sim.now = Math.max(sim.now, publishAt);
        await sim.queue.enqueue([publishes.shift()!.job]);
        continue;
      }
      if (messageAt === undefined || messageAt > nextSweep) {
        sim.now = Math.max(sim.now, nextSweep);
        nextSweep += MINUTE;
        if (watch) {
          const hold = await holdStore.read(TENANT, watch);
          samples.push({ at: sim.now, held: hold !== undefined, headDueIn: hold ? Date.parse(hold.dueAt) - sim.now : 0, groupInFlight: sim.inGroup(watch) });
        }
        // A sweeper run that crashes is simply run again a minute later.
        await sendDueHeads({ holds, queue, clock: () => new Date(sim.now) }, 0, GRACE_SECONDS, 100).catch((error: unknown) => {
          if (!(error instanceof Crash)) throw error;
        });
        continue;
      }
      const record = sim.next()!;
      try {
        await processDeliveryMessage(ports, record);
        sim.delete(record.receiptHandle);
      } catch (error) {
        if (!(error instanceof RetryLater) && !(error instanceof Crash)) throw error;
      }
    }
  }
  return { sim, store, holdStore, hits, publishes, samples, run };
}

/** First successful delivery of each event, per subject, in the order they arrived. */
function deliveredOrder(hits: Hit[], subject: string): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const hit of hits) if (hit.subject === subject && hit.ok && !seen.has(hit.n)) (seen.add(hit.n), order.push(hit.n));
  return order;
}

describe('1,000 attempts of an ordered delivery to a dead endpoint, held out of flight', () => {
  it('waits out of flight, ends with the policy’s reason, and the subject’s later events follow it in order', async () => {
    const group = orderingGroupFor(SUBSCRIPTION, 'o-1');
    // Event 1 of o-1 always fails; every other event is answered at once.
    const w = world({ preset: 'fulfillmenttools' }, (hit) => !(hit.subject === 'o-1' && hit.n === 1));
    w.publishes.push(
      { at: T0, job: jobOf('o-1', 1, T0) },
      { at: T0 + 3600_000, job: jobOf('o-1', 2, T0 + 3600_000) },
      { at: T0 + 2 * 86_400_000, job: jobOf('o-1', 3, T0 + 2 * 86_400_000) },
      ...[0, 1, 2, 3].map((n) => ({ at: T0 + 1800_000 + n * 86_400_000, job: jobOf('o-2', n, T0 + 1800_000 + n * 86_400_000) })),
    );
    await w.run({ watch: group });

    const first = w.hits.filter((h) => h.subject === 'o-1' && h.n === 1);
    expect(first.length).toBeGreaterThanOrEqual(1000);
    expect(first.every((h) => !h.ok)).toBe(true);
    // Every attempt numbered once: the record's count is the number of POSTs.
    const record = (await w.store.getDelivery(jobOf('o-1', 1, T0).deliveryId))!;
    expect(record).toMatchObject({ status: 'failed', attemptCount: first.length });
    // Dead-lettered once, by its policy (not by the queue's redrive, nor at a receive limit).
    expect(w.sim.parked).toHaveLength(1);
    expect(w.sim.parked[0]).toMatchObject({ attempts: first.length });
    expect(w.sim.parked[0]!.reason).toMatch(/^retry policy exhausted after \d+ attempt\(s\); last: endpoint answered HTTP 503; ordered delivery: the subject's later events proceed without this one$/);
    // No message was received often enough to near the FIFO queue's redrive policy.
    expect(w.sim.maxReceiveCount).toBeLessThan(REENQUEUE_AFTER_RECEIVES);

    // The subject's later events: after its last attempt, in publish order, each once.
    const lastAttempt = first.at(-1)!.at;
    const later = w.hits.filter((h) => h.subject === 'o-1' && h.n !== 1);
    expect(later.map((h) => h.n)).toEqual([2, 3]);
    expect(later.every((h) => h.ok && h.at >= lastAttempt)).toBe(true);
    expect(later.every((h) => h.at - lastAttempt <= 2 * MINUTE)).toBe(true);
    // Everything of o-1 came in order: nothing overtook the failing event.
    expect(w.hits.filter((h) => h.subject === 'o-1').map((h) => h.n)).toEqual([...first.map(() => 1), 2, 3]);
    // The other subject never waited behind it.
    const other = w.hits.filter((h) => h.subject === 'o-2');
    expect(other.map((h) => h.n)).toEqual([0, 1, 2, 3]);
    expect(other.every((h, i) => h.ok && h.at === T0 + 1800_000 + i * 86_400_000)).toBe(true);

    // The waits left flight: whenever the group was held with its head due later than a
    // standard job's longest hidden wait, no message of the group was in the queue at all.
    const longWaits = w.samples.filter((s) => s.held && s.headDueIn > IN_FLIGHT_WAIT_SECONDS * 1000);
    expect(longWaits.length).toBeGreaterThan(3000);
    expect(longWaits.every((s) => s.groupInFlight === 0)).toBe(true);
    // Held for nearly the whole policy (7 days: 10,080 sweeper runs), and not after it ended.
    expect(w.samples.filter((s) => s.held).length).toBeGreaterThan(10_000);
    // At most the head's own message is ever in the group while it is held (the sweeper's send).
    expect(Math.max(...w.samples.filter((s) => s.held).map((s) => s.groupInFlight))).toBeLessThanOrEqual(1);
    expect(w.holdStore.heads.size).toBe(0);
    expect(w.holdStore.kept.get(`${TENANT}#${group}`)?.size ?? 0).toBe(0);

    // What a held attempt costs the hold: the head's rewrite (1 WU, its due-list key moving:
    // 2 index WU) and the sweeper's send mark (1 WU), besides the attempt's own record.
    const heldAttempts = w.holdStore.writes.filter((write) => write.item === 'head').length;
    const claims = w.holdStore.writes.filter((write) => write.item === 'claim').length;
    expect(heldAttempts).toBeGreaterThan(990);
    expect(claims).toBeLessThanOrEqual(heldAttempts + 1);
    const unitsPerAttempt = (heldAttempts + 2 * w.holdStore.writes.filter((write) => write.indexMoved).length + claims) / heldAttempts;
    expect(unitsPerAttempt).toBeLessThanOrEqual(4);
  }, 60_000);

  it('a later event waiting behind the hold has a pending record with its next attempt: it never looks lost', async () => {
    const group = orderingGroupFor(SUBSCRIPTION, 'o-1');
    let up = false;
    const w = world({ schedule: [3600] }, (hit) => up || hit.n !== 1);
    w.publishes.push({ at: T0, job: jobOf('o-1', 1, T0) }, { at: T0 + 10 * MINUTE, job: jobOf('o-1', 2, T0 + 10 * MINUTE) });
    await w.run({ until: T0 + 20 * MINUTE });
    const hold = (await w.holdStore.read(TENANT, group))!;
    expect(hold).toMatchObject({ deliveryId: jobOf('o-1', 1, T0).deliveryId, attemptsMade: 1, dueAt: new Date(T0 + 3600_000).toISOString() });
    expect((await w.holdStore.entries(TENANT, group, undefined, 10)).map((e) => e.job.event.id)).toEqual(['evt_o-1_1', 'evt_o-1_2']);
    expect(w.sim.size).toBe(0);
    const waiting = (await w.store.getDelivery(jobOf('o-1', 2, T0 + 10 * MINUTE).deliveryId))!;
    expect(waiting).toMatchObject({ status: 'pending', nextAttemptAt: hold.dueAt });
    up = true;
    await w.run();
    expect(w.hits.map((h) => [h.n, h.ok])).toEqual([
      [1, false],
      [1, true],
      [2, true],
    ]);
    // The head was sent by the sweeper's first run after it was due.
    expect(w.hits[1]!.at - (T0 + 3600_000)).toBeLessThanOrEqual(MINUTE);
  });
});

describe('a crash between any two steps of a hold', () => {
  // Every step the scenario below takes, at each of its calls (a hold is created and ended once).
  const calls: Record<string, number> = {
    'holds.keep': 4,
    'holds.createHead': 1,
    'holds.moveHead': 4,
    'holds.release': 1,
    'holds.drop': 4,
    'holds.claimSend': 3,
    'deliveries.recordAttempt': 4,
    'deliveries.recordWithoutAttempt': 3,
    'queue.enqueue': 4,
  };
  const cases: CrashPoint[] = Object.entries(calls).flatMap(([target, n]) => Array.from({ length: n }, (_, i) => ({ target, call: i + 1 })));

  it.each(cases)('after $target #$call: duplicates at most, every event arrives, none before an earlier one', async (crash) => {
    const failures = new Map<number, number>([
      [1, 2],
      [3, 1],
    ]);
    const w = world(
      { schedule: [600, 600, 600, 600] },
      (hit) => {
        if (hit.subject !== 'o-1') return true;
        const left = failures.get(hit.n) ?? 0;
        failures.set(hit.n, left - 1);
        return left <= 0;
      },
      crash,
    );
    w.publishes.push(
      ...[0, 1, 2, 30].map((minutes, i) => ({ at: T0 + minutes * MINUTE, job: jobOf('o-1', i + 1, T0 + minutes * MINUTE) })),
      ...[5, 40].map((minutes, i) => ({ at: T0 + minutes * MINUTE, job: jobOf('o-2', i + 1, T0 + minutes * MINUTE) })),
    );
    await w.run();
    expect(deliveredOrder(w.hits, 'o-1')).toEqual([1, 2, 3, 4]);
    expect(deliveredOrder(w.hits, 'o-2')).toEqual([1, 2]);
    // Nothing overtook: each attempt of event n came after every earlier event had been delivered.
    for (const [i, hit] of w.hits.entries()) {
      const before = w.hits.slice(0, i).filter((h) => h.subject === hit.subject && h.ok);
      for (let earlier = 1; earlier < hit.n; earlier++) expect(before.some((h) => h.n === earlier), `${hit.subject} ${hit.n} before ${earlier}`).toBe(true);
    }
    expect(w.sim.parked).toEqual([]);
    expect(w.holdStore.everHeld.has(orderingGroupFor(SUBSCRIPTION, 'o-1'))).toBe(true);
    expect(crash.fired).toBe(true);
  });
});

describe('the sweeper’s part in a large outage', () => {
  it('sends every due head, page after page, each once, and none not yet due', async () => {
    const holds = new InMemoryOrderHoldStore();
    const sim = new SimulatedQueue(T0, { fifo: true });
    for (let i = 0; i < 250; i++) {
      const job = jobOf(`big-${i}`, 1, T0);
      const entry = await holds.keep(TENANT, job.orderingGroup!, { sequenceNumber: String(i), messageId: `m${i}`, at: T0 }, job);
      await holds.createHead({ tenantId: TENANT, group: job.orderingGroup!, head: entry, deliveryId: job.deliveryId, dueAt: new Date(T0 - (i % 2) * MINUTE + (i >= 240 ? 3600_000 : 0)).toISOString(), attemptsMade: 1 });
    }
    const ports = { holds, queue: sim.queue, clock: () => new Date(sim.now) };
    expect(await sendDueHeads(ports, 0, GRACE_SECONDS, 100)).toEqual({ sent: 240, headless: [] });
    expect(new Set(sim.sent.map((s) => s.job.deliveryId)).size).toBe(240);
    expect(sim.sent.every((s) => s.job.attemptOffset === 1 && s.job.notBefore! <= new Date(T0).toISOString())).toBe(true);
    // Marked sent: the next run sends none again within the grace period.
    expect((await sendDueHeads(ports, 0, GRACE_SECONDS, 100)).sent).toBe(0);
  });
});

