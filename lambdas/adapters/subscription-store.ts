import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { Page, PageRequest, SubscriptionIndexEntry, SubscriptionStore } from '#core/ports';
import type { Subscription } from '#core/subscription';
import { dynamo } from './clients.ts';
import { batchWriteAll } from './dynamo-helpers.ts';
import { queryCount, queryItems, queryTokenPage } from './table-queries.ts';
import { fanoutEntryKey, fanoutPartition, PK, SK, SUBSCRIPTION_PREFIX, subscriptionIndexVersionKey, subscriptionKey, tenantPartition, withoutKeys } from './table-keys.ts';

/**
 * Subscriptions in their tenant's partition, and the fan-out index: one small entry per
 * subscription and event-type pattern, holding what fan-out decides on (table-keys.ts), and the
 * tenant's index version, which fan-out reads per event to know whether its cache still holds.
 */
export class DynamoSubscriptionStore implements SubscriptionStore {
  constructor(private readonly tableName: string) {}

  /**
   * Without transactions (dynalite has none, and they double the write cost) the subscription is
   * written first, the index after, and the index version last: a fan-out container that sees
   * the new version then finds the new entries. A crash before the version moves leaves caches
   * stale until they expire (core/caching.ts, 60 s), and the failed request is retried. A stale
   * index entry is harmless because the deliver function re-reads the subscription before sending.
   */
  async putSubscription(subscription: Subscription, previous?: Subscription): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...subscriptionKey(subscription.tenantId, subscription.id), ...subscription } }));
    const entry: SubscriptionIndexEntry = {
      subscriptionId: subscription.id,
      status: subscription.status,
      filter: subscription.filter,
      versions: subscription.versions,
      createdAt: subscription.createdAt,
      ...(subscription.ordering !== 'none' ? { ordering: subscription.ordering } : {}),
      ...(subscription.batching ? { batching: subscription.batching } : {}),
    };
    const puts = subscription.eventTypes.map((pattern) => ({
      PutRequest: { Item: { ...fanoutEntryKey(subscription.tenantId, pattern, subscription.id), ...entry } },
    }));
    const removed = (previous?.eventTypes ?? []).filter((p) => !subscription.eventTypes.includes(p));
    const deletes = removed.map((pattern) => ({ DeleteRequest: { Key: fanoutEntryKey(subscription.tenantId, pattern, subscription.id) } }));
    await batchWriteAll(this.tableName, [...puts, ...deletes]);
    await this.moveIndexVersion(subscription.tenantId);
  }

  /** ADD creates the item at 1 on a table from before it existed (read as 0 until then). */
  private async moveIndexVersion(tenantId: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: subscriptionIndexVersionKey(tenantId),
        UpdateExpression: 'ADD #version :one',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  /**
   * Eventually consistent (0.5 RRU): one read of one item per event, so a consistent read's
   * 1 RRU would put a tenant at 5,000 events/s over the 3,000 RRU/s a partition serves. A
   * replica behind by a moment answers the previous version, as the index queries did before.
   */
  async subscriptionIndexVersion(tenantId: string): Promise<number> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: subscriptionIndexVersionKey(tenantId), ProjectionExpression: '#version', ExpressionAttributeNames: { '#version': 'version' } }),
    );
    return Number(out.Item?.version ?? 0);
  }

  async getSubscription(tenantId: string, id: string): Promise<Subscription | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: subscriptionKey(tenantId, id), ConsistentRead: true }));
    return withoutKeys<Subscription>(out.Item);
  }

  listSubscriptions(tenantId: string, page: PageRequest): Promise<Page<Subscription>> {
    return queryTokenPage<Subscription>(this.tableName, this.ofTenant(tenantId), page);
  }

  countSubscriptions(tenantId: string): Promise<number> {
    return queryCount(this.tableName, this.ofTenant(tenantId));
  }

  private ofTenant(tenantId: string) {
    return {
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': tenantPartition(tenantId), ':prefix': SUBSCRIPTION_PREFIX },
    };
  }

  async deleteSubscription(subscription: Subscription): Promise<void> {
    // Index first: once gone from the index (and its version moved) no new deliveries are planned for it.
    await batchWriteAll(
      this.tableName,
      subscription.eventTypes.map((pattern) => ({ DeleteRequest: { Key: fanoutEntryKey(subscription.tenantId, pattern, subscription.id) } })),
    );
    await this.moveIndexVersion(subscription.tenantId);
    await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: subscriptionKey(subscription.tenantId, subscription.id) }));
  }

  async findSubscriptionsByPatterns(tenantId: string, patterns: string[]): Promise<SubscriptionIndexEntry[]> {
    const pages = await Promise.all(
      patterns.map((pattern) =>
        queryItems(this.tableName, {
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': fanoutPartition(tenantId, pattern) },
          // A cache filled after reading version n must hold at least what n promises.
          ConsistentRead: true,
        }),
      ),
    );
    return pages.flat().map((item) => withoutKeys<SubscriptionIndexEntry>(item)!);
  }

  /**
   * Leaves the fan-out index and its version alone: fan-out plans deliveries for paused
   * subscriptions too (the deliver function holds them), so a pause changes nothing it reads.
   */
  async changeSubscriptionStatus(
    tenantId: string,
    id: string,
    change: { from: Subscription['status']; to: Subscription['status']; at: string; reason?: string },
  ): Promise<Subscription | undefined> {
    const pausing = change.to === 'paused';
    try {
      const out = await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionKey(tenantId, id),
          UpdateExpression: pausing
            ? 'SET #status = :to, updatedAt = :at, pausedAt = :at, pausedReason = :reason'
            : 'SET #status = :to, updatedAt = :at, resumedAt = :at REMOVE pausedAt, pausedReason',
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':to': change.to,
            ':from': change.from,
            ':at': change.at,
            ...(pausing ? { ':reason': change.reason ?? 'paused by the tenant' } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return withoutKeys<Subscription>(out.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}
