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
import { TABLE_SCHEMA } from '../../lib/herald-config.ts';
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
import { openPageToken, PAGE_TOKEN_KEY_BYTES, pageTokenRefused, sealPageToken } from './page-tokens.ts';

/**
 * One DynamoDB table for everything (single-table design). Keys:
 *   tenant        TENANT#<tid>          #TENANT
 *   api key       APIKEY#<sha256>       #APIKEY          (also portal sessions: portal, readOnly, sessionEndsAt; TTL a day after)
 *   key by prefix TENANT#<tid>          KEY#<prefix>     (hash, for listing and revocation)
 *   binding       TENANT#<tid>          #BINDING         (the AWS accounts and buses it may deliver to)
 *   subscription  TENANT#<tid>          SUB#<sid>
 *   fan-out index SUBIDX#<tid>#<pattern> SUB#<sid>       (one per event-type pattern)
 *   event         TENANT#<tid>          EVT#<eid>        gsi1: SUBJECT#<tid>#<subject> / <time>#<eid>
 *                                                        gsi2: EVENTS#<tid> / <time>#<eid>
 *                                                        gsi3: SWEEP#<shard> / <dueAt>#<tid>#<eid> (the sweeper's list)
 *   recheck       RESWEEP#<tid>#<eid>   #RESWEEP         gsi3 as the event's (lambdas/adapters/sweep-store.ts)
 *   sweep cursor  SWEEP                 CURSOR#<shard>
 *   delivery      DLV#<did>             #DLV             gsi1: SUBDLV#<tid>#<sid> / <createdAt>#<did>
 *                                                        gsi2, by status (sparse, one at a time):
 *                                                          pending  PENDING#<shard> / <nextAttemptAt>#<did>  (the sweeper)
 *                                                          held     HELD#<shard>    / <tid>#<sid>#<heldAt>#<did>
 *                                                          failed   DEAD#<tid>      / <finishedAt>#<did>
 *   stats         STATS#<tid>#<sid>     B#<ten-minute block> | HEALTH   (lambdas/adapters/stats-store.ts)
 *   quota use     QUOTA#<tid>           <quota>#<window> (used: count in the window; expires after two days)
 *   batch buffer  BATCH#<tid>#<sid>     ITEM#<time>#<eid> | STATE      (lambdas/adapters/batch-store.ts)
 *                                                        STATE with a look scheduled, gsi2: BATCHCHECK#<shard> / <checkAt>#<tid>#<sid>
 *   page token key CONFIG              PAGE_TOKEN_KEY#v1 (the AES key sealing nextTokens; no index, no TTL;
 *                                                        no route addresses a bare pk, so no tenant reads it)
 */
const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL, gsi1, gsi2, gsi3 } = TABLE_SCHEMA;
const KEY_FIELDS = [PK, SK, TTL, gsi1.partitionKey, gsi1.sortKey, gsi2.partitionKey, gsi2.sortKey, gsi3.partitionKey, gsi3.sortKey];

const DAY_SECONDS = 86_400;

/** Pending deliveries and holds spread over this many GSI partitions each. */
export const SHARDS = 8;

export function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

export const pendingKey = (deliveryId: string, nextAttemptAt: string) => ({
  pk: `PENDING#${shardOf(deliveryId)}`,
  sk: `${nextAttemptAt}#${deliveryId}`,
});
/** An event on the sweeper's list: gsi3 SWEEP#<shard> / <dueAt>#<tid>#<eid>. */
export const sweepKeys = (tenantId: string, eventId: string, dueAt: string) => ({
  [TABLE_SCHEMA.gsi3.partitionKey]: `SWEEP#${shardOf(`${tenantId}#${eventId}`)}`,
  [TABLE_SCHEMA.gsi3.sortKey]: `${dueAt}#${tenantId}#${eventId}`,
});

export const heldPartition = (tenantId: string, subscriptionId: string) => `HELD#${shardOf(`${tenantId}#${subscriptionId}`)}`;
const expiry = (now: Date, days: number) => Math.floor(now.getTime() / 1000) + Math.round(days * DAY_SECONDS);

function stripKeys<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const copy = { ...item };
  for (const field of KEY_FIELDS) delete copy[field];
  return copy as T;
}

/** The item holding the key that seals pagination tokens (lambdas/adapters/page-tokens.ts). */
export const PAGE_TOKEN_KEY_ITEM = { [PK]: 'CONFIG', [SK]: 'PAGE_TOKEN_KEY#v1' } as const;

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
    const items = (out.Items ?? []).map((item) => read(stripKeys<Record<string, unknown>>(item)!));
    if (!out.LastEvaluatedKey) return { items };
    return { items, nextToken: sealPageToken(await pageTokenKey(this.tableName), scope, out.LastEvaluatedKey) };
  }

  async putTenant(tenant: Tenant): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { [PK]: `TENANT#${tenant.id}`, [SK]: '#TENANT', ...tenant } }));
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${id}`, [SK]: '#TENANT' } }));
    return stripKeys<Tenant>(out.Item);
  }

  async getDestinationBinding(tenantId: string): Promise<DestinationBinding | undefined> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${tenantId}`, [SK]: '#BINDING' }, ConsistentRead: true }),
    );
    return stripKeys<DestinationBinding>(out.Item);
  }

  async putDestinationBinding(binding: DestinationBinding): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { [PK]: `TENANT#${binding.tenantId}`, [SK]: '#BINDING', ...binding } }));
  }

  async deleteDestinationBinding(tenantId: string): Promise<boolean> {
    const out = await dynamo().send(
      new DeleteCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${tenantId}`, [SK]: '#BINDING' }, ReturnValues: 'ALL_OLD' }),
    );
    return out.Attributes !== undefined;
  }

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { [PK]: `APIKEY#${record.hash}`, [SK]: '#APIKEY', ...record } }));
    if (record.tenantId) {
      await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { [PK]: `TENANT#${record.tenantId}`, [SK]: `KEY#${record.prefix}`, ...record } }));
    }
  }

  async putPortalSession(record: ApiKeyRecord & { portal: true; sessionEndsAt: string }): Promise<void> {
    // No KEY#<prefix> item: a session is neither listed nor counted against the key quota. The
    // table's TTL removes it a day after it ends (authentication refuses it from its end on).
    const ttl = Math.floor(Date.parse(record.sessionEndsAt) / 1000) + DAY_SECONDS;
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { [PK]: `APIKEY#${record.hash}`, [SK]: '#APIKEY', ...record, [TTL]: ttl } }));
  }

  async listApiKeys(tenantId: string): Promise<Omit<ApiKeyRecord, 'hash'>[]> {
    const items = await this.queryAll(`TENANT#${tenantId}`, 'KEY#');
    return items.map((item) => {
      const { hash: _hash, ...rest } = stripKeys<ApiKeyRecord>(item)!;
      return rest;
    });
  }

  async revokeApiKey(tenantId: string, prefix: string, at: string): Promise<boolean> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${tenantId}`, [SK]: `KEY#${prefix}` }, ConsistentRead: true }),
    );
    const record = stripKeys<ApiKeyRecord>(out.Item);
    if (!record) return false;
    // The key record first: that is what the authorizer reads.
    for (const key of [{ [PK]: `APIKEY#${record.hash}`, [SK]: '#APIKEY' }, { [PK]: `TENANT#${tenantId}`, [SK]: `KEY#${prefix}` }]) {
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
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: `APIKEY#${hash}`, [SK]: '#APIKEY' } }));
    return stripKeys<ApiKeyRecord>(out.Item);
  }

  /**
   * Without transactions (dynalite has none, and they double the write cost) the subscription is
   * written first and the index after; a stale index entry is harmless because the deliver
   * function re-reads the subscription before sending.
   */
  async putSubscription(subscription: Subscription, previous?: Subscription): Promise<void> {
    await dynamo().send(
      new PutCommand({ TableName: this.tableName, Item: { [PK]: `TENANT#${subscription.tenantId}`, [SK]: `SUB#${subscription.id}`, ...subscription } }),
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
      PutRequest: { Item: { [PK]: `SUBIDX#${subscription.tenantId}#${pattern}`, [SK]: `SUB#${subscription.id}`, ...entry } },
    }));
    const removed = (previous?.eventTypes ?? []).filter((p) => !subscription.eventTypes.includes(p));
    const deletes = removed.map((pattern) => ({
      DeleteRequest: { Key: { [PK]: `SUBIDX#${subscription.tenantId}#${pattern}`, [SK]: `SUB#${subscription.id}` } },
    }));
    await this.batchWrite([...puts, ...deletes]);
  }

  async getSubscription(tenantId: string, id: string): Promise<Subscription | undefined> {
    const out = await dynamo().send(
      new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${tenantId}`, [SK]: `SUB#${id}` }, ConsistentRead: true }),
    );
    return stripKeys<Subscription>(out.Item);
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
          ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':sub': 'SUB#' },
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
          Key: { [PK]: `QUOTA#${tenantId}`, [SK]: `${quota}#${window}` },
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
        ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':prefix': 'SUB#' },
      },
      page,
    );
  }

  async deleteSubscription(subscription: Subscription): Promise<void> {
    // Index first: once gone from the index no new deliveries are planned for it.
    await this.batchWrite(
      subscription.eventTypes.map((pattern) => ({
        DeleteRequest: { Key: { [PK]: `SUBIDX#${subscription.tenantId}#${pattern}`, [SK]: `SUB#${subscription.id}` } },
      })),
    );
    await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${subscription.tenantId}`, [SK]: `SUB#${subscription.id}` } }));
  }

  async findSubscriptionsByPatterns(tenantId: string, patterns: string[]): Promise<SubscriptionIndexEntry[]> {
    const pages = await Promise.all(patterns.map((pattern) => this.queryAll(`SUBIDX#${tenantId}#${pattern}`)));
    return pages.flat().map((item) => stripKeys<SubscriptionIndexEntry>(item)!);
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
            [PK]: `TENANT#${event.tenantid}`,
            [SK]: `EVT#${event.id}`,
            [gsi1.partitionKey]: `SUBJECT#${event.tenantid}#${event.subject}`,
            [gsi1.sortKey]: `${event.time}#${event.id}`,
            [gsi2.partitionKey]: `EVENTS#${event.tenantid}`,
            [gsi2.sortKey]: `${event.time}#${event.id}`,
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
        new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${event.tenantid}`, [SK]: `EVT#${event.id}` }, ConsistentRead: true }),
      );
      return stripKeys<StoredEvent>(out.Item);
    }
  }

  async getEvent(tenantId: string, id: string): Promise<StoredEvent | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: `TENANT#${tenantId}`, [SK]: `EVT#${id}` } }));
    return stripKeys<StoredEvent>(out.Item);
  }

  async findEvents(tenantId: string, query: EventQuery): Promise<StoredEvent[]> {
    const bySubject = query.subject !== undefined;
    const index = bySubject ? gsi1 : gsi2;
    const pk = bySubject ? `SUBJECT#${tenantId}#${query.subject}` : `EVENTS#${tenantId}`;
    // Sort keys are `<time>#<id>`: '#' < '~' bounds a whole second-precision instant inclusively.
    const lower = query.from ?? '';
    const upper = query.to ? `${query.to}~` : '~';
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
      items.push(...(out.Items ?? []).map((item) => stripKeys<StoredEvent>(item)!));
      start = out.LastEvaluatedKey;
    } while (start && items.length < query.limit);
    return items;
  }

  async markEventPublished(tenantId: string, eventId: string, at: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `TENANT#${tenantId}`, [SK]: `EVT#${eventId}` },
        UpdateExpression: 'SET publishedAt = :at',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  async markEventUnpublished(tenantId: string, eventId: string): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `TENANT#${tenantId}`, [SK]: `EVT#${eventId}` },
        UpdateExpression: 'REMOVE publishedAt',
      }),
    );
  }

  async recordAttempt({ delivery, attempt, status, retentionDays }: AttemptRecord): Promise<void> {
    const names: Record<string, string> = { '#status': 'status', '#gpk': gsi1.partitionKey, '#gsk': gsi1.sortKey, '#ttl': TTL, '#slot': attemptSlot(attempt.number) };
    const values: Record<string, unknown> = {
      ':status': status,
      ':now': attempt.at,
      ':attempt': attempt,
      ':gpk': `SUBDLV#${delivery.tenantId}#${delivery.subscriptionId}`,
      ':gsk': `${delivery.createdAt}#${delivery.id}`,
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
      values[':dpk'] = `DEAD#${delivery.tenantId}`;
      values[':dsk'] = `${delivery.finishedAt ?? attempt.at}#${delivery.id}`;
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
        Key: { [PK]: `DLV#${delivery.id}`, [SK]: '#DLV' },
        UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: { [PK]: `DLV#${id}`, [SK]: '#DLV' }, ConsistentRead: true }));
    const item = stripKeys<Record<string, unknown>>(out.Item);
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
        ExpressionAttributeValues: { ':dpk': `DEAD#${tenantId}`, ...(bySubscription ? { ':sid': page.subscriptionId } : {}) },
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
        Key: { [PK]: `DLV#${deliveryId}`, [SK]: '#DLV' },
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
        ExpressionAttributeValues: { ':gpk': `SUBDLV#${tenantId}#${subscriptionId}`, ...(page.status ? { ':status': page.status } : {}) },
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
          Key: { [PK]: `TENANT#${tenantId}`, [SK]: `SUB#${id}` },
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
      return stripKeys<Subscription>(out.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async holdDelivery(job: DeliveryJob, at: string, retentionDays: number): Promise<void> {
    const { event } = job;
    await dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: `DLV#${job.deliveryId}`, [SK]: '#DLV' },
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
          ':gpk': `SUBDLV#${job.tenantId}#${job.subscriptionId}`,
          ':gsk': `${job.createdAt}#${job.deliveryId}`,
          ':dpk': heldPartition(job.tenantId, job.subscriptionId),
          ':dsk': `${job.tenantId}#${job.subscriptionId}#${at}#${job.deliveryId}`,
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
        ExpressionAttributeValues: { ':dpk': heldPartition(tenantId, subscriptionId), ':prefix': `${tenantId}#${subscriptionId}#` },
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
        Key: { [PK]: `DLV#${deliveryId}`, [SK]: '#DLV' },
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
