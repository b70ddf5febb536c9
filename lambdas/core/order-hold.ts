import type { DeliveryJob } from './delivery-job.ts';
import type { DeliveryQueue, DeliveryStore, OrderHoldStore } from './ports.ts';

/**
 * Ordered deliveries waiting out of flight. A subscription with `ordering: "subject"` delivers
 * through the FIFO queue, one message group per subscription and subject: a group's next message
 * is received only once the one before it was deleted. A short retry keeps its message hidden in
 * flight (holding the group, as FIFO means to). A longer one (more than IN_FLIGHT_WAIT_SECONDS,
 * or a message received REENQUEUE_AFTER_RECEIVES times) would hold one message per waiting
 * group in flight for hours (the queue's in-flight limit then bounds an outage), cannot wait
 * past SQS's 12 h visibility, and counts receives toward the redrive policy. Instead the group is
 * held in the table:
 *
 *   1. The worker writes the failed job as the hold's head (its job once, then HEAD: due time,
 *      attempts made), its delivery record pending with `nextAttemptAt`, then acknowledges the
 *      message. HEAD is written before that delete, so the group's next message, received only
 *      after it, finds it with a strongly consistent read.
 *   2. Every ordered job received while its group is held and is not the head is kept behind it,
 *      in arrival order (the FIFO sequence number), its record pending, its message deleted: no
 *      attempt. FIFO hands a group's messages to one worker at a time, so arrival order is
 *      publish order.
 *   3. When the head is due, the sweeper sends it to its group again (a new message, receive count
 *      1) and marks it sent. Received, it is attempted (the head alone is); a retry moves its due
 *      time; success or a dead letter promotes the next kept job (due now, sent at once), or ends
 *      the hold when none is left.
 *
 * Crash safety, at least once (duplicates are fine, loss and reordering are not): a job is kept
 * before HEAD names it, and its entry is removed only after HEAD moved off it, so HEAD always
 * names a kept job. A crash before a message's delete brings it back: a head not due yet is
 * dropped (the sweeper sends it when due), a kept job is kept again under the same key, and a
 * job whose delivery already finished is not kept at all (its record is no longer pending). A
 * crash after HEAD moved but before the next head was sent leaves it for the sweeper, which
 * sends a head whose send is older than its grace period. Only the worker that holds the group's
 * in-flight message moves HEAD or ends the hold, so no append can race the end of a hold.
 */
export interface OrderHold {
  tenantId: string;
  /** The FIFO message group (subscription and subject): `orderingGroup` of its jobs. */
  group: string;
  /** The head's entry (opaque to core: the store's order key). */
  head: string;
  /** The head's delivery: a message of it is the head's, whichever copy. */
  deliveryId: string;
  dueAt: string;
  /** Attempts the head made so far (its kept job keeps those made before it was held). */
  attemptsMade: number;
  firstAttemptAt?: string;
  /** When the head was last sent to its group; unset once an attempt or wait moved its due time. */
  sentAt?: string;
}

/** Where a received message stands in its group's arrival order. */
export interface Arrival {
  /** The FIFO queue's SequenceNumber (it grows within a message group). */
  sequenceNumber?: string;
  messageId: string;
  at: number;
}

/** A kept job of a held group, by its entry. */
export interface HeldJob {
  entry: string;
  job: DeliveryJob;
}

/** The job the head's message carries: its kept job with the attempts made since, due at its time. */
export function headJob(hold: OrderHold, kept: DeliveryJob): DeliveryJob {
  const { notBefore: _due, slotAt: _slot, firstEnqueue: _first, ...rest } = kept;
  const job: DeliveryJob = { ...rest, attemptOffset: hold.attemptsMade, notBefore: hold.dueAt };
  if (hold.firstAttemptAt) job.firstAttemptAt = hold.firstAttemptAt;
  return job;
}

export type HoldPorts = {
  holds: OrderHoldStore;
  deliveries: Pick<DeliveryStore, 'getDelivery' | 'recordWithoutAttempt'>;
  queue: Pick<DeliveryQueue, 'enqueue'>;
  clock: () => Date;
  config: { deliveryRetentionDays: number };
};

/**
 * Step 1: the job waits out of flight as its group's head: kept, then named by HEAD with its due
 * time (a head already named gets its new due time), before its message is deleted. `attempted:
 * false` (a wait, no attempt) writes its record pending until then; a delivery no longer pending
 * was a duplicate (a head's group then moves on). `waitsBehind`: another head was named first
 * (a duplicate's race): the job is kept in its arrival's place behind it.
 */
export async function holdAsHead(
  ports: HoldPorts,
  plan: { job: DeliveryJob; dueAt: string; attemptsMade: number; head?: OrderHold; attempted: boolean },
  arrival: Arrival,
): Promise<'held' | 'moved' | 'waitsBehind' | 'duplicate'> {
  const { job, dueAt, attemptsMade, head } = plan;
  if (!plan.attempted) {
    const pending = await ports.deliveries.recordWithoutAttempt({ job, at: ports.clock().toISOString(), retentionDays: ports.config.deliveryRetentionDays, nextAttemptAt: dueAt });
    if (!pending) {
      if (head) await advanceHold(ports, head);
      return 'duplicate';
    }
  }
  const fields = { tenantId: job.tenantId, group: job.orderingGroup!, deliveryId: job.deliveryId, dueAt, attemptsMade, ...(job.firstAttemptAt ? { firstAttemptAt: job.firstAttemptAt } : {}) };
  if (head) {
    const { sentAt: _sent, ...rest } = head;
    return (await ports.holds.moveHead({ ...rest, ...fields }, head.head)) ? 'moved' : 'duplicate';
  }
  const entry = await ports.holds.keep(job.tenantId, job.orderingGroup!, arrival, job);
  return (await ports.holds.createHead({ ...fields, head: entry })) ? 'held' : 'waitsBehind';
}

/**
 * Step 2: a job of a held group that is not its head is kept behind it, its record pending (due
 * with the head), no attempt. A delivery no longer pending (finished, or held for a paused
 * subscription) was a duplicate and is not kept.
 */
export async function keepBehindHold(ports: HoldPorts, job: DeliveryJob, hold: OrderHold, arrival: Arrival): Promise<boolean> {
  const pending = await ports.deliveries.recordWithoutAttempt({ job, at: ports.clock().toISOString(), retentionDays: ports.config.deliveryRetentionDays, nextAttemptAt: hold.dueAt });
  if (pending) await ports.holds.keep(hold.tenantId, hold.group, arrival, job);
  return pending;
}

/** Kept jobs read per page while looking for the next head. */
const ENTRY_PAGE = 10;

/**
 * The head finished (delivered, dead-lettered, or held for a paused subscription): the next kept
 * job whose delivery is still pending becomes the head, due now, and is sent to its group; a kept
 * job whose delivery already finished (a duplicate kept before it did) is dropped on the way.
 * With none left, the hold ends. Called only by the worker holding the head's message.
 */
export async function advanceHold(ports: Pick<HoldPorts, 'holds' | 'deliveries' | 'queue' | 'clock'>, hold: OrderHold): Promise<'promoted' | 'released' | 'moved'> {
  let after: string | undefined;
  for (;;) {
    const page = await ports.holds.entries(hold.tenantId, hold.group, after, ENTRY_PAGE);
    for (const { entry, job } of page) {
      after = entry;
      if (entry === hold.head) continue;
      const record = await ports.deliveries.getDelivery(job.deliveryId);
      if (record && record.status !== 'pending') {
        await ports.holds.drop(hold.tenantId, hold.group, entry);
        continue;
      }
      const now = ports.clock().toISOString();
      const attemptsMade = record?.attemptCount ?? job.attemptOffset;
      const next: OrderHold = {
        tenantId: hold.tenantId,
        group: hold.group,
        head: entry,
        deliveryId: job.deliveryId,
        dueAt: now,
        attemptsMade,
        ...(attemptsMade > 0 ? { firstAttemptAt: job.firstAttemptAt ?? record?.firstAttemptAt ?? job.createdAt } : {}),
        sentAt: now,
      };
      // Someone else moved it first (a duplicate of this message): theirs stands.
      if (!(await ports.holds.moveHead(next, hold.head))) return 'moved';
      await ports.queue.enqueue([headJob(next, job)]);
      await ports.holds.drop(hold.tenantId, hold.group, hold.head);
      return 'promoted';
    }
    if (page.length < ENTRY_PAGE) break;
  }
  if (!(await ports.holds.release(hold.tenantId, hold.group, hold.head))) return 'moved';
  await ports.holds.drop(hold.tenantId, hold.group, hold.head);
  return 'released';
}

/**
 * The sweeper's part: each due head of the shard that was not sent within the grace period
 * (`graceSeconds`: sent and never back means its message was lost) is claimed and sent to its
 * group, a page of `limit` at a time until the list's end or `deadline` (epoch ms). Answers how
 * many were sent, and any hold whose HEAD names no kept job (never by design).
 */
export async function sendDueHeads(
  ports: Pick<HoldPorts, 'holds' | 'queue' | 'clock'>,
  shard: number,
  graceSeconds: number,
  limit: number,
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ sent: number; headless: OrderHold[] }> {
  const now = ports.clock();
  let sent = 0;
  const headless: OrderHold[] = [];
  let after: string | undefined;
  do {
    const page = await ports.holds.dueHeads(shard, now.toISOString(), limit, after);
    for (const hold of page.holds) {
      if (hold.sentAt && Date.parse(hold.sentAt) > now.getTime() - graceSeconds * 1000) continue;
      const kept = await ports.holds.entry(hold.tenantId, hold.group, hold.head);
      // HEAD always names a kept job (see above): one that does not is reported, never guessed at.
      if (!kept) {
        headless.push(hold);
        continue;
      }
      if (!(await ports.holds.claimSend(hold, now.toISOString()))) continue;
      await ports.queue.enqueue([headJob(hold, kept)]);
      sent++;
    }
    after = page.next;
  } while (after && ports.clock().getTime() < deadline);
  return { sent, headless };
}
