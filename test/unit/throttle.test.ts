/**
 * Per-subscription throttling (lambdas/core/throttle.ts and the throttle part of the delivery
 * plan): the rate's slots (GCRA), leases for requests in flight, reservations shared by
 * concurrent invocations through the state item's version, and what a delivery does with its slot.
 */
import { describe, expect, it } from 'vitest';
import { ADAPTIVE, admit, applyBackpressure, backpressureSignalOf, BatchThrottle, effectiveRate, liveLeases, lowerRate, recoveredAt, reserveSlots } from '../../lambdas/core/throttle.ts';
import { planThrottle, SLOT_SLEEP_MS } from '../../lambdas/core/delivery-plan.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import { InMemoryThrottleStore } from '../support/in-memory-ports.ts';

const T0 = 1_800_000_000_000;

describe('reserveSlots', () => {
  it('gives the burst at once after a quiet spell, then one slot per interval', () => {
    const { slots, tat } = reserveSlots(undefined, T0, { perSecond: 5 }, 8);
    expect(slots.map((s) => s - T0)).toEqual([0, 0, 0, 0, 0, 200, 400, 600]);
    expect(tat - T0).toBe(1600);
  });

  it('continues from the last reservation, and a quiet spell refills the burst', () => {
    const first = reserveSlots(undefined, T0, { perSecond: 2, burst: 2 }, 3);
    expect(first.slots.map((s) => s - T0)).toEqual([0, 0, 500]);
    const next = reserveSlots(first.tat, T0 + 100, { perSecond: 2, burst: 2 }, 2);
    expect(next.slots.map((s) => s - T0)).toEqual([1000, 1500]);
    const later = reserveSlots(next.tat, T0 + 60_000, { perSecond: 2, burst: 2 }, 3);
    expect(later.slots.map((s) => s - T0 - 60_000)).toEqual([0, 0, 500]);
  });

  it('spaces fractional rates: 0.5/s is one every 2 s', () => {
    expect(reserveSlots(undefined, T0, { perSecond: 0.5 }, 3).slots.map((s) => s - T0)).toEqual([0, 2000, 4000]);
  });
});

describe('leases', () => {
  it('counts live leases and names the lapsed ones', () => {
    expect(liveLeases({ a: T0 + 1, b: T0 - 1, c: T0 + 500 }, T0)).toEqual({ live: 2, lapsed: ['b'] });
  });
});

const subscription = (extra: Partial<Subscription>) => ({ tenantId: 'ten_1', id: 'sub_1', ...extra }) as Subscription;

describe('admit', () => {
  it('never grants more leases than maxConcurrency, and a crashed holder’s lease lapses', async () => {
    const store = new InMemoryThrottleStore();
    let n = 0;
    const sub = subscription({ maxConcurrency: 2 });
    const first = await admit(store, sub, { slots: 0, leases: 5 }, () => T0, 30_000, () => `l${n++}`);
    expect(first.leases).toHaveLength(2);
    expect((await admit(store, sub, { slots: 0, leases: 1 }, () => T0 + 1000, 30_000, () => `l${n++}`)).leases).toEqual([]);
    await store.release('ten_1', 'sub_1', [first.leases[0]!]);
    expect((await admit(store, sub, { slots: 0, leases: 3 }, () => T0 + 2000, 30_000, () => `l${n++}`)).leases).toHaveLength(1);
    // Every holder crashed: after the lapse time all capacity is back.
    expect((await admit(store, sub, { slots: 0, leases: 3 }, () => T0 + 60_000, 30_000, () => `l${n++}`)).leases).toHaveLength(2);
  });

  it('concurrent invocations share one rate: no slot is handed out twice', async () => {
    const store = new InMemoryThrottleStore();
    const sub = subscription({ rateLimit: { perSecond: 10, burst: 1 } });
    const grants = await Promise.all(Array.from({ length: 6 }, () => admit(store, sub, { slots: 5, leases: 0 }, () => T0, 30_000, () => 'x')));
    const slots = grants.flatMap((g) => g.slots).sort((a, b) => a - b);
    expect(slots).toHaveLength(30);
    expect(new Set(slots).size).toBe(30);
    expect(slots.map((s) => s - T0)).toEqual(Array.from({ length: 30 }, (_, i) => i * 100));
  });

  it('a subscription with no rate in force gets every slot now and costs no write', async () => {
    const store = new InMemoryThrottleStore();
    expect(await admit(store, subscription({}), { slots: 3, leases: 10 }, () => T0, 1, () => 'x')).toEqual({ slots: [T0, T0, T0], leases: [] });
    expect(await admit(store, subscription({}), { slots: 0, leases: 0 }, () => T0, 1, () => 'x')).toEqual({ slots: [], leases: [] });
    expect(store.writes).toBe(0);
  });

  it('a batch reserves for all its records of a subscription in one write', async () => {
    const store = new InMemoryThrottleStore();
    const sub = subscription({ rateLimit: { perSecond: 5 } });
    const batch = new BatchThrottle(store, new Map([['ten_1#sub_1', { slots: 10, leases: 10 }]]), () => T0, () => 30_000, () => 'x');
    const slots = await Promise.all(Array.from({ length: 10 }, () => batch.slot(sub)));
    expect(slots.map((s) => s! - T0).sort((a, b) => a - b)).toEqual([0, 0, 0, 0, 0, 200, 400, 600, 800, 1000]);
    expect(store.writes).toBe(1);
  });
});

const job = { v: 1, deliveryId: 'dlv_1', tenantId: 'ten_1', subscriptionId: 'sub_1', attemptOffset: 0, createdAt: '2026-12-01T00:00:00Z' } as DeliveryJob;

describe('planThrottle', () => {
  const receipt = { ordered: false, receiveCount: 1, now: T0 };

  it('goes when the slot has come and a lease is held (or none is needed)', () => {
    expect(planThrottle(job, receipt, 0, T0, undefined)).toEqual({ kind: 'go' });
    expect(planThrottle(job, receipt, 0, T0 - 5000, true)).toEqual({ kind: 'go' });
  });

  it('sleeps for a slot less than a second ahead (SQS delays come in whole seconds)', () => {
    expect(planThrottle(job, receipt, 0, T0 + 400, undefined)).toEqual({ kind: 'sleep', ms: 400 });
    expect(SLOT_SLEEP_MS).toBe(1000);
  });

  it('waits out of flight for a later slot, arriving up to a second early, its slot kept and no attempt counted', () => {
    const decision = planThrottle(job, { ...receipt, receiveCount: 3 }, 2, T0 + 4_500, undefined);
    expect(decision).toEqual({
      kind: 'wait',
      plan: { kind: 'reenqueue', delaySeconds: 4, job: { ...job, attemptOffset: 2, firstAttemptAt: job.createdAt, slotAt: new Date(T0 + 4_500).toISOString(), notBefore: new Date(T0 + 4_500).toISOString() } },
    });
  });

  it('without a free lease, asks again shortly, keeping the slot it had', () => {
    const decision = planThrottle(job, receipt, 0, T0, false);
    expect(decision.kind).toBe('wait');
    expect(decision.kind === 'wait' && decision.plan.kind === 'reenqueue' && decision.plan.job.slotAt).toBe(new Date(T0).toISOString());
  });

  it('an ordered job waits hidden, holding its group', () => {
    expect(planThrottle(job, { ...receipt, ordered: true }, 0, T0 + 10_000, undefined)).toEqual({ kind: 'wait', plan: { kind: 'retryAfter', seconds: 10 } });
    expect(planThrottle(job, { ...receipt, ordered: true }, 0, T0 + 1_500, undefined)).toEqual({ kind: 'sleep', ms: 1_500 });
  });
});

describe('adaptive backpressure (AIMD)', () => {
  const limit = { perSecond: 20 };

  it('halves the rate in force on a signal, at most once a second, never below the floor', () => {
    const first = lowerRate(limit, undefined, T0, 'http_429')!;
    expect(first).toEqual({ perSecond: 10, at: T0, signal: 'http_429', since: T0 });
    expect(lowerRate(limit, first, T0 + 500, 'http_429')).toBeUndefined();
    const second = lowerRate(limit, first, T0 + 1000, 'timeout')!;
    // 10/s climbed by 20/60 per second for 1 s, then halved; the spell began at the first signal.
    expect(second.perSecond).toBeCloseTo((10 + 20 / 60) / 2, 6);
    expect(second.since).toBe(T0);
    // Signals every second hold it near what one second of recovery adds back.
    let rate = second;
    for (let i = 2; i < 20; i++) rate = lowerRate(limit, rate, T0 + i * 1000, 'http_503')!;
    expect(rate.perSecond).toBeLessThan(0.5);
    // A slow configured rate is never halved below the floor.
    expect(lowerRate({ perSecond: 0.3 }, undefined, T0, 'http_429')!.perSecond).toBe(ADAPTIVE.minPerSecond);
  });

  it('climbs back linearly to the configured rate, then the configured rate (with its burst) applies again', () => {
    const lowered = lowerRate(limit, undefined, T0, 'http_429')!;
    expect(effectiveRate(limit, lowered, T0)).toEqual({ perSecond: 10, burst: 1 });
    expect(effectiveRate(limit, lowered, T0 + 15_000)!.perSecond).toBeCloseTo(15, 6);
    expect(effectiveRate(limit, lowered, T0 + 30_000)).toBe(limit);
    expect(recoveredAt(limit, lowered)).toBe(T0 + 30_000);
  });

  it('a subscription without a rate starts at ADAPTIVE.startPerSecond and is unthrottled once it climbs past the ceiling', () => {
    const lowered = lowerRate(undefined, undefined, T0, 'http_503')!;
    expect(lowered.perSecond).toBe(ADAPTIVE.startPerSecond);
    expect(effectiveRate(undefined, lowered, recoveredAt(undefined, lowered) - 1000)!.perSecond).toBeLessThan(ADAPTIVE.unlimitedCeiling);
    expect(effectiveRate(undefined, lowered, recoveredAt(undefined, lowered))).toBeUndefined();
  });

  it('reads 429, 503 and timeouts as pushback, nothing else', () => {
    expect(backpressureSignalOf({ statusCode: 429 })).toBe('http_429');
    expect(backpressureSignalOf({ statusCode: 503 })).toBe('http_503');
    expect(backpressureSignalOf({ error: 'timeout' })).toBe('timeout');
    expect(backpressureSignalOf({ error: 'throttled' })).toBe('http_429');
    expect(backpressureSignalOf({ statusCode: 500 })).toBeUndefined();
    expect(backpressureSignalOf({ statusCode: 200 })).toBeUndefined();
  });

  it('after a batch, lowers each pushed-back throttled subscription once; one without limits keeps its pace', async () => {
    const store = new InMemoryThrottleStore();
    const subs: Record<string, Subscription> = {
      sub_a: subscription({ id: 'sub_a', rateLimit: limit }),
      sub_b: subscription({ id: 'sub_b', maxConcurrency: 2 }),
      sub_c: subscription({ id: 'sub_c' }),
    };
    const lowered = await applyBackpressure(
      { throttles: store, subscriptions: { getSubscription: async (_t: string, id: string) => subs[id] } },
      [
        { tenantId: 'ten_1', subscriptionId: 'sub_a', statusCode: 429, at: T0 },
        { tenantId: 'ten_1', subscriptionId: 'sub_a', statusCode: 429, at: T0 },
        { tenantId: 'ten_1', subscriptionId: 'sub_b', error: 'timeout', at: T0 },
        { tenantId: 'ten_1', subscriptionId: 'sub_c', statusCode: 503, at: T0 },
        { tenantId: 'ten_1', subscriptionId: 'sub_c', statusCode: 200, at: T0 },
      ],
    );
    expect(lowered).toEqual([
      { subscriptionId: 'sub_a', perSecond: 10, signal: 'http_429' },
      { subscriptionId: 'sub_b', perSecond: ADAPTIVE.startPerSecond, signal: 'timeout' },
    ]);
    expect((await store.read('ten_1', 'sub_c')).version).toBe(0);
    // The reservation then spaces slots at the lowered rate, without a burst.
    const slots = await admit(store, subs.sub_a!, { slots: 3, leases: 0 }, () => T0, 1, () => 'x');
    expect(slots.slots.map((s) => s - T0)).toEqual([0, 100, 200]);
    // A concurrency-only subscription gets a rate while it recovers, then none again.
    expect(effectiveRate(undefined, (await store.read('ten_1', 'sub_b')).state.adaptive, T0)).toEqual({ perSecond: ADAPTIVE.startPerSecond, burst: 1 });
  });
});
