import { createHash } from 'node:crypto';
import { ulid } from 'ulid';

/** Sortable, prefixed identifiers (`sub_01J…`): the prefix tells a reader what the id names. */
export type IdPrefix = 'ten' | 'sub' | 'evt' | 'dlv' | 'key';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/**
 * The shapes ids have, checked at the API's edge so a malformed one is a 400 or 404 there, never
 * a key the store was not built for. ULIDs are 26 Crockford base-32 characters; delivery ids are
 * 26 base64url characters (a digest, or a ULID); key ids are the 8-character key prefix.
 */
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
export const ID_FORMATS = {
  tenant: new RegExp(`^ten_${ULID}$`),
  subscription: new RegExp(`^sub_${ULID}$`),
  delivery: /^dlv_[A-Za-z0-9_-]{26}$/,
  apiKey: /^[A-Za-z0-9]{8}$/,
} as const;

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
