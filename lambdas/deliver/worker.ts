import type { SQSRecord } from 'aws-lambda';
import type { SqsDeliveryQueue } from '#adapters/sqs-queue';
import type { DeadLetterQueue } from '#core/ports';
import { MAX_DELAY_SECONDS, MAX_VISIBILITY_SECONDS } from '#adapters/sqs-queue';
import { deliverJob, type DeliverPorts } from '#core/deliver';
import { deliveryJobSchema, flushJobSchema, type DeliveryJob, type FlushJob } from '#core/delivery-job';
import { flushBatch } from '#core/batch-flush';
import type { BatchStore } from '#core/ports';
import { emitOperationalEvent, isOperationalEvent } from '#core/operational-events';
import type { AttemptObservation } from '#core/stats';
import { logger, metrics, MetricUnit } from '#shared/observability';

export type DeliveryWorkerPorts = DeliverPorts & {
  batches: BatchStore;
  queue: Pick<SqsDeliveryQueue, 'enqueue' | 'changeVisibility'>;
  deadLetters: Pick<DeadLetterQueue, 'park'>;
};

/**
 * After this many receives of one message, a retry is re-enqueued as a new message instead of
 * hidden again, so the queue's redrive policy (which counts receives) only ever catches crashes
 * and poison messages, never a policy that is still running.
 */
const REENQUEUE_AFTER_RECEIVES = 50;

/**
 * The longest wait a standard-queue job spends in SQS's in-flight set (hidden by visibility).
 * A longer one leaves it: the job is re-enqueued with a delay (at most SQS's 15 minutes) and its
 * due time, and hops again until due. A standard queue holds about 120,000 messages in flight, so
 * one large tenant's outage could otherwise stop every tenant's deliveries; a hop costs about 1.2
 * SQS requests per 15 minutes of waiting. Ordered (FIFO) jobs wait in flight: they hold their group.
 */
export const IN_FLIGHT_WAIT_SECONDS = 300;

/** Thrown to report the record in `batchItemFailures` after its visibility has been set. */
export class RetryLater extends Error {
  constructor(readonly delaySeconds: number) {
    super(`retry in ${delaySeconds}s`);
  }
}

/**
 * Turns one SQS record into one delivery attempt and the SQS calls its outcome needs:
 * success → acknowledged; retry → visibility set to the backoff (or a delayed re-enqueue past
 * SQS's 12 h visibility cap); exhausted → parked in the DLQ with its reason, then acknowledged.
 */
export async function processDeliveryMessage(ports: DeliveryWorkerPorts, record: SQSRecord, observations: AttemptObservation[] = []): Promise<void> {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? '1');
  // From the FIFO queue: this message holds its group (subscription and subject) until it ends.
  const ordered = record.eventSourceARN?.endsWith('.fifo') ?? false;
  let job: DeliveryJob;
  let flush: FlushJob | undefined;
  try {
    const body: unknown = JSON.parse(record.body);
    const asFlush = flushJobSchema.safeParse(body);
    if (asFlush.success) flush = asFlush.data;
    else job = deliveryJobSchema.parse(body);
  } catch (error) {
    logger.error('malformed delivery job parked in the DLQ', { messageId: record.messageId, error: error as Error });
    await ports.deadLetters.park({
      job: { raw: record.body.slice(0, 200_000) },
      reason: `malformed delivery job: ${(error as Error).message.slice(0, 200)}`,
      attempts: 0,
      failedAt: ports.clock().toISOString(),
    });
    return;
  }
  if (flush) {
    // A look at a batching subscription's buffer; a failure retries the look (visibility timeout).
    try {
      const outcome = await flushBatch(ports, flush);
      logger.info('batch buffer looked at', { subscriptionId: flush.subscriptionId, ...outcome });
    } catch (error) {
      logger.error('batch buffer look failed; retried shortly', { subscriptionId: flush.subscriptionId, error: error as Error });
      await ports.queue.changeVisibility(record.receiptHandle, 5, ordered);
      throw new RetryLater(5);
    }
    return;
  }
  job = job!;
  const notBefore = job.notBefore;
  if (notBefore && Date.parse(notBefore) > ports.clock().getTime()) {
    const wait = Math.ceil((Date.parse(notBefore) - ports.clock().getTime()) / 1000);
    if (ordered || wait <= IN_FLIGHT_WAIT_SECONDS) {
      await ports.queue.changeVisibility(record.receiptHandle, Math.min(wait, MAX_VISIBILITY_SECONDS), ordered);
      throw new RetryLater(wait);
    }
    // Not due yet: another hop, out of flight (this message is then acknowledged).
    await ports.queue.enqueue([job], Math.min(wait, MAX_DELAY_SECONDS));
    return;
  }
  // A re-enqueued job makes exactly one attempt; early receives while waiting don't count.
  const attempt = notBefore ? job.attemptOffset + 1 : job.attemptOffset + receiveCount;
  // Records run in parallel: each gets its own child logger, so ids never leak between them.
  const log = logger.createChild({
    persistentKeys: { deliveryId: job.deliveryId, subscriptionId: job.subscriptionId, eventId: job.event.id, tenantId: job.tenantId },
  });
  const outcome = await deliverJob(ports, job, attempt);
  if (outcome.observation) observations.push(outcome.observation);
  metrics.addMetric(`deliveries_${outcome.kind}`, MetricUnit.Count, 1);
  if (outcome.observation && outcome.kind !== 'held') metrics.addMetric('attempt_duration', MetricUnit.Milliseconds, outcome.observation.durationMs);

  if (outcome.kind === 'succeeded') {
    // Success is summed up once per batch by the handler; the attempt log has every detail.
    log.debug('delivered', { attempt, durationMs: outcome.observation?.durationMs });
    return;
  }
  if (outcome.kind === 'held') {
    log.debug('subscription paused; delivery held until it resumes');
    return;
  }
  if (outcome.kind === 'failed') {
    await ports.deadLetters.park({ job, reason: outcome.reason, attempts: attempt, failedAt: ports.clock().toISOString() });
    log.warn('delivery failed; parked in dead letters', { reason: outcome.reason, attempt });
    if (outcome.observation && !isOperationalEvent(job.event.type)) {
      await emitOperationalEvent(ports, job.tenantId, 'delivery.dead_lettered', job.deliveryId, {
        deliveryId: job.deliveryId,
        subscriptionId: job.subscriptionId,
        eventId: job.event.id,
        eventType: job.event.type,
        subject: job.event.subject,
        reason: outcome.reason,
        attempts: attempt,
      });
    }
    return;
  }
  log.info('delivery attempt failed; retrying', { attempt, delaySeconds: outcome.delaySeconds });
  // An ordered job is never re-enqueued (that would put it behind its subject's later events):
  // it stays in flight, holding its group, and its gaps are capped at SQS's 12 h visibility.
  const canHide = ordered || (!notBefore && outcome.delaySeconds <= IN_FLIGHT_WAIT_SECONDS && receiveCount < REENQUEUE_AFTER_RECEIVES);
  if (canHide) {
    const delay = Math.min(outcome.delaySeconds, MAX_VISIBILITY_SECONDS);
    await ports.queue.changeVisibility(record.receiptHandle, delay, ordered);
    throw new RetryLater(delay);
  }
  const next = {
    ...job,
    attemptOffset: attempt,
    firstAttemptAt: job.firstAttemptAt ?? job.createdAt,
    notBefore: new Date(ports.clock().getTime() + outcome.delaySeconds * 1000).toISOString(),
  };
  await ports.queue.enqueue([next], Math.min(outcome.delaySeconds, MAX_DELAY_SECONDS));
}
