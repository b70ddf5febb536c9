import type { AttemptDecision } from './delivery.ts';
import type { HealthState } from './stats.ts';

/**
 * Degrade, don't spread: a subscription whose endpoint keeps failing (or timing out) gets less
 * of the shared deliver capacity long before auto-pause (by default 100 failures over 24 h).
 *
 * While it is degraded, at most one of its deliveries per probe interval makes a real attempt:
 * the trial attempt, or probe (DEGRADED_MIN_RETRY_SECONDS, or its policy's longest gap if that is
 * shorter, so a policy of seconds-apart retries keeps its pace for the probe). Every other
 * delivery due meanwhile, retry or first attempt, waits out of SQS's in-flight set for a long,
 * jittered while (PROBE_WAIT, core/delivery-plan.ts `planBehindProbe`) with no attempt counted:
 * a dead endpoint with 20,000 deliveries queued costs one attempt a minute and a trickle of
 * re-enqueues, not 20,000 attempts a minute (each a worker held for the endpoint's timeout, three
 * write units, SQS requests). First attempts wait too, or a flood of new events to a dead
 * endpoint would still cost a full attempt each; recovery is still noticed within about one
 * interval, by the next delivery that comes due after the window opens. The first success ends
 * the run of failures, and with it the degradation: waiting deliveries go at their next look
 * (within PROBE_WAIT), which also spreads the backlog's return over the endpoint that just came
 * back. A delivery whose policy would have ended while it waited is parked, with that reason.
 * Ordered (FIFO) deliveries are exempt: they hold their subject's group and wait hidden, so their
 * retries are only paced (`paceRetry`), as before.
 *
 * Judged from the health record the statistics already keep (consecutive failures and since
 * when); the probe is claimed with one conditional write on that same item (`probeAt`), read at
 * most once per subscription per batch.
 */
export const DEGRADE_AFTER = { failures: 10, seconds: 60 } as const;
export const DEGRADED_MIN_RETRY_SECONDS = 60;
/**
 * How long a delivery that lost the probe waits, in probe intervals (the deliver function's
 * setting, DEGRADED_MIN_RETRY_SECONDS unless compressed), uniformly spread: 5 to 15 minutes by
 * default, SQS's longest delay. A backlog of N costs about N / 600 re-enqueues a second.
 */
export const PROBE_WAIT = { minIntervals: 5, maxIntervals: 15, maxSeconds: 900 } as const;

export interface Degradation {
  degraded: boolean;
  /** Why, and what Herald does about it; null when not degraded. */
  reason: string | null;
}

export function degradationOf(health: Pick<HealthState, 'consecutiveFailures' | 'failingSince'> | undefined, now: number): Degradation {
  const failures = health?.consecutiveFailures ?? 0;
  const since = health?.failingSince ? Date.parse(health.failingSince) : Number.NaN;
  if (failures < DEGRADE_AFTER.failures || !(now - since >= DEGRADE_AFTER.seconds * 1000)) return { degraded: false, reason: null };
  return {
    degraded: true,
    reason:
      `endpoint failing: ${failures} consecutive failed attempts since ${health!.failingSince}; ` +
      `its deliveries wait behind one trial attempt every ${DEGRADED_MIN_RETRY_SECONDS} s (or its policy's longest gap, if shorter) until it answers again`,
  };
}

/** The probe interval of a subscription whose policy's longest gap is `longestGap` (seconds, at least 1). */
export function probeIntervalOf(longestGap: number, interval: number = DEGRADED_MIN_RETRY_SECONDS): number {
  return Math.max(1, Math.min(interval, longestGap));
}

/** A loser's wait: whole seconds spread over PROBE_WAIT (`random` in [0, 1)). */
export function probeWaitSeconds(random: number, interval: number = DEGRADED_MIN_RETRY_SECONDS): number {
  const min = Math.min(PROBE_WAIT.maxSeconds, interval * PROBE_WAIT.minIntervals);
  const max = Math.min(PROBE_WAIT.maxSeconds, interval * PROBE_WAIT.maxIntervals);
  return Math.max(1, Math.round(min + (max - min) * random));
}

/**
 * A degraded subscription's retry waits at least the probe interval, never longer than
 * `longestGap`, its policy's longest gap; anything else is left as decided.
 */
export function paceRetry(decision: AttemptDecision, degraded: boolean, longestGap: number = DEGRADED_MIN_RETRY_SECONDS, interval: number = DEGRADED_MIN_RETRY_SECONDS): AttemptDecision {
  const floor = Math.min(interval, longestGap);
  if (decision.kind !== 'retry' || !degraded || decision.delaySeconds >= floor) return decision;
  return { ...decision, delaySeconds: floor };
}

/** Where the probe is claimed: the subscription's health record (adapters/stats-store.ts). */
export interface ProbeStore {
  readHealth(tenantId: string, subscriptionId: string): Promise<HealthState | undefined>;
  /**
   * Sets the record's `probeAt` to `at` if no probe was claimed after `openedAt` (one conditional
   * write); true when this caller won.
   */
  claimProbe(tenantId: string, subscriptionId: string, at: string, openedAt: string): Promise<boolean>;
}

/**
 * One deliver invocation's view of degradation: each subscription's health record read at most
 * once for the batch, and at most one probe claimed per subscription per batch (the batch's
 * first delivery of it that asks; the others lose without a write). `interval` is the deliver
 * function's probe interval (DEGRADED_MIN_RETRY_SECONDS unless compressed for tests).
 */
export class BatchProbeGate {
  private readonly health = new Map<string, Promise<HealthState | undefined>>();
  private readonly claims = new Set<string>();

  constructor(
    private readonly store: ProbeStore,
    private readonly now: () => number,
    readonly interval: number = DEGRADED_MIN_RETRY_SECONDS,
  ) {}

  /** Whether the subscription is degraded; a failed read degrades nothing (the delivery goes). */
  async degraded(tenantId: string, subscriptionId: string): Promise<boolean> {
    return degradationOf(await this.healthOf(tenantId, subscriptionId), this.now()).degraded;
  }

  /**
   * Whether this delivery of a degraded subscription makes the trial attempt: no probe claimed
   * within `intervalSeconds` (as read), the batch's first to ask, and its claim won. A failed
   * claim write lets the delivery go, as a failed read does: the gate never loses a delivery.
   */
  async probe(tenantId: string, subscriptionId: string, intervalSeconds: number): Promise<boolean> {
    const key = `${tenantId}#${subscriptionId}`;
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    const now = this.now();
    const openedAt = now - intervalSeconds * 1000;
    const last = (await this.healthOf(tenantId, subscriptionId))?.probeAt;
    // Lost already, as read: no write (a failed conditional write costs as much as one that wins).
    if (last && Date.parse(last) > openedAt) return false;
    return this.store.claimProbe(tenantId, subscriptionId, new Date(now).toISOString(), new Date(openedAt).toISOString()).catch(() => true);
  }

  private healthOf(tenantId: string, subscriptionId: string): Promise<HealthState | undefined> {
    const key = `${tenantId}#${subscriptionId}`;
    let read = this.health.get(key);
    if (!read) {
      read = this.store.readHealth(tenantId, subscriptionId).catch(() => undefined);
      this.health.set(key, read);
    }
    return read;
  }
}
