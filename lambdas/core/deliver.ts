import { decideAfterAttempt, describeFailure, judgeAnswer, type AttemptResult, type Attempt, type AttemptDecision, type DeliveryStatus } from './delivery.ts';
import { recordFieldsOf, type DeliveryJob } from './delivery-job.ts';
import { ORDERED_MAX_RECEIVES } from '#shared/herald-config';
import { batchEnvelope } from './batching.ts';
import { payloadFor } from './envelope.ts';
import { autoPausePolicyOf, pauseSubscription, releaseHeld, type HealthPorts } from './health.ts';
import type { CustomerBusSender, DeliveryQueue, DeliveryStore, DestinationBindingStore, HttpRequest, HttpSender, SubscriptionStore, TokenSource, TransformRunner } from './ports.ts';
import { busRefusal, defaultSourceFor, DELIVERY_MARKER, type DestinationTrust } from './destination-trust.ts';
import type { AttemptObservation } from './stats.ts';
import type { SubscriptionReads } from './caching.ts';
import { isThrottled, type BatchThrottle } from './throttle.ts';
import { paceRetry, probeIntervalOf, probeWaitSeconds, type BatchProbeGate } from './degrade.ts';
import { maxDelayOf, policyEndsAt, resolveRetryPolicy } from './retry-policy.ts';
import { attemptNumberOf, planBehindProbe, planThrottle, type DeliveryPlan, type Receipt } from './delivery-plan.ts';
import { announceDeadLetter, TEST_EVENT_TYPE } from './operational-events.ts';
import { legacySignature, signWebhook } from './signing.ts';
import type { EventBridgeDestination, HttpDestination, Subscription } from './subscription.ts';
import { activeSecrets, legacySigningSecret, successStatusOf, timeoutSecondsOf } from './subscription-settings.ts';
import { validatedOriginHeader } from './webhook-validation.ts';

/**
 * One delivery attempt: send the job's event to its subscription, log the attempt, and decide
 * what happens next. The caller (the deliver handler) turns the decision into SQS calls.
 */
export type DeliverPorts = HealthPorts & {
  subscriptions: Pick<SubscriptionStore, 'getSubscription' | 'changeSubscriptionStatus'>;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  http: HttpSender;
  customerBus: CustomerBusSender;
  bindings: Pick<DestinationBindingStore, 'getDestinationBinding'>;
  tokens: TokenSource;
  /** JSONata transforms of webhook and http destinations (deployed: a worker thread, see adapters/transform-runner.ts). */
  transforms: TransformRunner;
  random: () => number;
  config: { deliveryRetentionDays: number; eventSource: string; environment?: string; eventRetentionDays: number; trust: DestinationTrust };
  /** The batch's subscription reads, shared by its records (see core/caching.ts). */
  subscriptionReads?: SubscriptionReads;
  /** The batch's share of each throttled subscription's rate and concurrency (core/throttle.ts). */
  throttle?: BatchThrottle;
  /** Degrade, don't spread (core/degrade.ts): the batch's view of failing subscriptions and their trial attempts. */
  probes?: Pick<BatchProbeGate, 'degraded' | 'probe' | 'interval'>;
};

export type DeliverOutcome = (AttemptDecision | { kind: 'held' }) & {
  attempt: number;
  /** What the attempt adds to the subscription's statistics (none for a deleted subscription). */
  observation?: AttemptObservation;
};

/**
 * What the destination receives: the CloudEvent, or for a batching subscription the batch
 * envelope (a resend of one event is a notification of one).
 */
export function payloadOf(job: DeliveryJob, subscription: Subscription): unknown {
  if (job.batch || subscription.batching) return batchEnvelope(job.deliveryId, subscription.id, job.batch ?? [job.event], subscription.payload);
  return payloadFor(job.event, subscription.payload);
}

/**
 * The body a webhook or http destination receives: the payload, or the subscription's JSONata
 * transform of it (run with limits by ports.transforms). A failed transform is not retried.
 */
async function bodyFor(ports: Pick<DeliverPorts, 'transforms'>, transform: string | undefined, payload: unknown): Promise<{ body: string } | { failure: AttemptResult }> {
  if (!transform) return { body: JSON.stringify(payload) };
  const shaped = await ports.transforms.run(transform, payload);
  return shaped.ok ? { body: shaped.body } : { failure: { durationMs: 0, error: 'transform_failed', errorMessage: shaped.reason } };
}

/** A Standard Webhooks request: signed over exactly the bytes sent (the transformed body, if any). */
export function buildWebhookRequest(subscription: Subscription, job: DeliveryJob, now: Date, body: string = JSON.stringify(payloadOf(job, subscription))): HttpRequest {
  if (subscription.destination.type !== 'webhook') throw new Error(`not a webhook destination: ${subscription.destination.type}`);
  const legacy = subscription.destination.legacySignature;
  const signed = legacy?.standardHeaders === false ? {} : signWebhook(activeSecrets(subscription, now), job.deliveryId, now, body);
  const legacyHeader = legacy ? legacySignature(legacySigningSecret(subscription, now), now, body, legacy) : {};
  return {
    url: subscription.destination.url,
    method: 'POST',
    headers: { ...(subscription.destination.headers ?? {}), 'content-type': 'application/json', 'user-agent': 'Herald-Webhooks/1', ...validatedOriginHeader(subscription), ...signed, ...legacyHeader },
    body,
    timeoutMs: timeoutSecondsOf(subscription.destination) * 1000,
  };
}

/** `lastReceive`: the queue will not offer this message again (core/delivery-plan.ts), so no retry. */
export async function deliverJob(ports: DeliverPorts, job: DeliveryJob, attempt: number, lastReceive = false): Promise<DeliverOutcome> {
  const startedAt = ports.clock();
  const subscription = await readSubscription(ports, job);
  // A resend (ignorePause) still waits for a pending receiver's consent (core/webhook-validation.ts).
  if (subscription && subscription.status !== 'active' && (!job.ignorePause || subscription.status === 'pending_validation')) {
    return holdForPausedSubscription(ports, job, attempt, subscription);
  }
  const successStatus = subscription ? successStatusOf(subscription) : undefined;
  // Senders report answers as they came; the subscription's success rule judges them here.
  const result: AttemptResult = subscription
    ? judgeAnswer(await sendToDestination(ports, subscription, job, startedAt), successStatus)
    : { durationMs: 0, error: 'subscription_deleted', errorMessage: 'the subscription was deleted' };
  const firstAttemptAt = job.firstAttemptAt ? Date.parse(job.firstAttemptAt) : Date.parse(job.createdAt);
  // A 429 is the receiver asking to slow down, not failing: the rate is lowered (applyBackpressure)
  // and the attempt spends nothing of the policy (decided as the one before it), so throttling
  // alone never exhausts it; its maxAge still ends it. An ordered job's receives count all the same.
  const paced = result.statusCode === 429 && !job.orderingGroup;
  const policyAttempt = attempt - (job.retryFrom ?? 0);
  const decided: AttemptDecision =
    result.error && NOT_RETRIED.has(result.error)
      ? { kind: 'failed', reason: describeFailure(result) }
      : decideAfterAttempt(result, subscription?.retryPolicy, {
          attempt: paced ? Math.max(1, policyAttempt - 1) : policyAttempt,
          firstAttemptAt,
          now: ports.clock().getTime(),
          random: ports.random(),
          ...(successStatus ? { successStatus } : {}),
        });
  const pacedDecision: AttemptDecision = paced && decided.kind === 'retry' ? { ...decided, uncounted: true } : decided;
  // Degrade, don't spread: a failing endpoint's retries wait their turn (core/degrade.ts).
  const spread =
    pacedDecision.kind === 'retry' && ports.probes
      ? paceRetry(pacedDecision, await ports.probes.degraded(job.tenantId, job.subscriptionId), maxDelayOf(resolveRetryPolicy(subscription?.retryPolicy)), ports.probes.interval)
      : pacedDecision;
  const final: AttemptDecision =
    spread.kind === 'retry' && lastReceive
      ? { kind: 'failed', reason: `ordered delivery received ${ORDERED_MAX_RECEIVES} times, the most the ordered queue allows; last: ${describeFailure(result)}` }
      : spread;
  const decision: AttemptDecision =
    final.kind === 'failed' && job.orderingGroup
      ? { ...final, reason: `${final.reason}; ordered delivery: the subject's later events proceed without this one` }
      : final;
  await logAttempt(ports, job, attempt, startedAt, result, decision);
  if (decision.kind === 'failed' && decision.pauseSubscription && subscription?.status === 'active') {
    await pauseSubscription(ports, job.tenantId, job.subscriptionId, decision.reason);
  }
  const observation: AttemptObservation | undefined = subscription && {
    tenantId: job.tenantId,
    subscriptionId: job.subscriptionId,
    at: ports.clock().getTime(),
    attempt,
    outcome: decision.kind,
    durationMs: result.durationMs,
    ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
    ...(result.error ? { error: result.error } : {}),
    ...(result.errorMessage ? { errorMessage: result.errorMessage } : {}),
    endpointFailure: decision.kind !== 'succeeded',
    autoPause: autoPausePolicyOf(subscription),
  };
  return { ...decision, attempt, ...(observation ? { observation } : {}) };
}

/**
 * Before an attempt: the attempt's number and, for a subscription with a rate or concurrency
 * limit, its slot and lease. `wait` is the plan for a delivery that must wait (no attempt made);
 * `release` ends the lease once the attempt is over. Unthrottled subscriptions cost nothing here.
 */
export async function admitDelivery(
  ports: Pick<DeliverPorts, 'subscriptions' | 'subscriptionReads' | 'throttle' | 'deliveries' | 'clock'> & { sleep?: (ms: number) => Promise<void> },
  job: DeliveryJob,
  receipt: Receipt,
): Promise<{ attempt: number; wait?: DeliveryPlan; release?: () => Promise<void> }> {
  const subscription = ports.throttle && (await readSubscription(ports, job));
  const throttled = subscription && (subscription.status === 'active' || job.ignorePause) && isThrottled(subscription);
  if (!subscription || !throttled || !ports.throttle) return { attempt: attemptNumberOf(job, receipt) };
  // An ordered job also waits hidden for its slot, and those receives were no attempts.
  const recorded = receipt.ordered && receipt.receiveCount > 1 ? ((await ports.deliveries.getDelivery(job.deliveryId))?.attemptCount ?? 0) : undefined;
  const attempt = attemptNumberOf(job, receipt, recorded);
  // The rate in force (configured, or lowered by backpressure) is read with the slot itself.
  const slotAt = job.slotAt ? Date.parse(job.slotAt) : await ports.throttle.slot(subscription);
  // Judged against the clock after the reservation: a slot that is now is not "ahead".
  let decision = planThrottle(job, { ...receipt, now: Math.max(receipt.now, ports.clock().getTime()) }, attempt - 1, slotAt, undefined);
  if (decision.kind === 'sleep') {
    await (ports.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(decision.ms);
    decision = { kind: 'go' };
  }
  if (decision.kind === 'wait') return { attempt, wait: decision.plan };
  if (!subscription.maxConcurrency) return { attempt };
  const lease = await ports.throttle.lease(subscription);
  const leased = planThrottle(job, { ...receipt, now: Math.max(receipt.now, ports.clock().getTime()) }, attempt - 1, slotAt, lease !== undefined);
  if (leased.kind === 'wait') return { attempt, wait: leased.plan };
  const throttle = ports.throttle;
  return { attempt, release: () => throttle.release(subscription, lease!) };
}

/**
 * Degrade, don't spread (core/degrade.ts): a delivery of a degraded subscription goes only as its
 * trial attempt, one per probe interval; any other waits, no attempt made or counted, its record
 * pending until it is due again (so the sweeper, finding it overdue, would only ever re-send a
 * lost message), or is parked once its policy would have ended. Undefined: go on. Ordered jobs
 * are exempt (they hold their group, waiting hidden), as are a paused subscription's (held, no
 * attempt), a deleted one's, and a test event sent by hand (the tenant's own trial attempt,
 * whose success ends the degradation). A healthy subscription costs a look at the batch's
 * health reads.
 */
export async function admitProbe(
  ports: Pick<DeliverPorts, 'subscriptions' | 'subscriptionReads' | 'probes' | 'deliveries' | 'clock' | 'random' | 'config' | 'events' | 'publisher'>,
  job: DeliveryJob,
  receipt: Receipt,
): Promise<DeliveryPlan | undefined> {
  if (!ports.probes || receipt.ordered || job.event.type === TEST_EVENT_TYPE) return undefined;
  const subscription = await readSubscription(ports, job);
  if (subscription?.status !== 'active') return undefined;
  if (!(await ports.probes.degraded(job.tenantId, job.subscriptionId))) return undefined;
  const policy = resolveRetryPolicy(subscription.retryPolicy);
  if (await ports.probes.probe(job.tenantId, job.subscriptionId, probeIntervalOf(maxDelayOf(policy), ports.probes.interval))) return undefined;
  const attemptsMade = attemptNumberOf(job, receipt) - 1;
  const firstAttemptAt = Date.parse(job.firstAttemptAt ?? job.createdAt);
  const plan = planBehindProbe(job, receipt, attemptsMade, policyEndsAt(policy, firstAttemptAt), probeWaitSeconds(ports.random(), ports.probes.interval));
  const waiting = plan.kind === 'reenqueue' ? { nextAttemptAt: plan.job.notBefore! } : { reason: plan.letter.reason };
  const recorded = await ports.deliveries.recordWithoutAttempt({ job, at: new Date(receipt.now).toISOString(), retentionDays: ports.config.deliveryRetentionDays, ...waiting });
  // No longer pending (finished, or held): this message was a duplicate.
  if (!recorded) return { kind: 'ack', why: 'finished' };
  if (plan.kind === 'park') await announceDeadLetter(ports, job, plan.letter.reason, attemptsMade);
  return plan;
}

function readSubscription(ports: Pick<DeliverPorts, 'subscriptions' | 'subscriptionReads'>, job: DeliveryJob): Promise<Subscription | undefined> {
  const reads = ports.subscriptionReads;
  if (!reads) return ports.subscriptions.getSubscription(job.tenantId, job.subscriptionId);
  const key = `${job.tenantId}#${job.subscriptionId}`;
  let read = reads.get(key);
  if (!read) {
    read = ports.subscriptions.getSubscription(job.tenantId, job.subscriptionId);
    reads.set(key, read);
  }
  return read;
}

/**
 * A paused subscription's delivery is held (kept with its job, no attempt made) until resume.
 * If the subscription was resumed while this job was on its way, the hold is released at once.
 */
async function holdForPausedSubscription(ports: DeliverPorts, job: DeliveryJob, attempt: number, subscription: Subscription): Promise<DeliverOutcome> {
  const at = ports.clock().toISOString();
  await ports.deliveries.holdDelivery({ ...job, attemptOffset: attempt - 1 }, at, ports.config.deliveryRetentionDays);
  // Read again consistently, never a kept copy (core/caching.ts): a resume just made releases it now.
  const now = await ports.subscriptions.getSubscription(job.tenantId, job.subscriptionId, { consistent: true });
  if (now?.status === 'active') await releaseHeld(ports, job.tenantId, job.subscriptionId, 'deliver');
  return {
    kind: 'held',
    attempt,
    observation: {
      tenantId: job.tenantId,
      subscriptionId: job.subscriptionId,
      at: ports.clock().getTime(),
      attempt,
      outcome: 'held',
      durationMs: 0,
      endpointFailure: false,
      autoPause: autoPausePolicyOf(subscription),
    },
  };
}

/** Failures that would fail the same way on every retry. */
const NOT_RETRIED = new Set(['subscription_deleted', 'transform_failed', 'destination_not_allowed']);

/** One attempt on whichever destination the subscription names; every outcome is an AttemptResult. */
function sendToDestination(ports: DeliverPorts, subscription: Subscription, job: DeliveryJob, now: Date): Promise<AttemptResult> {
  switch (subscription.destination.type) {
    case 'webhook':
      return sendToWebhook(ports, subscription, job, now);
    case 'eventbridge':
      return sendToCustomerBus(ports, subscription.destination, subscription, job, now);
    case 'http':
      return sendToHttpApi(ports, subscription.destination, subscription, job);
  }
}

async function sendToWebhook(ports: DeliverPorts, subscription: Subscription, job: DeliveryJob, now: Date): Promise<AttemptResult> {
  const transform = subscription.destination.type === 'webhook' ? subscription.destination.transform : undefined;
  const shaped = await bodyFor(ports, transform, payloadOf(job, subscription));
  if ('failure' in shaped) return shaped.failure;
  return ports.http.send(buildWebhookRequest(subscription, job, now, shaped.body));
}

/** Checked again at every attempt: a binding removed since the subscription was made stops it. */
async function sendToCustomerBus(ports: DeliverPorts, destination: EventBridgeDestination, subscription: Subscription, job: DeliveryJob, now: Date): Promise<AttemptResult> {
  const binding = await ports.bindings.getDestinationBinding(job.tenantId);
  const refusal = busRefusal(destination.eventBusArn, job.tenantId, binding, ports.config.trust);
  if (refusal) return { durationMs: 0, error: 'destination_not_allowed', errorMessage: `${destination.eventBusArn} ${refusal}` };
  return ports.customerBus.put(buildCustomerBusEntry(destination, subscription, job, now));
}

/**
 * The CloudEvent becomes `detail`, marked with the delivery's id (DELIVERY_MARKER) so Herald
 * never fans it out again; `source` defaults to the tenant's own, detail-type to the event type.
 */
export function buildCustomerBusEntry(destination: EventBridgeDestination, subscription: Subscription, job: DeliveryJob, now: Date) {
  return {
    tenantId: job.tenantId,
    eventBusArn: destination.eventBusArn,
    source: destination.source ?? defaultSourceFor(job.tenantId),
    detailType: destination.detailType ?? job.event.type,
    detail: JSON.stringify({ ...(payloadOf(job, subscription) as object), [DELIVERY_MARKER]: job.deliveryId }),
    time: new Date(Date.parse(job.event.time) || now.getTime()),
  };
}

/**
 * A third-party API: the body is the event shaped by the subscription's JSONata transform (or
 * the CloudEvent itself), sent with the API's own auth. An OAuth2 token the API rejects with 401
 * is refreshed once within the same attempt.
 */
async function sendToHttpApi(ports: DeliverPorts, destination: HttpDestination, subscription: Subscription, job: DeliveryJob): Promise<AttemptResult> {
  const shaped = await bodyFor(ports, destination.transform, payloadOf(job, subscription));
  if ('failure' in shaped) return shaped.failure;
  const body = shaped.body;
  const timeoutMs = timeoutSecondsOf(destination) * 1000;
  const request = (authorization?: string): HttpRequest => ({
    url: destination.url,
    method: destination.method ?? 'POST',
    headers: {
      ...(destination.headers ?? {}),
      ...staticAuthHeader(destination),
      ...(authorization ? { authorization } : {}),
      'content-type': 'application/json',
      'user-agent': 'Herald-Webhooks/1',
      ...validatedOriginHeader(subscription),
      // Lets an API that supports it drop a retried request it already processed.
      'idempotency-key': job.deliveryId,
    },
    body,
    timeoutMs,
  });
  const auth = destination.auth;
  if (auth?.type !== 'oauth2') return ports.http.send(request());
  const first = await ports.tokens.token(auth, { timeoutMs, refresh: false });
  if ('failure' in first) return first.failure;
  const result = await ports.http.send(request(`Bearer ${first.token}`));
  if (result.statusCode !== 401) return result;
  const fresh = await ports.tokens.token(auth, { timeoutMs, refresh: true });
  if ('failure' in fresh) return fresh.failure;
  const retried = await ports.http.send(request(`Bearer ${fresh.token}`));
  return { ...retried, durationMs: result.durationMs + retried.durationMs };
}

function staticAuthHeader(destination: HttpDestination): Record<string, string> {
  const auth = destination.auth;
  if (auth?.type === 'api_key') return { [auth.header]: auth.value };
  if (auth?.type === 'basic') return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
  return {};
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
  const { identity, kept } = recordFieldsOf(job);
  await ports.deliveries.recordAttempt({
    delivery: {
      ...identity,
      status,
      firstAttemptAt: job.firstAttemptAt ?? job.createdAt,
      ...kept,
      ...(nextAttemptAt ? { nextAttemptAt } : {}),
      ...(status !== 'pending' ? { finishedAt: ports.clock().toISOString() } : {}),
      ...(decision.kind === 'failed' ? { reason: decision.reason } : {}),
    },
    attempt,
    status,
    retentionDays: ports.config.deliveryRetentionDays,
  });
}
