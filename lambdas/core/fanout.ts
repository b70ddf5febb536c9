import type { DeliveryJob } from './delivery-job.ts';
import { versionFromDataSchema, type CloudEvent } from './envelope.ts';
import { matchesEventPattern } from './event-pattern.ts';
import { patternKeysFor } from './event-types.ts';
import { deliveryIdFor, orderingGroupFor } from './ids.ts';
import type { DeliveryQueue, SubscriptionIndexEntry, SubscriptionStore } from './ports.ts';

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
    deliveryId: deliveryIdFor(event.tenantid, event.id, entry.subscriptionId),
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
  ports: { subscriptions: SubscriptionStore; queue: DeliveryQueue; clock: () => Date },
  event: CloudEvent,
): Promise<{ jobs: number }> {
  const candidates = await ports.subscriptions.findSubscriptionsByPatterns(event.tenantid, patternKeysFor(event.type));
  const jobs = jobsFor(event, selectRecipients(event, candidates), ports.clock());
  if (jobs.length > 0) await ports.queue.enqueue(jobs);
  return { jobs: jobs.length };
}
