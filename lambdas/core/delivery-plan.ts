import { unscheduled, type DeliveryJob } from './delivery-job.ts';
import type { DeadLetter } from './ports.ts';
import type { OrderHold } from './order-hold.ts';
import type { DeliverOutcome } from './deliver.ts';
import { ORDERED_MAX_RECEIVES } from '#shared/herald-config';

/**
 * The delivery path decided once: what happens to a delivery job's queue message, before an
 * attempt (not due yet, waiting for a throttle slot) and after it (done, retry, dead letter).
 * Pure: the deliver worker carries the plan out through the queue ports and does nothing else.
 *
 * - `ack`: the message is deleted (delivered, held for a paused subscription, re-enqueued, or a
 *   duplicate of a delivery already finished);
 * - `retryAfter`: the message stays in flight and is received again after `seconds`;
 * - `reenqueue`: a new message carries `job` (due at `job.notBefore`) after `delaySeconds`, and
 *   this one is acknowledged; `lane: 'slow'` puts it on the slow lane (core/slow-lane.ts), where
 *   a job received from the slow lane stays;
 * - `park`: the letter goes to the dead-letter queue with its reason, then the message is deleted;
 * - `holdGroup`: an ordered job waits out of flight as the head of its group's hold
 *   (core/order-hold.ts), due at `dueAt` with `attemptsMade`; `head` is the hold it already
 *   heads (its due time moves), else the hold is created with `job` kept; `attempted: false`
 *   (a wait, no attempt) also writes its record pending until then. Then the message is deleted;
 * - `keepBehind`: an ordered job whose group is held by another: kept behind it, in arrival
 *   order, its record pending, no attempt; then the message is deleted.
 * `advance` on `ack` and `park`: the job was its group's head, so the next kept job becomes the head.
 */
export type DeliveryPlan =
  | { kind: 'ack'; why: 'delivered' | 'held' | 'finished' | 'notDue'; advance?: OrderHold }
  | { kind: 'retryAfter'; seconds: number }
  | { kind: 'reenqueue'; job: DeliveryJob; delaySeconds: number; lane?: 'slow' }
  | { kind: 'park'; letter: DeadLetter; advance?: OrderHold }
  | { kind: 'holdGroup'; job: DeliveryJob; dueAt: string; attemptsMade: number; head?: OrderHold; attempted: boolean }
  | { kind: 'keepBehind'; job: DeliveryJob; hold: OrderHold };

/** How the message holding a job was received. */
export interface Receipt {
  /** From the FIFO queue: the message holds its ordering group until it ends. */
  ordered: boolean;
  /** SQS's ApproximateReceiveCount. */
  receiveCount: number;
  now: number;
  /** From the slow lane (core/slow-lane.ts): its re-enqueues stay there. */
  slowLane?: boolean;
  /**
   * An ordered job whose group can be held out of flight (the worker has a hold store): long
   * waits then leave flight. `head`: the group's hold, which this job heads.
   */
  holds?: { head?: OrderHold };
}

/** A re-enqueue stays on the lane its job was received from. */
function onLaneOf(receipt: Receipt): { lane?: 'slow' } {
  return receipt.slowLane ? { lane: 'slow' } : {};
}

/** SQS caps DelaySeconds at 15 minutes. */
export const MAX_DELAY_SECONDS = 900;
/** SQS caps one message's visibility timeout at 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * The longest wait a standard-queue job spends in SQS's in-flight set (hidden by visibility).
 * A longer one leaves it: the job is re-enqueued with a delay (at most SQS's 15 minutes) and its
 * due time, and hops again until due. A standard queue holds about 120,000 messages in flight, so
 * one large tenant's outage could otherwise stop every tenant's deliveries; a hop costs about 1.2
 * SQS requests per 15 minutes of waiting. An ordered (FIFO) job's longer wait holds its group in
 * the table instead (core/order-hold.ts).
 */
export const IN_FLIGHT_WAIT_SECONDS = 300;

/**
 * After this many receives of one message, a retry is re-enqueued as a new message instead of
 * hidden again, so the queue's redrive policy (which counts receives) only ever catches crashes
 * and poison messages, never a policy that is still running.
 */
export const REENQUEUE_AFTER_RECEIVES = 50;

/**
 * The attempt a received job is about to make. A job that waited out of flight (`notBefore`)
 * makes exactly one attempt per message, so its early receives never count; otherwise every
 * receive of the message was an attempt. Ordered jobs also wait hidden for throttle slots,
 * which are no attempts: `recordedAttempts` (the delivery's attempt log) then gives the count.
 */
export function attemptNumberOf(job: DeliveryJob, receipt: Receipt, recordedAttempts?: number): number {
  if (job.notBefore) return job.attemptOffset + 1;
  if (recordedAttempts !== undefined) return Math.max(job.attemptOffset, recordedAttempts) + 1;
  return job.attemptOffset + receipt.receiveCount;
}

/**
 * True when this receive of an ordered job is the last the ordered queue allows: its redrive
 * policy would move the message at the next one, reason unknown and its record left pending,
 * so no retry is possible and the attempt's failure is final (core/deliver.ts says why).
 */
export function isLastReceive(receipt: Receipt): boolean {
  return receipt.ordered && receipt.receiveCount >= ORDERED_MAX_RECEIVES;
}

/**
 * The plan for a job received before it is due, or undefined when it is due now: a short wait
 * stays hidden; a longer one hops out of flight, due as before, or holds an ordered job's group
 * (core/order-hold.ts; without a hold store an ordered job waits hidden).
 */
export function planBeforeDue(job: DeliveryJob, receipt: Receipt): DeliveryPlan | undefined {
  if (!job.notBefore) return undefined;
  const waitMs = Date.parse(job.notBefore) - receipt.now;
  if (!(waitMs > 0)) return undefined;
  // Back for its rate slot, a little early on purpose: the throttle sleeps the rest.
  if (job.slotAt && waitMs <= SLOT_SLEEP_MS) return undefined;
  const wait = Math.ceil(waitMs / 1000);
  if (holdsGroup(receipt, wait)) return holdGroupUntil(job, receipt, Date.parse(job.notBefore), job.attemptOffset, false);
  if (receipt.ordered || wait <= IN_FLIGHT_WAIT_SECONDS) return { kind: 'retryAfter', seconds: Math.min(wait, MAX_VISIBILITY_SECONDS) };
  return { kind: 'reenqueue', job, delaySeconds: Math.min(wait, MAX_DELAY_SECONDS), ...onLaneOf(receipt) };
}

/**
 * A due job of a subscription marked slow (core/slow-lane.ts), received on the standard queue:
 * re-enqueued on the slow lane at once, before any reservation, no attempt counted (the new
 * message carries the attempts made so far). Undefined when it stays: the subscription is not
 * slow, the job is already on the slow lane, or it is ordered (it holds its subject's group, and
 * moving it would put it behind the subject's later events).
 */
export function planSlowLane(job: DeliveryJob, receipt: Receipt, slow: boolean): DeliveryPlan | undefined {
  if (!slow || receipt.slowLane || receipt.ordered || job.orderingGroup) return undefined;
  const attemptsMade = attemptNumberOf(job, receipt) - 1;
  const { notBefore: _due, firstEnqueue: _first, ...rest } = job;
  // Due now: no notBefore, so its retries on the slow lane may wait hidden; a reserved slot is kept.
  const moved: DeliveryJob = { ...rest, attemptOffset: attemptsMade };
  if (attemptsMade > 0) moved.firstAttemptAt = job.firstAttemptAt ?? job.createdAt;
  return { kind: 'reenqueue', job: moved, delaySeconds: 0, lane: 'slow' };
}

/**
 * Waiting until `untilMs` before an attempt that was not made (a throttle slot): the job keeps
 * `attemptsMade`, so the wait never counts as an attempt. A standard-queue job waits out of
 * flight (a new message due at its slot); an ordered job waits hidden, holding its group, unless
 * the wait is long enough to hold its group out of flight (core/order-hold.ts).
 */
export function planWaitUntil(job: DeliveryJob, receipt: Receipt, untilMs: number, attemptsMade: number): DeliveryPlan {
  const waitMs = untilMs - receipt.now;
  if (holdsGroup(receipt, Math.ceil(waitMs / 1000))) return holdGroupUntil(job, receipt, untilMs, attemptsMade, false);
  if (receipt.ordered) return { kind: 'retryAfter', seconds: Math.min(Math.max(1, Math.ceil(waitMs / 1000)), MAX_VISIBILITY_SECONDS) };
  // A job with a slot comes back up to a second early and sleeps the rest (SLOT_SLEEP_MS).
  const wait = job.slotAt ? Math.max(1, Math.floor(waitMs / 1000)) : Math.max(1, Math.ceil(waitMs / 1000));
  return reenqueueAt(job, receipt, untilMs, wait, attemptsMade);
}

/**
 * A delivery of a degraded subscription that lost the probe (core/degrade.ts): no attempt made,
 * none counted. It waits `waitSeconds` out of flight (a new message, due then, its old schedule
 * and slot dropped), or less if its policy would end sooner (`policyEndsAt`, ms), so it comes
 * back for one last chance at the probe; once that point has passed it is parked with the reason.
 */
export function planBehindProbe(job: DeliveryJob, receipt: Receipt, attemptsMade: number, policyEndsAt: number, waitSeconds: number): Extract<DeliveryPlan, { kind: 'reenqueue' | 'park' }> {
  const left = Math.floor((policyEndsAt - receipt.now) / 1000);
  if (left < 1) {
    const reason =
      `retry policy ended while its subscription was degraded: ${attemptsMade} attempt(s) made, ` +
      'then waited behind the trial attempts of an endpoint that kept failing (see the subscription’s stats)';
    return { kind: 'park', letter: { job, reason, attempts: attemptsMade, failedAt: new Date(receipt.now).toISOString() } };
  }
  const wait = Math.max(1, Math.min(waitSeconds, left, MAX_DELAY_SECONDS));
  return reenqueueAt(unscheduled(job), receipt, receipt.now + wait * 1000, wait, attemptsMade);
}

function reenqueueAt(job: DeliveryJob, receipt: Receipt, dueMs: number, waitSeconds: number, attemptsMade: number): Extract<DeliveryPlan, { kind: 'reenqueue' }> {
  const { firstEnqueue: _first, ...rest } = job;
  const next: DeliveryJob = { ...rest, attemptOffset: attemptsMade, notBefore: new Date(dueMs).toISOString() };
  if (attemptsMade > 0) next.firstAttemptAt = job.firstAttemptAt ?? job.createdAt;
  return { kind: 'reenqueue', job: next, delaySeconds: Math.min(waitSeconds, MAX_DELAY_SECONDS), ...onLaneOf(receipt) };
}

/**
 * Whether an ordered job's wait of `waitSeconds` holds its group out of flight: always for the
 * hold's head (its message was sent by the sweeper and every wait goes back through the hold, so
 * the sweeper never sends a head that waits hidden), else a wait longer than standard jobs spend
 * in flight, or a message received so often that its receives near the redrive policy.
 */
function holdsGroup(receipt: Receipt, waitSeconds: number): boolean {
  if (!receipt.ordered || !receipt.holds) return false;
  return receipt.holds.head !== undefined || waitSeconds > IN_FLIGHT_WAIT_SECONDS || receipt.receiveCount >= REENQUEUE_AFTER_RECEIVES;
}

function holdGroupUntil(job: DeliveryJob, receipt: Receipt, dueMs: number, attemptsMade: number, attempted: boolean): Extract<DeliveryPlan, { kind: 'holdGroup' }> {
  const kept = unscheduled(job);
  if (attemptsMade > 0) kept.firstAttemptAt = job.firstAttemptAt ?? job.createdAt;
  const head = receipt.holds?.head;
  return { kind: 'holdGroup', job: kept, dueAt: new Date(dueMs).toISOString(), attemptsMade, ...(head ? { head } : {}), attempted };
}

/**
 * An ordered job received while its group is held (core/order-hold.ts): the head is attempted
 * when due (undefined: go on, as the head), is dropped when it came early (a duplicate of a head
 * the sweeper sends when due); any other job is kept behind the head. Undefined without a hold.
 */
export function planForHeldGroup(job: DeliveryJob, receipt: Receipt, hold: OrderHold | undefined): DeliveryPlan | undefined {
  if (!hold) return undefined;
  if (hold.deliveryId !== job.deliveryId) return { kind: 'keepBehind', job: unscheduled(job), hold };
  if (Date.parse(hold.dueAt) - receipt.now > SLOT_SLEEP_MS) return { kind: 'ack', why: 'notDue' };
  return undefined;
}

/** A slot this close counts as now. */
export const SLOT_TOLERANCE_MS = 10;
/**
 * A delivery waits in process for a slot at most this far ahead: SQS delays come in whole
 * seconds, so the jobs of one second would otherwise arrive together and leave in a clump. A
 * throttled job is re-enqueued to arrive within this much before its slot, then sleeps the rest.
 */
export const SLOT_SLEEP_MS = 1000;
/** An ordered job sleeps a little longer rather than hide: hiding gives up its reservation. */
export const ORDERED_SLEEP_MS = 2000;
/** With `maxConcurrency` requests already in flight (or no slot to be had), a delivery asks again after this long. */
export const LEASE_WAIT_MS = 2000;

export type ThrottleDecision = { kind: 'go' } | { kind: 'sleep'; ms: number } | { kind: 'wait'; plan: DeliveryPlan };

/**
 * A throttled subscription's delivery: go when its rate slot (`slotAt`) has come and it holds a
 * lease (`leased`: undefined when concurrency is not limited); sleep for a slot just ahead;
 * otherwise wait, with no attempt counted, keeping its slot on the job so the wait does not
 * reserve another.
 */
export function planThrottle(job: DeliveryJob, receipt: Receipt, attemptsMade: number, slotAt: number | undefined, leased: boolean | undefined): ThrottleDecision {
  // No slot could be reserved this time: ask again shortly, as a job without one.
  if (slotAt === undefined) return { kind: 'wait', plan: planWaitUntil(job, receipt, receipt.now + LEASE_WAIT_MS, attemptsMade) };
  const ahead = slotAt - receipt.now;
  const keep = { ...job, slotAt: new Date(slotAt).toISOString() };
  if (ahead > SLOT_TOLERANCE_MS) {
    if (ahead <= (receipt.ordered ? ORDERED_SLEEP_MS : SLOT_SLEEP_MS)) return { kind: 'sleep', ms: ahead };
    return { kind: 'wait', plan: planWaitUntil(keep, receipt, slotAt, attemptsMade) };
  }
  if (leased === false) return { kind: 'wait', plan: planWaitUntil(keep, receipt, receipt.now + LEASE_WAIT_MS, attemptsMade) };
  return { kind: 'go' };
}

/**
 * What follows an attempt. A retry waits hidden when it is short (at most IN_FLIGHT_WAIT_SECONDS),
 * its message was never re-enqueued and has few receives; an ordered retry that is longer, or of a
 * much-received message, holds its group out of flight (core/order-hold.ts), any other ordered
 * retry waits hidden, holding its group (without a hold store, every one does, at most SQS's 12 h,
 * until isLastReceive); any other retry is re-enqueued, due at its time.
 */
export function planAfterAttempt(job: DeliveryJob, receipt: Receipt, outcome: DeliverOutcome, failedAt: string): DeliveryPlan {
  const advance = receipt.holds?.head ? { advance: receipt.holds.head } : {};
  switch (outcome.kind) {
    case 'succeeded':
      return { kind: 'ack', why: 'delivered', ...advance };
    case 'held':
      return { kind: 'ack', why: 'held', ...advance };
    case 'failed':
      return { kind: 'park', letter: { job, reason: outcome.reason, attempts: outcome.attempt, failedAt }, ...advance };
    case 'retry': {
      const delay = Math.max(0, Math.ceil(outcome.delaySeconds));
      if (holdsGroup(receipt, delay)) return holdGroupUntil(job, receipt, receipt.now + delay * 1000, outcome.attempt, true);
      // Not counted against the policy: the next attempt starts the policy's count one later.
      if (outcome.uncounted && !receipt.ordered) {
        return reenqueueAt({ ...unscheduled(job), retryFrom: (job.retryFrom ?? 0) + 1 }, receipt, receipt.now + delay * 1000, Math.max(1, delay), outcome.attempt);
      }
      const canHide = receipt.ordered || (!job.notBefore && delay <= IN_FLIGHT_WAIT_SECONDS && receipt.receiveCount < REENQUEUE_AFTER_RECEIVES);
      if (canHide) return { kind: 'retryAfter', seconds: Math.min(delay, MAX_VISIBILITY_SECONDS) };
      return reenqueueAt(unscheduled(job), receipt, receipt.now + delay * 1000, delay, outcome.attempt);
    }
  }
}
