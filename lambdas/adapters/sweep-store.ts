import { deliveryFromItem } from './delivery-items.ts';
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Delivery } from '#core/delivery';
import type { SweepEntry, SweepStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { queryItems } from './table-queries.ts';
import {
  batchCheckPartition,
  deadLetterKey,
  deliveryIdOfKey,
  deliveryKey,
  GSI2 as gsi2,
  GSI3 as gsi3,
  heldShardPartition,
  isRecheckPartition,
  parseBatchCheckSortKey,
  parseHeldSortKey,
  parseSweepSortKey,
  pendingKey,
  pendingPartition,
  PK,
  recheckKey,
  sweepCursorKey,
  sweepKeys,
  sweepPartition,
  TTL,
} from './table-keys.ts';

/**
 * The sweeper's view of the table (key layout in table-keys.ts): events on its list (gsi3,
 * keys only: an event is listed by the write that stores it, a recheck is a small item
 * RESWEEP#<tid>#<eid>), the list's cursor per shard (SWEEP / CURSOR#<shard>), overdue pending
 * deliveries (gsi2 PENDING#<shard>), held deliveries (gsi2 HELD#<shard>). Claims and the cursor
 * are conditional updates, so concurrent sweepers never both move them.
 */

export class DynamoSweepStore implements SweepStore {
  constructor(private readonly tableName: string) {}

  async sweptUpTo(shard: number): Promise<string> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: sweepCursorKey(shard), ConsistentRead: true }));
    return String(out.Item?.position ?? '');
  }

  async dueEvents(shard: number, after: string, now: string, limit: number): Promise<SweepEntry[]> {
    const upper = `${now}#~`;
    if (after >= upper) return [];
    const items = await queryItems(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :after AND :now',
        ExpressionAttributeNames: { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey },
        // Strictly after the cursor: no key extends another by a character below the space.
        ExpressionAttributeValues: { ':pk': sweepPartition(shard), ':after': `${after} `, ':now': upper },
      },
      { limit, maxPages: 1 },
    );
    return items.map((item) => {
      const key = String(item[gsi3.sortKey]);
      return { ...parseSweepSortKey(key), key, recheck: isRecheckPartition(item[PK]) };
    });
  }

  async advance(shard: number, from: string, to: string): Promise<boolean> {
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: sweepCursorKey(shard),
        UpdateExpression: 'SET #position = :to',
        ConditionExpression: from ? '#position = :from' : 'attribute_not_exists(#position)',
        ExpressionAttributeNames: { '#position': 'position' },
        ExpressionAttributeValues: from ? { ':to': to, ':from': from } : { ':to': to },
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
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => deliveryKey(id));
      for (let round = 0; keys && keys.length > 0; round++) {
        if (round === 8) throw new Error('DynamoDB kept returning unprocessed keys');
        if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
        const out = await dynamo().send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ProjectionExpression: '#pk', ExpressionAttributeNames: { '#pk': PK }, ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) found.add(deliveryIdOfKey(item[PK]));
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  /** One page of a gsi2 partition keyed by time: the entries due before `before`, oldest first. */
  private async dueBefore(partition: string, before: string, limit: number, keysOnly = false): Promise<Record<string, unknown>[]> {
    return queryItems(
      this.tableName,
      {
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
        ExpressionAttributeValues: { ':pk': partition, ':before': before },
        ...(keysOnly ? { ProjectionExpression: '#sk' } : {}),
      },
      { limit, maxPages: 1 },
    );
  }

  async overduePending(shard: number, before: string, limit: number): Promise<Delivery[]> {
    return (await this.dueBefore(pendingPartition(shard), before, limit)).map(deliveryFromItem);
  }

  async claimPending(delivery: Delivery, to: string): Promise<boolean> {
    const key = pendingKey(delivery.id, to);
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(delivery.id),
        UpdateExpression: 'SET nextAttemptAt = :to, #pk2 = :pk, #sk2 = :sk, sweptAt = :now',
        ConditionExpression: '#status = :pending AND nextAttemptAt = :current',
        ExpressionAttributeNames: { '#status': 'status', '#pk2': gsi2.partitionKey, '#sk2': gsi2.sortKey },
        ExpressionAttributeValues: { ':to': to, ':pk': key.pk, ':sk': key.sk, ':pending': 'pending', ':current': delivery.nextAttemptAt, ':now': new Date().toISOString() },
      }),
    );
  }

  async overdueBatchChecks(shard: number, before: string, limit: number): Promise<{ tenantId: string; subscriptionId: string; checkAt: string }[]> {
    return (await this.dueBefore(batchCheckPartition(shard), before, limit, true)).map((item) => {
      const { tenantId, subscriptionId, checkAt } = parseBatchCheckSortKey(String(item[gsi2.sortKey]));
      return { tenantId, subscriptionId, checkAt };
    });
  }

  async heldSubscriptions(shard: number): Promise<{ tenantId: string; subscriptionId: string }[]> {
    const seen = new Map<string, { tenantId: string; subscriptionId: string }>();
    const items = await queryItems(
      this.tableName,
      {
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
        ExpressionAttributeValues: { ':pk': heldShardPartition(shard) },
        ProjectionExpression: '#sk',
      },
      // A bounded look per run: the next run sees the rest.
      { maxPages: 10 },
    );
    for (const item of items) {
      const { tenantId, subscriptionId } = parseHeldSortKey(String(item[gsi2.sortKey]));
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
        UpdateExpression: 'SET #status = :failed, reason = :reason, finishedAt = :at, updatedAt = :at, #pk2 = :dead, #sk2 = :deadKey REMOVE nextAttemptAt',
        ExpressionAttributeNames: { '#status': 'status', '#pk2': gsi2.partitionKey, '#sk2': gsi2.sortKey },
        ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':at': at, ':dead': dead.pk, ':deadKey': dead.sk },
      }),
    );
  }
}
