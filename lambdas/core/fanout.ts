import { forEachLimited } from './concurrency.ts';
import type { DeliveryJob } from './delivery-job.ts';
import { versionFromDataSchema, type CloudEvent } from './envelope.ts';
import { matchesEventPattern } from './event-pattern.ts';
import { patternKeysFor } from './event-types.ts';
import { deliveryIdFor, orderingGroupFor } from './ids.ts';
import { bufferForBatching } from './batch-flush.ts';
import type { BatchStore, DeliveryQueue, SubscriptionIndex, SubscriptionIndexEntry } from './ports.ts';

/**
 * Fan-out: one published event becomes one delivery job per matching subscription of its tenant,
 * paused ones included (the deliver function holds those until they resume, so nothing published
 * while paused is lost). Candidates come from a key lookup per pattern that can select the type
 * (`order.shipped`, `order.*`, `*`), never from a scan; content filters then narrow them.
 */
export function selectRecipients(event: CloudEvent, candidates: SubscriptionIndexEntry[]): SubscriptionIndexEntry[] {
  const seen = new Set<string>();
  return candidates.filter((entry) => {
    if (seen.has(entry.subscriptionId)) return false;
    seen.add(entry.subscriptionId);
    const pinned = entry.versions?.[event.type];
    if (pinned !== undefined && pinned !== versionFromDataSchema(event.dataschema)) return false;
    return !entry.filter || matchesEventPattern(entry.filter, event);
  });
}

export function jobsFor(event: CloudEvent, recipients: SubscriptionIndexEntry[], now: Date): DeliveryJob[] {
  return recipients.map((entry) => ({
    v: 1,
    deliveryId: deliveryIdFor(event.tenantid, event.id, entry.subscriptionId, event.time),
    tenantId: event.tenantid,
    subscriptionId: entry.subscriptionId,
    event,
    attemptOffset: 0,
    createdAt: now.toISOString(),
    firstEnqueue: true,
    ...(entry.ordering === 'subject' ? { orderingGroup: orderingGroupFor(entry.subscriptionId, event.subject) } : {}),
  }));
}

export interface FanOutPorts {
  subscriptions: Pick<SubscriptionIndex, 'findSubscriptionsByPatterns'>;
  queue: DeliveryQueue;
  clock: () => Date;
  /** Absent: batching subscriptions get one job per event, like the others. */
  batches?: BatchStore;
  config?: { eventRetentionDays: number };
}

/**
 * One event's fan-out: its jobs enqueued and its batching buffers written, or not: `error` says
 * what failed; without one, the event was left undone on purpose (`maxJobs`).
 */
export type FanOutOutcome = { ok: true; jobs: number; buffered: number } | { ok: false; error?: unknown };

/**
 * The most direct jobs the API enqueues for one publish request (100 SendMessageBatch calls,
 * what the fan-out function sends for one event to 1,000 subscriptions): 100 events to 10
 * subscriptions go at once; a request to many more subscriptions leaves the events past the
 * cap to the fan-out function, so a request stays well within API Gateway's 29 s.
 */
export const INLINE_FANOUT_MAX_JOBS = 1000;

/** Index lookups and buffer writes of one `fanOutMany` in flight at once. */
export const FANOUT_READS_AT_ONCE = 16;

/** The fan-out function's unit: one event; throws what failed, so Lambda retries the event. */
export async function fanOut(ports: FanOutPorts, event: CloudEvent): Promise<{ jobs: number; buffered: number }> {
  const [outcome] = await fanOutMany(ports, [event]);
  if (!outcome!.ok) throw outcome!.error;
  return { jobs: outcome!.jobs, buffered: outcome!.buffered };
}

/**
 * Fans out several events at once, with the decisions `fanOut` makes for one (the API fans out
 * a publish request's events itself, before they go on the bus). The index is asked once per
 * tenant and type of the request; every direct job goes to one `queue.enqueue`, which packs 10
 * to a SendMessageBatch (10 events to one subscription: one request, not ten) and sends FIFO
 * batches in order, so jobs listed in the events' order keep each ordering group in publish order.
 * Batching subscriptions buffer each event as `fanOut` does.
 *
 * Never throws: an event whose lookup, enqueue or buffering failed answers `ok: false` (some of
 * its jobs may have gone out: they are idempotent by delivery id, so whoever fans it out again,
 * the fan-out function or the sweeper, only repeats what the queue, the worker or the receiver
 * deduplicates). One outcome per event, in order.
 *
 * `maxJobs`: events are taken in order while their direct jobs fit; from the first that does not
 * (or whose lookup failed) on, every event is left undone (`ok: false`), so whatever is done
 * here precedes, in each ordering group, whatever the fan-out function does later.
 */
export async function fanOutMany(ports: FanOutPorts, events: readonly CloudEvent[], maxJobs = Infinity): Promise<FanOutOutcome[]> {
  const outcomes: (FanOutOutcome | undefined)[] = events.map(() => undefined);
  const fail = (index: number, error: unknown) => {
    outcomes[index] ??= error === undefined ? { ok: false } : { ok: false, error };
  };

  // 1. Candidates once per (tenant, type's pattern keys).
  const lookups = new Map<string, { tenantId: string; patterns: string[]; result?: SubscriptionIndexEntry[]; error?: unknown }>();
  const lookupKeyOf = (event: CloudEvent) => `${event.tenantid}\n${patternKeysFor(event.type).join(' ')}`;
  for (const event of events) {
    const key = lookupKeyOf(event);
    if (!lookups.has(key)) lookups.set(key, { tenantId: event.tenantid, patterns: patternKeysFor(event.type) });
  }
  await forEachLimited([...lookups.values()], FANOUT_READS_AT_ONCE, async (lookup) => {
    try {
      lookup.result = await ports.subscriptions.findSubscriptionsByPatterns(lookup.tenantId, lookup.patterns);
    } catch (error) {
      lookup.error = error;
    }
  });

  // 2. Each event's recipients: direct jobs in publish order, batching buffers apart; from the
  // first event that cannot be fanned out here (lookup failed, or past `maxJobs`), none is.
  const now = ports.clock();
  const jobs: { index: number; jobs: DeliveryJob[] }[] = [];
  const buffers: { index: number; entry: SubscriptionIndexEntry }[] = [];
  let planned = 0;
  let stopped = false;
  events.forEach((event, index) => {
    const lookup = lookups.get(lookupKeyOf(event))!;
    if (!stopped && !lookup.result) {
      stopped = true;
      return fail(index, lookup.error);
    }
    if (stopped) return fail(index, undefined);
    const recipients = selectRecipients(event, lookup.result!);
    // Batching subscriptions collect the event in their buffer instead (core/batch-flush.ts).
    const batching = ports.batches ? recipients.filter((r) => r.batching) : [];
    const direct = batching.length > 0 ? recipients.filter((r) => !r.batching) : recipients;
    if (planned + direct.length > maxJobs) {
      stopped = true;
      return fail(index, undefined);
    }
    planned += direct.length;
    jobs.push({ index, jobs: jobsFor(event, direct, now) });
    for (const entry of batching) buffers.push({ index, entry });
  });

  // 3. Every direct job in one call. If it fails, which went out is unknown: each event with
  // jobs counts as not fanned out, and is not buffered here either (its fan-out is redone whole).
  const direct = jobs.flatMap((j) => j.jobs);
  if (direct.length > 0) {
    try {
      await ports.queue.enqueue(direct);
    } catch (error) {
      for (const j of jobs) if (j.jobs.length > 0) fail(j.index, error);
    }
  }

  // 4. Buffers of the events still standing.
  if (ports.batches && buffers.length > 0) {
    const batchPorts = { queue: ports.queue, clock: ports.clock, batches: ports.batches, config: ports.config ?? { eventRetentionDays: 30 } };
    await forEachLimited(buffers.filter((b) => !outcomes[b.index]), FANOUT_READS_AT_ONCE, async ({ index, entry }) => {
      await bufferForBatching(batchPorts, entry, events[index]!).catch((error: unknown) => fail(index, error));
    });
  }

  const counts = new Map(jobs.map((j) => [j.index, j.jobs.length]));
  const buffered = new Map<number, number>();
  for (const b of buffers) buffered.set(b.index, (buffered.get(b.index) ?? 0) + 1);
  return outcomes.map((outcome, index) => outcome ?? { ok: true, jobs: counts.get(index) ?? 0, buffered: buffered.get(index) ?? 0 });
}
