import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Attempt, Delivery } from '#core/delivery';
import { recordFieldsOf, type DeliveryJob } from '#core/delivery-job';
import type { AttemptRecord, DeliveryStore, Page, PageRequest } from '#core/ports';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { dynamo } from './clients.ts';
import { conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { attemptWithin, deliveryFromItems, summaryAttempt, summaryBytesWithout } from './delivery-items.ts';
import { itemBytes } from './item-size.ts';
import { queryItems, queryKeyPage, queryMergedPage } from './table-queries.ts';
import {
  ATTEMPT_PREFIX,
  attemptKey,
  deadLetterKey,
  deadLetterPartition,
  deliveryKey,
  DELIVERY_LOG_SHARDS,
  deliveryLogPartition,
  deliveryPartition,
  GSI3 as gsi3,
  heldKey,
  heldPartition,
  heldPrefix,
  isLoggedDeliveryId,
  pendingKey,
  PK,
  SK,
  TTL,
  withoutKeys,
} from './table-keys.ts';

/**
 * Deliveries (layout in table-keys.ts, costs in the README's "Storage layout"): a small summary
 * record per delivery, which is its entry in its subscription's log (a partition of the table,
 * one of 16, named by the delivery id), and a ring of its last failed attempts in full in the
 * delivery's own partition (delivery-items.ts); while pending, held or failed, the record is on
 * one status list (gsi3, keys only): the sweeper's pending and held lists, the tenant's dead letters.
 *
 * A delivery that succeeds at once is one write of one item with no index key: 1 write unit. The
 * status list's keys are set once per status and written again unchanged, so a retried attempt
 * is two writes of ≤ 1 KB each (excerpts cut to fit) and no index write: 2 write units at any
 * attempt number; the first adds its pending entry (3), the exhausting one writes the summary
 * alone (the attempt in it) and moves it to the dead letters (an index delete and put: 3). Dead
 * letters read keys from gsi3, then the records by key; the log is read as it is stored.
 */
export class DynamoDeliveryStore implements DeliveryStore {
  constructor(private readonly tableName: string) {}

  async recordAttempt({ delivery, attempt, status, retentionDays }: AttemptRecord): Promise<void> {
    const ttl = expiresAt(new Date(), retentionDays);
    const names: Record<string, string> = { '#status': 'status', '#ttl': TTL };
    const values: Record<string, unknown> = {
      ':status': status,
      ':now': attempt.at,
      ':last': summaryAttempt(attempt, status),
      ':count': attempt.number,
      ':ttl': ttl,
    };
    const sets = ['#status = :status', 'updatedAt = :now', 'lastAttempt = :last', 'attemptCount = :count', '#ttl = :ttl'];
    for (const field of ['id', 'tenantId', 'subscriptionId', 'eventId', 'eventType', 'subject', 'createdAt'] as const) {
      sets.push(`#${field} = if_not_exists(#${field}, :${field})`);
      names[`#${field}`] = field;
      values[`:${field}`] = delivery[field];
    }
    // An attempt ends any hold: the job kept for it is no longer needed.
    const removes: string[] = ['job', 'heldAt'];
    names['#spk'] = gsi3.partitionKey;
    names['#ssk'] = gsi3.sortKey;
    const listed =
      status === 'failed'
        ? deadLetterKey(delivery.tenantId, delivery.finishedAt ?? attempt.at, delivery.id)
        : status === 'pending' && delivery.nextAttemptAt
          ? pendingKey(delivery.id)
          : undefined;
    if (listed) {
      sets.push('#spk = :spk', '#ssk = :ssk');
      values[':spk'] = listed.pk;
      values[':ssk'] = listed.sk;
    } else removes.push('#spk', '#ssk');
    // What the sweeper and a redrive need to rebuild the job beside the kept event (core/sweeper.ts rebuildJob).
    for (const field of ['firstAttemptAt', 'retryFrom', 'orderingGroup', 'ignorePause', 'eventIds'] as const) {
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
    const key = deliveryKey(delivery.id);
    // The exhausting attempt is the last: kept whole in the summary (its excerpt cut to what keeps
    // the summary within one write unit), so it writes no ring item (README "Storage layout").
    if (status === 'failed') values[':last'] = attemptWithin(attempt, summaryBytesWithout(key, sets, names, values), 'nested');
    const summary = dynamo().send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    // A retried attempt in full, over the one KEPT_ATTEMPTS before it; the last (a success, or
    // the one that exhausted the policy) lives in the summary.
    const ring = status === 'pending' ? this.putRingItem(delivery.id, attempt, ttl) : undefined;
    await Promise.all([summary, ring]);
  }

  /**
   * One attempt's ring item, its excerpt cut to what keeps the item within one write unit.
   * `unless kept`: not over the same attempt already in its slot (a summary's digest of a retried
   * attempt must not replace the whole one).
   */
  private async putRingItem(deliveryId: string, attempt: Attempt, ttl: number, mode?: 'unless kept'): Promise<void> {
    const { responseExcerpt: _excerpt, ...digest } = attempt;
    const bare = { ...attemptKey(deliveryId, attempt.number), ...digest, [TTL]: ttl };
    const put = new PutCommand({
      TableName: this.tableName,
      Item: { ...bare, ...attemptWithin(attempt, itemBytes(bare), 'spread') },
      ...(mode ? { ConditionExpression: 'attribute_not_exists(#number) OR #number <> :number', ExpressionAttributeNames: { '#number': 'number' }, ExpressionAttributeValues: { ':number': attempt.number } } : {}),
    });
    await dynamo()
      .send(put)
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    // The ring is the delivery's own partition (one key query, at most KEPT_ATTEMPTS items, and a
    // 0.1 record's summary beside them); any other record is in the log, read by key alongside.
    const key = deliveryKey(id);
    const [own, logged] = await Promise.all([
      queryItems(this.tableName, {
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':pk': deliveryPartition(id) },
        ConsistentRead: true,
      }),
      isLoggedDeliveryId(id) ? dynamo().send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })) : undefined,
    ]);
    const summary = logged ? logged.Item : own.find((item) => item[PK] === key[PK] && item[SK] === key[SK]);
    if (!summary) return undefined;
    const ring = own.filter((item) => String(item[SK]).startsWith(ATTEMPT_PREFIX)).map((item) => withoutKeys<Record<string, unknown>>(item)!);
    return deliveryFromItems(withoutKeys<Record<string, unknown>>(summary)!, ring);
  }

  async listDeadLetters(tenantId: string, page: PageRequest & { subscriptionId?: string }): Promise<Page<Delivery>> {
    const { subscriptionId } = page;
    const result = await queryKeyPage<Delivery>(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        KeyConditionExpression: '#spk = :spk',
        ScanIndexForward: false,
        ExpressionAttributeNames: { '#spk': gsi3.partitionKey },
        ExpressionAttributeValues: { ':spk': deadLetterPartition(tenantId) },
      },
      page,
      (item) => deliveryFromItems(item),
      // The index holds keys only: a subscription's letters are picked once the records are read
      // (a page may come back short, as with a filter), and its page token is bound to it.
      { bind: subscriptionId ?? '' },
    );
    // A record redriven since the index was read is no dead letter any more.
    return { ...result, items: result.items.filter((d) => d.status === 'failed' && (subscriptionId === undefined || d.subscriptionId === subscriptionId)) };
  }

  async markRedriven(deliveryId: string, at: string, retryFrom: number): Promise<boolean> {
    const key = pendingKey(deliveryId);
    // Only a letter still failed (two redrives at once send it once); on the pending list from
    // here, so should the enqueue that follows fail, the sweeper sends it.
    let old: Record<string, unknown> | undefined;
    try {
      const out = await dynamo().send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deliveryKey(deliveryId),
          UpdateExpression:
            'SET #status = :pending, updatedAt = :at, redrivenAt = :at, nextAttemptAt = :at, firstAttemptAt = :at, retryFrom = :retryFrom, #spk = :spk, #ssk = :ssk REMOVE finishedAt, reason',
          ConditionExpression: '#status = :failed',
          ExpressionAttributeNames: { '#status': 'status', '#spk': gsi3.partitionKey, '#ssk': gsi3.sortKey },
          ExpressionAttributeValues: { ':pending': 'pending', ':failed': 'failed', ':at': at, ':spk': key.pk, ':ssk': key.sk, ':retryFrom': retryFrom },
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = out.Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    // The exhausting attempt lives in the summary only (recordAttempt), and the next attempt
    // overwrites it there: the redrive moves it to its ring slot first (once per redrive).
    const last = old?.lastAttempt as Attempt | undefined;
    if (last) await this.putRingItem(deliveryId, last, Number(old?.[TTL] ?? expiresAt(new Date(), 30)), 'unless kept');
    return true;
  }

  /**
   * The log, newest first: its 16 partitions merged (table-queries.ts queryMergedPage), each
   * item a whole record. The tenant is in the filter too: subscription ids are unique across
   * tenants, and should one ever not be, no tenant lists another's deliveries.
   */
  listDeliveries(tenantId: string, subscriptionId: string, page: PageRequest & { status?: Delivery['status'] }): Promise<Page<Delivery>> {
    const shards = Array.from({ length: DELIVERY_LOG_SHARDS }, (_, shard) => ({
      KeyConditionExpression: '#pk = :pk',
      ScanIndexForward: false,
      FilterExpression: page.status ? '#tenant = :tenant AND #status = :status' : '#tenant = :tenant',
      ExpressionAttributeNames: { '#pk': PK, '#tenant': 'tenantId', ...(page.status ? { '#status': 'status' } : {}) },
      ExpressionAttributeValues: { ':pk': deliveryLogPartition(subscriptionId, shard), ':tenant': tenantId, ...(page.status ? { ':status': page.status } : {}) },
    }));
    return queryMergedPage<Delivery>(this.tableName, shards, SK, page, (item) => deliveryFromItems(item));
  }

  recordWithoutAttempt(record: { job: DeliveryJob; at: string; retentionDays: number } & ({ nextAttemptAt: string } | { reason: string })): Promise<boolean> {
    const { job, at } = record;
    const failed = 'reason' in record;
    const listed = failed ? deadLetterKey(job.tenantId, at, job.deliveryId) : pendingKey(job.deliveryId);
    const names: Record<string, string> = { '#status': 'status', '#spk': gsi3.partitionKey, '#ssk': gsi3.sortKey, '#ttl': TTL };
    const values: Record<string, unknown> = {
      ':status': failed ? 'failed' : 'pending',
      ':pending': 'pending',
      ':at': at,
      ':spk': listed.pk,
      ':ssk': listed.sk,
      ':ttl': expiresAt(new Date(), record.retentionDays),
      ':firstAttemptAt': job.firstAttemptAt ?? job.createdAt,
    };
    const sets = ['#status = :status', 'updatedAt = :at', '#spk = :spk', '#ssk = :ssk', '#ttl = :ttl', 'firstAttemptAt = :firstAttemptAt'];
    const { identity, kept } = recordFieldsOf(job);
    for (const [field, value] of Object.entries(identity)) {
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = if_not_exists(#${field}, :${field})`);
    }
    // What the sweeper needs to rebuild the job, as recordAttempt keeps it.
    for (const [field, value] of Object.entries(kept)) {
      values[`:${field}`] = value;
      sets.push(`${field} = :${field}`);
    }
    if (failed) {
      sets.push('reason = :reason', 'finishedAt = :at');
      values[':reason'] = record.reason;
    } else {
      sets.push('nextAttemptAt = :next');
      values[':next'] = record.nextAttemptAt;
    }
    const removes = failed ? ['nextAttemptAt'] : ['finishedAt', 'reason'];
    // A failed condition: finished or held meanwhile (a duplicate message), nothing to record.
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(job.deliveryId),
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression: 'attribute_not_exists(#status) OR #status = :pending',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async holdDelivery(job: DeliveryJob, at: string, retentionDays: number): Promise<void> {
    const { event } = job;
    const held = heldKey(job.tenantId, job.subscriptionId, at, job.deliveryId);
    // A failed condition: already succeeded or dead-lettered (a duplicate message), nothing to hold.
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(job.deliveryId),
        UpdateExpression: [
          'SET #status = :held, heldAt = :at, updatedAt = :at, job = :job, #spk = :spk, #ssk = :ssk, #ttl = :ttl',
          'id = if_not_exists(id, :id), tenantId = if_not_exists(tenantId, :tid), subscriptionId = if_not_exists(subscriptionId, :sid)',
          'eventId = if_not_exists(eventId, :eid), eventType = if_not_exists(eventType, :etype), subject = if_not_exists(subject, :subject)',
          'createdAt = if_not_exists(createdAt, :created)',
        ].join(', '),
        ConditionExpression: 'attribute_not_exists(#status) OR #status IN (:pending, :held)',
        ExpressionAttributeNames: {
          '#status': 'status',
          '#spk': gsi3.partitionKey,
          '#ssk': gsi3.sortKey,
          '#ttl': TTL,
        },
        ExpressionAttributeValues: {
          ':held': 'held',
          ':pending': 'pending',
          ':at': at,
          ':job': job,
          ':spk': held.pk,
          ':ssk': held.sk,
          ':ttl': expiresAt(new Date(), retentionDays),
          ':id': job.deliveryId,
          ':tid': job.tenantId,
          ':sid': job.subscriptionId,
          ':eid': event.id,
          ':etype': event.type,
          ':subject': event.subject,
          ':created': job.createdAt,
        },
      }),
    );
  }

  async listHeld(tenantId: string, subscriptionId: string, page: PageRequest): Promise<Page<DeliveryJob>> {
    const result = await queryKeyPage<{ job?: DeliveryJob }>(
      this.tableName,
      {
        IndexName: gsi3.indexName,
        KeyConditionExpression: '#spk = :spk AND begins_with(#ssk, :prefix)',
        ExpressionAttributeNames: { '#spk': gsi3.partitionKey, '#ssk': gsi3.sortKey },
        ExpressionAttributeValues: { ':spk': heldPartition(tenantId, subscriptionId), ':prefix': heldPrefix(tenantId, subscriptionId) },
      },
      page,
      (item) => item,
      { projection: ['job'] },
    );
    return { ...result, items: result.items.filter((item) => item.job).map((item) => item.job!) };
  }

  async endHold(deliveryId: string, at: string, to: 'pending' | 'discarded'): Promise<boolean> {
    const key = pendingKey(deliveryId);
    // False: someone else ended this hold first (a concurrent release), theirs to enqueue.
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(deliveryId),
        UpdateExpression:
          to === 'pending'
            ? 'SET #status = :to, updatedAt = :at, nextAttemptAt = :at, #spk = :spk, #ssk = :ssk REMOVE job, heldAt'
            : 'SET #status = :to, updatedAt = :at, finishedAt = :at, reason = :reason REMOVE job, heldAt, #spk, #ssk',
        ConditionExpression: '#status = :held',
        ExpressionAttributeNames: { '#status': 'status', '#spk': gsi3.partitionKey, '#ssk': gsi3.sortKey },
        ExpressionAttributeValues: {
          ':to': to,
          ':at': at,
          ':held': 'held',
          ...(to === 'pending' ? { ':spk': key.pk, ':ssk': key.sk } : { ':reason': 'discarded when the subscription resumed' }),
        },
      }),
    );
  }
}
