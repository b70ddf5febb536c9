import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SlowMark, SlowMarkStore } from '#core/slow-lane';
import { dynamo } from './clients.ts';
import { conditionalUpdate } from './dynamo-helpers.ts';
import { slowMarkKey as key, TTL } from './table-keys.ts';

/**
 * A subscription's slow mark (core/slow-lane.ts), one small item beside its throttle state:
 * THROTTLE#<tid>#<sid> / SLOW with `markedAt` (ms). Read eventually consistent (0.5 RRU), and
 * each answer kept by the container for READ_CACHE_MS, so a busy subscription costs one read
 * per container every 10 s rather than one per batch (marks change a few times an hour at
 * most). A mark set by another container reaches this one within those 10 s; meanwhile this
 * container's own attempts to that receiver run past 5 s and mark it here at once, since a
 * container's own writes update what it keeps.
 * DynamoDB's TTL removes it a day after it lapsed; until then the time in it decides.
 */
const KEEP_AFTER_LAPSE_SECONDS = 86_400;
export const READ_CACHE_MS = 10_000;

export class DynamoSlowMarkStore implements SlowMarkStore {
  /** What this container last read or wrote, per subscription, and when. */
  private readonly kept = new Map<string, { mark: SlowMark | undefined; at: number }>();

  constructor(
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async read(tenantId: string, subscriptionId: string): Promise<SlowMark | undefined> {
    const id = `${tenantId}#${subscriptionId}`;
    const kept = this.kept.get(id);
    if (kept && this.now() - kept.at < READ_CACHE_MS) return kept.mark;
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: key(tenantId, subscriptionId), ProjectionExpression: 'markedAt' }));
    const markedAt = Number(out.Item?.markedAt);
    const mark = Number.isFinite(markedAt) ? { markedAt } : undefined;
    this.kept.set(id, { mark, at: this.now() });
    return mark;
  }

  /** Never moves a mark back in time (invocations' clocks and timers interleave). */
  async mark(tenantId: string, subscriptionId: string, markedAt: number, expiresAt: number): Promise<void> {
    const id = `${tenantId}#${subscriptionId}`;
    // Whatever the outcome, what was kept may be stale: a refused write means a later mark is stored.
    this.kept.delete(id);
    const written = await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(tenantId, subscriptionId),
        UpdateExpression: 'SET markedAt = :at, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(markedAt) OR markedAt < :at',
        ExpressionAttributeNames: { '#ttl': TTL },
        ExpressionAttributeValues: { ':at': markedAt, ':ttl': Math.floor(expiresAt / 1000) + KEEP_AFTER_LAPSE_SECONDS },
      }),
    );
    if (written) this.kept.set(id, { mark: { markedAt }, at: this.now() });
  }

  async clear(tenantId: string, subscriptionId: string, markedAt: number): Promise<void> {
    const id = `${tenantId}#${subscriptionId}`;
    this.kept.delete(id);
    try {
      await dynamo().send(
        new DeleteCommand({ TableName: this.tableName, Key: key(tenantId, subscriptionId), ConditionExpression: 'markedAt = :at', ExpressionAttributeValues: { ':at': markedAt } }),
      );
      this.kept.set(id, { mark: undefined, at: this.now() });
    } catch (error) {
      // Renewed since it was read: a slow attempt wins over a fast one.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
