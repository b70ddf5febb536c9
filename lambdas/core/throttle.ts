import type { Subscription } from './subscription.ts';
import type { SubscriptionStore } from './ports.ts';

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

/** What made Herald slow a subscription down: the receiver's 429 or 503, or a timeout. */
export type BackpressureSignal = 'http_429' | 'http_503' | 'timeout';

/**
 * A subscription's rate lowered by backpressure: `perSecond` from `at` on, recovering
 * additively with time (ADAPTIVE.recoverySeconds from nothing to the ceiling) until it reaches
 * the configured rate (or, unconfigured, ADAPTIVE.unlimitedCeiling, where it ends).
 */
export interface AdaptiveRate {
  perSecond: number;
  at: number;
  signal: BackpressureSignal;
  /** When this spell of backpressure began (the first lowering since the rate last recovered). */
  since: number;
}

/**
 * Additive increase, multiplicative decrease: each signal halves the rate in force (at most
 * once a second, so one batch of ten 429s is one signal), never below `minPerSecond`; the rate
 * then climbs back linearly. It applies to subscriptions that opted into throttling (a rateLimit
 * or maxConcurrency): one with only a concurrency cap starts at `startPerSecond` on its first
 * signal and has no rate again once it climbs past the ceiling. Others keep their policy's
 * retries (Retry-After honoured), unslowed: an endpoint that fails now and then is not a
 * receiver asking for less, and halving on its every failure would pin it at the floor.
 */
export const ADAPTIVE = { decrease: 0.5, minPerSecond: 0.2, startPerSecond: 10, unlimitedCeiling: 100, recoverySeconds: 60, holdMs: 1000 } as const;

export interface ThrottleState {
  /** Backpressure in force, if any (see effectiveRate). */
  adaptive?: AdaptiveRate;
  /** Deliveries that waited for a slot, all told (for the subscription's stats). */
  delayed?: number;
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
    change: { tat?: number; newLeases: Record<string, number>; lapsedLeases: string[]; hasLeases: boolean; adaptive?: AdaptiveRate | null; delayed?: number },
  ): Promise<boolean>;
  /** Ends leases (unconditionally: a lease is only ever ended by its holder or by lapsing). */
  release(tenantId: string, subscriptionId: string, leaseIds: string[]): Promise<void>;
}

export const MAX_RATE_PER_SECOND = 10_000;
export const MAX_BURST = 10_000;
export const MAX_CONCURRENCY = 1_000;

/** Whether a subscription's deliveries go through the throttle: it has a rate or a concurrency limit. Others cost nothing. */
export function isThrottled(subscription: Pick<Subscription, 'rateLimit' | 'maxConcurrency'>): boolean {
  return Boolean(subscription.rateLimit || subscription.maxConcurrency);
}

/**
 * The rate a subscription is held to at `now`: its configured rate, or lower while backpressure
 * recovers (burst 1: a receiver that pushed back gets no burst). Undefined: no rate at all.
 */
export function effectiveRate(configured: RateLimit | undefined, adaptive: AdaptiveRate | undefined, now: number): RateLimit | undefined {
  if (!adaptive) return configured;
  const ceiling = configured?.perSecond ?? ADAPTIVE.unlimitedCeiling;
  const current = adaptive.perSecond + ((ceiling / ADAPTIVE.recoverySeconds) * Math.max(0, now - adaptive.at)) / 1000;
  if (current >= ceiling) return configured;
  return { perSecond: current, burst: 1 };
}

/** The rate after a signal at `now`, or undefined when the rate was lowered less than ADAPTIVE.holdMs ago. */
export function lowerRate(configured: RateLimit | undefined, adaptive: AdaptiveRate | undefined, now: number, signal: BackpressureSignal): AdaptiveRate | undefined {
  if (adaptive && now - adaptive.at < ADAPTIVE.holdMs) return undefined;
  const inForce = effectiveRate(configured, adaptive, now);
  const recovered = !inForce || inForce === configured;
  const from = inForce?.perSecond ?? ADAPTIVE.startPerSecond / ADAPTIVE.decrease;
  return {
    perSecond: Math.max(ADAPTIVE.minPerSecond, from * ADAPTIVE.decrease),
    at: now,
    signal,
    since: !recovered && adaptive ? adaptive.since : now,
  };
}

/** When a lowered rate will have climbed back to the ceiling (ms). */
export function recoveredAt(configured: RateLimit | undefined, adaptive: AdaptiveRate): number {
  const ceiling = configured?.perSecond ?? ADAPTIVE.unlimitedCeiling;
  return adaptive.at + Math.ceil(((ceiling - adaptive.perSecond) / (ceiling / ADAPTIVE.recoverySeconds)) * 1000);
}

/** What the receiver's answer says about its load: 429, 503 and timeouts slow the subscription down. */
export function backpressureSignalOf(result: { statusCode?: number; error?: string }): BackpressureSignal | undefined {
  if (result.statusCode === 429 || result.error === 'throttled') return 'http_429';
  if (result.statusCode === 503) return 'http_503';
  if (result.error === 'timeout') return 'timeout';
  return undefined;
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
  subscription: Limited,
  want: { slots: number; leases: number },
  now: () => number,
  leaseMs: number,
  newLeaseId: () => string,
): Promise<Admission> {
  const leases = subscription.maxConcurrency ? want.leases : 0;
  if (want.slots === 0 && leases === 0) return { slots: [], leases: [] };
  for (let tries = 0; tries < RESERVE_TRIES; tries++) {
    const { state, version } = await store.read(subscription.tenantId, subscription.id);
    const at = now();
    const limit = effectiveRate(subscription.rateLimit, state.adaptive, at);
    // Not rate-limited (any more): every slot is now.
    if (!limit && leases === 0) return { slots: Array.from({ length: want.slots }, () => at), leases: [] };
    const rate = limit && want.slots > 0 ? reserveSlots(state.tat, at, limit, want.slots) : undefined;
    const { live, lapsed } = liveLeases(state.leases, at);
    const free = Math.max(0, Math.min(leases, (subscription.maxConcurrency ?? 0) - live));
    const newLeases: Record<string, number> = {};
    for (let i = 0; i < free; i++) newLeases[newLeaseId()] = at + leaseMs;
    const delayed = rate ? rate.slots.filter((slot) => slot > at).length : 0;
    const written = await store.reserve(subscription.tenantId, subscription.id, version, {
      ...(rate ? { tat: rate.tat } : {}),
      newLeases,
      lapsedLeases: lapsed,
      hasLeases: state.leases !== undefined,
      // A rate that climbed back all the way is forgotten.
      ...(state.adaptive && limit === subscription.rateLimit ? { adaptive: null } : {}),
      ...(delayed > 0 ? { delayed } : {}),
    });
    if (written) return { slots: rate?.slots ?? Array.from({ length: want.slots }, () => at), leases: Object.keys(newLeases) };
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (tries + 1)));
  }
  // Heavy contention: nothing granted; the records wait a moment and ask again (core/delivery-plan.ts).
  return { slots: [], leases: [] };
}

/**
 * Applies one signal of backpressure to a subscription's rate (read, lower, conditional write;
 * retried on a concurrent write). Answers the new rate, or undefined when none was needed (the
 * rate was lowered under a second ago).
 */
export async function slowDown(store: ThrottleStore, subscription: Limited, now: number, signal: BackpressureSignal): Promise<AdaptiveRate | undefined> {
  for (let tries = 0; tries < RESERVE_TRIES; tries++) {
    const { state, version } = await store.read(subscription.tenantId, subscription.id);
    const adaptive = lowerRate(subscription.rateLimit, state.adaptive, now, signal);
    if (!adaptive) return undefined;
    const written = await store.reserve(subscription.tenantId, subscription.id, version, { newLeases: {}, lapsedLeases: [], hasLeases: state.leases !== undefined, adaptive });
    if (written) return adaptive;
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (tries + 1)));
  }
  return undefined;
}

/** What a subscription's stats show of its throttle: the rate in force and how much waiting it caused. */
export function throttleSummary(subscription: Pick<Subscription, 'rateLimit' | 'maxConcurrency'>, state: ThrottleState, now: number) {
  const limit = effectiveRate(subscription.rateLimit, state.adaptive, now);
  const lowered = state.adaptive !== undefined && limit !== subscription.rateLimit;
  const { live } = liveLeases(state.leases, now);
  return {
    ...(subscription.rateLimit ? { configuredPerSecond: subscription.rateLimit.perSecond } : {}),
    effectivePerSecond: limit ? Math.round(limit.perSecond * 1000) / 1000 : null,
    ...(lowered ? { backpressure: { signal: state.adaptive!.signal, since: new Date(state.adaptive!.since).toISOString(), throttledSeconds: Math.round((now - state.adaptive!.since) / 1000) } } : {}),
    ...(subscription.maxConcurrency ? { maxConcurrency: subscription.maxConcurrency, inFlight: live } : {}),
    delayedDeliveries: state.delayed ?? 0,
  };
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

/**
 * After a batch: each throttled subscription whose receiver pushed back (429, 503, a timeout)
 * gets its rate lowered, once per batch whatever the number of such answers.
 */
export async function applyBackpressure(
  ports: { throttles: ThrottleStore; subscriptions: Pick<SubscriptionStore, 'getSubscription'> },
  answers: readonly { tenantId: string; subscriptionId: string; statusCode?: number; error?: string; at: number }[],
): Promise<{ subscriptionId: string; perSecond: number; signal: BackpressureSignal }[]> {
  const signals = new Map<string, { tenantId: string; subscriptionId: string; signal: BackpressureSignal; at: number }>();
  for (const answer of answers) {
    const signal = backpressureSignalOf(answer);
    if (signal) signals.set(`${answer.tenantId}#${answer.subscriptionId}`, { tenantId: answer.tenantId, subscriptionId: answer.subscriptionId, signal, at: answer.at });
  }
  const lowered: { subscriptionId: string; perSecond: number; signal: BackpressureSignal }[] = [];
  for (const { tenantId, subscriptionId, signal, at } of signals.values()) {
    const subscription = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
    if (!subscription || !isThrottled(subscription)) continue;
    const adaptive = await slowDown(ports.throttles, subscription, at, signal);
    if (adaptive) lowered.push({ subscriptionId, perSecond: adaptive.perSecond, signal });
  }
  return lowered;
}
