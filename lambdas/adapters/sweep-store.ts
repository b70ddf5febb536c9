import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Delivery } from '#core/delivery';
import type { StoredEvent, SweepEntry, SweepStore, WindowEvent } from '#core/ports';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { deliveryFromItems } from './delivery-items.ts';
import { getItems, queryItems, queryPages } from './table-queries.ts';
import {
  batchCheckPartition,
  deadLetterKey,
  deliveryKey,
  EVENT_SHARDS,
  eventsByTimePartition,
  GSI2 as gsi2,
  GSI3 as gsi3,
  heldShardPartition,
  isRecheckPartition,
  parseBatchCheckSortKey,
  parseHeldSortKey,
  parseSweepSortKey,
  parseWindowEventId,
  pendingCursorKey,
  pendingPartition,
  PK,
  SK,
  recheckKey,
  sweepCursorKey,
  sweepKeys,
  sweepPartition,
  SWEEP_WINDOW_SHARDS,
  sweepWindowKey,
  sweepWindowPartition,
  sweepWindowShards,
  TTL,
  withoutKeys,
} from './table-keys.ts';

/**
 * The sweeper's view of the table (key layout in table-keys.ts): its list per shard, walked under
 * one cursor: sweep windows (the table's SWEEPWIN#<shard>, listed by the API once per tenant,
 * window and due time; their events are read from gsi2, by time, in the shards the window lists
 * (every shard of the tenant for a window that lists none)), and
 * on gsi3 (keys only) rechecks (RESWEEP#<tid>#<eid>) and events 0.1 listed; the list's cursor per shard (SWEEP / CURSOR#<shard>), pending deliveries
 * (gsi3 PENDING#<shard>, keys only, walked from SWEEP / PENDINGCURSOR#<shard>, records read by
 * key), held deliveries (gsi3 HELD#<shard>), scheduled batch looks (gsi2 BATCHCHECK#<shard>).
 * Claims and cursors are conditional updates, so concurrent sweepers never both move them.
 */

export class DynamoSweepStore implements SweepStore {
  constructor(private readonly tableName: string) {}

  async sweptUpTo(shard: number): Promise<string> {
    return this.cursorAt(sweepCursorKey(shard));
  }

  async pendingCursor(shard: number): Promise<string> {
    return this.cursorAt(pendingCursorKey(shard));
  }

  /**
   * Eventually consistent (0.5 RRU, 16 reads a run): the last run's move is a minute old. A copy
   * a moment behind only starts the walk earlier (events checked twice, idempotently), and its
   * move then fails its condition, so the cursor never goes back.
   */
  private async cursorAt(key: Record<string, string>): Promise<string> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: key }));
    return String(out.Item?.position ?? '');
  }

  /**
   * The shard's two lists under one cursor: rechecks and 0.1's events (gsi3 SWEEP#<shard>) and
   * windows (the table's SWEEPWIN#<shard>), both sorted `<dueAt>#<tid>#…`. Each is read up to
   * `limit` entries and the first `limit` of the merge kept: an entry past either list's page
   * would have `limit` entries of that list before it, so none is skipped.
   */
  async dueEvents(shard: number, after: string, now: string, limit: number): Promise<SweepEntry[]> {
    const upper = `${now}#~`;
    if (after >= upper) return [];
    // Strictly after the cursor: no key extends another by a character below the space.
    const range = { ':after': `${after} `, ':now': upper };
    const [listed, windows] = await Promise.all([
      queryItems(
        this.tableName,
        {
          IndexName: gsi3.indexName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :after AND :now',
          ExpressionAttributeNames: { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey },
          ExpressionAttributeValues: { ':pk': sweepPartition(shard), ...range },
        },
        { limit, maxPages: 1 },
      ),
      queryItems(
        this.tableName,
        {
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :after AND :now',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK, '#ttl': TTL, '#shards': SWEEP_WINDOW_SHARDS },
          ExpressionAttributeValues: { ':pk': sweepWindowPartition(shard), ...range },
          // The shards it holds and where a run stopped in it come with the list: no read per window.
          ProjectionExpression: '#pk, #sk, #ttl, #shards, progress',
        },
        { limit, maxPages: 1 },
      ),
    ]);
    const entries: SweepEntry[] = [
      ...listed.map((item) => {
        const key = String(item[gsi3.sortKey]);
        return { ...parseSweepSortKey(key), key, recheck: isRecheckPartition(item[PK]) };
      }),
      ...windows.map((item) => {
        const key = String(item[SK]);
        const entry = parseSweepSortKey(key);
        const shards = sweepWindowShards(item, entry.dueAt);
        return { ...entry, eventId: '', key, recheck: false, window: parseWindowEventId(entry.eventId), ...(shards ? { shards } : {}), progress: String(item.progress ?? '') };
      }),
    ];
    return entries.sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, limit);
  }

  /**
   * The window's events shard by shard (the shards it lists, else 0 to 15), each shard by time; a
   * position is `<shard>|<sort key>` of the last event read. The index copies hold whole events
   * (gsi2 projects all attributes), so checking one needs no read of its item. The shards still to
   * read are queried side by side (a page each), then taken in order up to `limit`: a window of a
   * small tenant costs one round of requests, not one after another; a window listing its shards
   * costs one query (0.5 RRU) per shard it holds, where reading all 16 cost 8 RRU.
   */
  async windowEvents(entry: SweepEntry, after: string, limit: number): Promise<{ events: WindowEvent[]; next?: string }> {
    const { from, to } = entry.window!;
    const [shardText, afterKey] = after ? (after.split('|') as [string, string]) : ['0', ''];
    const first = Number(shardText);
    const listed = entry.shards ?? Array.from({ length: EVENT_SHARDS }, (_, shard) => shard);
    const shards = listed.filter((shard) => shard >= first);
    const pages = await Promise.all(
      shards.map(async (shard) => {
        const lower = shard === first && afterKey ? `${afterKey} ` : from;
        for await (const page of queryPages(
          this.tableName,
          {
            IndexName: gsi2.indexName,
            // [from, to): `from#…` sorts after from, `to#…` after to; strictly after the position (no key extends another by a character below the space).
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :to',
            ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
            ExpressionAttributeValues: { ':pk': eventsByTimePartition(entry.tenantId, shard), ':lower': lower, ':to': to },
          },
          { limit, maxPages: 1 },
        )) {
          return page;
        }
        return { items: [], count: 0 };
      }),
    );
    const events: WindowEvent[] = [];
    for (const [i, shard] of shards.entries()) {
      const page = pages[i]!;
      const room = limit - events.length;
      for (const item of page.items.slice(0, room)) events.push({ event: withoutKeys<StoredEvent>(item)!, position: `${shard}|${String(item[gsi2.sortKey])}` });
      // This shard has more than was taken, or may have: go on inside it.
      if (page.items.length > room) return { events, next: events.at(-1)!.position };
      if (page.lastKey) return { events, next: `${shard}|${String(page.lastKey[gsi2.sortKey])}` };
      if (events.length === limit) return i + 1 < shards.length ? { events, next: `${shards[i + 1]}|` } : { events };
    }
    return { events };
  }

  async windowProgress(entry: SweepEntry): Promise<string> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: this.windowKey(entry), ProjectionExpression: 'progress' }));
    return String(out.Item?.progress ?? '');
  }

  async saveWindowProgress(entry: SweepEntry, position: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.windowKey(entry),
        UpdateExpression: 'SET progress = :position',
        // Never creates a window: one past its retention stays gone.
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':position': position },
      }),
    ).catch((error: Error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
  }

  private windowKey(entry: SweepEntry) {
    return sweepWindowKey(entry.tenantId, entry.window!.from, entry.window!.to, entry.dueAt);
  }

  async advance(shard: number, from: string, to: string): Promise<boolean> {
    return this.moveCursor(sweepCursorKey(shard), from, to);
  }

  async movePendingCursor(shard: number, from: string, to: string): Promise<boolean> {
    return this.moveCursor(pendingCursorKey(shard), from, to);
  }

  private moveCursor(key: Record<string, string>, from: string, to: string): Promise<boolean> {
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #position = :to',
        ConditionExpression: from ? '#position = :from' : 'attribute_not_exists(#position) OR #position = :empty',
        ExpressionAttributeNames: { '#position': 'position' },
        ExpressionAttributeValues: from ? { ':to': to, ':from': from } : { ':to': to, ':empty': '' },
      }),
    );
  }

  async recheckLater(entry: SweepEntry, dueAt: string): Promise<void> {
    await dynamo().send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...recheckKey(entry.tenantId, entry.eventId), ...sweepKeys(entry.tenantId, entry.eventId, dueAt), [TTL]: Math.floor(Date.parse(dueAt) / 1000) + 14 * 86_400 },
      }),
    );
  }

  async clearRecheck(entry: SweepEntry): Promise<void> {
    await dynamo().send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: recheckKey(entry.tenantId, entry.eventId),
        // Only the recheck just read: a newer one of the same event stays listed.
        ConditionExpression: '#sk = :key',
        ExpressionAttributeNames: { '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':key': entry.key },
      }),
    ).catch((error: Error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
  }

  async existingDeliveries(ids: string[]): Promise<Set<string>> {
    const found = await getItems(
      this.tableName,
      ids.map((id) => deliveryKey(id)),
      [],
    );
    // In the order asked: a delivery's key need not name its id (a log entry's partition does not).
    return new Set(ids.filter((_, i) => found[i] !== undefined));
  }

  /** One page of a gsi2 partition keyed by time: the keys of the entries due before `before`, oldest first. */
  private async dueBefore(partition: string, before: string, limit: number): Promise<Record<string, unknown>[]> {
    return queryItems(
      this.tableName,
      {
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
        ExpressionAttributeValues: { ':pk': partition, ':before': before },
        ProjectionExpression: '#sk',
      },
      { limit, maxPages: 1 },
    );
  }

  async pendingPage(shard: number, after: string, limit: number): Promise<{ deliveries: Delivery[]; last?: string }> {
    for await (const page of queryPages(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        KeyConditionExpression: after ? '#pk = :pk AND #sk > :after' : '#pk = :pk',
        ExpressionAttributeNames: after ? { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey } : { '#pk': gsi3.partitionKey },
        ExpressionAttributeValues: after ? { ':pk': pendingPartition(shard), ':after': after } : { ':pk': pendingPartition(shard) },
      },
      { limit, maxPages: 1 },
    )) {
      const records = await getItems(this.tableName, page.items.map((item) => ({ [PK]: String(item[PK]), [SK]: String(item[SK]) })));
      const deliveries = records.filter((item) => item !== undefined).map((item) => deliveryFromItems(withoutKeys<Record<string, unknown>>(item)!));
      return { deliveries, ...(page.lastKey ? { last: String(page.lastKey[gsi3.sortKey]) } : {}) };
    }
    return { deliveries: [] };
  }

  async claimPending(delivery: Delivery, to: string): Promise<boolean> {
    // The pending entry's key stays: only the record's next attempt moves.
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(delivery.id),
        UpdateExpression: 'SET nextAttemptAt = :to, sweptAt = :now',
        ConditionExpression: '#status = :pending AND nextAttemptAt = :current',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':to': to, ':pending': 'pending', ':current': delivery.nextAttemptAt, ':now': new Date().toISOString() },
      }),
    );
  }

  async overdueBatchChecks(shard: number, before: string, limit: number): Promise<{ tenantId: string; subscriptionId: string; checkAt: string }[]> {
    return (await this.dueBefore(batchCheckPartition(shard), before, limit)).map((item) => {
      const { tenantId, subscriptionId, checkAt } = parseBatchCheckSortKey(String(item[gsi2.sortKey]));
      return { tenantId, subscriptionId, checkAt };
    });
  }

  async heldSubscriptions(shard: number): Promise<{ tenantId: string; subscriptionId: string }[]> {
    const seen = new Map<string, { tenantId: string; subscriptionId: string }>();
    const items = await queryItems(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':pk': heldShardPartition(shard) },
        ProjectionExpression: '#sk',
      },
      // A bounded look per run: the next run sees the rest.
      { maxPages: 10 },
    );
    for (const item of items) {
      const { tenantId, subscriptionId } = parseHeldSortKey(String(item[gsi3.sortKey]));
      seen.set(`${tenantId}#${subscriptionId}`, { tenantId, subscriptionId });
    }
    return [...seen.values()];
  }

  async markUnrecoverable(deliveryId: string, tenantId: string, reason: string, at: string): Promise<void> {
    const dead = deadLetterKey(tenantId, at, deliveryId);
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(deliveryId),
        UpdateExpression: 'SET #status = :failed, reason = :reason, finishedAt = :at, updatedAt = :at, #pk3 = :dead, #sk3 = :deadKey REMOVE nextAttemptAt',
        ExpressionAttributeNames: { '#status': 'status', '#pk3': gsi3.partitionKey, '#sk3': gsi3.sortKey },
        ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':at': at, ':dead': dead.pk, ':deadKey': dead.sk },
      }),
    );
  }
}
