import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SlowMark, SlowMarkStore } from '#core/slow-lane';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { slowMarkKey as key, TTL } from './table-keys.ts';

/**
 * A subscription's slow mark (core/slow-lane.ts), one small item beside its throttle state:
 * THROTTLE#<tid>#<sid> / SLOW with `markedAt` (ms). Read eventually consistent (0.5 RRU, once
 * per subscription per batch): a mark a moment old only moves the next deliveries a moment later.
 * DynamoDB's TTL removes it a day after it lapsed; until then the time in it decides.
 */
const KEEP_AFTER_LAPSE_SECONDS = 86_400;

export class DynamoSlowMarkStore implements SlowMarkStore {
  constructor(private readonly tableName: string) {}

  async read(tenantId: string, subscriptionId: string): Promise<SlowMark | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: key(tenantId, subscriptionId), ProjectionExpression: 'markedAt' }));
    const markedAt = Number(out.Item?.markedAt);
    return Number.isFinite(markedAt) ? { markedAt } : undefined;
  }

  /** Never moves a mark back in time (invocations' clocks and timers interleave). */
  async mark(tenantId: string, subscriptionId: string, markedAt: number, expiresAt: number): Promise<void> {
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(tenantId, subscriptionId),
        UpdateExpression: 'SET markedAt = :at, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(markedAt) OR markedAt < :at',
        ExpressionAttributeNames: { '#ttl': TTL },
        ExpressionAttributeValues: { ':at': markedAt, ':ttl': Math.floor(expiresAt / 1000) + KEEP_AFTER_LAPSE_SECONDS },
      }),
    );
  }

  async clear(tenantId: string, subscriptionId: string, markedAt: number): Promise<void> {
    try {
      await dynamo().send(
        new DeleteCommand({ TableName: this.tableName, Key: key(tenantId, subscriptionId), ConditionExpression: 'markedAt = :at', ExpressionAttributeValues: { ':at': markedAt } }),
      );
    } catch (error) {
      // Renewed since it was read: a slow attempt wins over a fast one.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
