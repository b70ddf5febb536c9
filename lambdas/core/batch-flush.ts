import { planBatch } from './batching.ts';
import type { DeliveryJob, FlushJob } from './delivery-job.ts';
import type { CloudEvent } from './envelope.ts';
import { batchDeliveryIdFor, deliveryIdFor } from './ids.ts';
import type { BatchStore, DeliveryQueue, SubscriptionIndexEntry, SubscriptionStore } from './ports.ts';

/**
 * The moving parts of batched notifications (the rules are in batching.ts): fan-out buffers an
 * event and makes sure a look at the buffer is scheduled; the look (a `flush` message on the
 * delivery queue, handled by the deliver function) sends the notification that is due, or
 * schedules itself for when one will be. Notifications of a subscription go through its own FIFO
 * message group, so they reach the endpoint one at a time, in order.
 */
export interface BatchPorts {
  batches: BatchStore;
  queue: DeliveryQueue;
  subscriptions: Pick<SubscriptionStore, 'getSubscription'>;
  clock: () => Date;
  config: { eventRetentionDays: number };
}

/** How long one look may hold the buffer. */
const LEASE_MS = 60_000;
/** The most events one look reads (a notification carries at most 1,000). */
const READ_LIMIT = 5000;

export async function bufferForBatching(ports: Omit<BatchPorts, 'subscriptions'>, entry: SubscriptionIndexEntry, event: CloudEvent): Promise<void> {
  const policy = entry.batching!;
  const tenantId = event.tenantid;
  const { pending, checkAt } = await ports.batches.buffer(tenantId, entry.subscriptionId, event, ports.config.eventRetentionDays);
  const now = ports.clock();
  // A batch's worth is waiting: look now (the look still keeps notifications interval apart).
  if (pending > 0 && pending % policy.maxItems === 0) await ports.queue.enqueueFlush(tenantId, entry.subscriptionId, 0);
  // Otherwise a look when the oldest will have waited the interval, unless one is scheduled.
  if (!checkAt || Date.parse(checkAt) < now.getTime()) {
    const at = new Date(now.getTime() + policy.intervalSeconds * 1000).toISOString();
    if (await ports.batches.scheduleCheck(tenantId, entry.subscriptionId, at, now.toISOString())) {
      await ports.queue.enqueueFlush(tenantId, entry.subscriptionId, policy.intervalSeconds);
    }
  }
}

export type FlushOutcome = { kind: 'sent'; deliveryId: string; events: number } | { kind: 'waiting'; until: string } | { kind: 'idle' } | { kind: 'busy' };

export async function flushBatch(ports: BatchPorts, job: FlushJob): Promise<FlushOutcome> {
  const { tenantId, subscriptionId } = job;
  const now = ports.clock();
  const lease = await ports.batches.lease(tenantId, subscriptionId, now, LEASE_MS);
  // Another look holds the buffer; it schedules whatever comes next.
  if (!lease) return { kind: 'busy' };
  try {
    const subscription = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
    const items = subscription ? await ports.batches.read(tenantId, subscriptionId, READ_LIMIT) : [];
    if (!subscription || items.length === 0) {
      await ports.batches.release(tenantId, subscriptionId, { checkAt: null });
      return { kind: 'idle' };
    }
    if (!subscription.batching) {
      // Batching was switched off: what still waits goes out one event per notification.
      const jobs: DeliveryJob[] = items.map(({ event }) => ({
        v: 1,
        deliveryId: deliveryIdFor(tenantId, event.id, subscriptionId, event.time),
        tenantId,
        subscriptionId,
        event,
        attemptOffset: 0,
        createdAt: now.toISOString(),
        firstEnqueue: true,
      }));
      await ports.queue.enqueue(jobs);
      await ports.batches.remove(tenantId, subscriptionId, items.map((i) => i.key));
      await ports.batches.release(tenantId, subscriptionId, { sent: items.length, checkAt: null });
      return { kind: 'sent', deliveryId: jobs[0]!.deliveryId, events: jobs.length };
    }
    const plan = planBatch(items, subscription.batching, lease.lastSentAt ? Date.parse(lease.lastSentAt) : undefined, now.getTime());
    if (plan.kind === 'idle') {
      await ports.batches.release(tenantId, subscriptionId, { checkAt: null });
      return plan;
    }
    if (plan.kind === 'wait') {
      const until = new Date(plan.untilMs).toISOString();
      await ports.batches.release(tenantId, subscriptionId, { checkAt: until });
      await ports.queue.enqueueFlush(tenantId, subscriptionId, (plan.untilMs - now.getTime()) / 1000);
      return { kind: 'waiting', until };
    }
    const events = plan.items.map((i) => i.event);
    const deliveryId = batchDeliveryIdFor(tenantId, subscriptionId, events.map((e) => e.id), events[0]!.time);
    const batchJob: DeliveryJob = {
      v: 1,
      deliveryId,
      tenantId,
      subscriptionId,
      event: events[0]!,
      batch: events,
      attemptOffset: 0,
      createdAt: now.toISOString(),
      firstEnqueue: true,
      orderingGroup: `${subscriptionId}:notifications`,
    };
    // Enqueued before the events leave the buffer: a crash in between sends the same
    // notification again (same delivery id, dropped by FIFO deduplication), never loses one.
    await ports.queue.enqueue([batchJob]);
    await ports.batches.remove(tenantId, subscriptionId, plan.items.map((i) => i.key));
    const next = plan.remaining > 0 ? new Date(now.getTime() + subscription.batching.intervalSeconds * 1000).toISOString() : null;
    await ports.batches.release(tenantId, subscriptionId, { sentAt: now.toISOString(), sent: events.length, checkAt: next });
    if (next) await ports.queue.enqueueFlush(tenantId, subscriptionId, subscription.batching.intervalSeconds);
    return { kind: 'sent', deliveryId, events: events.length };
  } catch (error) {
    await ports.batches.release(tenantId, subscriptionId, {}).catch(() => undefined);
    throw error;
  }
}
