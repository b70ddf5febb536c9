/**
 * The deliver function's kept subscription reads (core/caching.ts `keptSubscriptions`): a busy
 * subscription costs one eventually consistent read per container every 10 s instead of a
 * strongly consistent one per batch, and what those reads served still holds on a virtual clock
 * through the real `deliverJob`: an edit, a pause or a deletion reaches deliveries within the
 * 10 s; a delivery held for a paused subscription that was resumed meanwhile is released at once
 * (its consistent re-read); a rotated-out secret keeps signing, so either secret verifies; a
 * subscription created a moment before its first event is never taken for deleted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { keptSubscriptions, SUBSCRIPTION_KEEP_SECONDS } from '../../lambdas/core/caching.ts';
import { deliverJob, type DeliverPorts } from '../../lambdas/core/deliver.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { HttpRequest, SubscriptionStore } from '../../lambdas/core/ports.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { logger } from '../../lambdas/shared/observability.ts';
import { InMemoryDeliveryStore } from '../support/in-memory-ports.ts';

const KEEP_MS = SUBSCRIPTION_KEEP_SECONDS * 1000;
const TENANT = 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const SUB = 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const T0 = Date.parse('2026-12-01T12:00:00Z');
const OLD_SECRET = 'whsec_' + Buffer.alloc(32, 1).toString('base64');
const NEW_SECRET = 'whsec_' + Buffer.alloc(32, 2).toString('base64');

beforeAll(() => logger.setLogLevel('WARN'));

const subscription = (extra: Partial<Subscription> = {}): Subscription => ({
  id: SUB,
  tenantId: TENANT,
  name: 'kept',
  eventTypes: ['order.created'],
  destination: { type: 'webhook', url: 'https://receiver.example.com/hook' },
  payload: 'full',
  ordering: 'none',
  status: 'active',
  secrets: [{ secret: OLD_SECRET, createdAt: '2026-12-01T00:00:00Z' }],
  createdAt: '2026-12-01T00:00:00Z',
  updatedAt: '2026-12-01T00:00:00Z',
  ...extra,
});

/** One stored subscription (or none) and every read of it, with its consistency. */
function store(initial: Subscription | undefined) {
  const reads: ('consistent' | 'eventual')[] = [];
  const state = { current: initial, replica: initial, failNext: false };
  const port: Pick<SubscriptionStore, 'getSubscription' | 'changeSubscriptionStatus'> = {
    async getSubscription(_tenantId, _id, read = {}) {
      reads.push(read.consistent === false ? 'eventual' : 'consistent');
      if (state.failNext) {
        state.failNext = false;
        throw new Error('throttled');
      }
      // An eventually consistent read may answer the replica, a moment behind.
      return read.consistent === false ? state.replica : state.current;
    },
    async changeSubscriptionStatus(_tenantId, _id, change) {
      if (state.current?.status !== change.from) return undefined;
      state.current = state.replica = { ...state.current, status: change.to };
      return state.current;
    },
  };
  const set = (next: Subscription | undefined) => {
    state.current = state.replica = next;
  };
  return { port, reads, state, set };
}

describe('keptSubscriptions', () => {
  it('reads a subscription once per container every 10 s, eventually consistent, however many batches ask', async () => {
    const { port, reads } = store(subscription());
    let now = T0;
    const kept = keptSubscriptions(port, KEEP_MS, () => now);
    for (let batch = 0; batch < 50; batch++, now += 199) expect((await kept.getSubscription(TENANT, SUB))?.status).toBe('active');
    expect(reads).toEqual(['eventual']);
    now = T0 + KEEP_MS;
    await kept.getSubscription(TENANT, SUB);
    expect(reads).toEqual(['eventual', 'eventual']);
  });

  it('reads again consistently when the eventual read finds nothing, and keeps no miss', async () => {
    const { port, reads, state } = store(subscription());
    // Created a moment ago: the replica does not have it yet.
    state.replica = undefined;
    const kept = keptSubscriptions(port, KEEP_MS, () => T0);
    expect((await kept.getSubscription(TENANT, SUB))?.id).toBe(SUB);
    expect(reads).toEqual(['eventual', 'consistent']);
    const gone = store(undefined);
    const keptGone = keptSubscriptions(gone.port, KEEP_MS, () => T0);
    expect(await keptGone.getSubscription(TENANT, SUB)).toBeUndefined();
    expect(await keptGone.getSubscription(TENANT, SUB)).toBeUndefined();
    expect(gone.reads).toEqual(['eventual', 'consistent', 'eventual', 'consistent']);
  });

  it('keeps no failed read, always goes to the store for a consistent one, and keeps its own status changes', async () => {
    const { port, reads, state, set } = store(subscription());
    const kept = keptSubscriptions(port, KEEP_MS, () => T0);
    state.failNext = true;
    await expect(kept.getSubscription(TENANT, SUB)).rejects.toThrow('throttled');
    expect((await kept.getSubscription(TENANT, SUB))?.status).toBe('active');
    expect(reads).toEqual(['eventual', 'eventual']);
    set(subscription({ status: 'paused' }));
    expect((await kept.getSubscription(TENANT, SUB, { consistent: true }))?.status).toBe('paused');
    // The consistent answer is what is kept now.
    expect((await kept.getSubscription(TENANT, SUB))?.status).toBe('paused');
    expect(reads).toEqual(['eventual', 'eventual', 'consistent']);
    // Its own change (an auto-pause, a resume) is kept without a read; a refused one forgets.
    expect((await kept.changeSubscriptionStatus(TENANT, SUB, { from: 'paused', to: 'active', at: 'x' }))?.status).toBe('active');
    expect((await kept.getSubscription(TENANT, SUB))?.status).toBe('active');
    expect(await kept.changeSubscriptionStatus(TENANT, SUB, { from: 'paused', to: 'active', at: 'x' })).toBeUndefined();
    await kept.getSubscription(TENANT, SUB);
    expect(reads).toEqual(['eventual', 'eventual', 'consistent', 'eventual']);
  });

  it('keeps nothing at 0 s (the local runtime): every look reads', async () => {
    const { port, reads } = store(subscription());
    const kept = keptSubscriptions(port, 0, () => T0);
    await kept.getSubscription(TENANT, SUB);
    await kept.getSubscription(TENANT, SUB);
    expect(reads).toEqual(['eventual', 'eventual']);
  });
});

describe('deliveries through kept subscription reads', () => {
  let n = 0;
  const job = (): DeliveryJob =>
    ({
      v: 1,
      deliveryId: `dlv_KEPT${String(++n).padStart(22, '0')}`,
      tenantId: TENANT,
      subscriptionId: SUB,
      event: { specversion: '1.0', id: `evt_${n}`, source: 'urn:x', type: 'order.created', time: '2026-12-01T12:00:00Z', subject: `o-${n}`, datacontenttype: 'application/json', tenantid: TENANT, data: {} },
      attemptOffset: 0,
      createdAt: new Date(T0).toISOString(),
    }) as DeliveryJob;

  function world(initial: Subscription) {
    const backing = store(initial);
    const clock = { now: T0 };
    const sent: HttpRequest[] = [];
    const enqueued: DeliveryJob[] = [];
    const deliveries = new InMemoryDeliveryStore();
    const ports = {
      subscriptions: keptSubscriptions(backing.port, KEEP_MS, () => clock.now),
      deliveries,
      http: { send: async (request: HttpRequest) => (sent.push(request), { statusCode: 200, durationMs: 3 }) },
      queue: { enqueue: async (jobs: DeliveryJob[]) => void enqueued.push(...jobs) },
      clock: () => new Date(clock.now),
      random: () => 0.5,
      config: { deliveryRetentionDays: 30, eventSource: 'urn:herald', eventRetentionDays: 30, trust: {} },
      events: { putEventIfAbsent: async () => true, markEventUnpublished: async () => undefined },
      publisher: { publish: async () => undefined },
    } as unknown as DeliverPorts;
    const deliver = () => deliverJob({ ...ports, subscriptionReads: new Map() }, job(), 1);
    return { backing, clock, sent, enqueued, deliveries, deliver };
  }

  it('a pause, an edit and a deletion reach deliveries within 10 s', async () => {
    const w = world(subscription());
    expect((await w.deliver()).kind).toBe('succeeded');
    w.backing.set(subscription({ status: 'paused' }));
    w.clock.now += KEEP_MS - 1;
    expect((await w.deliver()).kind).toBe('succeeded');
    w.clock.now += 1;
    expect((await w.deliver()).kind).toBe('held');

    const edited = world(subscription());
    await edited.deliver();
    edited.backing.set(subscription({ destination: { type: 'webhook', url: 'https://moved.example.com/hook' } }));
    edited.clock.now += KEEP_MS;
    await edited.deliver();
    expect(edited.sent.map((r) => r.url)).toEqual(['https://receiver.example.com/hook', 'https://moved.example.com/hook']);

    const deleted = world(subscription());
    await deleted.deliver();
    deleted.backing.set(undefined);
    deleted.clock.now += KEEP_MS;
    const after = await deleted.deliver();
    expect(after).toMatchObject({ kind: 'failed', reason: expect.stringContaining('deleted') });
  });

  it('a delivery held on a kept pause is released at once when the subscription was resumed meanwhile', async () => {
    const w = world(subscription({ status: 'paused' }));
    expect((await w.deliver()).kind).toBe('held');
    expect(w.enqueued).toEqual([]);
    w.backing.set(subscription());
    w.clock.now += 1000;
    // Still kept paused: held, then its consistent re-read sees the resume and releases it.
    expect((await w.deliver()).kind).toBe('held');
    expect(w.enqueued).toHaveLength(2);
    expect(w.deliveries.held.size).toBe(0);
    // And the consistent answer is kept: the next delivery goes.
    expect((await w.deliver()).kind).toBe('succeeded');
  });

  it('after a secret rotation the old secret signs on (its grace period), the new one joins within 10 s', async () => {
    const w = world(subscription());
    await w.deliver();
    const rotated = subscription({
      secrets: [
        { secret: NEW_SECRET, createdAt: new Date(T0).toISOString() },
        { secret: OLD_SECRET, createdAt: '2026-12-01T00:00:00Z', expiresAt: new Date(T0 + 86_400_000).toISOString() },
      ],
    } as Partial<Subscription>);
    w.backing.set(rotated);
    w.clock.now += 5_000;
    await w.deliver();
    w.clock.now += KEEP_MS;
    await w.deliver();
    const signatures = w.sent.map((r) => r.headers['webhook-signature']!.split(' ').length);
    expect(signatures).toEqual([1, 1, 2]);
  });
});
