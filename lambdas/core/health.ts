import { isThrottled, throttleSummary, type ThrottleStore } from './throttle.ts';
import { unscheduled, type DeliveryJob } from './delivery-job.ts';
import { DomainError, NotFoundError } from './errors.ts';
import { emitOperationalEvent, type OperationalEventPorts } from './operational-events.ts';
import type { DeliveryQueue, DeliveryStore, StatsStore, SubscriptionStore } from './ports.ts';
import {
  aggregateObservations,
  DEFAULT_AUTO_PAUSE,
  shouldAutoPause,
  statsRange,
  summarizeStats,
  type AttemptObservation,
  type AutoPausePolicy,
  type SubscriptionStats,
} from './stats.ts';
import type { Subscription } from './subscription.ts';

/**
 * Endpoint health: statistics per subscription, auto-pause after a sustained run of failures,
 * and pause/resume. A paused subscription's deliveries are held, never dropped; resuming
 * releases them (or discards them when the tenant asks).
 */
export type HealthPorts = OperationalEventPorts & {
  subscriptions: Pick<SubscriptionStore, 'getSubscription' | 'changeSubscriptionStatus'>;
  stats: StatsStore;
};

export function autoPausePolicyOf(subscription: Pick<Subscription, 'autoPause'>): AutoPausePolicy {
  return { ...DEFAULT_AUTO_PAUSE, ...subscription.autoPause };
}

/**
 * Pauses an active subscription and announces it with `subscription.paused`. Answers false when
 * it was not active (already paused by someone else: announced once).
 */
export async function pauseSubscription(
  ports: HealthPorts,
  tenantId: string,
  subscriptionId: string,
  reason: string,
  extra: { consecutiveFailures?: number } = {},
): Promise<boolean> {
  const at = ports.clock().toISOString();
  const paused = await ports.subscriptions.changeSubscriptionStatus(tenantId, subscriptionId, { from: 'active', to: 'paused', at, reason });
  if (!paused) return false;
  await emitOperationalEvent(ports, tenantId, 'subscription.paused', subscriptionId, {
    subscriptionId,
    name: paused.name,
    reason,
    pausedAt: at,
    ...(extra.consecutiveFailures !== undefined ? { consecutiveFailures: extra.consecutiveFailures } : {}),
  });
  return true;
}

/**
 * Adds one batch's attempts to the counters and pauses every subscription whose run of failures
 * crossed its threshold. Answers the subscriptions it paused.
 */
export async function recordBatchStats(ports: HealthPorts, observations: AttemptObservation[]): Promise<string[]> {
  if (observations.length === 0) return [];
  const increments = aggregateObservations(observations);
  const now = ports.clock();
  const states = await ports.stats.addStats(increments, now);
  const paused: string[] = [];
  for (const [i, increment] of increments.entries()) {
    const state = states[i];
    if (!state || !shouldAutoPause(state, increment.autoPause, now.getTime())) continue;
    const hours = Math.round(((now.getTime() - Date.parse(state.failingSince!)) / 3_600_000) * 10) / 10;
    const reason = `endpoint failing: ${state.consecutiveFailures} consecutive failed attempts over ${hours} h`;
    if (await pauseSubscription(ports, increment.tenantId, increment.subscriptionId, reason, { consecutiveFailures: state.consecutiveFailures })) {
      paused.push(increment.subscriptionId);
    }
  }
  return paused;
}

export async function subscriptionStats(
  ports: Pick<HealthPorts, 'subscriptions' | 'stats' | 'clock'> & { throttles?: ThrottleStore },
  tenantId: string,
  subscriptionId: string,
): Promise<SubscriptionStats & { status: Subscription['status']; pausedAt: string | null; pausedReason: string | null; throttle?: ReturnType<typeof throttleSummary> }> {
  const subscription = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
  if (!subscription) throw new NotFoundError('subscription', subscriptionId);
  const now = ports.clock().getTime();
  const data = await ports.stats.readStats(tenantId, subscriptionId, statsRange(now));
  // The throttle's state is read only for a subscription that has one.
  const throttled = ports.throttles && isThrottled(subscription);
  const throttle = throttled ? throttleSummary(subscription, (await ports.throttles!.read(tenantId, subscriptionId)).state, now) : undefined;
  return {
    ...summarizeStats(subscriptionId, data, data.health, now),
    status: subscription.status,
    pausedAt: subscription.pausedAt ?? null,
    pausedReason: subscription.pausedReason ?? null,
    ...(throttle ? { throttle } : {}),
  };
}

export type ResumePorts = HealthPorts & {
  deliveries: Pick<DeliveryStore, 'listHeld' | 'endHold'>;
  queue: DeliveryQueue;
};

/** Held deliveries released per page; the whole backlog is released, page by page. */
const RELEASE_PAGE = 100;

/**
 * Resumes a paused subscription, announces `subscription.resumed`, and releases its held
 * deliveries in the order they arrived (or discards them: `held: "discard"`).
 */
export async function resumeSubscription(
  ports: ResumePorts,
  tenantId: string,
  subscriptionId: string,
  held: 'deliver' | 'discard' = 'deliver',
): Promise<{ subscription: Subscription; released: number; discarded: number }> {
  const at = ports.clock().toISOString();
  const resumed = await ports.subscriptions.changeSubscriptionStatus(tenantId, subscriptionId, { from: 'paused', to: 'active', at });
  const subscription = resumed ?? (await ports.subscriptions.getSubscription(tenantId, subscriptionId));
  if (!subscription) throw new NotFoundError('subscription', subscriptionId);
  // Its held deliveries wait for the receiver's consent (core/webhook-validation.ts), not a resume.
  if (subscription.status === 'pending_validation') {
    throw new DomainError(409, 'Awaiting validation', `subscription ${subscriptionId} is pending_validation: its receiver has not consented yet (retry with POST /v1/subscriptions/${subscriptionId}/validate)`);
  }
  const counts = await releaseHeld(ports, tenantId, subscriptionId, held);
  if (resumed) {
    await emitOperationalEvent(ports, tenantId, 'subscription.resumed', subscriptionId, {
      subscriptionId,
      name: subscription.name,
      resumedAt: at,
      releasedDeliveries: counts.released,
      discardedDeliveries: counts.discarded,
    });
  }
  return { subscription, ...counts };
}

/**
 * Each held job is marked pending first and enqueued after: a crash in between leaves a pending
 * delivery the sweeper re-enqueues, never a lost one. Released in arrival order, page by page.
 */
export async function releaseHeld(
  ports: Pick<ResumePorts, 'deliveries' | 'queue' | 'clock'>,
  tenantId: string,
  subscriptionId: string,
  held: 'deliver' | 'discard',
): Promise<{ released: number; discarded: number }> {
  let released = 0;
  let discarded = 0;
  let nextToken: string | undefined;
  do {
    const page = await ports.deliveries.listHeld(tenantId, subscriptionId, { limit: RELEASE_PAGE, ...(nextToken ? { nextToken } : {}) });
    nextToken = page.nextToken;
    const at = ports.clock().toISOString();
    const ended = await Promise.all(page.items.map((job) => ports.deliveries.endHold(job.deliveryId, at, held === 'deliver' ? 'pending' : 'discarded')));
    const mine = page.items.filter((_, i) => ended[i]);
    if (held === 'discard') {
      discarded += mine.length;
      continue;
    }
    const jobs: DeliveryJob[] = mine.map(unscheduled);
    if (jobs.length > 0) await ports.queue.enqueue(jobs);
    released += jobs.length;
  } while (nextToken);
  return { released, discarded };
}
