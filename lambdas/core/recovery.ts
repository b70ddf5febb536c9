import { attemptCountOf, type Delivery } from './delivery.ts';
import * as z from 'zod';
import { unscheduled, type DeliveryJob } from './delivery-job.ts';
import type { CloudEvent } from './envelope.ts';
import { DomainError, NotFoundError } from './errors.ts';
import { matchesEventPattern } from './event-pattern.ts';
import { typeMatchesPattern } from './event-types.ts';
import { deliveryIdField, subscriptionIdField, tenantIdField } from './id-schemas.ts';
import { newDeliveryId, orderingGroupFor } from './ids.ts';
import type { DeliveryQueue, DeliveryStore, EventStore, QuotaCounter, SubscriptionStore } from './ports.ts';
import { consumeResends, type TenantQuotas } from './quotas.ts';
import { getDelivery, getSubscription } from './subscription-service.ts';
import type { Subscription } from './subscription.ts';
import type { Principal } from './api-keys.ts';
import { stripStorage } from './publishing.ts';
import { rebuildJob } from './sweeper.ts';

/**
 * Getting events to a subscriber again: resend one delivery, resend kept events by entity or
 * time range (the providers' "partial resend by tracking number"), and redrive dead letters.
 * A resend is a new delivery with a new id; a redrive continues the same delivery.
 */
export interface RecoveryPorts {
  quotas: QuotaCounter;
  config: { tenantQuotas: TenantQuotas };
  subscriptions: SubscriptionStore;
  deliveries: DeliveryStore;
  events: EventStore;
  queue: DeliveryQueue;
  clock: () => Date;
}

/** The most events one resend request re-sends; narrower ranges get the rest. */
export const MAX_RESEND_EVENTS = 10_000;

export const resendQuerySchema = z
  .object({
    subject: z.string().min(1).max(256).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    tenantId: tenantIdField.optional(),
  })
  .strict()
  .refine((q) => q.subject !== undefined || q.from !== undefined || q.to !== undefined, {
    path: ['subject'],
    message: 'name a subject, a time range (from/to), or both',
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { path: ['to'], message: 'must not be before from' });

export const redriveSchema = z
  .object({ subscriptionId: subscriptionIdField.optional(), deliveryId: deliveryIdField.optional(), tenantId: tenantIdField.optional() })
  .strict();

export type RedriveScope = { subscriptionId?: string; deliveryId?: string };

function freshJob(event: CloudEvent, subscription: Subscription, now: Date): DeliveryJob {
  return {
    v: 1,
    deliveryId: newDeliveryId(subscription.id, now),
    tenantId: subscription.tenantId,
    subscriptionId: subscription.id,
    event,
    attemptOffset: 0,
    createdAt: now.toISOString(),
    // The tenant asked for it: a resend goes out even to a paused subscription.
    ignorePause: true,
    ...(subscription.ordering === 'subject' ? { orderingGroup: orderingGroupFor(subscription.id, event.subject) } : {}),
  };
}

export async function resendDelivery(ports: RecoveryPorts, principal: Principal, tenantId: string, deliveryId: string): Promise<{ deliveryId: string }> {
  const delivery = await getDelivery(ports, principal, tenantId, deliveryId);
  const subscription = await getSubscription(ports, tenantId, delivery.subscriptionId);
  const ids = delivery.eventIds ?? [delivery.eventId];
  const events: CloudEvent[] = [];
  for (const id of ids) {
    const event = await ports.events.getEvent(tenantId, id);
    if (!event) throw new NotFoundError('event (past its retention period)', id);
    events.push(stripStorage(event));
  }
  await consumeResends(ports, tenantId, events.length);
  // A batched notification is resent whole, as a new notification with a new id.
  const job = { ...freshJob(events[0]!, subscription, ports.clock()), ...(delivery.eventIds ? { batch: events } : {}) };
  await ports.queue.enqueue([job]);
  return { deliveryId: job.deliveryId };
}

export function subscriptionSelects(subscription: Subscription, event: CloudEvent): boolean {
  return (
    subscription.eventTypes.some((pattern) => typeMatchesPattern(event.type, pattern)) &&
    (!subscription.filter || matchesEventPattern(subscription.filter, event))
  );
}

export async function resendEvents(
  ports: RecoveryPorts,
  tenantId: string,
  subscriptionId: string,
  query: { subject?: string; from?: string; to?: string },
): Promise<{ count: number }> {
  const subscription = await getSubscription(ports, tenantId, subscriptionId);
  const events = await ports.events.findEvents(tenantId, { ...query, limit: MAX_RESEND_EVENTS });
  const now = ports.clock();
  const jobs = events.filter((e) => subscriptionSelects(subscription, e)).map((e) => freshJob(stripStorage(e), subscription, now));
  await consumeResends(ports, tenantId, jobs.length);
  if (jobs.length > 0) await ports.queue.enqueue(jobs);
  return { count: jobs.length };
}

/**
 * Sends a tenant's dead letters back to delivery: all of them, one subscription's, or one (by
 * delivery id: a 404 unless it is this tenant's and dead-lettered). It works from the tenant's own
 * records (the `DEAD#<tid>` list), never from the shared SQS dead-letter queue, so no tenant's
 * redrive receives, and for a while hides, another tenant's letters. The retry policy starts
 * afresh; the attempt log keeps counting from where it stopped.
 *
 * Each letter is claimed before it is sent (failed → pending, a conditional update): of two
 * redrives at once only one sends it. A claimed letter whose enqueue then fails is pending, due
 * now, and the sweeper sends it; it is never lost, and never sent twice by redrives.
 */
export async function redriveDeadLetters(ports: RecoveryPorts, tenantId: string, scope: RedriveScope = {}): Promise<RedriveResult> {
  const { deliveryId, subscriptionId } = scope;
  if (subscriptionId) await getSubscription(ports, tenantId, subscriptionId);
  if (deliveryId) {
    const delivery = await ports.deliveries.getDelivery(deliveryId);
    if (!delivery || delivery.tenantId !== tenantId || delivery.status !== 'failed' || (subscriptionId && delivery.subscriptionId !== subscriptionId)) {
      throw new NotFoundError('dead letter', deliveryId);
    }
    const { count, expired } = await redriveLetters(ports, [delivery]);
    if (expired.length > 0) throw new DomainError(410, 'Gone', `dead letter '${deliveryId}' cannot be redriven: ${EVENT_EXPIRED_REASON}`);
    return { count };
  }
  let count = 0;
  let unsent = 0;
  const named: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ports.deliveries.listDeadLetters(tenantId, { limit: 100, ...(subscriptionId ? { subscriptionId } : {}), ...(nextToken ? { nextToken } : {}) });
    nextToken = page.nextToken;
    const done = await redriveLetters(ports, page.items.filter((d) => d.tenantId === tenantId && d.status === 'failed'));
    count += done.count;
    unsent += done.expired.length;
    named.push(...done.expired.slice(0, MAX_NAMED_UNREDRIVEN - named.length));
  } while (nextToken);
  return { count, ...(unsent > 0 ? { notRedriven: { count: unsent, reason: EVENT_EXPIRED_REASON, deliveryIds: named } } : {}) };
}

/** At most this many ids of letters left unredriven are named in one answer (their count is whole). */
export const MAX_NAMED_UNREDRIVEN = 100;

/**
 * What a redrive did: `count` letters sent, and those it could not send because their event is
 * past the event retention period (a dead letter is kept the delivery retention from its last
 * attempt, so it may outlive its event): they stay dead letters, named here (at most
 * MAX_NAMED_UNREDRIVEN ids), never dropped silently.
 */
export interface RedriveResult {
  count: number;
  notRedriven?: { count: number; reason: string; deliveryIds: string[] };
}

/** Why a letter whose event is gone cannot be redriven. */
export const EVENT_EXPIRED_REASON = 'its event is past the event retention period: nothing left to send (a resend cannot send it either)';

async function redriveLetters(ports: RecoveryPorts, letters: Delivery[]): Promise<{ count: number; expired: string[] }> {
  const now = ports.clock().toISOString();
  const expired: string[] = [];
  // A page's letters side by side: a tenant's hundreds of letters stay well inside the API's 29 s.
  const claimed = await Promise.all(
    letters.map(async (delivery): Promise<DeliveryJob | undefined> => {
      const job = await jobOfLetter(ports, delivery);
      if (!job) {
        expired.push(delivery.id);
        return undefined;
      }
      const attempts = attemptCountOf(delivery);
      if (!(await ports.deliveries.markRedriven(delivery.id, now, attempts))) return undefined;
      return { ...unscheduled(job), attemptOffset: attempts, retryFrom: attempts, firstAttemptAt: now };
    }),
  );
  const jobs = claimed.filter((job) => job !== undefined);
  if (jobs.length > 0) await ports.queue.enqueue(jobs);
  return { count: jobs.length, expired };
}

/**
 * The letter's job, rebuilt from its record (which keeps what the job carried beside its events:
 * ordering group, resend's `ignorePause`, batch event ids) and its kept events; undefined when
 * an event is past retention. Not kept whole on the record: the job carries the event, which
 * would take the record past 1 KB and the exhausting attempt past its write unit.
 */
async function jobOfLetter(ports: RecoveryPorts, delivery: Delivery): Promise<DeliveryJob | undefined> {
  const events: CloudEvent[] = [];
  for (const id of delivery.eventIds ?? [delivery.eventId]) {
    const event = await ports.events.getEvent(delivery.tenantId, id);
    if (!event) return undefined;
    events.push(stripStorage(event));
  }
  return { ...rebuildJob(delivery, events[0]!), ...(delivery.eventIds ? { batch: events } : {}) };
}
