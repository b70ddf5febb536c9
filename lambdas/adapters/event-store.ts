import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { CloudEvent } from '#core/envelope';
import { ValidationError } from '#core/errors';
import type { EventQuery, EventStore, StoredEvent } from '#core/ports';
import { dynamo } from './clients.ts';
import { expiresAt } from './dynamo-helpers.ts';
import { mergeQueries, queryPages } from './table-queries.ts';
import {
  EVENT_SHARDS,
  eventIndexKeys,
  eventKey,
  eventShardOf,
  eventsByTimePartition,
  eventTimeRange,
  GSI2,
  legacyEventKey,
  PK,
  SWEEP_WINDOW_SHARDS,
  sweepWindowKey,
  sweepWindowListedExpiresAt,
  TTL,
  withoutKeys,
  type TableKey,
} from './table-keys.ts';

/** Items per page when reading one shard (DynamoDB also stops a page at 1 MB). */
const PAGE = 1000;
/** Items per page of each shard when merging the 16 by time. */
const MERGE_PAGE = 250;
/**
 * The most events resend by subject reads (and filters) in its subject's shard: 20 pages, ≤ 20 MB,
 * ≤ 2,500 read units, under one partition's 3,000 a second. A range holding more is refused
 * with a 400 asking for a narrower one, rather than resending part of it silently.
 */
export const MAX_SUBJECT_SCAN = 20 * PAGE;

/**
 * The most shards a container lists one by one on a window; at the next it lists all 16 in one
 * write. A listed shard costs a write (1 WU, as much as 5 read units on demand) and saves reading
 * an empty shard (0.5 RRU of 8 for all 16): a window with n shards listed costs n WU + 0.5n RRU,
 * read whole 1 WU + 8 RRU (in read units' price: 5.5n against 13), so listing pays up to two
 * shards. A tenant's only event of a window (a tenant publishing once a minute) costs 1 WU and
 * 0.5 RRU; a busy tenant's window at most 2 WU more per container than before (≈ 0.03 WU an
 * event at 1 event/s, → 0 above); listing every shard would have cost up to 15 WU more.
 */
export const SHARDS_LISTED_PER_WINDOW = 2;
const ALL_EVENT_SHARDS = Array.from({ length: EVENT_SHARDS }, (_, shard) => shard);

export interface EventStoreOptions {
  /**
   * The grace before the sweeper checks an event (HERALD_SWEEP_AFTER_SECONDS): a sweep window
   * lasts a tenth of it, from 0.1 s to 60 s (the default 600 s: a minute), so an event is checked
   * at most a tenth of the grace later than it is due, and a container lists a busy tenant at
   * most once a window.
   */
  sweepAfterSeconds?: number;
  /** A window's length in seconds instead (HERALD_SWEEP_WINDOW_SECONDS): the benchmark keeps production's minute with a short grace. */
  sweepWindowSeconds?: number;
  /** The most events resend by subject reads in its shard (MAX_SUBJECT_SCAN; smaller in tests). */
  subjectScanLimit?: number;
}

/**
 * Published events, kept for their retention (layout in table-keys.ts): one item in a partition
 * of its own (its id is the idempotency key) with one index copy, in its subject's shard of the
 * tenant's events by time (gsi2). The sweeper's list holds windows, not events: before storing
 * an event the API lists its tenant's window, with the event's shard, once per container
 * (cached), so the event write itself carries no sweep key.
 */
export class DynamoEventStore implements EventStore {
  private readonly windowMs: number;
  private readonly subjectScanLimit: number;
  /** Windows this container has listed, by tenant, window and due time: the writes (in flight or done) of each shard, or of all of them. */
  private readonly listed = new Map<string, { shards: Map<number, Promise<void>>; whole?: Promise<void> }>();

  constructor(
    private readonly tableName: string,
    options: EventStoreOptions = {},
  ) {
    this.windowMs = Math.min(60_000, Math.max(100, Math.round(options.sweepWindowSeconds ? options.sweepWindowSeconds * 1000 : (options.sweepAfterSeconds ?? 600) * 100)));
    this.subjectScanLimit = options.subjectScanLimit ?? MAX_SUBJECT_SCAN;
  }

  async putEventIfAbsent(event: CloudEvent, retentionDays: number, sweepAt?: string, publishedAt?: string): Promise<StoredEvent | undefined> {
    // Listed first: an event stored and then lost with its process is still on the list.
    if (sweepAt) await this.listWindow(event.tenantid, event.time, sweepAt, eventShardOf(event.subject));
    try {
      await dynamo().send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...eventKey(event.tenantid, event.id),
            ...eventIndexKeys(event.tenantid, event.id, event.subject, event.time),
            [TTL]: expiresAt(new Date(), retentionDays),
            ...event,
            ...(publishedAt ? { publishedAt } : {}),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: eventKey(event.tenantid, event.id), ConsistentRead: true }));
      return withoutKeys<StoredEvent>(out.Item);
    }
  }

  /**
   * Lists the window holding the event's time, due at the end of the window holding `sweepAt`
   * (so every event of that window stored by then is due too), with the event's shard among the
   * window's `shards`, so the sweeper reads only the shards the window holds. Once per container
   * and key: the window's first event lists it with its shard in one write (1 WU, as before the
   * shards), a second shard one more write; at a third this container lists all 16 in one last
   * write, and the window is read whole (see SHARDS_LISTED_PER_WINDOW). Other containers write
   * the same item again (1 WU each, and their own shards).
   */
  private listWindow(tenantId: string, time: string, sweepAt: string, shard: number): Promise<void> {
    const length = this.windowMs;
    const start = Math.floor(Date.parse(time) / length) * length;
    const from = new Date(start).toISOString();
    const to = new Date(start + length).toISOString();
    const dueAt = new Date(Math.ceil(Date.parse(sweepAt) / length) * length).toISOString();
    const id = `${tenantId}|${from}|${dueAt}`;
    let window = this.listed.get(id);
    if (!window) {
      // A container lists a few windows a minute; forgetting them all now and then bounds the
      // memory at the price of one repeated write each.
      if (this.listed.size >= 10_000) this.listed.clear();
      window = { shards: new Map() };
      this.listed.set(id, window);
    }
    const listed = window.whole ?? window.shards.get(shard);
    if (listed) return listed;
    const whole = window.shards.size >= SHARDS_LISTED_PER_WINDOW;
    const write = this.writeWindow(tenantId, from, to, dueAt, whole ? ALL_EVENT_SHARDS : [shard]);
    const known = window;
    if (whole) known.whole = write;
    else known.shards.set(shard, write);
    write.catch(() => {
      if (known.whole === write) delete known.whole;
      if (known.shards.get(shard) === write) known.shards.delete(shard);
    });
    return write;
  }

  private async writeWindow(tenantId: string, from: string, to: string, dueAt: string, shards: number[]): Promise<void> {
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sweepWindowKey(tenantId, from, to, dueAt),
          // An update, not a put: a window the sweeper is part way through keeps its progress, and
          // the shards other containers listed stay (ADD to a number set is a union).
          UpdateExpression: 'SET #ttl = :ttl ADD #shards :shard',
          // Only a window every write listed its shard in (its expiry carries the mark): one the
          // version before wrote too is read in every shard, and stays so.
          ConditionExpression: 'attribute_not_exists(#pk) OR #ttl = :ttl',
          ExpressionAttributeNames: { '#pk': PK, '#ttl': TTL, '#shards': SWEEP_WINDOW_SHARDS },
          ExpressionAttributeValues: { ':ttl': sweepWindowListedExpiresAt(dueAt), ':shard': new Set(shards) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** One key read; an event stored before the upgrade is read from its 0.1 key (a second read, only on a miss). */
  async getEvent(tenantId: string, id: string): Promise<StoredEvent | undefined> {
    for (const key of [eventKey(tenantId, id), legacyEventKey(tenantId, id)]) {
      const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: key }));
      if (out.Item) return withoutKeys<StoredEvent>(out.Item);
    }
    return undefined;
  }

  /**
   * By time: the tenant's 16 shards queried over the range and merged by time (the oldest
   * `limit`; each shard read a page at a time, only as far as the merge needs: at most `limit`
   * + 16 × 250 events read). By subject: its
   * one shard over the range, filtered on the subject (it reads that shard's events of every
   * subject in the range, about 1/16 of the tenant's: at most `subjectScanLimit`).
   */
  async findEvents(tenantId: string, query: EventQuery): Promise<StoredEvent[]> {
    const { lower, upper } = eventTimeRange(query.from, query.to);
    const byTime = (shard: number) => ({
      IndexName: GSI2.indexName,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
      ExpressionAttributeNames: { '#pk': GSI2.partitionKey, '#sk': GSI2.sortKey },
      ExpressionAttributeValues: { ':pk': eventsByTimePartition(tenantId, shard), ':lower': lower, ':upper': upper },
    });
    if (query.subject === undefined) {
      const shards = Array.from({ length: EVENT_SHARDS }, (_, shard) => byTime(shard));
      // Pages of 250: the merge reads at most one page per shard beyond what it returns.
      const items = await mergeQueries(this.tableName, shards, GSI2.sortKey, { limit: query.limit, pageSize: Math.min(MERGE_PAGE, query.limit) });
      return items.map((item) => withoutKeys<StoredEvent>(item)!);
    }
    const shard = byTime(eventShardOf(query.subject));
    const bySubject = {
      ...shard,
      FilterExpression: '#subject = :subject',
      ExpressionAttributeNames: { ...shard.ExpressionAttributeNames, '#subject': 'subject' },
      ExpressionAttributeValues: { ...shard.ExpressionAttributeValues, ':subject': query.subject },
    };
    const pageSize = Math.min(PAGE, this.subjectScanLimit);
    const items: Record<string, unknown>[] = [];
    let last: Record<string, unknown> | undefined;
    for await (const page of queryPages(this.tableName, bySubject, { limit: query.limit, pageSize, maxPages: Math.ceil(this.subjectScanLimit / pageSize) })) {
      items.push(...page.items);
      last = page.lastKey;
    }
    // The pages ran out before the limit did: unless one more look finds the range's end (a page
    // that stops exactly at its limit still hands back a key), there was more to read than allowed.
    if (last && items.length < query.limit) {
      for await (const probe of queryPages(this.tableName, bySubject, { limit: 1, maxPages: 1, start: last })) {
        if (probe.items.length > 0 || probe.lastKey) {
          throw new ValidationError([
            {
              path: 'from',
              message: `more than ${this.subjectScanLimit} events of this tenant share the subject's shard in this time range: name a narrower range (from/to) to resend by subject`,
            },
          ]);
        }
      }
    }
    return items.map((item) => withoutKeys<StoredEvent>(item)!);
  }

  async markEventPublished(tenantId: string, eventId: string, at: string): Promise<void> {
    await this.updateEither(tenantId, eventId, { UpdateExpression: 'SET publishedAt = :at', ExpressionAttributeValues: { ':at': at } });
  }

  async markEventUnpublished(tenantId: string, eventId: string, fannedOutAt?: string): Promise<void> {
    await this.updateEither(
      tenantId,
      eventId,
      fannedOutAt ? { UpdateExpression: 'REMOVE publishedAt SET fannedOutAt = :at', ExpressionAttributeValues: { ':at': fannedOutAt } } : { UpdateExpression: 'REMOVE publishedAt' },
    );
  }

  /** Updates the event where it is (only ever an existing item: an update never creates one): its key, else its 0.1 key. */
  private async updateEither(tenantId: string, eventId: string, update: { UpdateExpression: string; ExpressionAttributeValues?: Record<string, unknown> }): Promise<void> {
    const attempt = async (key: TableKey) => {
      try {
        await dynamo().send(
          new UpdateCommand({ TableName: this.tableName, Key: key, ...update, ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { '#pk': PK } }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    };
    if (!(await attempt(eventKey(tenantId, eventId)))) await attempt(legacyEventKey(tenantId, eventId));
  }
}
