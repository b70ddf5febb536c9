import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { BufferedEvent } from '#core/batching';
import type { CloudEvent } from '#core/envelope';
import type { BatchStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { batchWriteAll, conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { queryItems } from './table-queries.ts';
import { BATCH_ITEM_PREFIX, batchCheckKey, batchItemKey, batchPartition, batchStateKey, GSI2 as gsi2, PK, SK, TTL } from './table-keys.ts';

/**
 * Batching buffers, one partition per subscription: BATCH#<tid>#<sid> with
 *   ITEM#<event time>#<event id>   a waiting event (arrival order = publish time; idempotent per event)
 *   STATE                          pending count, the next scheduled look, the flush lease, last sent
 * While a look is scheduled, STATE is on gsi2 BATCHCHECK#<shard> / <checkAt>#<tid>#<sid>: the
 * sweeper finds a look whose flush message was lost (checkAt long past) and sends another.
 */
const checkKeys = (tenantId: string, subscriptionId: string, at: string) => {
  const key = batchCheckKey(tenantId, subscriptionId, at);
  return { ':checkPk': key.pk, ':checkSk': key.sk };
};

export class DynamoBatchStore implements BatchStore {
  constructor(private readonly tableName: string) {}

  async buffer(tenantId: string, subscriptionId: string, event: CloudEvent, retentionDays: number) {
    const state = batchStateKey(tenantId, subscriptionId);
    try {
      await dynamo().send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...batchItemKey(tenantId, subscriptionId, event.time, event.id), event, [TTL]: expiresAt(new Date(), retentionDays) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      // Already buffered (a repeated fan-out): counted once.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const out = await dynamo().send(
        new UpdateCommand({ TableName: this.tableName, Key: state, UpdateExpression: 'ADD pending :zero', ExpressionAttributeValues: { ':zero': 0 }, ReturnValues: 'ALL_NEW' }),
      );
      return { pending: Number(out.Attributes?.pending ?? 0), checkAt: out.Attributes?.checkAt as string | undefined };
    }
    const out = await dynamo().send(
      new UpdateCommand({ TableName: this.tableName, Key: state, UpdateExpression: 'ADD pending :one', ExpressionAttributeValues: { ':one': 1 }, ReturnValues: 'ALL_NEW' }),
    );
    return { pending: Number(out.Attributes?.pending ?? 0), checkAt: out.Attributes?.checkAt as string | undefined };
  }

  async scheduleCheck(tenantId: string, subscriptionId: string, at: string, now: string): Promise<boolean> {
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchStateKey(tenantId, subscriptionId),
        UpdateExpression: 'SET checkAt = :at, #g2pk = :checkPk, #g2sk = :checkSk',
        ConditionExpression: 'attribute_not_exists(checkAt) OR checkAt < :now',
        ExpressionAttributeNames: { '#g2pk': gsi2.partitionKey, '#g2sk': gsi2.sortKey },
        ExpressionAttributeValues: { ':at': at, ':now': now, ...checkKeys(tenantId, subscriptionId, at) },
      }),
    );
  }

  async lease(tenantId: string, subscriptionId: string, now: Date, forMs: number) {
    try {
      const out = await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchStateKey(tenantId, subscriptionId),
          UpdateExpression: 'SET leaseUntil = :until',
          ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':until': new Date(now.getTime() + forMs).toISOString(), ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const lastSentAt = out.Attributes?.lastSentAt as string | undefined;
      return lastSentAt ? { lastSentAt } : {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async release(tenantId: string, subscriptionId: string, changes: { sentAt?: string; sent?: number; checkAt?: string | null }): Promise<void> {
    const sets: string[] = [];
    const removes = ['leaseUntil'];
    const values: Record<string, unknown> = {};
    const names: Record<string, string> = {};
    if (changes.sentAt) {
      sets.push('lastSentAt = :sentAt');
      values[':sentAt'] = changes.sentAt;
    }
    if (changes.checkAt === null) {
      removes.push('checkAt', '#g2pk', '#g2sk');
      Object.assign(names, { '#g2pk': gsi2.partitionKey, '#g2sk': gsi2.sortKey });
    } else if (changes.checkAt) {
      sets.push('checkAt = :checkAt', '#g2pk = :checkPk', '#g2sk = :checkSk');
      Object.assign(names, { '#g2pk': gsi2.partitionKey, '#g2sk': gsi2.sortKey });
      Object.assign(values, { ':checkAt': changes.checkAt, ...checkKeys(tenantId, subscriptionId, changes.checkAt) });
    }
    const add = changes.sent ? ' ADD pending :minus' : '';
    if (changes.sent) values[':minus'] = -changes.sent;
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchStateKey(tenantId, subscriptionId),
        UpdateExpression: `${sets.length ? `SET ${sets.join(', ')} ` : ''}REMOVE ${removes.join(', ')}${add}`,
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  }

  async read(tenantId: string, subscriptionId: string, limit: number): Promise<BufferedEvent[]> {
    const items = await queryItems(
      this.tableName,
      {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :item)',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': batchPartition(tenantId, subscriptionId), ':item': BATCH_ITEM_PREFIX },
        ConsistentRead: true,
      },
      { limit, pageSize: 1000 },
    );
    return items.map((item) => ({ key: String(item[SK]), event: item.event as CloudEvent }));
  }

  async remove(tenantId: string, subscriptionId: string, keys: string[]): Promise<void> {
    const pk = batchPartition(tenantId, subscriptionId);
    await batchWriteAll(this.tableName, keys.map((sk) => ({ DeleteRequest: { Key: { [PK]: pk, [SK]: sk } } })));
  }

}
