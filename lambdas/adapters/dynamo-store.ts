import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import type { Delivery } from '#core/delivery';
import type { DeliveryJob } from '#core/delivery-job';
import type { CloudEvent } from '#core/envelope';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  AttemptRecord,
  DeliveryStore,
  DestinationBindingStore,
  EventQuery,
  EventStore,
  Page,
  PageRequest,
  StoredEvent,
  SubscriptionIndexEntry,
  SubscriptionStore,
  Tenant,
  TenantStore,
} from '#core/ports';
import type { Subscription } from '#core/subscription';
import type { DestinationBinding } from '#core/destination-trust';
import { dynamo } from './clients.ts';
import { batchWriteAll } from './dynamo-helpers.ts';
import { attemptSlot, deliveryFromItem } from './delivery-items.ts';
import {
  apiKeyKey,
  bindingKey,
  deadLetterKey,
  deadLetterPartition,
  deliveryKey,
  deliveryLogKey,
  deliveryLogPartition,
  eventIndexKeys,
  eventKey,
  eventsBySubjectPartition,
  eventsByTimePartition,
  eventTimeRange,
  fanoutEntryKey,
  fanoutPartition,
  GSI1 as gsi1,
  GSI2 as gsi2,
  heldKey,
  heldPartition,
  heldPrefix,
  PAGE_TOKEN_KEY_ITEM,
  pendingKey,
  PK,
  quotaKey,
  SK,
  subscriptionKey,
  SUBSCRIPTION_PREFIX,
  sweepKeys,
  tenantApiKeyKey,
  TENANT_API_KEY_PREFIX,
  tenantKey,
  tenantPartition,
  TTL,
  withoutKeys,
} from './table-keys.ts';
import { openPageToken, PAGE_TOKEN_KEY_BYTES, pageTokenRefused, sealPageToken } from './page-tokens.ts';

const DAY_SECONDS = 86_400;
const expiry = (now: Date, days: number) => Math.floor(now.getTime() / 1000) + Math.round(days * DAY_SECONDS);

/** Per container and table: read once, created by whichever container needs it first. */
const pageTokenKeys = new Map<string, Promise<Buffer>>();

function pageTokenKey(tableName: string): Promise<Buffer> {
  let key = pageTokenKeys.get(tableName);
  if (!key) {
    key = loadOrCreatePageTokenKey(tableName);
    pageTokenKeys.set(tableName, key);
    key.catch(() => pageTokenKeys.delete(tableName));
  }
  return key;
}

/** Reads the key, creating it if absent; concurrent first uses agree on one key. Exported for tests (no cache). */
export async function loadOrCreatePageTokenKey(tableName: string): Promise<Buffer> {
  const read = async (): Promise<Buffer | undefined> => {
    const out = await dynamo().send(new GetCommand({ TableName: tableName, Key: PAGE_TOKEN_KEY_ITEM, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const key = typeof out.Item.key === 'string' ? Buffer.from(out.Item.key, 'base64') : undefined;
    if (!key || key.length !== PAGE_TOKEN_KEY_BYTES) throw new Error('the page token key item is malformed');
    return key;
  };
  const existing = await read();
  if (existing) return existing;
  const fresh = randomBytes(PAGE_TOKEN_KEY_BYTES);
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...PAGE_TOKEN_KEY_ITEM, key: fresh.toString('base64'), createdAt: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
      }),
    );
    return fresh;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Another container created it first: use theirs.
    const winner = await read();
    if (!winner) throw new Error('the page token key item vanished');
    return winner;
  }
}

/**
 * What a page token is bound to: the whole query (index, key condition, filter, direction and
 * their values). The values carry the tenant, and for the delivery log the subscription; for
 * held jobs the partition (HELD#<shard>) is shared, so the sort-key prefix is what binds them.
 * Also names the partition attribute and value the start key must carry.
 */
function pageScope(input: Omit<QueryCommandInput, 'TableName'>): { scope: string; partition: [string, unknown] } {
  const match = /^(#\w+) = (:\w+)/.exec(input.KeyConditionExpression ?? '');
  const attribute = match && input.ExpressionAttributeNames?.[match[1]!];
  if (!match || !attribute) throw new Error('paginated queries start their key condition with "#name = :value"');
  const values = input.ExpressionAttributeValues ?? {};
  const scope = JSON.stringify([
    input.IndexName ?? 'table',
    input.KeyConditionExpression,
    input.FilterExpression ?? '',
    input.ScanIndexForward ?? true,
    Object.keys(values)
      .sort()
      .map((name) => [name, values[name]]),
  ]);
  return { scope, partition: [attribute, values[match[2]!]] };
}

export class DynamoStore implements TenantStore, ApiKeyStore, SubscriptionStore, EventStore, DeliveryStore, DestinationBindingStore {
  constructor(private readonly tableName: string) {}

  /**
   * One page of a query. Every list that hands a nextToken out goes through here, so every
   * token is sealed for, and only opens for, the query that produced it (see pageScope).
   */
  private async queryPage<T>(input: Omit<QueryCommandInput, 'TableName'>, page: PageRequest, read: (item: Record<string, unknown>) => T = (item) => item as T): Promise<Page<T>> {
    const { scope, partition } = pageScope(input);
    let start: Record<string, unknown> | undefined;
    if (page.nextToken !== undefined) {
      start = openPageToken(await pageTokenKey(this.tableName), scope, page.nextToken);
      // Implied by the seal; checked anyway so no start key can leave the query's partition.
      if (start[partition[0]] !== partition[1]) throw pageTokenRefused();
    }
    const out = await dynamo().send(new QueryCommand({ ...input, TableName: this.tableName, Limit: page.limit, ExclusiveStartKey: start }));
    const items = (out.Items ?? []).map((item) => read(withoutKeys<Record<string, unknown>>(item)!));
    if (!out.LastEvaluatedKey) return { items };
    return { items, nextToken: sealPageToken(await pageTokenKey(this.tableName), scope, out.LastEvaluatedKey) };
  }

  async putTenant(tenant: Tenant): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...tenantKey(tenant.id), ...tenant } }));
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: tenantKey(id) }));
    return withoutKeys<Tenant>(out.Item);
  }

  async getDestinationBinding(tenantId: string): Promise<DestinationBinding | undefined> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: bindingKey(tenantId), ConsistentRead: true }),
    );
    return withoutKeys<DestinationBinding>(out.Item);
  }

  async putDestinationBinding(binding: DestinationBinding): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...bindingKey(binding.tenantId), ...binding } }));
  }

  async deleteDestinationBinding(tenantId: string): Promise<boolean> {
    const out = await dynamo().send(
      new DeleteCommand({ TableName: this.tableName, Key: bindingKey(tenantId), ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...apiKeyKey(record.hash), ...record } }));
    if (record.tenantId) {
      await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...tenantApiKeyKey(record.tenantId, record.prefix), ...record } }));
    }
  }

  async listApiKeys(tenantId: string): Promise<Omit<ApiKeyRecord, 'hash'>[]> {
    const items = await this.queryAll(tenantPartition(tenantId), TENANT_API_KEY_PREFIX);
    return items.map((item) => {
      const { hash: _hash, ...rest } = withoutKeys<ApiKeyRecord>(item)!;
      return rest;
    });
  }

  async revokeApiKey(tenantId: string, prefix: string, at: string): Promise<boolean> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: tenantApiKeyKey(tenantId, prefix), ConsistentRead: true }),
    );
    const record = withoutKeys<ApiKeyRecord>(out.Item);
    if (!record) return false;
    // The key record first: that is what the authorizer reads.
    for (const key of [apiKeyKey(record.hash), tenantApiKeyKey(tenantId, prefix)]) {
      await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    }
    return true;
  }

  async getApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: apiKeyKey(hash) }));
    return withoutKeys<ApiKeyRecord>(out.Item);
  }

  /**
   * Without transactions (dynalite has none, and they double the write cost) the subscription is
   * written first and the index after; a stale index entry is harmless because the deliver
   * function re-reads the subscription before sending.
   */
  async putSubscription(subscription: Subscription, previous?: Subscription): Promise<void> {
    await dynamo().send(
      new PutCommand({ TableName: this.tableName, Item: { ...subscriptionKey(subscription.tenantId, subscription.id), ...subscription } }),
    );
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
    const deletes = removed.map((pattern) => ({
      DeleteRequest: { Key: fanoutEntryKey(subscription.tenantId, pattern, subscription.id) },
    }));
    await this.batchWrite([...puts, ...deletes]);
  }

  async getSubscription(tenantId: string, id: string): Promise<Subscription | undefined> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: subscriptionKey(tenantId, id), ConsistentRead: true }),
    );
    return withoutKeys<Subscription>(out.Item);
  }

  async countSubscriptions(tenantId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :sub)',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': tenantPartition(tenantId), ':sub': SUBSCRIPTION_PREFIX },
          Select: 'COUNT',
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  async consumeQuota(tenantId: string, quota: string, window: string, amount: number, limit: number): Promise<boolean> {
    if (amount > limit) return false;
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: quotaKey(tenantId, quota, window),
          UpdateExpression: 'ADD used :amount SET #ttl = if_not_exists(#ttl, :expires)',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeNames: { '#ttl': TTL },
          ExpressionAttributeValues: { ':amount': amount, ':room': limit - amount, ':expires': expiry(new Date(), 2) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  listSubscriptions(tenantId: string, page: PageRequest): Promise<Page<Subscription>> {
    return this.queryPage<Subscription>(
      {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': tenantPartition(tenantId), ':prefix': SUBSCRIPTION_PREFIX },
      },
      page,
    );
  }

  async deleteSubscription(subscription: Subscription): Promise<void> {
    // Index first: once gone from the index no new deliveries are planned for it.
    await this.batchWrite(
      subscription.eventTypes.map((pattern) => ({
        DeleteRequest: { Key: fanoutEntryKey(subscription.tenantId, pattern, subscription.id) },
      })),
    );
    await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: subscriptionKey(subscription.tenantId, subscription.id) }));
  }

  async findSubscriptionsByPatterns(tenantId: string, patterns: string[]): Promise<SubscriptionIndexEntry[]> {
    const pages = await Promise.all(patterns.map((pattern) => this.queryAll(fanoutPartition(tenantId, pattern))));
    return pages.flat().map((item) => withoutKeys<SubscriptionIndexEntry>(item)!);
  }

  private async queryAll(pk: string, skPrefix?: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo().send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: skPrefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
          ExpressionAttributeNames: skPrefix ? { '#pk': PK, '#sk': SK } : { '#pk': PK },
          ExpressionAttributeValues: skPrefix ? { ':pk': pk, ':prefix': skPrefix } : { ':pk': pk },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    return batchWriteAll(this.tableName, requests);
  }

  async putEventIfAbsent(event: CloudEvent, retentionDays: number, sweepAt?: string, publishedAt?: string): Promise<StoredEvent | undefined> {
    try {
      await dynamo().send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...eventKey(event.tenantid, event.id),
            ...eventIndexKeys(event.tenantid, event.id, event.subject, event.time),
            ...(sweepAt ? sweepKeys(event.tenantid, event.id, sweepAt) : {}),
            [TTL]: expiry(new Date(), retentionDays),
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
      const out = await dynamo().send(
        new GetCommand({ TableName: this.tableName, Key: eventKey(event.tenantid, event.id), ConsistentRead: true }),
      );
      return withoutKeys<StoredEvent>(out.Item);
    }
  }

  async getEvent(tenantId: string, id: string): Promise<StoredEvent | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: eventKey(tenantId, id) }));
    return withoutKeys<StoredEvent>(out.Item);
  }

  async findEvents(tenantId: string, query: EventQuery): Promise<StoredEvent[]> {
    const bySubject = query.subject !== undefined;
    const index = bySubject ? gsi1 : gsi2;
    const pk = bySubject ? eventsBySubjectPartition(tenantId, query.subject!) : eventsByTimePartition(tenantId);
    const { lower, upper } = eventTimeRange(query.from, query.to);
    const items: StoredEvent[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo().send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
          ExpressionAttributeValues: { ':pk': pk, ':lower': lower, ':upper': upper },
          ExclusiveStartKey: start,
          Limit: Math.min(1000, query.limit - items.length),
        }),
      );
      items.push(...(out.Items ?? []).map((item) => withoutKeys<StoredEvent>(item)!));
      start = out.LastEvaluatedKey;
    } while (start && items.length < query.limit);
    return items;
  }

  async markEventPublished(tenantId: string, eventId: string, at: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: eventKey(tenantId, eventId),
        UpdateExpression: 'SET publishedAt = :at',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  async markEventUnpublished(tenantId: string, eventId: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: eventKey(tenantId, eventId),
        UpdateExpression: 'REMOVE publishedAt',
      }),
    );
  }

  async recordAttempt({ delivery, attempt, status, retentionDays }: AttemptRecord): Promise<void> {
    const log = deliveryLogKey(delivery.tenantId, delivery.subscriptionId, delivery.createdAt, delivery.id);
    const names: Record<string, string> = { '#status': 'status', '#gpk': gsi1.partitionKey, '#gsk': gsi1.sortKey, '#ttl': TTL, '#slot': attemptSlot(attempt.number) };
    const values: Record<string, unknown> = {
      ':status': status,
      ':now': attempt.at,
      ':attempt': attempt,
      ':gpk': log.pk,
      ':gsk': log.sk,
      ':ttl': expiry(new Date(), retentionDays),
    };
    const sets = [
      '#status = :status',
      'updatedAt = :now',
      '#slot = :attempt',
      '#gpk = :gpk',
      '#gsk = :gsk',
      '#ttl = :ttl',
    ];
    for (const field of ['id', 'tenantId', 'subscriptionId', 'eventId', 'eventType', 'subject', 'createdAt'] as const) {
      sets.push(`#${field} = if_not_exists(#${field}, :${field})`);
      names[`#${field}`] = field;
      values[`:${field}`] = delivery[field];
    }
    // An attempt ends any hold: the job it kept is no longer needed.
    const removes: string[] = ['job', 'heldAt'];
    names['#dpk'] = gsi2.partitionKey;
    names['#dsk'] = gsi2.sortKey;
    if (status === 'failed') {
      sets.push('#dpk = :dpk', '#dsk = :dsk');
      const key = deadLetterKey(delivery.tenantId, delivery.finishedAt ?? attempt.at, delivery.id);
      values[':dpk'] = key.pk;
      values[':dsk'] = key.sk;
    } else if (status === 'pending' && delivery.nextAttemptAt) {
      const key = pendingKey(delivery.id, delivery.nextAttemptAt);
      sets.push('#dpk = :dpk', '#dsk = :dsk');
      values[':dpk'] = key.pk;
      values[':dsk'] = key.sk;
    } else removes.push('#dpk', '#dsk');
    for (const field of ['firstAttemptAt', 'retryFrom', 'orderingGroup', 'eventIds'] as const) {
      if (delivery[field] === undefined) continue;
      names[`#${field}`] = field;
      sets.push(`#${field} = :${field}`);
      values[`:${field}`] = delivery[field];
    }
    for (const field of ['nextAttemptAt', 'finishedAt', 'reason'] as const) {
      names[`#${field}`] = field;
      if (delivery[field] !== undefined) {
        sets.push(`#${field} = :${field}`);
        values[`:${field}`] = delivery[field];
      } else removes.push(`#${field}`);
    }
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(delivery.id),
        UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: deliveryKey(id), ConsistentRead: true }));
    const item = withoutKeys<Record<string, unknown>>(out.Item);
    return item && deliveryFromItem(item);
  }

  listDeadLetters(tenantId: string, page: PageRequest & { subscriptionId?: string }): Promise<Page<Delivery>> {
    const bySubscription = page.subscriptionId !== undefined;
    return this.queryPage<Delivery>(
      {
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#dpk = :dpk',
        ScanIndexForward: false,
        ...(bySubscription ? { FilterExpression: 'subscriptionId = :sid' } : {}),
        ExpressionAttributeNames: { '#dpk': gsi2.partitionKey },
        ExpressionAttributeValues: { ':dpk': deadLetterPartition(tenantId), ...(bySubscription ? { ':sid': page.subscriptionId } : {}) },
      },
      page,
      deliveryFromItem,
    );
  }

  async markRedriven(deliveryId: string, at: string, retryFrom: number): Promise<void> {
    const key = pendingKey(deliveryId, at);
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(deliveryId),
        UpdateExpression:
          'SET #status = :pending, updatedAt = :at, redrivenAt = :at, nextAttemptAt = :at, firstAttemptAt = :at, retryFrom = :retryFrom, #dpk = :dpk, #dsk = :dsk REMOVE finishedAt, reason',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#status': 'status', '#dpk': gsi2.partitionKey, '#dsk': gsi2.sortKey, '#pk': PK },
        ExpressionAttributeValues: { ':pending': 'pending', ':at': at, ':dpk': key.pk, ':dsk': key.sk, ':retryFrom': retryFrom },
      }),
    ).catch((error: unknown) => {
      // A letter whose delivery record expired or never got written is still redriven.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  listDeliveries(tenantId: string, subscriptionId: string, page: PageRequest & { status?: Delivery['status'] }): Promise<Page<Delivery>> {
    return this.queryPage<Delivery>(
      {
        IndexName: gsi1.indexName,
        KeyConditionExpression: '#gpk = :gpk',
        ScanIndexForward: false,
        ...(page.status ? { FilterExpression: '#status = :status' } : {}),
        ExpressionAttributeNames: { '#gpk': gsi1.partitionKey, ...(page.status ? { '#status': 'status' } : {}) },
        ExpressionAttributeValues: { ':gpk': deliveryLogPartition(tenantId, subscriptionId), ...(page.status ? { ':status': page.status } : {}) },
      },
      page,
      deliveryFromItem,
    );
  }

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

  async holdDelivery(job: DeliveryJob, at: string, retentionDays: number): Promise<void> {
    const { event } = job;
    const log = deliveryLogKey(job.tenantId, job.subscriptionId, job.createdAt, job.deliveryId);
    const held = heldKey(job.tenantId, job.subscriptionId, at, job.deliveryId);
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(job.deliveryId),
        UpdateExpression: [
          'SET #status = :held, heldAt = :at, updatedAt = :at, job = :job, #gpk = :gpk, #gsk = :gsk, #dpk = :dpk, #dsk = :dsk, #ttl = :ttl',
          'id = if_not_exists(id, :id), tenantId = if_not_exists(tenantId, :tid), subscriptionId = if_not_exists(subscriptionId, :sid)',
          'eventId = if_not_exists(eventId, :eid), eventType = if_not_exists(eventType, :etype), subject = if_not_exists(subject, :subject)',
          'createdAt = if_not_exists(createdAt, :created), attempts = if_not_exists(attempts, :empty)',
        ].join(', '),
        ConditionExpression: 'attribute_not_exists(#status) OR #status IN (:pending, :held)',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#gpk': gsi1.partitionKey,
          '#gsk': gsi1.sortKey,
          '#dpk': gsi2.partitionKey,
          '#dsk': gsi2.sortKey,
          '#ttl': TTL,
        },
        ExpressionAttributeValues: {
          ':held': 'held',
          ':pending': 'pending',
          ':at': at,
          ':job': job,
          ':gpk': log.pk,
          ':gsk': log.sk,
          ':dpk': held.pk,
          ':dsk': held.sk,
          ':ttl': expiry(new Date(), retentionDays),
          ':id': job.deliveryId,
          ':tid': job.tenantId,
          ':sid': job.subscriptionId,
          ':eid': event.id,
          ':etype': event.type,
          ':subject': event.subject,
          ':created': job.createdAt,
          ':empty': [],
        },
      }),
    ).catch((error: unknown) => {
      // Already succeeded or dead-lettered (a duplicate message): nothing to hold.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  async listHeld(tenantId: string, subscriptionId: string, page: PageRequest): Promise<Page<DeliveryJob>> {
    const result = await this.queryPage<{ job: DeliveryJob }>(
      {
        IndexName: gsi2.indexName,
        KeyConditionExpression: '#dpk = :dpk AND begins_with(#dsk, :prefix)',
        ExpressionAttributeNames: { '#dpk': gsi2.partitionKey, '#dsk': gsi2.sortKey },
        ExpressionAttributeValues: { ':dpk': heldPartition(tenantId, subscriptionId), ':prefix': heldPrefix(tenantId, subscriptionId) },
      },
      page,
    );
    return { ...result, items: result.items.filter((item) => item.job).map((item) => item.job) };
  }

  async endHold(deliveryId: string, at: string, to: 'pending' | 'discarded'): Promise<boolean> {
    const key = pendingKey(deliveryId, at);
    return dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(deliveryId),
        UpdateExpression:
          to === 'pending'
            ? 'SET #status = :to, updatedAt = :at, nextAttemptAt = :at, #dpk = :dpk, #dsk = :dsk REMOVE job, heldAt'
            : 'SET #status = :to, updatedAt = :at, finishedAt = :at, reason = :reason REMOVE job, heldAt, #dpk, #dsk',
        ConditionExpression: '#status = :held',
        ExpressionAttributeNames: { '#status': 'status', '#dpk': gsi2.partitionKey, '#dsk': gsi2.sortKey },
        ExpressionAttributeValues: {
          ':to': to,
          ':at': at,
          ':held': 'held',
          ...(to === 'pending' ? { ':dpk': key.pk, ':dsk': key.sk } : { ':reason': 'discarded when the subscription resumed' }),
        },
      }),
    ).then(
      () => true,
      (error: unknown) => {
        // Someone else ended this hold first (a concurrent release): theirs to enqueue.
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      },
    );
  }
}
