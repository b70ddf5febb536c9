import type { Subscription } from './subscription.ts';

/**
 * Per-subscription throttling: a rate (`rateLimit`, requests a second with a burst) and a cap on
 * requests in flight at once (`maxConcurrency`), held across every concurrent deliver invocation
 * through one small state item per subscription (ThrottleStore). A batch reserves the slots its
 * records of one subscription need in one write; a delivery whose slot lies ahead waits for it
 * out of flight (core/delivery-plan.ts `planWaitUntil`) and is no attempt. Subscriptions without
 * limits never touch the state.
 */
export interface RateLimit {
  perSecond: number;
  /** Requests that may go at once after a quiet spell; default one second's worth. */
  burst?: number;
}

export interface ThrottleState {
  /**
   * The rate's theoretical arrival time (GCRA, ms): the next slot is due then, less the burst's
   * tolerance. Kept as a number so two reservations compare exactly.
   */
  tat?: number;
  /** Requests in flight: lease id → when the lease lapses (ms), should its holder crash. */
  leases?: Record<string, number>;
}

export interface ThrottleStore {
  /** The subscription's state and its version (0 when there is none yet). */
  read(tenantId: string, subscriptionId: string): Promise<{ state: ThrottleState; version: number }>;
  /**
   * Writes `tat` and adds `newLeases`, removing `lapsedLeases`, if the version is still
   * `version`; false when another invocation wrote first. Other leases are left as they are,
   * so a release racing with this write is never undone.
   */
  reserve(
    tenantId: string,
    subscriptionId: string,
    version: number,
    change: { tat?: number; newLeases: Record<string, number>; lapsedLeases: string[]; hasLeases: boolean },
  ): Promise<boolean>;
  /** Ends leases (unconditionally: a lease is only ever ended by its holder or by lapsing). */
  release(tenantId: string, subscriptionId: string, leaseIds: string[]): Promise<void>;
}

export const MAX_RATE_PER_SECOND = 10_000;
export const MAX_BURST = 10_000;
export const MAX_CONCURRENCY = 1_000;

export function throttleLimitsOf(subscription: Pick<Subscription, 'rateLimit' | 'maxConcurrency'>): { rateLimit?: RateLimit; maxConcurrency?: number } | undefined {
  if (!subscription.rateLimit && !subscription.maxConcurrency) return undefined;
  return { ...(subscription.rateLimit ? { rateLimit: subscription.rateLimit } : {}), ...(subscription.maxConcurrency ? { maxConcurrency: subscription.maxConcurrency } : {}) };
}

export function burstOf(limit: RateLimit): number {
  return limit.burst ?? Math.max(1, Math.floor(limit.perSecond));
}

/**
 * The next `count` slots of a rate (GCRA virtual scheduling): a slot is due when it is no earlier
 * than `tat` less the burst's tolerance, and each slot moves `tat` on by one interval. After a
 * quiet spell the first `burst` slots are now; after that one per interval.
 */
export function reserveSlots(tat: number | undefined, now: number, limit: RateLimit, count: number): { tat: number; slots: number[] } {
  const interval = 1000 / limit.perSecond;
  const tolerance = (burstOf(limit) - 1) * interval;
  let next = tat ?? now;
  const slots: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = Math.max(now, next - tolerance);
    slots.push(at);
    next = Math.max(at, next) + interval;
  }
  return { tat: next, slots };
}

/** Leases still held at `now`, and the ids of those that lapsed. */
export function liveLeases(leases: Record<string, number> | undefined, now: number): { live: number; lapsed: string[] } {
  let live = 0;
  const lapsed: string[] = [];
  for (const [id, until] of Object.entries(leases ?? {})) {
    if (until > now) live += 1;
    else lapsed.push(id);
  }
  return { live, lapsed };
}

/** What a batch got for one subscription: a slot time per record (rate) and leases (concurrency). */
export interface Admission {
  slots: number[];
  leases: string[];
}

/**
 * Conflicting writes from concurrent invocations are retried this many times (after a short
 * random pause, so the invocations fall out of step); then the batch gets nothing this time.
 */
const RESERVE_TRIES = 8;

/**
 * Reserves, in one conditional write, `want.slots` rate slots and up to `want.leases` leases (as
 * many as `maxConcurrency` leaves free), each lease lapsing after `leaseMs`. Answers what was
 * granted: every slot asked for (some may lie ahead), and perhaps fewer leases, or none.
 */
export async function admit(
  store: ThrottleStore,
  subscription: Pick<Subscription, 'tenantId' | 'id' | 'rateLimit' | 'maxConcurrency'>,
  want: { slots: number; leases: number },
  now: () => number,
  leaseMs: number,
  newLeaseId: () => string,
): Promise<Admission> {
  const slots = subscription.rateLimit ? want.slots : 0;
  const leases = subscription.maxConcurrency ? want.leases : 0;
  if (slots === 0 && leases === 0) return { slots: [], leases: [] };
  for (let tries = 0; tries < RESERVE_TRIES; tries++) {
    const { state, version } = await store.read(subscription.tenantId, subscription.id);
    const at = now();
    const rate = subscription.rateLimit && slots > 0 ? reserveSlots(state.tat, at, subscription.rateLimit, slots) : undefined;
    const { live, lapsed } = liveLeases(state.leases, at);
    const free = Math.max(0, Math.min(leases, (subscription.maxConcurrency ?? 0) - live));
    const newLeases: Record<string, number> = {};
    for (let i = 0; i < free; i++) newLeases[newLeaseId()] = at + leaseMs;
    const written = await store.reserve(subscription.tenantId, subscription.id, version, {
      ...(rate ? { tat: rate.tat } : {}),
      newLeases,
      lapsedLeases: lapsed,
      hasLeases: state.leases !== undefined,
    });
    if (written) return { slots: rate?.slots ?? [], leases: Object.keys(newLeases) };
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (tries + 1)));
  }
  // Heavy contention: nothing granted; the records wait a moment and ask again (core/delivery-plan.ts).
  return { slots: [], leases: [] };
}

type Limited = Pick<Subscription, 'tenantId' | 'id' | 'rateLimit' | 'maxConcurrency'>;

/**
 * One deliver invocation's share of each throttled subscription: the first record of a
 * subscription reserves for all of the batch's records of it (`demand`, counted by the handler),
 * the others take from what it got; a record beyond the count reserves for itself.
 */
export class BatchThrottle {
  private readonly admissions = new Map<string, { admission: Promise<Admission>; slotsTaken: number }>();

  constructor(
    private readonly store: ThrottleStore,
    private readonly demand: ReadonlyMap<string, { slots: number; leases: number }>,
    private readonly now: () => number,
    private readonly leaseMs: (subscription: Subscription) => number,
    private readonly newLeaseId: () => string,
  ) {}

  /** The record's rate slot, or undefined when none could be reserved (heavy contention). */
  async slot(subscription: Subscription): Promise<number | undefined> {
    const share = this.shareOf(subscription);
    const admission = await share.admission;
    const index = share.slotsTaken++;
    if (index < admission.slots.length) return admission.slots[index]!;
    const own = await admit(this.store, subscription, { slots: 1, leases: 0 }, this.now, this.leaseMs(subscription), this.newLeaseId);
    return own.slots[0];
  }

  /** A lease for one request, or undefined when maxConcurrency requests are already in flight. */
  async lease(subscription: Subscription): Promise<string | undefined> {
    const admission = await this.shareOf(subscription).admission;
    const lease = admission.leases.pop();
    if (lease) return lease;
    const own = await admit(this.store, subscription, { slots: 0, leases: 1 }, this.now, this.leaseMs(subscription), this.newLeaseId);
    return own.leases[0];
  }

  release(subscription: Limited, lease: string): Promise<void> {
    return this.store.release(subscription.tenantId, subscription.id, [lease]);
  }

  private shareOf(subscription: Subscription) {
    const key = `${subscription.tenantId}#${subscription.id}`;
    let share = this.admissions.get(key);
    if (!share) {
      const want = this.demand.get(key) ?? { slots: 1, leases: 1 };
      share = { admission: admit(this.store, subscription, want, this.now, this.leaseMs(subscription), this.newLeaseId), slotsTaken: 0 };
      this.admissions.set(key, share);
    }
    return share;
  }
}
