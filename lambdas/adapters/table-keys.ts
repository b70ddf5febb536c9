import { KEPT_ATTEMPTS } from '#core/delivery';
import { deliveryIdParts } from '#core/ids';
import { TABLE_SCHEMA } from '#shared/herald-config';

/**
 * The table's key layout: the only place key strings and index names are built. Every store
 * imports its keys from here, so the layout below is the whole truth (the README's "Storage
 * layout" section explains sizes, projections, writers and readers). One table for everything
 * (single-table design):
 *
 *   item            pk                        sk                          indexes
 *   tenant          TENANT#<tid>              #TENANT
 *   binding         TENANT#<tid>              #BINDING                    (the AWS accounts and buses it may deliver to)
 *   api key         APIKEY#<sha256>           #APIKEY
 *   key by prefix   TENANT#<tid>              KEY#<prefix>                (for listing and revocation)
 *   subscription    TENANT#<tid>              SUB#<sid>
 *   fan-out entry   SUBIDX#<tid>#<pattern>    SUB#<sid>                   (one per event-type pattern)
 *   index version   TENANT#<tid>              #SUBVERSION                 (grows after each change of the tenant's fan-out entries; `patterns`:
 *                                                                         the patterns they are under, vouched for while `listed` = version)
 *   event           EVT#<tid>#<eid>           #EVT                        gsi2 EVENTS#<tid>#<shard of subject, 16> / <UTC time>#<eid>
 *                                                                         (one index copy; no gsi1 or gsi3 key: 2 WU for an item ≤ 1 KB)
 *   0.1 event       TENANT#<tid>              EVT#<eid>                   (read as a fallback by id; never written)
 *   sweep window    SWEEPWIN#<shard>          <dueAt>#<tid>#*<from>/<to>  (the tenant stored events timed in [from, to): once per container,
 *                                                                         window and due time, not per event; no index; walked with gsi3
 *                                                                         SWEEP#<shard> under one cursor; `shards` the event shards it holds,
 *                                                                         `progress` where a sweep stopped)
 *   recheck         RESWEEP#<tid>#<eid>       #RESWEEP                    gsi3 SWEEP#<shard> / <dueAt>#<tid>#<eid>
 *   sweep cursor    SWEEP                     CURSOR#<shard>
 *   delivery        SUBDLV#<sid>#<shard of did, 16>                       its subscription's log: the record is the log entry (no index copy),
 *                     <UTC time>#<did>                                    listed by merging the 16; the id names sid and time (core/ids.ts),
 *                                                                         so reading it by id is a key read (deliveryKey)
 *                                                                         gsi3 by status (sparse, one at a time, set once per status):
 *                                                                           pending PENDING#<shard> / <did>
 *                                                                           held    HELD#<shard>    / <tid>#<sid>#<heldAt>#<did>
 *                                                                           failed  DEAD#<tid>      / <finishedAt>#<did>
 *                                                                         the latest attempt: a retried one without its excerpt, the last
 *                                                                         (success, or the one that exhausted the policy) whole, its excerpt
 *                                                                         cut to keep the record ≤ 1 KB (1 WU); a redrive moves it to its ring slot
 *   attempt         DLV#<did>                 ATT#<nn>                    (a retried attempt in full, in a ring: nn = attempt number mod KEPT_ATTEMPTS;
 *                                                                         its excerpt cut to keep the item ≤ 1 KB: a failed attempt is 1 WU here,
 *                                                                         1 for the record, + its status list's index writes when it moves)
 *   0.1 delivery    DLV#<did>                 #DLV                        (ids of 26 characters, as 0.1 and earlier builds of this version wrote
 *                                                                         them: read and updated by id, never listed; no longer given gsi4 keys)
 *   stats           STATS#<tid>#<sid>         B#<ten-minute block> | HEALTH
 *   stats delta     STATSDELTA#<tid>#<shard, 16> <minute written>#<unique>  (one deliver invocation's counters for the tenant, deflated JSON;
 *                                                                         folded into the blocks by the sweeper, then left to expire)
 *   stats to fold   STATSDUE                  <dueAt>#<tid>#<minute>      (the tenant has deltas written in that minute: listed once per
 *                                                                         container and minute, deleted when folded)
 *   stats folded    STATS#<tid>               FOLDED                      (`through`: every delta written up to this minute is in the blocks)
 *   quota use       QUOTA#<tid>               <quota>#<window>
 *   batch buffer    BATCH#<tid>#<sid>         ITEM#<time>#<eid> | STATE   STATE while a look is scheduled:
 *                                                                         gsi2 BATCHCHECK#<shard> / <checkAt>#<tid>#<sid>
 *   throttle state  THROTTLE#<tid>#<sid>      STATE
 *   slow mark       THROTTLE#<tid>#<sid>      SLOW                        (its receiver is slow: the slow lane, core/slow-lane.ts)
 *   page token key  CONFIG                    PAGE_TOKEN_KEY#v1           (no route addresses a bare pk: no tenant reads it)
 *   self-test run   SELFTEST#<run>            #RUN | HOOK#<receivedAt>#<webhook id>
 *   order hold      ORDERHOLD#<tid>#<group>   HEAD                        gsi3 ORDERHOLDS#<shard> / <dueAt>#<tid>#<group>
 *                                                                         (an ordered group waiting out of flight: its head's entry, due
 *                                                                         time, attempts made, when it was last sent; ≈ 300 bytes)
 *   held in order   ORDERHOLD#<tid>#<group>   Q#<order key>               (a job of the held group, written once: the head's, then the
 *                                                                         group's later jobs in arrival order; no index)
 *
 * Why this event layout (README "Storage layout" has the whole arithmetic): an event costs its
 * item (1 WU up to 1 KB) plus one full index copy (1 WU), and the sweeper's window writes are
 * per tenant and window, not per event (≈ 0.02 WU an event at 1 event/s, → 0 above). At 5,000
 * events/s from one tenant, every event has its own main-table partition, and gsi2 spreads the
 * tenant over 16 partitions: ≈ 313 WU/s each (≤ 1,000). A window names the event shards it holds
 * (up to two one by one per container, then all 16), so the sweeper reads a rarely publishing
 * tenant's window in one query (0.5 RRU) instead of 16 (8 RRU). Idempotent ids and GET are key reads;
 * resend by time queries the 16 shards and merges them; resend by subject queries its one shard
 * with a filter (it reads ~1/16 of the tenant's events in the range, bounded).
 *
 * Why this delivery layout: a delivery that succeeds at once is one write of one item ≤ 1 KB
 * with no index key (1 WU), where a log entry in an index cost a second unit. Its log entry is
 * the record itself; the id carries the key, so `GET /v1/deliveries/{id}` needs no lookup; failed
 * attempts go to their own partition, so listing the log reads summaries only.
 *
 * Changing a string here changes stored data: existing items would no longer be found.
 */

/** Attribute names of the table's keys and its TTL. */
export const PK = TABLE_SCHEMA.partitionKey;
export const SK = TABLE_SCHEMA.sortKey;
export const TTL = TABLE_SCHEMA.ttlAttribute;

/** The indexes: their names and key attributes. */
export const GSI1 = TABLE_SCHEMA.gsi1;
export const GSI2 = TABLE_SCHEMA.gsi2;
export const GSI3 = TABLE_SCHEMA.gsi3;
export const GSI4 = TABLE_SCHEMA.gsi4;

/** A main-table key. */
export type TableKey = Record<string, string>;

const KEY_FIELDS: readonly string[] = [PK, SK, TTL, GSI1.partitionKey, GSI1.sortKey, GSI2.partitionKey, GSI2.sortKey, GSI3.partitionKey, GSI3.sortKey, GSI4.partitionKey, GSI4.sortKey];

/** An item as the domain sees it: without the table's key and TTL attributes. */
export function withoutKeys<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const copy = { ...item };
  for (const field of KEY_FIELDS) delete copy[field];
  return copy as T;
}

const key = (pk: string, sk: string): TableKey => ({ [PK]: pk, [SK]: sk });

// Shards

/** Time-ordered index partitions (pending and held deliveries, the sweeper's list, batch looks) spread over this many shards each. */
export const SHARDS = 8;

/** FNV-1a of the key, modulo SHARDS: stable across containers and versions. */
export function shardOf(value: string): number {
  return fnv1a(value) % SHARDS;
}

function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

// Tenants, bindings, API keys

export const tenantPartition = (tenantId: string) => `TENANT#${tenantId}`;
export const tenantKey = (tenantId: string) => key(tenantPartition(tenantId), '#TENANT');
export const bindingKey = (tenantId: string) => key(tenantPartition(tenantId), '#BINDING');
export const apiKeyKey = (hash: string) => key(`APIKEY#${hash}`, '#APIKEY');
export const TENANT_API_KEY_PREFIX = 'KEY#';
export const tenantApiKeyKey = (tenantId: string, prefix: string) => key(tenantPartition(tenantId), `${TENANT_API_KEY_PREFIX}${prefix}`);

// Subscriptions and the fan-out index

export const SUBSCRIPTION_PREFIX = 'SUB#';
export const subscriptionKey = (tenantId: string, subscriptionId: string) => key(tenantPartition(tenantId), `${SUBSCRIPTION_PREFIX}${subscriptionId}`);
export const fanoutPartition = (tenantId: string, pattern: string) => `SUBIDX#${tenantId}#${pattern}`;
export const fanoutEntryKey = (tenantId: string, pattern: string, subscriptionId: string) =>
  key(fanoutPartition(tenantId, pattern), `${SUBSCRIPTION_PREFIX}${subscriptionId}`);
/** The tenant's fan-out index version: fan-out reads it per event to know whether its cached entries still hold. */
export const subscriptionIndexVersionKey = (tenantId: string) => key(tenantPartition(tenantId), '#SUBVERSION');

// Events and the sweeper's list

/** An event's own partition: idempotent ids and `GET /v1/events/{id}` are one key read, and no tenant has a hot partition. */
export const eventKey = (tenantId: string, eventId: string) => key(`EVT#${tenantId}#${eventId}`, '#EVT');
/** Where 0.1 kept an event (the tenant's partition): read only as a fallback, never written. */
export const legacyEventKey = (tenantId: string, eventId: string) => key(tenantPartition(tenantId), `EVT#${eventId}`);

/**
 * A tenant's events by time are spread over this many gsi2 partitions, by subject: 5,000 events/s
 * × ≤ 2 WU an index copy = 10,000 WU/s needs ≥ 10 partitions of 1,000 WU/s; 16 leaves 1.6× for
 * an uneven spread of subjects (one subject is one order or shipment, never hundreds a second).
 */
export const EVENT_SHARDS = 16;
export const eventShardOf = (subject: string) => fnv1a(subject) % EVENT_SHARDS;
export const eventsByTimePartition = (tenantId: string, shard: number) => `EVENTS#${tenantId}#${shard}`;
/** Index sort keys hold the event's time in UTC with milliseconds, so string order is time order whatever offset the client wrote. */
export const utcTime = (time: string) => new Date(time).toISOString();
/** An event's one index entry (gsi2, all attributes): its subject's shard of the tenant, by time. */
export const eventIndexKeys = (tenantId: string, eventId: string, subject: string, time: string): TableKey => ({
  [GSI2.partitionKey]: eventsByTimePartition(tenantId, eventShardOf(subject)),
  [GSI2.sortKey]: `${utcTime(time)}#${eventId}`,
});
/** Sort keys of events by time are `<time>#<eid>`: '#' < '~' bounds a whole instant inclusively. */
export const eventTimeRange = (from?: string, to?: string) => ({ lower: from ? utcTime(from) : '', upper: to ? `${utcTime(to)}~` : '~' });

export const sweepPartition = (shard: number) => `SWEEP#${shard}`;
/** An event on the sweeper's list (0.1 listed every event; now only rechecks are): gsi3 SWEEP#<shard> / <dueAt>#<tid>#<eid>. */
export const sweepKeys = (tenantId: string, eventId: string, dueAt: string): TableKey => ({
  [GSI3.partitionKey]: sweepPartition(shardOf(`${tenantId}#${eventId}`)),
  [GSI3.sortKey]: `${dueAt}#${tenantId}#${eventId}`,
});
/** Reads a sweep list key back (an event id may itself hold '#'). */
export function parseSweepSortKey(sortKey: string): { dueAt: string; tenantId: string; eventId: string } {
  const [dueAt, tenantId, ...rest] = sortKey.split('#') as [string, string, ...string[]];
  return { dueAt, tenantId, eventId: rest.join('#') };
}
const RECHECK_PREFIX = 'RESWEEP#';
export const recheckKey = (tenantId: string, eventId: string) => key(`${RECHECK_PREFIX}${tenantId}#${eventId}`, '#RESWEEP');
export const isRecheckPartition = (pk: unknown) => String(pk).startsWith(RECHECK_PREFIX);

/**
 * A sweep window: "the tenant stored events whose time is in [from, to), check them all at
 * dueAt". Written by the API once per tenant, window and due time per container (not per event),
 * straight into a list partition of the main table (no index entry: 1 WU), which the sweeper
 * walks beside the rechecks of gsi3 SWEEP#<shard>, one cursor for both: the sort keys have the
 * same shape, and the window's `*` (never in an event id) keeps it apart from an event's. The
 * sweeper reads the window's events from gsi2, in the shards of the tenant the window lists
 * (SWEEP_WINDOW_SHARDS), or all of them for a window that lists none.
 */
export const sweepWindowPartition = (shard: number) => `SWEEPWIN#${shard}`;
export const sweepWindowKey = (tenantId: string, from: string, to: string, dueAt: string) =>
  key(sweepWindowPartition(shardOf(`${tenantId}#${from}`)), `${dueAt}#${tenantId}#*${from}/${to}`);
/**
 * The attribute of a window item naming the event shards (0–15) it holds events in: a number
 * set the API adds each shard to before storing the first event of that shard in the window
 * (per container), so the sweeper queries only those shards of gsi2. A window without it (0.1's
 * or written before the attribute existed) is read in all EVENT_SHARDS shards.
 */
export const SWEEP_WINDOW_SHARDS = 'shards';
/** When a window item expires: 14 days after it is due, long after any sweep of it. */
export const sweepWindowExpiresAt = (dueAt: string) => Math.floor(Date.parse(dueAt) / 1000) + 14 * 86_400;
/**
 * A window that lists its shards expires one second later than sweepWindowExpiresAt: the mark
 * that every write to it listed its shard. A container of the version before (during a deploy)
 * writes the unmarked expiry without a shard, so the list is trusted only while the mark holds,
 * and the API adds to a window only while it does (else the window reads all 16 shards).
 */
export const sweepWindowListedExpiresAt = (dueAt: string) => sweepWindowExpiresAt(dueAt) + 1;
/** The shards a window item (due at `dueAt`) lists, in order; undefined when it lists none it can vouch for: read every shard. */
export function sweepWindowShards(item: Record<string, unknown>, dueAt: string): number[] | undefined {
  const listed = item[SWEEP_WINDOW_SHARDS];
  if (Number(item[TTL]) !== sweepWindowListedExpiresAt(dueAt)) return undefined;
  if (!(listed instanceof Set) && !Array.isArray(listed)) return undefined;
  const shards = [...(listed as Iterable<unknown>)].map(Number).filter((shard) => Number.isInteger(shard) && shard >= 0 && shard < EVENT_SHARDS);
  return shards.length > 0 ? [...new Set(shards)].sort((a, b) => a - b) : undefined;
}
/** The window a window entry's sort key names (its "event id" part is `*<from>/<to>`). */
export function parseWindowEventId(eventId: string): { from: string; to: string } {
  const [from, to] = eventId.slice(1).split('/') as [string, string];
  return { from, to };
}
export const sweepCursorKey = (shard: number) => key('SWEEP', `CURSOR#${shard}`);

// Deliveries

const DELIVERY_PREFIX = 'DLV#';
/** A delivery's own partition: its attempt ring, and the whole record of a delivery 0.1 made. */
export const deliveryPartition = (deliveryId: string) => `${DELIVERY_PREFIX}${deliveryId}`;
/** The sort key of a 0.1 delivery's summary record (in its own partition). */
export const LEGACY_DELIVERY_SORT_KEY = '#DLV';
/**
 * A subscription's delivery log is spread over this many partitions of the table, by delivery id:
 * 5,000 deliveries/s × up to 2 writes each (created, then a final status) = 10,000 WU/s needs
 * ≥ 10 partitions of 1,000 WU/s; 16 leaves room (≈ 313–625 WU/s each). Listing merges the 16.
 */
export const DELIVERY_LOG_SHARDS = 16;
export const deliveryLogShardOf = (deliveryId: string) => fnv1a(deliveryId) % DELIVERY_LOG_SHARDS;
export const deliveryLogPartition = (subscriptionId: string, shard: number) => `SUBDLV#${subscriptionId}#${shard}`;
/**
 * Where a delivery's summary record is (status, counters, the latest attempt: without its excerpt
 * while it is retried, whole once it is the last): the one place the layout is picked from the id's shape. A delivery id
 * names its subscription and time (core/ids.ts), so the record is its entry in the log —
 * `SUBDLV#<sid>#<shard>` / `<UTC time>#<did>` — and needs no index entry; any other id (0.1's 26
 * characters) is read where 0.1 wrote it, `DLV#<did>` / `#DLV`.
 */
export function deliveryKey(deliveryId: string): TableKey {
  const parts = deliveryIdParts(deliveryId);
  if (!parts) return key(deliveryPartition(deliveryId), LEGACY_DELIVERY_SORT_KEY);
  return key(deliveryLogPartition(parts.subscriptionId, deliveryLogShardOf(deliveryId)), `${new Date(parts.timeMs).toISOString()}#${deliveryId}`);
}
/** Whether the id's record is in its subscription's log (any but 0.1's), not in a partition of its own. */
export const isLoggedDeliveryId = (deliveryId: string) => deliveryIdParts(deliveryId) !== undefined;
export const ATTEMPT_PREFIX = 'ATT#';
/**
 * One retried attempt in full (with its response excerpt, cut to keep the item ≤ 1 KB), in a ring of KEPT_ATTEMPTS slots in the
 * delivery's own partition (never in the log, which listing reads whole): attempt n overwrites
 * attempt n − KEPT_ATTEMPTS, so a delivery never holds more than the ring.
 */
export const attemptKey = (deliveryId: string, number: number) =>
  key(deliveryPartition(deliveryId), `${ATTEMPT_PREFIX}${String(number % KEPT_ATTEMPTS).padStart(2, '0')}`);
export const pendingPartition = (shard: number) => `PENDING#${shard}`;
/**
 * A pending delivery on the sweeper's watch (gsi3). The key never changes while the delivery is
 * pending (writing it again is no index write): the sweeper reads `nextAttemptAt` from the record.
 */
export const pendingKey = (deliveryId: string) => ({
  pk: pendingPartition(shardOf(deliveryId)),
  sk: deliveryId,
});
/** Where the sweeper's walk over a pending shard stands. */
export const pendingCursorKey = (shard: number) => key('SWEEP', `PENDINGCURSOR#${shard}`);
export const heldShardPartition = (shard: number) => `HELD#${shard}`;
export const heldPartition = (tenantId: string, subscriptionId: string) => heldShardPartition(shardOf(`${tenantId}#${subscriptionId}`));
/** All of one subscription's holds within its held partition start with this. */
export const heldPrefix = (tenantId: string, subscriptionId: string) => `${tenantId}#${subscriptionId}#`;
/** A held delivery (gsi3), grouped by subscription, oldest hold first. */
export const heldKey = (tenantId: string, subscriptionId: string, heldAt: string, deliveryId: string) => ({
  pk: heldPartition(tenantId, subscriptionId),
  sk: `${heldPrefix(tenantId, subscriptionId)}${heldAt}#${deliveryId}`,
});
export function parseHeldSortKey(sortKey: string): { tenantId: string; subscriptionId: string } {
  const [tenantId, subscriptionId] = sortKey.split('#') as [string, string];
  return { tenantId, subscriptionId };
}
export const deadLetterPartition = (tenantId: string) => `DEAD#${tenantId}`;
/** A failed delivery among its tenant's dead letters (gsi3), by when it failed. */
export const deadLetterKey = (tenantId: string, finishedAt: string, deliveryId: string) => ({
  pk: deadLetterPartition(tenantId),
  sk: `${finishedAt}#${deliveryId}`,
});

// Statistics and quotas

export const statsPartition = (tenantId: string, subscriptionId: string) => `STATS#${tenantId}#${subscriptionId}`;
export const statsBlockSortKey = (block: string) => `B#${block}`;
/** Every block from `block` on ('~' sorts after any block). */
export const statsBlocksFrom = (block: string) => ({ from: statsBlockSortKey(block), to: statsBlockSortKey('~') });
export const blockOfSortKey = (sortKey: unknown) => String(sortKey).slice('B#'.length);
export const STATS_HEALTH_SORT_KEY = 'HEALTH';
/**
 * A tenant's deltas spread over this many partitions (a random one each): one tenant at 5,000
 * events/s to 10 subscriptions is 50,000 deliveries/s; without a batching window (batches of at
 * most 10) that is 5,000 deltas/s of about 1 KB, ≈ 313 WU/s a partition (limit 1,000; 4 shards
 * would take 1,250). The fold and the statistics read query all 16 (0.5 RRU each when small).
 */
export const STATS_DELTA_SHARDS = 16;
export const statsDeltaPartition = (tenantId: string, shard: number) => `STATSDELTA#${tenantId}#${shard}`;
export const statsDeltaKey = (tenantId: string, shard: number, writtenIn: string, unique: string) => key(statsDeltaPartition(tenantId, shard), `${writtenIn}#${unique}`);
/** The minute a delta's sort key says it was written in. */
export const writtenInOfSortKey = (sortKey: unknown) => String(sortKey).slice(0, 16);
/** Every delta written in `minute`, or after `minute` ('' for all): sort key bounds. */
export const statsDeltasIn = (minute: string) => ({ from: `${minute}#`, to: `${minute}#~` });
export const statsDeltasAfter = (minute: string) => ({ from: minute ? `${minute}#~` : '0', to: '~' });
export const STATS_DUE_PARTITION = 'STATSDUE';
export const statsDueKey = (dueAt: string, tenantId: string, writtenIn: string) => key(STATS_DUE_PARTITION, `${dueAt}#${tenantId}#${writtenIn}`);
/** A due entry's sort key read back: `<dueAt>#<tid>#<minute>` (minute keys hold no '#'). */
export function parseStatsDueSortKey(sortKey: unknown): { tenantId: string; writtenIn: string } {
  const text = String(sortKey);
  const last = text.lastIndexOf('#');
  return { tenantId: text.slice(text.indexOf('#') + 1, last), writtenIn: text.slice(last + 1) };
}
export const statsFoldedKey = (tenantId: string) => key(`STATS#${tenantId}`, 'FOLDED');
export const quotaKey = (tenantId: string, quota: string, window: string) => key(`QUOTA#${tenantId}`, `${quota}#${window}`);

// Batching buffers

export const batchPartition = (tenantId: string, subscriptionId: string) => `BATCH#${tenantId}#${subscriptionId}`;
export const BATCH_ITEM_PREFIX = 'ITEM#';
export const batchItemKey = (tenantId: string, subscriptionId: string, time: string, eventId: string) =>
  key(batchPartition(tenantId, subscriptionId), `${BATCH_ITEM_PREFIX}${time}#${eventId}`);
export const batchStateKey = (tenantId: string, subscriptionId: string) => key(batchPartition(tenantId, subscriptionId), 'STATE');
export const batchCheckPartition = (shard: number) => `BATCHCHECK#${shard}`;
/** A scheduled look at a buffer (gsi2 on its STATE item), by when it is due. */
export const batchCheckKey = (tenantId: string, subscriptionId: string, checkAt: string) => ({
  pk: batchCheckPartition(shardOf(`${tenantId}#${subscriptionId}`)),
  sk: `${checkAt}#${tenantId}#${subscriptionId}`,
});
export function parseBatchCheckSortKey(sortKey: string): { checkAt: string; tenantId: string; subscriptionId: string } {
  const [checkAt, tenantId, subscriptionId] = sortKey.split('#') as [string, string, string];
  return { checkAt, tenantId, subscriptionId };
}

// Ordered groups held out of flight (core/order-hold.ts)

/**
 * A subject group (FIFO message group) whose head waits longer than SQS should hold it in flight:
 * HEAD names the head's entry and when it is due; the group's jobs are entries `Q#<order key>`,
 * in the order they arrived (the FIFO queue's sequence number, padded). HEAD is small and is the
 * only item rewritten per attempt (1 WU, plus its gsi3 key moving with the due time: 2 WU in
 * the KEYS_ONLY index); a job (up to 256 KB with its event) is written once.
 */
export const orderHoldPartition = (tenantId: string, group: string) => `ORDERHOLD#${tenantId}#${group}`;
export const orderHoldHeadKey = (tenantId: string, group: string) => key(orderHoldPartition(tenantId, group), 'HEAD');
export const ORDER_HOLD_ENTRY_PREFIX = 'Q#';
export const orderHoldEntryKey = (tenantId: string, group: string, orderKey: string) => key(orderHoldPartition(tenantId, group), `${ORDER_HOLD_ENTRY_PREFIX}${orderKey}`);
export const orderKeyOfEntry = (sortKey: unknown) => String(sortKey).slice(ORDER_HOLD_ENTRY_PREFIX.length);
export const orderHoldsPartition = (shard: number) => `ORDERHOLDS#${shard}`;
/** A hold on the sweeper's list of due heads (gsi3, KEYS_ONLY): it moves with the head's due time. */
export const orderHoldDueKey = (tenantId: string, group: string, dueAt: string) => ({
  pk: orderHoldsPartition(shardOf(`${tenantId}#${group}`)),
  sk: `${dueAt}#${tenantId}#${group}`,
});
/**
 * A message's place in its group's arrival order: the FIFO sequence number (up to 128 bits, 39
 * digits) padded, so string order is arrival order. Without one (a queue that gives none), the
 * receive time and message id: still in order for one consumer, never mixed with the former.
 */
export const arrivalOrderKey = (arrival: { sequenceNumber?: string; messageId: string; at: number }) =>
  arrival.sequenceNumber ? `S${arrival.sequenceNumber.padStart(40, '0')}` : `T${String(arrival.at).padStart(15, '0')}#${arrival.messageId}`;

// Throttling, page tokens, self-test

export const throttleKey = (tenantId: string, subscriptionId: string) => key(`THROTTLE#${tenantId}#${subscriptionId}`, 'STATE');
/** Beside the throttle state: how a subscription's deliveries are paced, one partition. */
export const slowMarkKey = (tenantId: string, subscriptionId: string) => key(`THROTTLE#${tenantId}#${subscriptionId}`, 'SLOW');

/** The item holding the key that seals pagination tokens (lambdas/adapters/page-tokens.ts). */
export const PAGE_TOKEN_KEY_ITEM: TableKey = key('CONFIG', 'PAGE_TOKEN_KEY#v1');

export const selfTestPartition = (runId: string) => `SELFTEST#${runId}`;
export const selfTestRunKey = (runId: string) => key(selfTestPartition(runId), '#RUN');
export const SELF_TEST_HOOK_PREFIX = 'HOOK#';
export const selfTestHookKey = (runId: string, receivedAt: string, webhookId: string) =>
  key(selfTestPartition(runId), `${SELF_TEST_HOOK_PREFIX}${receivedAt}#${webhookId}`);
