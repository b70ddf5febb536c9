import { decideAfterAttempt, describeFailure, type AttemptResult, type Attempt, type AttemptDecision, type DeliveryStatus } from './delivery.ts';
import type { DeliveryJob } from './delivery-job.ts';
import { payloadFor } from './envelope.ts';
import type { DeliveryStore, HttpSender, SubscriptionStore } from './ports.ts';
import { signWebhook } from './signing.ts';
import { activeSecrets, timeoutSecondsOf, type Subscription } from './subscription.ts';

/**
 * One delivery attempt: send the job's event to its subscription, log the attempt, and decide
 * what happens next. The caller (the deliver handler) turns the decision into SQS calls.
 */
export interface DeliverPorts {
  subscriptions: Pick<SubscriptionStore, 'getSubscription' | 'putSubscription'>;
  deliveries: DeliveryStore;
  http: HttpSender;
  clock: () => Date;
  random: () => number;
  config: { deliveryRetentionDays: number };
}

export type DeliverOutcome = AttemptDecision & { attempt: number };

export function buildWebhookRequest(subscription: Subscription, job: DeliveryJob, now: Date) {
  if (subscription.destination.type !== 'webhook') throw new Error(`unsupported destination ${subscription.destination.type}`);
  const body = JSON.stringify(payloadFor(job.event, subscription.payload));
  const signed = signWebhook(activeSecrets(subscription, now), job.deliveryId, now, body);
  return {
    url: subscription.destination.url,
    method: 'POST',
    headers: { ...(subscription.destination.headers ?? {}), 'content-type': 'application/json', 'user-agent': 'Herald-Webhooks/1', ...signed },
    body,
    timeoutMs: timeoutSecondsOf(subscription.destination) * 1000,
  };
}

export async function deliverJob(ports: DeliverPorts, job: DeliveryJob, attempt: number): Promise<DeliverOutcome> {
  const startedAt = ports.clock();
  const subscription = await ports.subscriptions.getSubscription(job.tenantId, job.subscriptionId);
  let result: AttemptResult;
  if (!subscription) {
    result = { durationMs: 0, error: 'subscription_deleted', errorMessage: 'the subscription was deleted' };
  } else if (subscription.status !== 'active' && !job.ignorePause) {
    // Not dropped: parked in the dead letters with this reason, redriven once resumed.
    result = { durationMs: 0, error: 'subscription_paused', errorMessage: 'the subscription is paused' };
  } else {
    result = await ports.http.send(buildWebhookRequest(subscription, job, startedAt));
  }
  const firstAttemptAt = job.firstAttemptAt ? Date.parse(job.firstAttemptAt) : Date.parse(job.createdAt);
  const decision: AttemptDecision =
    result.error === 'subscription_deleted' || result.error === 'subscription_paused'
      ? { kind: 'failed', reason: describeFailure(result) }
      : decideAfterAttempt(result, subscription?.retryPolicy, {
          attempt: attempt - (job.retryFrom ?? 0),
          firstAttemptAt,
          now: ports.clock().getTime(),
          random: ports.random(),
        });
  await logAttempt(ports, job, attempt, startedAt, result, decision);
  if (decision.kind === 'failed' && decision.pauseSubscription && subscription?.status === 'active') {
    const now = ports.clock().toISOString();
    await ports.subscriptions.putSubscription({ ...subscription, status: 'paused', updatedAt: now }, subscription);
  }
  return { ...decision, attempt };
}

async function logAttempt(
  ports: DeliverPorts,
  job: DeliveryJob,
  number: number,
  startedAt: Date,
  result: AttemptResult,
  decision: AttemptDecision,
): Promise<void> {
  const nextAttemptAt = decision.kind === 'retry' ? new Date(ports.clock().getTime() + decision.delaySeconds * 1000).toISOString() : undefined;
  const attempt: Attempt = { number, at: startedAt.toISOString(), ...result, ...(nextAttemptAt ? { nextAttemptAt } : {}) };
  const status: DeliveryStatus = decision.kind === 'succeeded' ? 'succeeded' : decision.kind === 'retry' ? 'pending' : 'failed';
  await ports.deliveries.recordAttempt({
    delivery: {
      id: job.deliveryId,
      tenantId: job.tenantId,
      subscriptionId: job.subscriptionId,
      eventId: job.event.id,
      eventType: job.event.type,
      subject: job.event.subject,
      status,
      createdAt: job.createdAt,
      ...(nextAttemptAt ? { nextAttemptAt } : {}),
      ...(status !== 'pending' ? { finishedAt: ports.clock().toISOString() } : {}),
      ...(decision.kind === 'failed' ? { reason: decision.reason } : {}),
    },
    attempt,
    status,
    retentionDays: ports.config.deliveryRetentionDays,
  });
}
