/**
 * Per-subscription throttling (lambdas/core/throttle.ts and the throttle part of the delivery
 * plan): the rate's slots (GCRA), leases for requests in flight, reservations shared by
 * concurrent invocations through the state item's version, and what a delivery does with its slot.
 */
import { describe, expect, it } from 'vitest';
import { admit, BatchThrottle, liveLeases, reserveSlots } from '../../lambdas/core/throttle.ts';
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

  it('an unthrottled subscription costs nothing', async () => {
    const store = new InMemoryThrottleStore();
    expect(await admit(store, subscription({}), { slots: 10, leases: 10 }, () => T0, 1, () => 'x')).toEqual({ slots: [], leases: [] });
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
