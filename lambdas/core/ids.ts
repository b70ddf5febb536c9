import { createHash } from 'node:crypto';
import { ulid } from 'ulid';

/** Sortable, prefixed identifiers (`sub_01J…`): the prefix tells a reader what the id names. */
export type IdPrefix = 'ten' | 'sub' | 'evt' | 'dlv' | 'key';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/**
 * The first delivery of an event to a subscription gets an id derived from both, so a fan-out
 * that runs twice for one event (EventBridge delivers at least once) produces the same
 * delivery and the same `webhook-id`, which receivers deduplicate on.
 */
/** The FIFO message group of one subscription and subject (≤ 128 characters, whatever the subject). */
export function orderingGroupFor(subscriptionId: string, subject: string): string {
  return `${subscriptionId}:${createHash('sha256').update(subject).digest('base64url').slice(0, 32)}`;
}

export function deliveryIdFor(tenantId: string, eventId: string, subscriptionId: string): string {
  const digest = createHash('sha256').update(`${tenantId}\n${eventId}\n${subscriptionId}`).digest('base64url');
  return `dlv_${digest.slice(0, 26)}`;
}
