import { createHash, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';

/**
 * Sortable, prefixed identifiers (`sub_01J…`): the prefix tells a reader what the id names.
 * Delivery ids are made otherwise: they name their record's key (deliveryIdAt).
 */
export type IdPrefix = 'ten' | 'sub' | 'evt' | 'key';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/**
 * The shapes ids have, checked at the API's edge so a malformed one is a 400 or 404 there, never
 * a key the store was not built for. ULIDs are 26 Crockford base-32 characters; key ids are the
 * 8-character key prefix. Delivery ids (deliveryIdAt below) are 56 characters, or 26 base64url
 * characters for one 0.1 made (a digest, or a ULID), still found by id.
 */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const DELIVERY_TIME_CHARS = 10;
const DELIVERY_DIGEST_CHARS = 16;
export const ID_FORMATS = {
  tenant: new RegExp(`^ten_${ULID}$`),
  subscription: new RegExp(`^sub_${ULID}$`),
  delivery: new RegExp(`^dlv_(?:[0-7][0-9A-HJKMNP-TV-Z]{${DELIVERY_TIME_CHARS - 1}}[A-Za-z0-9_-]{${DELIVERY_DIGEST_CHARS}}sub_${ULID}|[A-Za-z0-9_-]{26})$`),
  apiKey: /^[A-Za-z0-9]{8}$/,
} as const;

/** The FIFO message group of one subscription and subject (≤ 128 characters, whatever the subject). */
export function orderingGroupFor(subscriptionId: string, subject: string): string {
  return `${subscriptionId}:${createHash('sha256').update(subject).digest('base64url').slice(0, 32)}`;
}

/**
 * A delivery id names where its record is stored (the store reads it by key, with no lookup):
 * `dlv_` + its time (10 Crockford characters of milliseconds, as a ULID's, so ids sort by time)
 * + a digest (16 base64url characters: 96 bits tell apart deliveries of one subscription at one
 * millisecond) + its subscription's id (`sub_` and a ULID). Opaque to clients: they only see
 * that it is the same on every retry (`webhook-id`).
 */
export interface DeliveryIdParts {
  subscriptionId: string;
  /** Milliseconds since 1970, within what an ISO time writes in 24 characters. */
  timeMs: number;
  digest: string;
}

/** Times before 1970 or after 9999 (a client may publish either) are held at those ends: ids and log keys stay fixed-width. */
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');
const URL_SAFE = /^[A-Za-z0-9_-]+$/;
const DELIVERY_PARTS = new RegExp(`^dlv_([0-7][${CROCKFORD}]{${DELIVERY_TIME_CHARS - 1}})([A-Za-z0-9_-]{${DELIVERY_DIGEST_CHARS}})([A-Za-z0-9_-]+)$`);

export function deliveryIdAt(subscriptionId: string, time: string | Date, digest: string): string {
  if (!URL_SAFE.test(subscriptionId)) throw new Error(`a delivery id needs a subscription id of URL-safe characters, not ${JSON.stringify(subscriptionId)}`);
  const ms = typeof time === 'string' ? Date.parse(time) : time.getTime();
  const held = Number.isNaN(ms) ? 0 : Math.min(Math.max(ms, 0), LATEST_MS);
  let encoded = '';
  for (let rest = held, i = 0; i < DELIVERY_TIME_CHARS; i++, rest = Math.floor(rest / 32)) encoded = CROCKFORD[rest % 32]! + encoded;
  return `dlv_${encoded}${digest.slice(0, DELIVERY_DIGEST_CHARS).padEnd(DELIVERY_DIGEST_CHARS, '0')}${subscriptionId}`;
}

/** What a delivery id names, or undefined for an id 0.1 made (26 characters) or any other string. */
export function deliveryIdParts(id: string): DeliveryIdParts | undefined {
  const match = DELIVERY_PARTS.exec(id);
  if (!match) return undefined;
  let timeMs = 0;
  for (const char of match[1]!) timeMs = timeMs * 32 + CROCKFORD.indexOf(char);
  if (timeMs > LATEST_MS) return undefined;
  return { timeMs, digest: match[2]!, subscriptionId: match[3]! };
}

const digestOf = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * The first delivery of an event to a subscription gets an id derived from both, at the event's
 * own time, so a fan-out that runs twice for one event (EventBridge delivers at least once), or
 * the sweeper's check of it, produces the same delivery and the same `webhook-id`, which
 * receivers deduplicate on.
 */
export function deliveryIdFor(tenantId: string, eventId: string, subscriptionId: string, eventTime: string): string {
  return deliveryIdAt(subscriptionId, eventTime, digestOf(`${tenantId}\n${eventId}\n${subscriptionId}`));
}

/** The id 0.1 gave the same delivery (26 characters): the sweeper still finds deliveries 0.1 fanned out by it. */
export function legacyDeliveryIdFor(tenantId: string, eventId: string, subscriptionId: string): string {
  return `dlv_${digestOf(`${tenantId}\n${eventId}\n${subscriptionId}`).slice(0, 26)}`;
}

/** A batched notification's id: the same events make the same id (a repeated flush is the same delivery), at its first event's time. */
export function batchDeliveryIdFor(tenantId: string, subscriptionId: string, eventIds: readonly string[], firstEventTime: string): string {
  return deliveryIdAt(subscriptionId, firstEventTime, digestOf(`${tenantId}\n${subscriptionId}\n${eventIds.join('\n')}`));
}

/** A delivery made now and never again (a resend, a test ping): a random digest. */
export function newDeliveryId(subscriptionId: string, now: Date): string {
  return deliveryIdAt(subscriptionId, now, randomBytes(12).toString('base64url'));
}
