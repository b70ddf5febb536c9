import type { SQSRecord } from 'aws-lambda';
import type { ReceivedFrom, SqsDeliveryQueue } from '#adapters/sqs-queue';
import type { DeadLetterQueue } from '#core/ports';
import { isLastReceive, planAfterAttempt, planBeforeDue, planForHeldGroup, planSlowLane, SLOT_SLEEP_MS, type DeliveryPlan, type Receipt } from '#core/delivery-plan';
import { advanceHold, holdAsHead, keepBehindHold, type Arrival } from '#core/order-hold';
import type { BatchSlowMarks } from '#core/slow-lane';
import { admitDelivery, admitProbe, deliverJob, type DeliverPorts } from '#core/deliver';
import { admitTenant, type BatchTenantShare } from '#core/tenant-share';
import { deliveryJobSchema, flushJobSchema, type DeliveryJob, type FlushJob } from '#core/delivery-job';
import { flushBatch } from '#core/batch-flush';
import type { BatchStore, OrderHoldStore } from '#core/ports';
import { announceDeadLetter } from '#core/operational-events';
import type { AttemptObservation } from '#core/stats';
import { logger, metrics, MetricUnit } from '#shared/observability';

export type DeliveryWorkerPorts = DeliverPorts & {
  batches: BatchStore;
  queue: Pick<SqsDeliveryQueue, 'enqueue' | 'changeVisibility'> & Partial<Pick<SqsDeliveryQueue, 'isSlowLane'>>;
  deadLetters: Pick<DeadLetterQueue, 'park'>;
  /** The batch's leases on each tenant's cap on deliveries in progress, when one is set (core/tenant-share.ts). */
  tenantShare?: BatchTenantShare;
  /** The batch's slow marks, when the stack has a slow lane (core/slow-lane.ts). */
  slowMarks?: BatchSlowMarks;
  /** Ordered groups held out of flight (core/order-hold.ts); without it, ordered jobs wait hidden. */
  holds?: OrderHoldStore;
};

/**
 * What a batch asks of each subscription's throttle, counted before any record runs so one
 * reservation covers them all: a rate slot for each job due now without one, a lease for each
 * job due now. Subscriptions without limits ignore their count.
 */
export function throttleDemandOf(jobs: readonly DeliveryJob[], now: number): Map<string, { slots: number; leases: number }> {
  const demand = new Map<string, { slots: number; leases: number }>();
  for (const job of jobs) {
    if (job.notBefore && Date.parse(job.notBefore) > now) continue;
    const key = `${job.tenantId}#${job.subscriptionId}`;
    const entry = demand.get(key) ?? { slots: 0, leases: 0 };
    if (!job.slotAt) entry.slots += 1;
    entry.leases += 1;
    demand.set(key, entry);
  }
  return demand;
}

/**
 * Records per tenant that may ask for a lease on the tenant's cap in this batch: delivery jobs
 * due now, or back a moment before their rate slot (they sleep the rest, core/delivery-plan.ts).
 */
export function tenantDemandOf(jobs: readonly DeliveryJob[], now: number): Map<string, number> {
  const demand = new Map<string, number>();
  for (const job of jobs) {
    if (job.notBefore && Date.parse(job.notBefore) - now > SLOT_SLEEP_MS) continue;
    demand.set(job.tenantId, (demand.get(job.tenantId) ?? 0) + 1);
  }
  return demand;
}

/** The batch's delivery jobs, each body parsed once for the demand counts above (others are skipped here). */
export function deliveryJobsOf(records: readonly SQSRecord[]): DeliveryJob[] {
  const jobs: DeliveryJob[] = [];
  for (const record of records) {
    const parsed = deliveryJobSchema.safeParse(safeJson(record.body));
    if (parsed.success) jobs.push(parsed.data);
  }
  return jobs;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Thrown to report the record in `batchItemFailures` after its visibility has been set. */
export class RetryLater extends Error {
  constructor(readonly delaySeconds: number) {
    super(`retry in ${delaySeconds}s`);
  }
}

/**
 * Turns one SQS record into one delivery attempt, and its outcome into the plan
 * (core/delivery-plan.ts) that this worker carries out with the queue ports.
 */
export async function processDeliveryMessage(ports: DeliveryWorkerPorts, record: SQSRecord, observations: AttemptObservation[] = []): Promise<void> {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? '1');
  // From the FIFO queue: this message holds its group (subscription and subject) until it ends.
  const ordered = record.eventSourceARN?.endsWith('.fifo') ?? false;
  const slowLane = ports.queue.isSlowLane?.(record.eventSourceARN) ?? false;
  const from = receivedFrom({ ordered, slowLane });
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
      await ports.queue.changeVisibility(record.receiptHandle, 5, from);
      throw new RetryLater(5);
    }
    return;
  }
  job = job!;
  const receipt: Receipt = { ordered, receiveCount, now: ports.clock().getTime(), ...(slowLane ? { slowLane } : {}) };
  // An ordered job first looks for its group's hold: one consistent read (core/order-hold.ts).
  if (ordered && ports.holds && job.orderingGroup) {
    const hold = await ports.holds.read(job.tenantId, job.orderingGroup);
    const held = planForHeldGroup(job, receipt, hold);
    if (held) return carryOut(ports, record, receipt, held);
    receipt.holds = hold ? { head: hold } : {};
  }
  const early = planBeforeDue(job, receipt);
  if (early) return carryOut(ports, record, receipt, early);
  // A slow subscription's job leaves the standard queue before it reserves anything (a
  // degraded one's trial attempts are then gated on the slow lane).
  if (ports.slowMarks && !ordered && !slowLane) {
    const moved = planSlowLane(job, receipt, await ports.slowMarks.isSlow(job.tenantId, job.subscriptionId));
    if (moved) return carryOut(ports, record, receipt, moved);
  }
  // A degraded subscription's delivery that is not its trial attempt waits before asking for anything else.
  const behindProbe = await admitProbe(ports, job, receipt);
  if (behindProbe) return carryOut(ports, record, receipt, behindProbe);
  // The tenant's cap first: a delivery that must wait for it has reserved no rate slot yet.
  const tenant = await admitTenant(ports.tenantShare, job, receipt, ports.random);
  if (tenant.wait) return carryOut(ports, record, receipt, tenant.wait);
  let admitted;
  try {
    admitted = await admitDelivery(ports, job, receipt);
  } catch (error) {
    await tenant.release?.();
    throw error;
  }
  if (admitted.wait) {
    await tenant.release?.();
    return carryOut(ports, record, receipt, admitted.wait);
  }
  const attempt = admitted.attempt;
  // Records run in parallel: each gets its own child logger, so ids never leak between them.
  const log = logger.createChild({
    persistentKeys: { deliveryId: job.deliveryId, subscriptionId: job.subscriptionId, eventId: job.event.id, tenantId: job.tenantId },
  });
  let outcome;
  // Marks the subscription slow while this attempt still runs, should it run long (ordered jobs
  // never move, so theirs are not watched).
  const watch = ordered ? undefined : ports.slowMarks?.watch(job.tenantId, job.subscriptionId);
  try {
    outcome = await deliverJob(ports, job, attempt, isLastReceive(receipt));
  } finally {
    await Promise.all([admitted.release?.(), tenant.release?.(), watch?.end()]);
  }
  if (outcome.observation) observations.push(outcome.observation);
  metrics.addMetric(`deliveries_${outcome.kind}`, MetricUnit.Count, 1);
  if (outcome.observation && outcome.kind !== 'held') metrics.addMetric('attempt_duration', MetricUnit.Milliseconds, outcome.observation.durationMs);
  // Success is summed up once per batch by the handler; the attempt log has every detail.
  if (outcome.kind === 'succeeded') log.debug('delivered', { attempt, durationMs: outcome.observation?.durationMs });
  else if (outcome.kind === 'held') log.debug('subscription paused; delivery held until it resumes');
  else if (outcome.kind === 'retry') log.info('delivery attempt failed; retrying', { attempt, delaySeconds: outcome.delaySeconds });
  else log.warn('delivery failed; parked in dead letters', { reason: outcome.reason, attempt });
  await carryOut(ports, record, receipt, planAfterAttempt(job, receipt, outcome, ports.clock().toISOString()));
  if (outcome.kind === 'failed' && outcome.observation) await announceDeadLetter(ports, job, outcome.reason, attempt);
}

function receivedFrom(receipt: Pick<Receipt, 'ordered' | 'slowLane'>): ReceivedFrom {
  return receipt.ordered ? 'ordered' : receipt.slowLane ? 'slow' : 'standard';
}

/**
 * Carries a plan out with the queue ports. `retryAfter` ends by throwing RetryLater: the
 * record is then reported in `batchItemFailures`, its visibility already set.
 */
async function carryOut(ports: DeliveryWorkerPorts, record: SQSRecord, receipt: Receipt, plan: DeliveryPlan): Promise<void> {
  switch (plan.kind) {
    case 'ack':
      if (plan.advance) await advanceHold(holdPorts(ports), plan.advance);
      return;
    case 'holdGroup': {
      const outcome = await holdAsHead(holdPorts(ports), plan, arrivalOf(record, ports));
      if (outcome === 'waitsBehind') logger.warn('ordered group already held by another delivery; this one waits behind it', { deliveryId: plan.job.deliveryId });
      return;
    }
    case 'keepBehind':
      await keepBehindHold(holdPorts(ports), plan.job, plan.hold, arrivalOf(record, ports));
      return;
    case 'park':
      // The record already says failed, with what a redrive needs to rebuild the job beside its
      // kept event (core/recovery.ts): the letter here is the operator's DLQ copy.
      await ports.deadLetters.park(plan.letter);
      if (plan.advance) await advanceHold(holdPorts(ports), plan.advance);
      return;
    case 'reenqueue':
      return ports.queue.enqueue([plan.job], plan.delaySeconds, plan.lane);
    case 'retryAfter':
      await ports.queue.changeVisibility(record.receiptHandle, plan.seconds, receivedFrom(receipt));
      throw new RetryLater(plan.seconds);
  }
}

/** Plans that hold a group only come with a hold store (`Receipt.holds` is set only then). */
function holdPorts(ports: DeliveryWorkerPorts) {
  return { holds: ports.holds!, deliveries: ports.deliveries, queue: ports.queue, clock: ports.clock, config: ports.config };
}

/** Where the message stands in its group's arrival order (the FIFO queue's sequence number). */
function arrivalOf(record: SQSRecord, ports: DeliveryWorkerPorts): Arrival {
  const sequenceNumber = (record.attributes as { SequenceNumber?: string }).SequenceNumber;
  return { messageId: record.messageId, at: ports.clock().getTime(), ...(sequenceNumber ? { sequenceNumber } : {}) };
}

