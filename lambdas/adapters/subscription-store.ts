import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { Page, PageRequest, SubscriptionIndexEntry, SubscriptionStore } from '#core/ports';
import type { Subscription } from '#core/subscription';
import { dynamo } from './clients.ts';
import { batchWriteAll } from './dynamo-helpers.ts';
import { queryCount, queryItems, queryTokenPage } from './table-queries.ts';
import { fanoutEntryKey, fanoutPartition, PK, SK, SUBSCRIPTION_PREFIX, subscriptionIndexVersionKey, subscriptionKey, tenantPartition, withoutKeys } from './table-keys.ts';

/** Attributes of the index version item: the tenant's pattern set, and the version it is vouched for at. */
const INDEX_PATTERNS = 'patterns';
const INDEX_LISTED = 'listed';
/** `listed` on a version item whose pattern set is not vouched for: far below any version, and moved with it. */
const UNLISTED = -1_000_000_000;
/** The most patterns a version item lists (≈ 40 bytes each: the item stays far under 4 KB, one 0.5 RRU read). */
export const MAX_LISTED_PATTERNS = 64;

/**
 * Subscriptions in their tenant's partition, and the fan-out index: one small entry per
 * subscription and event-type pattern, holding what fan-out decides on (table-keys.ts), and the
 * tenant's index version, which fan-out reads per event to know whether its cache still holds,
 * with the patterns the tenant's entries are under (so a look-up queries only those keys).
 */
export class DynamoSubscriptionStore implements SubscriptionStore {
  constructor(private readonly tableName: string) {}

  /**
   * Without transactions (dynalite has none, and they double the write cost) the subscription is
   * written first, a new pattern added to the tenant's set next, the index after, and the index
   * version last: a fan-out container that sees
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
    // A new pattern joins the tenant's set before any entry is written under it: a writer that
    // crashes before the version moves leaves entries whose pattern is listed, found once caches
    // reach their maximum age, and by the sweeper.
    const added = subscription.eventTypes.filter((p) => !previous?.eventTypes.includes(p));
    if (added.length > 0) await this.listPatterns(subscription.tenantId, added);
    await batchWriteAll(this.tableName, [...puts, ...deletes]);
    await this.moveIndexVersion(subscription.tenantId, subscription.eventTypes);
  }

  /** Adds patterns to the tenant's set (a union: the set only grows, until it is too large to keep). */
  private async listPatterns(tenantId: string, patterns: string[]): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: subscriptionIndexVersionKey(tenantId),
        UpdateExpression: 'ADD #patterns :patterns',
        ExpressionAttributeNames: { '#patterns': INDEX_PATTERNS },
        ExpressionAttributeValues: { ':patterns': new Set(patterns) },
      }),
    );
  }

  /**
   * ADD creates the item at 1 on a table from before it existed (read as 0 until then). The same
   * write adds the patterns this change wrote entries under to the tenant's pattern set and moves
   * `listed` with the version: the set is vouched for while `listed` equals the version. A table
   * from before the set, or a change by a version that did not keep it, leaves them apart (a
   * first `listed` starts far below any version); the set is then rebuilt from the tenant's
   * subscriptions, once.
   */
  private async moveIndexVersion(tenantId: string, patterns: string[] = []): Promise<void> {
    const out = await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: subscriptionIndexVersionKey(tenantId),
        UpdateExpression: `ADD #version :one${patterns.length > 0 ? ', #patterns :patterns' : ''} SET #listed = if_not_exists(#listed, :unlisted) + :one`,
        ExpressionAttributeNames: { '#version': 'version', '#listed': INDEX_LISTED, ...(patterns.length > 0 ? { '#patterns': INDEX_PATTERNS } : {}) },
        ExpressionAttributeValues: { ':one': 1, ':unlisted': UNLISTED, ...(patterns.length > 0 ? { ':patterns': new Set(patterns) } : {}) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const version = Number(out.Attributes?.version ?? 0);
    const kept = out.Attributes?.[INDEX_PATTERNS] as Set<string> | undefined;
    if (Number(out.Attributes?.[INDEX_LISTED]) !== version || (kept?.size ?? 0) > MAX_LISTED_PATTERNS) await this.relistPatterns(tenantId, version);
  }

  /**
   * The tenant's pattern set vouched for at `version`: the patterns of its subscriptions (a
   * consistent query: every subscription whose entries a version up to `version` promises was
   * written before that version moved) added to the set (a union, never a replacement: a change
   * running beside this one has listed its new patterns already, or lists them before its
   * entries), written only if no change moved the version since. A tenant with more than
   * MAX_LISTED_PATTERNS patterns keeps none (the version item stays one small read per event):
   * lookups then query every pattern key of a type.
   */
  private async relistPatterns(tenantId: string, version: number): Promise<void> {
    const subscriptions = await queryItems(this.tableName, { ...this.ofTenant(tenantId), ConsistentRead: true, ProjectionExpression: 'eventTypes' });
    const patterns = new Set(subscriptions.flatMap((item) => (Array.isArray(item.eventTypes) ? item.eventTypes.map(String) : [])));
    const current = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: subscriptionIndexVersionKey(tenantId), ConsistentRead: true, ProjectionExpression: '#patterns', ExpressionAttributeNames: { '#patterns': INDEX_PATTERNS } }),
    );
    const all = new Set([...patterns, ...((current.Item?.[INDEX_PATTERNS] as Set<string> | undefined) ?? [])]);
    const listable = all.size <= MAX_LISTED_PATTERNS;
    await dynamo()
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionIndexVersionKey(tenantId),
          UpdateExpression: !listable ? 'SET #listed = :listed REMOVE #patterns' : patterns.size > 0 ? 'SET #listed = :listed ADD #patterns :patterns' : 'SET #listed = :listed',
          ConditionExpression: '#version = :version',
          ExpressionAttributeNames: { '#version': 'version', '#listed': INDEX_LISTED, ...(listable && patterns.size === 0 ? {} : { '#patterns': INDEX_PATTERNS }) },
          ExpressionAttributeValues: { ':version': version, ':listed': listable ? version : UNLISTED, ...(listable && patterns.size > 0 ? { ':patterns': patterns } : {}) },
        }),
      )
      .catch((error: Error) => {
        // Another change moved the version first: its own write keeps or rebuilds the set.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  /**
   * Eventually consistent (0.5 RRU): one read of one item per event, so a consistent read's
   * 1 RRU would put a tenant at 5,000 events/s over the 3,000 RRU/s a partition serves. A
   * replica behind by a moment answers the previous version, as the index queries did before.
   */
  async subscriptionIndexVersion(tenantId: string): Promise<number> {
    return (await this.subscriptionIndexHead(tenantId)).version;
  }

  /** The version and, when vouched for, the tenant's pattern set: the same one small read (≤ MAX_LISTED_PATTERNS patterns keep it under 4 KB, 0.5 RRU). */
  async subscriptionIndexHead(tenantId: string): Promise<{ version: number; patterns?: string[] }> {
    const out = await dynamo().send(
      new GetCommand({
        TableName: this.tableName,
        Key: subscriptionIndexVersionKey(tenantId),
        ProjectionExpression: '#version, #listed, #patterns',
        ExpressionAttributeNames: { '#version': 'version', '#listed': INDEX_LISTED, '#patterns': INDEX_PATTERNS },
      }),
    );
    const version = Number(out.Item?.version ?? 0);
    if (version === 0 || Number(out.Item?.[INDEX_LISTED]) !== version) return { version };
    const patterns = out.Item?.[INDEX_PATTERNS] as Set<string> | undefined;
    return { version, patterns: patterns ? [...patterns].map(String) : [] };
  }

  /** Strongly consistent (1 RRU) unless asked otherwise: the API reads its own writes. */
  async getSubscription(tenantId: string, id: string, read: { consistent?: boolean } = {}): Promise<Subscription | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: subscriptionKey(tenantId, id), ConsistentRead: read.consistent ?? true }));
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

  async findSubscriptionsByPatterns(tenantId: string, patterns: string[], read: { consistent?: boolean } = {}): Promise<SubscriptionIndexEntry[]> {
    const pages = await Promise.all(
      patterns.map((pattern) =>
        queryItems(this.tableName, {
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': fanoutPartition(tenantId, pattern) },
          // A cache filled after reading version n must hold at least what n promises.
          ConsistentRead: read.consistent ?? true,
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
