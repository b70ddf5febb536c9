import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DeliveryJob } from '#core/delivery-job';
import type { Arrival, HeldJob, OrderHold } from '#core/order-hold';
import type { OrderHoldStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { getItems, queryPages } from './table-queries.ts';
import {
  arrivalOrderKey,
  GSI3 as gsi3,
  ORDER_HOLD_ENTRY_PREFIX,
  orderHoldDueKey,
  orderHoldEntryKey,
  orderHoldHeadKey,
  orderHoldPartition,
  orderHoldsPartition,
  orderKeyOfEntry,
  PK,
  SK,
  TTL,
} from './table-keys.ts';

/**
 * Ordered groups held out of flight (core/order-hold.ts), keys in table-keys.ts: HEAD (≈ 300
 * bytes, 1 WU a write, its gsi3 entry moving with the due time) and the kept jobs `Q#<order key>`
 * (one write each, up to the job's size). TTL only collects what a crash left behind: HEAD lapses
 * HEAD_KEEP_DAYS after its last write (the sweeper sends a due head every minute, so a live hold
 * is rewritten far more often), a kept job ENTRY_KEEP_DAYS after it was kept (a job waits behind
 * at most a few heads, each ending within its policy's 14 days at most).
 */
const HEAD_KEEP_DAYS = 30;
const ENTRY_KEEP_DAYS = 90;

export class DynamoOrderHoldStore implements OrderHoldStore {
  constructor(
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async read(tenantId: string, group: string): Promise<OrderHold | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: orderHoldHeadKey(tenantId, group), ConsistentRead: true }));
    return out.Item ? holdOf(out.Item) : undefined;
  }

  async keep(tenantId: string, group: string, arrival: Arrival, job: DeliveryJob): Promise<string> {
    const entry = arrivalOrderKey(arrival);
    await dynamo().send(
      new PutCommand({ TableName: this.tableName, Item: { ...orderHoldEntryKey(tenantId, group, entry), job, [TTL]: expiresAt(this.now(), ENTRY_KEEP_DAYS) } }),
    );
    return entry;
  }

  async createHead(hold: OrderHold): Promise<boolean> {
    return this.putHead(hold, { ConditionExpression: 'attribute_not_exists(#pk) OR #head = :head', ExpressionAttributeNames: { '#pk': PK, '#head': 'head' }, ExpressionAttributeValues: { ':head': hold.head } });
  }

  async moveHead(hold: OrderHold, from: string): Promise<boolean> {
    return this.putHead(hold, { ConditionExpression: '#head = :from', ExpressionAttributeNames: { '#head': 'head' }, ExpressionAttributeValues: { ':from': from } });
  }

  private async putHead(hold: OrderHold, condition: { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> }): Promise<boolean> {
    const due = orderHoldDueKey(hold.tenantId, hold.group, hold.dueAt);
    const item = { ...orderHoldHeadKey(hold.tenantId, hold.group), ...hold, [gsi3.partitionKey]: due.pk, [gsi3.sortKey]: due.sk, [TTL]: expiresAt(this.now(), HEAD_KEEP_DAYS) };
    try {
      await dynamo().send(new PutCommand({ TableName: this.tableName, Item: item, ...condition }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(tenantId: string, group: string, head: string): Promise<boolean> {
    try {
      await dynamo().send(
        new DeleteCommand({ TableName: this.tableName, Key: orderHoldHeadKey(tenantId, group), ConditionExpression: '#head = :head', ExpressionAttributeNames: { '#head': 'head' }, ExpressionAttributeValues: { ':head': head } }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async entries(tenantId: string, group: string, after: string | undefined, limit: number): Promise<HeldJob[]> {
    const partition = orderHoldPartition(tenantId, group);
    const out = await dynamo().send(
      new QueryCommand({
        TableName: this.tableName,
        ConsistentRead: true,
        Limit: limit,
        // HEAD sorts before every entry (`H` < `Q`), and nothing after them.
        KeyConditionExpression: '#pk = :pk AND #sk > :after',
        ExpressionAttributeValues: { ':pk': partition, ':after': after ? `${ORDER_HOLD_ENTRY_PREFIX}${after}` : ORDER_HOLD_ENTRY_PREFIX },
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      }),
    );
    return (out.Items ?? []).map((item) => ({ entry: orderKeyOfEntry(item[SK]), job: item.job as DeliveryJob }));
  }

  async entry(tenantId: string, group: string, entry: string): Promise<DeliveryJob | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: orderHoldEntryKey(tenantId, group, entry), ConsistentRead: true }));
    return out.Item?.job as DeliveryJob | undefined;
  }

  async drop(tenantId: string, group: string, entry: string): Promise<void> {
    await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: orderHoldEntryKey(tenantId, group, entry) }));
  }

  /**
   * The list (gsi3, keys only), a page from `after` (the last page's `next`: DynamoDB's own
   * LastEvaluatedKey), then the HEADs by key; an index entry that ran ahead of its item is
   * checked against the item.
   */
  async dueHeads(shard: number, now: string, limit: number, after?: string): Promise<{ holds: OrderHold[]; next?: string }> {
    const pages = queryPages(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        // Sort keys are `<dueAt>#…`: '$' sorts just after '#', so every head due at or before now.
        KeyConditionExpression: '#pk = :pk AND #sk < :upper',
        ExpressionAttributeNames: { '#pk': gsi3.partitionKey, '#sk': gsi3.sortKey },
        ExpressionAttributeValues: { ':pk': orderHoldsPartition(shard), ':upper': `${now}$` },
      },
      { limit, maxPages: 1, ...(after ? { start: JSON.parse(after) as Record<string, unknown> } : {}) },
    );
    const { value: page } = await pages.next();
    const listed: Record<string, unknown>[] = page ? page.items : [];
    const items = await getItems(
      this.tableName,
      listed.map((item) => ({ [PK]: String(item[PK]), [SK]: String(item[SK]) })),
    );
    const holds = items.filter((item): item is Record<string, unknown> => item !== undefined).map(holdOf).filter((hold) => hold.dueAt <= now);
    return { holds, ...(page?.lastKey ? { next: JSON.stringify(page.lastKey) } : {}) };
  }

  async claimSend(hold: OrderHold, at: string): Promise<boolean> {
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: orderHoldHeadKey(hold.tenantId, hold.group),
        UpdateExpression: 'SET sentAt = :at',
        ConditionExpression: hold.sentAt ? 'dueAt = :due AND #head = :head AND sentAt = :sent' : 'dueAt = :due AND #head = :head AND attribute_not_exists(sentAt)',
        ExpressionAttributeNames: { '#head': 'head' },
        ExpressionAttributeValues: { ':at': at, ':due': hold.dueAt, ':head': hold.head, ...(hold.sentAt ? { ':sent': hold.sentAt } : {}) },
      }),
    );
  }
}

function holdOf(item: Record<string, unknown>): OrderHold {
  return {
    tenantId: String(item.tenantId),
    group: String(item.group),
    head: String(item.head),
    deliveryId: String(item.deliveryId),
    dueAt: String(item.dueAt),
    attemptsMade: Number(item.attemptsMade ?? 0),
    ...(item.firstAttemptAt ? { firstAttemptAt: String(item.firstAttemptAt) } : {}),
    ...(item.sentAt ? { sentAt: String(item.sentAt) } : {}),
  };
}
