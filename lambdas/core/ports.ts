import type { DestinationBinding } from './destination-trust.ts';
import type { Principal, Role } from './api-keys.ts';
import type { Attempt, Delivery, DeliveryStatus } from './delivery.ts';
import type { CloudEvent } from './envelope.ts';
import type { DeliveryJob } from './delivery-job.ts';
import type { OAuth2Auth, Subscription } from './subscription.ts';
import type { AttemptResult } from './delivery.ts';
import type { Counters, HealthState, StatsIncrement } from './stats.ts';
import type { BufferedEvent } from './batching.ts';
import type { TransformResult } from './transform.ts';
import type { Arrival, HeldJob, OrderHold } from './order-hold.ts';

/**
 * The ports the domain needs from the outside world. Adapters in lambdas/adapters implement
 * them against AWS; unit tests implement them in memory.
 */
export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  hash: string;
  prefix: string;
  role: Role;
  tenantId?: string;
  createdAt: string;
  revokedAt?: string;
  /** Portal sessions (core/portal-sessions.ts): stored beside keys, ending at sessionEndsAt. */
  portal?: boolean;
  readOnly?: boolean;
  sessionEndsAt?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface PageRequest {
  limit: number;
  nextToken?: string;
}

export interface TenantStore {
  putTenant(tenant: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
}

/** Where each tenant may deliver on AWS (core/destination-trust.ts). */
export interface DestinationBindingStore {
  getDestinationBinding(tenantId: string): Promise<DestinationBinding | undefined>;
  putDestinationBinding(binding: DestinationBinding): Promise<void>;
  /** False when the tenant had none. */
  deleteDestinationBinding(tenantId: string): Promise<boolean>;
}

export interface ApiKeyStore {
  putApiKey(record: ApiKeyRecord): Promise<void>;
  /** A portal session: found by its hash like a key, never listed with the tenant's keys. */
  putPortalSession(record: ApiKeyRecord & { portal: true; sessionEndsAt: string }): Promise<void>;
  getApiKey(hash: string): Promise<ApiKeyRecord | undefined>;
  /** A tenant's keys by their non-secret prefixes; hashes are not returned. */
  listApiKeys(tenantId: string): Promise<Omit<ApiKeyRecord, 'hash'>[]>;
  /** Returns false when the tenant has no key with this prefix. */
  revokeApiKey(tenantId: string, prefix: string, at: string): Promise<boolean>;
}

/** One entry of the fan-out index: what fan-out needs to decide without reading the subscription. */
export interface SubscriptionIndexEntry {
  subscriptionId: string;
  status: Subscription['status'];
  filter?: Subscription['filter'];
  versions?: Subscription['versions'];
  /** When the subscription was created: the sweeper plans no deliveries of older events for it. */
  createdAt?: string;
  ordering?: Subscription['ordering'];
  batching?: Subscription['batching'];
}

/** The fan-out index as fan-out reads it (core/caching.ts keeps it per container). */
export interface SubscriptionIndex {
  /**
   * Index entries for these normalised patterns: a key-based query per pattern, never a scan.
   * Strongly consistent unless `consistent: false` (half the read units): fan-out's cache needs
   * an answer read after a version never older than that version; the sweeper looks at events
   * past their grace period, whose entries every replica has.
   */
  findSubscriptionsByPatterns(tenantId: string, patterns: string[], read?: { consistent?: boolean }): Promise<SubscriptionIndexEntry[]>;
  /**
   * A number that changes after every change of the tenant's fan-out entries, written after the
   * entries; 0 when it never changed (tables from before it existed).
   */
  subscriptionIndexVersion(tenantId: string): Promise<number>;
  /**
   * The version in the same read as `patterns`: every event-type pattern the tenant has fan-out
   * entries under at that version (perhaps more: a pattern no subscription uses any more stays
   * until the set is rebuilt), so a lookup queries only the pattern keys in it. No `patterns`
   * when the store cannot vouch for the set (tables from before it, or a change by a version that
   * did not keep it): every pattern key is queried. Optional: without it, the version alone.
   */
  subscriptionIndexHead?(tenantId: string): Promise<{ version: number; patterns?: string[] }>;
}

export interface SubscriptionStore extends SubscriptionIndex {
  /** Writes the subscription and its fan-out index (one entry per event-type pattern), then moves the index version. */
  putSubscription(subscription: Subscription, previous?: Subscription): Promise<void>;
  /**
   * `consistent: false` may answer a moment-old copy at half the read's price (the deliver
   * function's kept reads, core/caching.ts); unset, a store reads strongly consistent.
   */
  getSubscription(tenantId: string, id: string, read?: { consistent?: boolean }): Promise<Subscription | undefined>;
  listSubscriptions(tenantId: string, page: PageRequest): Promise<Page<Subscription>>;
  /** How many subscriptions the tenant has (its quota). */
  countSubscriptions(tenantId: string): Promise<number>;
  /** Removes the fan-out entries, moves the index version, then removes the subscription. */
  deleteSubscription(subscription: Subscription): Promise<void>;
  /**
   * Moves a subscription from `from` to `to` status, atomically: the answer is the updated
   * subscription, or undefined when it was not in `from` (someone else changed it first).
   */
  changeSubscriptionStatus(
    tenantId: string,
    id: string,
    change: { from: Subscription['status']; to: Subscription['status']; at: string; reason?: string },
  ): Promise<Subscription | undefined>;
}

/**
 * `fannedOutAt`: the API fanned the event out at publish, then the bus refused it (set with the
 * mark taken back): its deliveries are enqueued, only its bus copy is missing, so a repeat of the
 * id or the sweeper publishes it marked (core/ports.ts EventPublisher) and fans out nothing again.
 */
export type StoredEvent = CloudEvent & { publishedAt?: string; fannedOutAt?: string };

export interface EventQuery {
  subject?: string;
  /** ISO times, inclusive. */
  from?: string;
  to?: string;
  limit: number;
}

export interface EventStore {
  /**
   * Stores the event unless one with its id exists; returns the existing one if so. `sweepAt`
   * puts it on the sweeper's list: from then on the sweeper checks that it was published and
   * that every delivery it should have made exists.
   */
  /**
   * Stores the event unless its id is taken (then returns the kept one). `sweepAt` puts it on the
   * sweeper's list; `publishedAt` stores it already marked published (the caller publishes next
   * and takes the mark back if that fails), which saves a second write per event.
   */
  putEventIfAbsent(event: CloudEvent, retentionDays: number, sweepAt?: string, publishedAt?: string): Promise<StoredEvent | undefined>;
  markEventPublished(tenantId: string, eventId: string, at: string): Promise<void>;
  /**
   * Takes back the mark of a publish that failed, so a repeat of the id (or the sweeper) publishes
   * it; `fannedOutAt`: its fan-out at publish was done (StoredEvent), in the same write.
   */
  markEventUnpublished(tenantId: string, eventId: string, fannedOutAt?: string): Promise<void>;
  getEvent(tenantId: string, id: string): Promise<StoredEvent | undefined>;
  /**
   * Kept events by subject and/or time, oldest first: index queries over the time range, never a
   * scan (by subject, a bounded filter: a range too large to filter is refused with a 400).
   */
  findEvents(tenantId: string, query: EventQuery): Promise<StoredEvent[]>;
}

/**
 * An entry on the sweeper's list: a window of a tenant's events (listed by the API once per
 * window and due time, not per event: every event of the tenant whose time is in
 * [window.from, window.to) is checked), a recheck of one event (listed again by the sweeper when
 * it had to act on it), or an event 0.1 listed itself. `key` orders the list.
 */
export interface SweepEntry {
  tenantId: string;
  /** Empty for a window. */
  eventId: string;
  dueAt: string;
  key: string;
  recheck: boolean;
  window?: { from: string; to: string };
  /**
   * A window's event shards, in order, when it lists them (the API adds each shard before it
   * stores the first event of that shard in the window): only these are read. Absent: all.
   */
  shards?: number[];
  /** Where an earlier run stopped inside the window, when the list already told ('' for none); absent: ask windowProgress. */
  progress?: string;
}

/** An event of a sweep window, with where the window's reading stands once it is checked. */
export interface WindowEvent {
  event: StoredEvent;
  position: string;
}

/**
 * What the reconciliation sweeper reads and writes. The list is read forward from a cursor per
 * shard, so checking an event that needs nothing costs no write at all.
 */
export interface SweepStore {
  /** Where the shard's list was swept up to ('' when never). */
  sweptUpTo(shard: number): Promise<string>;
  /** Entries after `after` due by `now`, in list order. */
  dueEvents(shard: number, after: string, now: string, limit: number): Promise<SweepEntry[]>;
  /** Moves the shard's cursor from `from` to `to` (false: another sweeper moved it first). */
  advance(shard: number, from: string, to: string): Promise<boolean>;
  /** Lists the entry's event again at `dueAt` (replacing an earlier recheck of it). */
  recheckLater(entry: SweepEntry, dueAt: string): Promise<void>;
  /** Takes a recheck entry off the list once its event needs nothing more. */
  clearRecheck(entry: SweepEntry): Promise<void>;
  /**
   * Up to `limit` events of a window entry after `after` ('' at its start), in a stable order,
   * each with the position just past it; `next` is absent once the window was read to its end.
   */
  windowEvents(entry: SweepEntry, after: string, limit: number): Promise<{ events: WindowEvent[]; next?: string }>;
  /** Where an earlier run stopped inside this window ('' when none did). */
  windowProgress(entry: SweepEntry): Promise<string>;
  /** Remembers where this run stopped inside the window, for the next run to go on from. */
  saveWindowProgress(entry: SweepEntry, position: string): Promise<void>;
  /** Which of these delivery ids have a record (any status). */
  existingDeliveries(ids: string[]): Promise<Set<string>>;
  /** Where the sweeper's walk over the shard's pending deliveries stands ('' at the start). */
  pendingCursor(shard: number): Promise<string>;
  /** Moves that walk's cursor from `from` to `to` (false: another sweeper moved it first). */
  movePendingCursor(shard: number, from: string, to: string): Promise<boolean>;
  /**
   * Up to `limit` pending deliveries of the shard after the cursor `after`, with their records
   * (the list is keyed once per delivery; `nextAttemptAt` is read from the record). `last`: the
   * cursor after this page, absent once the shard's end was reached.
   */
  pendingPage(shard: number, after: string, limit: number): Promise<{ deliveries: Delivery[]; last?: string }>;
  /** Claims an overdue delivery by moving its next attempt to `to` (false: someone else did). */
  claimPending(delivery: Delivery, to: string): Promise<boolean>;
  /** Batching buffers whose scheduled look was due before `before` and never happened. */
  overdueBatchChecks(shard: number, before: string, limit: number): Promise<{ tenantId: string; subscriptionId: string; checkAt: string }[]>;
  /** Subscriptions with held deliveries in this shard. */
  heldSubscriptions(shard: number): Promise<{ tenantId: string; subscriptionId: string }[]>;
  /** A delivery that can't be rebuilt (its event is past retention): failed, with the reason. */
  markUnrecoverable(deliveryId: string, tenantId: string, reason: string, at: string): Promise<void>;
}

export interface AttemptRecord {
  /**
   * `retryFrom`, `firstAttemptAt`, `orderingGroup` and `ignorePause` come from the job, so the
   * sweeper and a redrive rebuild it exactly from the record and the kept event.
   */
  delivery: Omit<Delivery, 'attempts' | 'updatedAt'> & { retryFrom?: number; firstAttemptAt?: string; orderingGroup?: string; eventIds?: string[]; ignorePause?: boolean };
  attempt: Attempt;
  status: DeliveryStatus;
  retentionDays: number;
}

export interface DeliveryStore {
  /** Records one attempt and sets the delivery's status: two small writes, no index write, for a retried failure. */
  recordAttempt(record: AttemptRecord): Promise<void>;
  getDelivery(id: string): Promise<Delivery | undefined>;
  listDeliveries(tenantId: string, subscriptionId: string, page: PageRequest & { status?: DeliveryStatus }): Promise<Page<Delivery>>;
  /** Deliveries that exhausted their policy (status failed), newest first. */
  listDeadLetters(tenantId: string, page: PageRequest & { subscriptionId?: string }): Promise<Page<Delivery>>;
  /**
   * Claims a dead letter for redrive: failed → pending, off the dead letters. A conditional
   * update, so of two redrives that list the same letter only one claims it (and sends it);
   * false when it was not failed any more.
   */
  markRedriven(deliveryId: string, at: string, retryFrom: number): Promise<boolean>;
  /**
   * A delivery that made no attempt this time (it waited behind its degraded subscription's
   * trial attempt, core/degrade.ts): pending until `nextAttemptAt`, on the sweeper's pending list
   * so a lost message is found again; or, with `reason`, failed (a dead letter, attempts as they
   * were). Creates the record of a delivery never attempted. False, changing nothing, when the
   * record is no longer pending (finished, held or discarded): the message was a duplicate.
   */
  recordWithoutAttempt(record: { job: DeliveryJob; at: string; retentionDays: number } & ({ nextAttemptAt: string } | { reason: string })): Promise<boolean>;
  /** Keeps a job for a paused subscription (status held) until it is released or discarded. */
  holdDelivery(job: DeliveryJob, at: string, retentionDays: number): Promise<void>;
  /** A subscription's held jobs, oldest first. */
  listHeld(tenantId: string, subscriptionId: string, page: PageRequest): Promise<Page<DeliveryJob>>;
  /**
   * Ends the hold: `pending` (about to be enqueued again) or `discarded` (the tenant said so).
   * False when it was no longer held (another release got there first).
   */
  endHold(deliveryId: string, at: string, to: 'pending' | 'discarded'): Promise<boolean>;
}

/** Counters per subscription and time bucket, and each subscription's health record. */
export interface StatsStore {
  /** Adds a batch's counters; answers each subscription's health after the batch, in order. */
  addStats(increments: StatsIncrement[], now: Date): Promise<HealthState[]>;
  readStats(
    tenantId: string,
    subscriptionId: string,
    range: { minutesFrom: string; hoursFrom: string },
  ): Promise<{ minutes: Record<string, Counters>; hours: Record<string, Counters>; health?: HealthState }>;
  /** The subscription's health record alone (one small item): whether it is degraded (core/degrade.ts). */
  readHealth(tenantId: string, subscriptionId: string): Promise<HealthState | undefined>;
}

/** Counters a batch added and no block holds yet (core/stats.ts): the sweeper folds them in. */
export interface StatsFolding {
  /** Folds what is due at `now`, until `deadline` (epoch ms); answers how many tenant minutes it folded. */
  foldDue(now: Date, deadline?: number): Promise<number>;
}

/** A dead letter: the job and why it ended there, for the operator (the SQS copy) and the record. */
export interface DeadLetter {
  /** The job, or the raw body of a message that was not a job at all. */
  job: DeliveryJob | { raw: string };
  reason: string;
  attempts: number;
  failedAt: string;
}

/**
 * The operator's copy of every dead letter (the SQS DLQ: its arrivals raise the DeadLetterArrivals
 * alarm). Write-only for Herald: tenants redrive from their delivery records, never from this
 * shared queue, whose copies expire with its retention.
 */
export interface DeadLetterQueue {
  park(letter: DeadLetter): Promise<void>;
}

/** What the bus said about one entry of a `publishMany`: on the bus, or refused with the reason. */
export type PublishOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Puts events on the Herald bus. `fannedOut`: the API already enqueued the event's deliveries
 * (core/fanout.ts `fanOutMany`), so the bus copy, and only it, says so (FANNED_OUT_ATTRIBUTE in
 * lambdas/shared/herald-config.ts) and the fan-out rule passes it by; the stored event and every
 * delivery are built without it.
 */
export interface EventPublisher {
  publish(event: CloudEvent, fannedOut?: boolean): Promise<void>;
  /**
   * Puts many events on the bus in as few calls as the bus allows (EventBridge: 10 entries and
   * 256 KB per PutEvents). Never throws: a refused entry, or every entry of a call that failed,
   * comes back as `{ ok: false, reason }`; one outcome per event, in order. `fannedOut[i]` is
   * event i's flag (absent: false).
   */
  publishMany(events: CloudEvent[], fannedOut?: readonly boolean[]): Promise<PublishOutcome[]>;
}

export interface DeliveryQueue {
  enqueue(jobs: DeliveryJob[], delaySeconds?: number): Promise<void>;
  /** A look at a batching subscription's buffer, after `delaySeconds` (at most 900). */
  enqueueFlush(tenantId: string, subscriptionId: string, delaySeconds: number): Promise<void>;
}

/**
 * Ordered groups held out of flight (core/order-hold.ts): per group a HEAD (small, rewritten per
 * attempt, listed by due time for the sweeper) and the group's kept jobs in arrival order.
 */
export interface OrderHoldStore {
  /** The group's hold, strongly consistent (a hold written before the previous message's delete is seen). */
  read(tenantId: string, group: string): Promise<OrderHold | undefined>;
  /** Keeps a job of the group under its arrival's order key (idempotent per arrival); answers the entry. */
  keep(tenantId: string, group: string, arrival: Arrival, job: DeliveryJob): Promise<string>;
  /** Creates the hold with this head, unless one exists that names another head (false). */
  createHead(hold: OrderHold): Promise<boolean>;
  /** Rewrites the head (its due time, attempts, or a new head's entry) if it still names `from` (else false); `sentAt` as given. */
  moveHead(hold: OrderHold, from: string): Promise<boolean>;
  /** Ends the hold if its head is still `head` (else false). */
  release(tenantId: string, group: string, head: string): Promise<boolean>;
  /** Kept jobs after `after` (undefined: from the first), in arrival order, strongly consistent. */
  entries(tenantId: string, group: string, after: string | undefined, limit: number): Promise<HeldJob[]>;
  entry(tenantId: string, group: string, entry: string): Promise<DeliveryJob | undefined>;
  drop(tenantId: string, group: string, entry: string): Promise<void>;
  /** Holds of the shard whose head is due by `now`, earliest first, a page of `limit` after `after` (the last page's `next`; none: the end). */
  dueHeads(shard: number, now: string, limit: number, after?: string): Promise<{ holds: OrderHold[]; next?: string }>;
  /** Marks the head sent at `at`, if it is as read (same due time and send): false when another run did, or it moved. */
  claimSend(hold: OrderHold, at: string): Promise<boolean>;
}

/** The buffers of batching subscriptions (core/batching.ts). */
export interface BatchStore {
  /** Adds an event (idempotent per event); answers how many wait and when a look is scheduled. */
  buffer(tenantId: string, subscriptionId: string, event: CloudEvent, retentionDays: number): Promise<{ pending: number; checkAt?: string }>;
  /** Claims "the next look is at `at`" unless one is already scheduled after now. */
  scheduleCheck(tenantId: string, subscriptionId: string, at: string, now: string): Promise<boolean>;
  /** One flush at a time per subscription: the lease, and when the last notification went. */
  lease(tenantId: string, subscriptionId: string, now: Date, forMs: number): Promise<{ lastSentAt?: string } | undefined>;
  release(tenantId: string, subscriptionId: string, changes: { sentAt?: string; sent?: number; checkAt?: string | null }): Promise<void>;
  read(tenantId: string, subscriptionId: string, limit: number): Promise<BufferedEvent[]>;
  remove(tenantId: string, subscriptionId: string, keys: string[]): Promise<void>;
}

export interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface HttpSender {
  send(request: HttpRequest): Promise<AttemptResult>;
}

/** One entry for a customer's EventBridge bus (cross-account PutEvents). */
export interface CustomerBusEntry {
  /** Whose delivery it is: the sender acts for this tenant (session tags, its own role). */
  tenantId: string;
  eventBusArn: string;
  source: string;
  detailType: string;
  detail: string;
  time: Date;
}

export interface CustomerBusSender {
  /** Never throws: refusals, throttling and network errors come back as a failed attempt. */
  put(entry: CustomerBusEntry): Promise<AttemptResult>;
}

/** OAuth2 client-credentials tokens, cached until shortly before they expire. */
export interface TokenSource {
  token(auth: OAuth2Auth, options: { timeoutMs: number; refresh: boolean }): Promise<{ token: string } | { failure: AttemptResult }>;
}

export type { Principal };

/** Counts uses of a rate quota in a window: true when `amount` more fit under `limit` (and were counted). */
export interface QuotaCounter {
  consumeQuota(tenantId: string, quota: string, window: string, amount: number, limit: number): Promise<boolean>;
}

/**
 * Evaluates a subscription's JSONata transform on a payload. Never throws: a failing, slow,
 * memory-hungry or oversized transform comes back as `{ ok: false, reason }`.
 */
export interface TransformRunner {
  run(expression: string, input: unknown): Promise<TransformResult>;
}
