import type { AttemptDecision } from './delivery.ts';
import type { HealthState } from './stats.ts';

/**
 * Degrade, don't spread: a subscription whose endpoint keeps failing (or timing out) gets less
 * of the shared deliver capacity long before auto-pause (by default 100 failures over 24 h). Its
 * retries wait at least DEGRADED_MIN_RETRY_SECONDS, or its policy's own longest gap if that is
 * shorter (a policy of seconds-apart retries keeps its time budget), so a dead endpoint
 * with a large backlog makes a fraction of the attempts (each of which may hold a worker for its
 * whole timeout); its new deliveries still go at once, so a recovery shows at the next one and
 * the first success ends the run of failures, and with it the degradation.
 *
 * Judged from the health record the statistics already keep (consecutive failures and since
 * when), so it costs nothing more to store: the deliver function reads that record only for a
 * subscription whose attempt just failed, once per batch.
 */
export const DEGRADE_AFTER = { failures: 10, seconds: 60 } as const;
export const DEGRADED_MIN_RETRY_SECONDS = 60;

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
    reason: `endpoint failing: ${failures} consecutive failed attempts since ${health!.failingSince}; its retries wait at least ${DEGRADED_MIN_RETRY_SECONDS} s (or its policy's longest gap, if shorter) until it answers again`,
  };
}

/**
 * A degraded subscription's retry waits at least DEGRADED_MIN_RETRY_SECONDS, never longer than
 * `longestGap`, its policy's longest gap; anything else is left as decided.
 */
export function paceRetry(decision: AttemptDecision, degraded: boolean, longestGap: number = DEGRADED_MIN_RETRY_SECONDS): AttemptDecision {
  const floor = Math.min(DEGRADED_MIN_RETRY_SECONDS, longestGap);
  if (decision.kind !== 'retry' || !degraded || decision.delaySeconds >= floor) return decision;
  return { ...decision, delaySeconds: floor };
}

/** Whether a subscription is degraded, read at most once per batch (the health record's one item). */
export function degradedLookup(
  readHealth: (tenantId: string, subscriptionId: string) => Promise<HealthState | undefined>,
  now: () => number,
): (tenantId: string, subscriptionId: string) => Promise<boolean> {
  const seen = new Map<string, Promise<boolean>>();
  return (tenantId, subscriptionId) => {
    const key = `${tenantId}#${subscriptionId}`;
    let answer = seen.get(key);
    if (!answer) {
      // A failed read never fails the attempt: the retry keeps its policy's delay.
      answer = readHealth(tenantId, subscriptionId).then(
        (health) => degradationOf(health, now()).degraded,
        () => false,
      );
      seen.set(key, answer);
    }
    return answer;
  };
}
