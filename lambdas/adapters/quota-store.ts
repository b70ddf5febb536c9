import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { QuotaCounter } from '#core/ports';
import { conditionalUpdate, expiresAt } from './dynamo-helpers.ts';
import { quotaKey, TTL } from './table-keys.ts';

/** Rate quota use: one counter item per tenant, quota and window, gone two days later (TTL). */
export class DynamoQuotaCounter implements QuotaCounter {
  constructor(private readonly tableName: string) {}

  async consumeQuota(tenantId: string, quota: string, window: string, amount: number, limit: number): Promise<boolean> {
    if (amount > limit) return false;
    return conditionalUpdate(
      new UpdateCommand({
        TableName: this.tableName,
        Key: quotaKey(tenantId, quota, window),
        UpdateExpression: 'ADD used :amount SET #ttl = if_not_exists(#ttl, :expires)',
        ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
        ExpressionAttributeNames: { '#ttl': TTL },
        ExpressionAttributeValues: { ':amount': amount, ':room': limit - amount, ':expires': expiresAt(new Date(), 2) },
      }),
    );
  }
}
