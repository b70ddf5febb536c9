import type { DeliveryJob } from './delivery-job.ts';
import { type Delivery, attemptCountOf } from './delivery.ts';
import type { CloudEvent } from './envelope.ts';
import { findListedPatterns } from './caching.ts';
import { patternKeysFor } from './event-types.ts';
import { jobsFor, selectRecipients } from './fanout.ts';
import { releaseHeld } from './health.ts';
import { deliveryIdFor, legacyDeliveryIdFor } from './ids.ts';
import { isMarkedSlow, type SlowMarkStore } from './slow-lane.ts';
import { sendDueHeads } from './order-hold.ts';
import { stripStorage } from './publishing.ts';
import type { DeliveryQueue, DeliveryStore, EventPublisher, EventStore, OrderHoldStore, StatsFolding, StoredEvent, SubscriptionIndexEntry, SubscriptionStore, SweepEntry, SweepStore } from './ports.ts';

/**
 * The reconciliation sweeper: the safety net under at-least-once delivery. Whatever was lost
 * between the API accepting an event and an endpoint answering (an event that never reached the
 * bus, a fan-out that failed, a queue message lost with an emulator restart or a crash, a hold
 * that missed its release), it finds by key and re-enqueues, idempotently: deliveries have
 * deterministic ids, so a re-enqueued job is the same delivery with the same `webhook-id`.
 *
 *   1. Entries on the sweep list whose time has come, read forward from a cursor: a window of a
 *      tenant's events (the API lists one per window of event time, not one per event; its
 *      events are read in pages, and a run cut short saves where it stopped inside it), a
 *      recheck of one event, or an event 0.1 listed. Each event: publish it if it never was;
 *      otherwise re-plan its fan-out and enqueue every planned delivery that has no record yet.
 *      An event whose deliveries all exist costs reads only; one the sweeper had to act on is
 *      listed again on its own, and checked later until all its deliveries exist.
 *   2. Pending deliveries overdue by the grace period, found by walking each shard's pending list
 *      from a cursor: claimed, rebuilt from the kept event and their record (attempt count, policy
 *      start), re-enqueued.
 *   3. Held deliveries of subscriptions that are active again: released.
 *   4. Batching buffers whose scheduled look is overdue by the grace period (its flush message
 *      was lost): looked at again. A look holds a lease, so a duplicate one sends nothing twice.
 *   5. Ordered groups held out of flight (core/order-hold.ts) whose head is due: the head is sent
 *      to its group again (and again after the grace period, should its message be lost). The
 *      pending deliveries of a held group are the hold's: step 2 leaves them alone.
 *   6. Statistics: the deltas deliver invocations wrote, folded into the subscriptions' blocks
 *      a minute after the minute they were written in (core/stats.ts).
 */
export interface SweepPorts {
  sweep: SweepStore;
  subscriptions: SubscriptionStore;
  events: Pick<EventStore, 'getEvent' | 'markEventPublished'>;
  publisher: Pick<EventPublisher, 'publish'>;
  deliveries: Pick<DeliveryStore, 'listHeld' | 'endHold'>;
  /** `slowLaneBacklog`: messages waiting on the slow lane (core/slow-lane.ts), when there is one. */
  queue: DeliveryQueue & { backlog(): Promise<number>; slowLaneBacklog?(): Promise<number> };
  /**
   * Slow subscriptions' marks (core/slow-lane.ts). While the slow lane has a backlog, an overdue
   * delivery of a subscription marked slow is most likely waiting in it (the slow lane's small
   * concurrency drains a slow receiver's deliveries at its own pace): it is left alone, as the
   * delivery queue's backlog makes the sweeper leave every delivery alone, but only that
   * subscription's. Re-enqueuing it would add a duplicate at each grace period, faster than a
   * slow receiver drains them.
   */
  slowMarks?: Pick<SlowMarkStore, 'read'>;
  /** Ordered groups held out of flight (core/order-hold.ts). */
  holds?: OrderHoldStore;
  stats?: StatsFolding;
  clock: () => Date;
  /**
   * `maxBacklog`: above this many messages waiting in the delivery queue, the workers are behind
   * and an overdue delivery is most likely waiting in that backlog, not lost; re-enqueuing it
   * would only add a duplicate to the backlog. The sweeper then leaves deliveries alone and
   * looks again next run. A lost message is never in the backlog, so it is found once the
   * workers catch up.
   */
  /**
   * `deadline` (epoch ms): the list is read until then and the cursor saved, so a run cut short
   * by the function's timeout never loses its progress (the pending and held phases follow).
   */
  config: { sweepAfterSeconds: number; shards: number; pageSize?: number; maxPages?: number; pendingPages?: number; maxBacklog?: number; deadline?: number };
}

export interface SweepReport {
  eventsChecked: number;
  eventsPublished: number;
  eventsCleared: number;
  deliveriesEnqueued: number;
  pendingRequeued: number;
  heldReleased: number;
  unrecoverable: number;
  batchLooksRequeued: number;
  /** Deliveries were left alone this run because the queue had this many messages waiting. */
  deferredForBacklog: number;
  /** Heads of held ordered groups sent to their group, due (core/order-hold.ts). */
  holdHeadsSent?: number;
  /** Held groups whose HEAD names no kept job (never by design: a sign of damage, for an operator). */
  headlessHolds?: { tenantId: string; group: string }[];
  /** Tenant minutes of statistics folded into the blocks. */
  statsFolded?: number;
}

/** Events of one shard checked concurrently. */
const CHECKS_AT_ONCE = 8;

export async function sweep(ports: SweepPorts): Promise<SweepReport> {
  const report: SweepReport = {
    eventsChecked: 0,
    eventsPublished: 0,
    eventsCleared: 0,
    deliveriesEnqueued: 0,
    pendingRequeued: 0,
    heldReleased: 0,
    unrecoverable: 0,
    batchLooksRequeued: 0,
    deferredForBacklog: 0,
  };
  const backlog = await ports.queue.backlog();
  const behind = backlog > (ports.config.maxBacklog ?? 100);
  if (behind) report.deferredForBacklog = backlog;
  const waitsInSlowLane = await slowLaneWaits(ports);
  // Each tenant's subscriptions per type, looked up once per run: a tenant's windows fall in any
  // of the shards (by window), which a lookup per shard paid for up to 8 times.
  const recipients = new Map<string, Promise<SubscriptionIndexEntry[]>>();
  const shards = Array.from({ length: ports.config.shards }, (_, i) => i);
  const folding = ports.stats?.foldDue(ports.clock(), ports.config.deadline).then((folded) => {
    report.statsFolded = folded;
  });
  await Promise.all([...shards.map((shard) => sweepShard(ports, shard, report, behind, waitsInSlowLane, recipients)), folding]);
  return report;
}

/** Whether a delivery of a subscription may be waiting in the slow lane's backlog: see SweepPorts.slowMarks. */
type SlowLaneWaits = (tenantId: string, subscriptionId: string) => Promise<boolean>;

async function slowLaneWaits(ports: SweepPorts): Promise<SlowLaneWaits> {
  const marks = ports.slowMarks;
  // Any message waiting counts: the slow lane drains at slow receivers' pace (a few hundred
  // messages can be an hour's work), so it is behind whenever it holds one.
  const backlog = (await ports.queue.slowLaneBacklog?.()) ?? 0;
  if (!marks || backlog === 0) return async () => false;
  const now = ports.clock().getTime();
  // One read per subscription per run; an unreadable mark lets the sweeper act as without one.
  const seen = new Map<string, Promise<boolean>>();
  return (tenantId, subscriptionId) => {
    const key = `${tenantId}#${subscriptionId}`;
    let answer = seen.get(key);
    if (!answer) {
      answer = marks.read(tenantId, subscriptionId).then((mark) => isMarkedSlow(mark, now), () => false);
      seen.set(key, answer);
    }
    return answer;
  };
}

async function sweepShard(
  ports: SweepPorts,
  shard: number,
  report: SweepReport,
  behind: boolean,
  waitsInSlowLane: SlowLaneWaits,
  recipients: Map<string, Promise<SubscriptionIndexEntry[]>>,
): Promise<void> {
  const limit = ports.config.pageSize ?? 100;
  const now = ports.clock();
  const later = new Date(now.getTime() + ports.config.sweepAfterSeconds * 1000).toISOString();

  // The list, forward from where the last run stopped. Every event passes once; only one that
  // needed action is listed again (a recheck), until all its deliveries exist.
  const start = await ports.sweep.sweptUpTo(shard);
  let position = start;
  const deadline = ports.config.deadline ?? Number.POSITIVE_INFINITY;
  const run = { now, later, behind, report, recipients, waitsInSlowLane };
  try {
    for (let page = 0, more = true; more && page < (ports.config.maxPages ?? 200) && ports.clock().getTime() < deadline; page++) {
      const entries = await ports.sweep.dueEvents(shard, position, now.toISOString(), limit);
      more = entries.length === limit;
      // A window alone (it checks its events a few at a time); other entries a few at a time.
      // The cursor moves past a window or a group only when all of it is done.
      for (let i = 0; i < entries.length; ) {
        let end = i + 1;
        while (!entries[i]!.window && end < entries.length && end - i < CHECKS_AT_ONCE && !entries[end]!.window) end++;
        const group = entries.slice(i, end);
        const done = group[0]!.window ? [await checkWindow(ports, group[0]!, run, limit, deadline)] : await Promise.all(group.map((entry) => checkEvent(ports, entry, run)));
        const stop = done.indexOf(false);
        if (stop >= 0) {
          if (stop > 0) position = group[stop - 1]!.key;
          more = false;
          break;
        }
        position = group.at(-1)!.key;
        i = end;
        if (ports.clock().getTime() >= deadline) {
          more = false;
          break;
        }
      }
    }
  } finally {
    if (position !== start) await ports.sweep.advance(shard, start, position);
  }

  const before = new Date(now.getTime() - ports.config.sweepAfterSeconds * 1000).toISOString();
  if (!behind) await requeueOverdue(ports, shard, { before, later, now, report, limit, deadline, waitsInSlowLane });

  for (const check of behind ? [] : await ports.sweep.overdueBatchChecks(shard, before, limit)) {
    await ports.queue.enqueueFlush(check.tenantId, check.subscriptionId, 0);
    report.batchLooksRequeued++;
  }

  for (const { tenantId, subscriptionId } of await ports.sweep.heldSubscriptions(shard)) {
    const subscription = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
    // A deleted subscription's holds are released too: each ends as a recorded failure. A paused
    // one, or one awaiting its receiver's consent (pending_validation), keeps them.
    if (subscription && subscription.status !== 'active') continue;
    const { released } = await releaseHeld(ports, tenantId, subscriptionId, 'deliver');
    report.heldReleased += released;
  }

  if (ports.holds) {
    // Page after page: in a large outage many heads fall due each minute, and each waits for this.
    const { sent, headless } = await sendDueHeads({ holds: ports.holds, queue: ports.queue, clock: ports.clock }, shard, ports.config.sweepAfterSeconds, limit, ports.config.deadline);
    report.holdHeadsSent = (report.holdHeadsSent ?? 0) + sent;
    if (headless.length > 0) report.headlessHolds = [...(report.headlessHolds ?? []), ...headless.map(({ tenantId, group }) => ({ tenantId, group }))];
  }
}

/**
 * Walks the shard's pending deliveries from where the last run stopped (a delivery's entry is
 * keyed once, not by its next attempt, so that a retry moves no index key) and re-enqueues each
 * one overdue by the grace period. A run reads at most `pendingPages` pages; at the end of the
 * list the walk starts over, so every pending delivery is looked at once per pass. A pass takes
 * one run until a shard holds more than `pendingPages` × `pageSize` pending deliveries.
 */
async function requeueOverdue(
  ports: SweepPorts,
  shard: number,
  run: { before: string; later: string; now: Date; report: SweepReport; limit: number; deadline: number; waitsInSlowLane: SlowLaneWaits },
): Promise<void> {
  const start = await ports.sweep.pendingCursor(shard);
  let position = start;
  try {
    // One page even past the deadline (the handler keeps time for it), more while time remains.
    for (let page = 0; page < (ports.config.pendingPages ?? 10) && (page === 0 || ports.clock().getTime() < run.deadline); page++) {
      const { deliveries, last } = await ports.sweep.pendingPage(shard, position, run.limit);
      for (const delivery of deliveries) {
        if (delivery.status !== 'pending' || !delivery.nextAttemptAt || delivery.nextAttemptAt >= run.before) continue;
        if (!delivery.orderingGroup && (await run.waitsInSlowLane(delivery.tenantId, delivery.subscriptionId))) continue;
        // Its group is held (core/order-hold.ts): the hold sends it in its turn; a re-enqueue would only be a duplicate.
        if (delivery.orderingGroup && ports.holds && (await ports.holds.read(delivery.tenantId, delivery.orderingGroup))) continue;
        if (!(await ports.sweep.claimPending(delivery, run.later))) continue;
        const event = await ports.events.getEvent(delivery.tenantId, delivery.eventId);
        if (!event) {
          await ports.sweep.markUnrecoverable(delivery.id, delivery.tenantId, 'lost in transit and its event is past retention: it cannot be rebuilt', run.now.toISOString());
          run.report.unrecoverable++;
          continue;
        }
        await ports.queue.enqueue([rebuildJob(delivery, stripStorage(event))]);
        run.report.pendingRequeued++;
      }
      position = last ?? '';
      if (!last) break;
    }
  } finally {
    if (position !== start) await ports.sweep.movePendingCursor(shard, start, position);
  }
}

type SweepRun = { now: Date; later: string; behind: boolean; report: SweepReport; recipients: Map<string, Promise<SubscriptionIndexEntry[]>>; waitsInSlowLane: SlowLaneWaits };

/**
 * A window of a tenant's events, read from where an earlier run stopped inside it: every event
 * checked as a listed one is. False when the run must stop (the workers are behind, or the
 * deadline came): where it got to is saved on the window, so the next run goes on from there.
 */
async function checkWindow(ports: SweepPorts, entry: SweepEntry, run: SweepRun, limit: number, deadline: number): Promise<boolean> {
  const start = entry.progress ?? (await ports.sweep.windowProgress(entry));
  let position = start;
  let finished = false;
  try {
    for (;;) {
      const { events, next } = await ports.sweep.windowEvents(entry, position, limit);
      for (let i = 0; i < events.length; i += CHECKS_AT_ONCE) {
        const group = events.slice(i, i + CHECKS_AT_ONCE);
        const done = await Promise.all(group.map(({ event }) => checkStoredEvent(ports, { tenantId: entry.tenantId, eventId: event.id, dueAt: entry.dueAt, key: '', recheck: false }, event, run)));
        const stop = done.indexOf(false);
        if (stop >= 0) {
          if (stop > 0) position = group[stop - 1]!.position;
          return false;
        }
        position = group.at(-1)!.position;
        if (ports.clock().getTime() >= deadline && (i + CHECKS_AT_ONCE < events.length || next)) return false;
      }
      if (!next) return (finished = true);
      position = next;
    }
  } finally {
    if (!finished && position !== start) await ports.sweep.saveWindowProgress(entry, position);
  }
}

/**
 * One entry of the list; false when the sweeper must stop here for this run (the workers are
 * behind, so a published event's deliveries may still be waiting in the queue).
 */
async function checkEvent(ports: SweepPorts, entry: SweepEntry, run: SweepRun): Promise<boolean> {
  const event = await ports.events.getEvent(entry.tenantId, entry.eventId);
  if (!event) {
    // Past retention: nothing left to do.
    if (entry.recheck) await ports.sweep.clearRecheck(entry);
    return true;
  }
  return checkStoredEvent(ports, entry, event, run);
}

/** Publishes the event if it never was, else enqueues the deliveries it should have and lacks; either way lists it again. */
async function checkStoredEvent(ports: SweepPorts, entry: SweepEntry, event: StoredEvent, run: SweepRun): Promise<boolean> {
  const { report } = run;
  if (!event.publishedAt) {
    report.eventsChecked++;
    // Fanned out at publish before the bus refused it: only the bus copy is missing (marked).
    await ports.publisher.publish(stripStorage(event), event.fannedOutAt !== undefined);
    await ports.events.markEventPublished(event.tenantid, event.id, run.now.toISOString());
    await ports.sweep.recheckLater(entry, run.later);
    report.eventsPublished++;
    return true;
  }
  if (run.behind) return false;
  report.eventsChecked++;
  const missing = await missingDeliveries(ports, event, run.now, run.recipients);
  if (missing.length === 0) {
    if (entry.recheck) await ports.sweep.clearRecheck(entry);
    report.eventsCleared++;
  } else {
    // Those waiting in the slow lane's backlog are looked at again at the recheck.
    const waiting = await Promise.all(missing.map((job) => !job.orderingGroup && run.waitsInSlowLane(job.tenantId, job.subscriptionId)));
    const lost = missing.filter((_, i) => !waiting[i]);
    if (lost.length > 0) await ports.queue.enqueue(lost);
    await ports.sweep.recheckLater(entry, run.later);
    report.deliveriesEnqueued += lost.length;
  }
  return true;
}

/**
 * The deliveries fan-out should have made for this event and that have no record. `cache`
 * keeps the subscription index of each tenant and type for one sweep run.
 */
export async function missingDeliveries(
  ports: Pick<SweepPorts, 'subscriptions' | 'sweep'>,
  event: CloudEvent & { publishedAt?: string },
  now: Date,
  cache?: Map<string, Promise<SubscriptionIndexEntry[]>>,
): Promise<DeliveryJob[]> {
  // Only the pattern keys the tenant has entries under (its index head), once per tenant and type
  // per run. Eventually consistent (half the units): the events checked are past their grace
  // period, and an entry that a replica lacks for a moment was written that long before.
  const lookup = () => findListedPatterns(ports.subscriptions, event.tenantid, patternKeysFor(event.type), undefined, { consistent: false });
  const cacheKey = `${event.tenantid}#${event.type}`;
  if (cache && !cache.has(cacheKey)) cache.set(cacheKey, lookup());
  const candidates = await (cache?.get(cacheKey) ?? lookup());
  const publishedAt = event.publishedAt ?? event.time;
  // Batching subscriptions keep the event in their buffer, not as a delivery of its own.
  const recipients = selectRecipients(event, candidates).filter((entry) => !entry.batching && (!entry.createdAt || entry.createdAt <= publishedAt));
  if (recipients.length === 0) return [];
  const jobs = jobsFor(stripStorage(event), recipients, now);
  const existing = await ports.sweep.existingDeliveries(jobs.map((job) => job.deliveryId));
  const missing = jobs.filter((job) => !existing.has(job.deliveryId));
  if (missing.length === 0) return [];
  // Fanned out by 0.1, a delivery has 0.1's id (README "Upgrading"): looked up under it
  // only when missing under its own, so events fanned out since cost no second read.
  const legacyIds = missing.map((job) => legacyDeliveryIdFor(event.tenantid, event.id, job.subscriptionId));
  const legacy = await ports.sweep.existingDeliveries(legacyIds);
  return missing.filter((_, i) => !legacy.has(legacyIds[i]!));
}

/** The job an overdue pending delivery (or a dead letter) was waiting on, rebuilt from its record and its kept event. */
export function rebuildJob(delivery: Delivery, event: CloudEvent): DeliveryJob {
  return {
    v: 1,
    deliveryId: delivery.id,
    tenantId: delivery.tenantId,
    subscriptionId: delivery.subscriptionId,
    event,
    attemptOffset: attemptCountOf(delivery),
    createdAt: delivery.createdAt,
    ...(delivery.firstAttemptAt ? { firstAttemptAt: delivery.firstAttemptAt } : {}),
    ...(delivery.retryFrom !== undefined ? { retryFrom: delivery.retryFrom } : {}),
    ...(delivery.orderingGroup ? { orderingGroup: delivery.orderingGroup } : {}),
    ...(delivery.ignorePause ? { ignorePause: true } : {}),
  };
}
