import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Delivery } from '#core/delivery';
import type { DeliveryJob } from '#core/delivery-job';
import type { AttemptRecord, DeliveryStore, Page, PageRequest } from '#core/ports';
import { dynamo } from './clients.ts';
import { conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { attemptSlot, deliveryFromItem } from './delivery-items.ts';
import { queryTokenPage } from './table-queries.ts';
import {
  deadLetterKey,
  deadLetterPartition,
  deliveryKey,
  deliveryLogKey,
  deliveryLogPartition,
  GSI1 as gsi1,
  GSI2 as gsi2,
  heldKey,
  heldPartition,
  heldPrefix,
  pendingKey,
  TTL,
  withoutKeys,
} from './table-keys.ts';

/**
 * Deliveries: one record each (DLV#<did>), its last attempts in slots (delivery-items.ts), on its
 * subscription's log (gsi1) and, while pending, held or failed, on one status list (gsi2): the
 * sweeper's pending and held lists, the tenant's dead letters (table-keys.ts).
 */
export class DynamoDeliveryStore implements DeliveryStore {
  constructor(private readonly tableName: string) {}

  async recordAttempt({ delivery, attempt, status, retentionDays }: AttemptRecord): Promise<void> {
    const log = deliveryLogKey(delivery.tenantId, delivery.subscriptionId, delivery.createdAt, delivery.id);
    const names: Record<string, string> = { '#status': 'status', '#gpk': gsi1.partitionKey, '#gsk': gsi1.sortKey, '#ttl': TTL, '#slot': attemptSlot(attempt.number) };
    const values: Record<string, unknown> = {
      ':status': status,
      ':now': attempt.at,
      ':attempt': attempt,
      ':gpk': log.pk,
      ':gsk': log.sk,
      ':ttl': expiresAt(new Date(), retentionDays),
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
    // An attempt ends any hold, and any earlier park: the job either kept is no longer needed.
    const removes: string[] = ['job', 'heldAt', 'parkedJob'];
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
    return queryTokenPage<Delivery>(
      this.tableName,
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

  markRedriven(deliveryId: string, at: string, retryFrom: number): Promise<boolean> {
    const key = pendingKey(deliveryId, at);
    // On the pending list from here: should the enqueue that follows fail, the sweeper sends it.
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(deliveryId),
        UpdateExpression:
          'SET #status = :pending, updatedAt = :at, redrivenAt = :at, nextAttemptAt = :at, firstAttemptAt = :at, retryFrom = :retryFrom, #dpk = :dpk, #dsk = :dsk REMOVE finishedAt, reason',
        ConditionExpression: '#status = :failed',
        ExpressionAttributeNames: { '#status': 'status', '#dpk': gsi2.partitionKey, '#dsk': gsi2.sortKey },
        ExpressionAttributeValues: { ':pending': 'pending', ':failed': 'failed', ':at': at, ':dpk': key.pk, ':dsk': key.sk, ':retryFrom': retryFrom },
      }),
    );
  }

  async keepParkedJob(job: DeliveryJob): Promise<void> {
    // Only on a record that is still failed; the next attempt after a redrive removes it.
    await conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: deliveryKey(job.deliveryId),
        UpdateExpression: 'SET parkedJob = :job',
        ConditionExpression: '#status = :failed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':job': job, ':failed': 'failed' },
      }),
    );
  }

  async parkedJobOf(deliveryId: string): Promise<DeliveryJob | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: deliveryKey(deliveryId), ProjectionExpression: 'parkedJob', ConsistentRead: true }));
    return out.Item?.parkedJob as DeliveryJob | undefined;
  }

  listDeliveries(tenantId: string, subscriptionId: string, page: PageRequest & { status?: Delivery['status'] }): Promise<Page<Delivery>> {
    return queryTokenPage<Delivery>(
      this.tableName,
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

  async holdDelivery(job: DeliveryJob, at: string, retentionDays: number): Promise<void> {
    const { event } = job;
    const log = deliveryLogKey(job.tenantId, job.subscriptionId, job.createdAt, job.deliveryId);
    const held = heldKey(job.tenantId, job.subscriptionId, at, job.deliveryId);
    // A failed condition: already succeeded or dead-lettered (a duplicate message), nothing to hold.
    await conditionalUpdate(
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
          ':ttl': expiresAt(new Date(), retentionDays),
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
    );
  }

  async listHeld(tenantId: string, subscriptionId: string, page: PageRequest): Promise<Page<DeliveryJob>> {
    const result = await queryTokenPage<{ job: DeliveryJob }>(
      this.tableName,
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
    // False: someone else ended this hold first (a concurrent release), theirs to enqueue.
    return conditionalUpdate(
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
    );
  }
}
