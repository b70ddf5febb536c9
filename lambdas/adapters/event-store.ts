import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { CloudEvent } from '#core/envelope';
import type { EventQuery, EventStore, StoredEvent } from '#core/ports';
import { dynamo } from './clients.ts';
import { expiresAt } from './dynamo-helpers.ts';
import { queryItems } from './table-queries.ts';
import {
  eventIndexKeys,
  eventKey,
  eventsBySubjectPartition,
  eventsByTimePartition,
  eventTimeRange,
  GSI1,
  GSI2,
  PK,
  sweepKeys,
  TTL,
  withoutKeys,
} from './table-keys.ts';

/**
 * Published events, kept for their retention: one item in the tenant's partition (its id is the
 * idempotency key), indexed by subject (gsi1) and by time (gsi2), and on the sweeper's list
 * (gsi3) until the sweeper has checked it (table-keys.ts).
 */
export class DynamoEventStore implements EventStore {
  constructor(private readonly tableName: string) {}

  async putEventIfAbsent(event: CloudEvent, retentionDays: number, sweepAt?: string, publishedAt?: string): Promise<StoredEvent | undefined> {
    try {
      await dynamo().send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...eventKey(event.tenantid, event.id),
            ...eventIndexKeys(event.tenantid, event.id, event.subject, event.time),
            ...(sweepAt ? sweepKeys(event.tenantid, event.id, sweepAt) : {}),
            [TTL]: expiresAt(new Date(), retentionDays),
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
      const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: eventKey(event.tenantid, event.id), ConsistentRead: true }));
      return withoutKeys<StoredEvent>(out.Item);
    }
  }

  async getEvent(tenantId: string, id: string): Promise<StoredEvent | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: eventKey(tenantId, id) }));
    return withoutKeys<StoredEvent>(out.Item);
  }

  async findEvents(tenantId: string, query: EventQuery): Promise<StoredEvent[]> {
    const index = query.subject !== undefined ? GSI1 : GSI2;
    const pk = query.subject !== undefined ? eventsBySubjectPartition(tenantId, query.subject) : eventsByTimePartition(tenantId);
    const { lower, upper } = eventTimeRange(query.from, query.to);
    const items = await queryItems(
      this.tableName,
      {
        IndexName: index.indexName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper',
        ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
        ExpressionAttributeValues: { ':pk': pk, ':lower': lower, ':upper': upper },
      },
      { limit: query.limit, pageSize: 1000 },
    );
    return items.map((item) => withoutKeys<StoredEvent>(item)!);
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
    await dynamo().send(new UpdateCommand({ TableName: this.tableName, Key: eventKey(tenantId, eventId), UpdateExpression: 'REMOVE publishedAt' }));
  }
}
