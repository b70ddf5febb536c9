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

export async function fanOut(
  ports: { subscriptions: Pick<SubscriptionIndex, 'findSubscriptionsByPatterns'>; queue: DeliveryQueue; clock: () => Date; batches?: BatchStore; config?: { eventRetentionDays: number } },
  event: CloudEvent,
): Promise<{ jobs: number; buffered: number }> {
  const candidates = await ports.subscriptions.findSubscriptionsByPatterns(event.tenantid, patternKeysFor(event.type));
  const recipients = selectRecipients(event, candidates);
  // Batching subscriptions collect the event in their buffer instead (core/batch-flush.ts).
  const batching = ports.batches ? recipients.filter((r) => r.batching) : [];
  const direct = batching.length > 0 ? recipients.filter((r) => !r.batching) : recipients;
  const jobs = jobsFor(event, direct, ports.clock());
  if (jobs.length > 0) await ports.queue.enqueue(jobs);
  const batchPorts = { ...ports, batches: ports.batches!, config: ports.config ?? { eventRetentionDays: 30 } };
  await Promise.all(batching.map((entry) => bufferForBatching(batchPorts, entry, event)));
  return { jobs: jobs.length, buffered: batching.length };
}
