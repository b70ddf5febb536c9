import * as z from 'zod/mini';
import { cloudEventSchema } from './envelope.ts';

/**
 * (zod/mini, like the envelope: this module is on every function's delivery path.)
 *
 * A delivery job: the SQS message that asks the deliver function to send one event to one
 * subscription. It carries the event itself so delivery needs no read of the event store.
 * `attemptOffset` counts attempts made before this message existed (a re-enqueued job after a
 * gap longer than SQS's 12 h visibility cap, or a redrive), added to SQS's receive count.
 */
export const deliveryJobSchema = z.object({
  v: z.literal(1),
  deliveryId: z.string(),
  tenantId: z.string(),
  subscriptionId: z.string(),
  event: cloudEventSchema,
  attemptOffset: z._default(z.int().check(z.minimum(0)), 0),
  createdAt: z.string(),
  firstAttemptAt: z.optional(z.string()),
  /** Set on a job re-enqueued for a gap longer than SQS can hide a message: not due before. */
  notBefore: z.optional(z.string()),
  /** A rate slot already reserved for this job's next attempt (core/throttle.ts): it reserves no other. */
  slotAt: z.optional(z.string()),
  /** Times this job found its tenant's cap on deliveries in progress full (core/tenant-share.ts): each wait is longer. */
  capWaits: z.optional(z.int().check(z.minimum(0), z.maximum(1000))),
  /**
   * Attempts made before the current run of the retry policy began: a redrive starts the
   * policy afresh while the attempt log keeps counting.
   */
  retryFrom: z.optional(z.int().check(z.minimum(0))),
  /** A resend asked for by the tenant goes out even while the subscription is paused. */
  ignorePause: z.optional(z.boolean()),
  /**
   * `ordering: "subject"`: the FIFO message group (subscription and subject). Jobs of one group
   * are delivered one at a time, in order; a failing one blocks only its group.
   */
  orderingGroup: z.optional(z.string()),
  /** Set by fan-out: a repeat of this enqueue (EventBridge delivers at least once) is dropped by FIFO deduplication. */
  firstEnqueue: z.optional(z.boolean()),
  /** A batched notification: its events, oldest first (`event` is the first of them). */
  batch: z.optional(z.array(cloudEventSchema)),
});

export type DeliveryJob = z.infer<typeof deliveryJobSchema>;

/** Asks the deliver function to look at a batching subscription's buffer (see core/batching.ts). */
export const flushJobSchema = z.object({ v: z.literal(1), kind: z.literal('flush'), tenantId: z.string(), subscriptionId: z.string() });
export type FlushJob = z.infer<typeof flushJobSchema>;

/**
 * A job taken up again (released from hold, redriven): due now, its old schedule and slot dropped.
 * No longer its first enqueue either: on the FIFO queue that would reuse the fan-out's
 * deduplication id, and SQS would drop the message as a duplicate for five minutes.
 */
export function unscheduled(job: DeliveryJob): DeliveryJob {
  const { notBefore: _due, slotAt: _slot, firstEnqueue: _first, ...rest } = job;
  return rest;
}

/**
 * What a delivery's record says of the job that made it: who and what it delivers (`identity`,
 * written once) and what rebuilding the job from the record needs (`kept`: core/recovery.ts
 * rebuilds it for the sweeper and redrive). The one mapping every writer of the record uses.
 */
export function recordFieldsOf(job: DeliveryJob) {
  return {
    identity: {
      id: job.deliveryId,
      tenantId: job.tenantId,
      subscriptionId: job.subscriptionId,
      eventId: job.event.id,
      eventType: job.event.type,
      subject: job.event.subject,
      createdAt: job.createdAt,
    },
    kept: {
      ...(job.retryFrom !== undefined ? { retryFrom: job.retryFrom } : {}),
      ...(job.orderingGroup ? { orderingGroup: job.orderingGroup } : {}),
      ...(job.ignorePause ? { ignorePause: true } : {}),
      ...(job.batch ? { eventIds: job.batch.map((e) => e.id) } : {}),
    },
  };
}
