import { BatchGetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA } from '../../lib/herald-config.ts';
import type { Delivery } from '#core/delivery';
import type { SweepEntry, SweepStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { pendingKey, sweepKeys } from './dynamo-store.ts';

/**
 * The sweeper's view of the table (key layout in dynamo-store.ts): events on its list (gsi3,
 * keys only), overdue pending deliveries (gsi2 PENDING#<shard>), held deliveries (gsi2
 * HELD#<shard>). Claims are conditional updates, so concurrent sweepers never both act.
 */
const { partitionKey: PK, sortKey: SK, gsi2, gsi3 } = TABLE_SCHEMA;

export class DynamoSweepStore implements SweepStore {
  constructor(private readonly tableName: string) {}

  async dueEvents(shard: number, now: string, limit: number): Promise<SweepEntry[]> {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: gsi3.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk <= :now',
        ExpressionAttributeNames: { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':pk': `SWEEP#${shard}`, ':now': `${now}#~` },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((item) => {
      const key = String(item[gsi3.sortKey]);
      const [dueAt, tenantId, ...rest] = key.split('#') as [string, string, ...string[]];
      return { dueAt, tenantId, eventId: rest.join('#'), key };
    });
  }

  async rescheduleEvent(entry: SweepEntry, dueAt: string): Promise<boolean> {
    const keys = sweepKeys(entry.tenantId, entry.eventId, dueAt);
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `TENANT#${entry.tenantId}`, [SK]: `EVT#${entry.eventId}` },
        UpdateExpression: 'SET #sk = :next',
        ConditionExpression: '#sk = :current',
        ExpressionAttributeNames: { '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':next': keys[gsi3.sortKey], ':current': entry.key },
      }),
    );
  }

  async clearEvent(entry: SweepEntry): Promise<void> {
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `TENANT#${entry.tenantId}`, [SK]: `EVT#${entry.eventId}` },
        UpdateExpression: 'SET sweptAt = :now REMOVE #pk3, #sk',
        ConditionExpression: '#sk = :current',
        ExpressionAttributeNames: { '#pk3': gsi3.partitionKey, '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':current': entry.key, ':now': new Date().toISOString() },
      }),
    );
  }

  async existingDeliveries(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => ({ [PK]: `DLV#${id}`, [SK]: '#DLV' }));
      for (let round = 0; keys && keys.length > 0; round++) {
        if (round === 8) throw new Error('DynamoDB kept returning unprocessed keys');
        if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
        const out = await dynamo().send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ProjectionExpression: '#pk', ExpressionAttributeNames: { '#pk': PK }, ConsistentRead: true } },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) found.add(String(item[PK]).slice('DLV#'.length));
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  async overduePending(shard: number, before: string, limit: number): Promise<Delivery[]> {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
        ExpressionAttributeValues: { ':pk': `PENDING#${shard}`, ':before': before },
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as Delivery[];
  }

  async claimPending(delivery: Delivery, to: string): Promise<boolean> {
    const key = pendingKey(delivery.id, to);
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `DLV#${delivery.id}`, [SK]: '#DLV' },
        UpdateExpression: 'SET nextAttemptAt = :to, #pk2 = :pk, #sk2 = :sk, sweptAt = :now',
        ConditionExpression: '#status = :pending AND nextAttemptAt = :current',
        ExpressionAttributeNames: { '#status': 'status', '#pk2': gsi2.partitionKey, '#sk2': gsi2.sortKey },
        ExpressionAttributeValues: { ':to': to, ':pk': key.pk, ':sk': key.sk, ':pending': 'pending', ':current': delivery.nextAttemptAt, ':now': new Date().toISOString() },
      }),
    );
  }

  async heldSubscriptions(shard: number): Promise<{ tenantId: string; subscriptionId: string }[]> {
    const seen = new Map<string, { tenantId: string; subscriptionId: string }>();
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const out = await dynamo().send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: gsi2.indexName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': gsi2.partitionKey, '#sk': gsi2.sortKey },
          ExpressionAttributeValues: { ':pk': `HELD#${shard}` },
          ProjectionExpression: '#sk',
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) {
        const [tenantId, subscriptionId] = String(item[gsi2.sortKey]).split('#') as [string, string];
        seen.set(`${tenantId}#${subscriptionId}`, { tenantId, subscriptionId });
      }
      start = out.LastEvaluatedKey;
    } while (start && ++pages < 10);
    return [...seen.values()];
  }

  async markUnrecoverable(deliveryId: string, tenantId: string, reason: string, at: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `DLV#${deliveryId}`, [SK]: '#DLV' },
        UpdateExpression: 'SET #status = :failed, reason = :reason, finishedAt = :at, updatedAt = :at, #pk2 = :dead, #sk2 = :deadKey REMOVE nextAttemptAt',
        ExpressionAttributeNames: { '#status': 'status', '#pk2': gsi2.partitionKey, '#sk2': gsi2.sortKey },
        ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':at': at, ':dead': `DEAD#${tenantId}`, ':deadKey': `${at}#${deliveryId}` },
      }),
    );
  }
}
