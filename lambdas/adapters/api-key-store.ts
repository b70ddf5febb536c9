import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKeyRecord, ApiKeyStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { queryItems } from './table-queries.ts';
import { apiKeyKey, PK, SK, TENANT_API_KEY_PREFIX, tenantApiKeyKey, tenantPartition, TTL, withoutKeys } from './table-keys.ts';

/**
 * API keys: the record the authorizer reads (by the key's hash) and a copy in the tenant's
 * partition by the key's non-secret prefix, for listing and revocation (table-keys.ts).
 */
export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(private readonly tableName: string) {}

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...apiKeyKey(record.hash), ...record } }));
    if (record.tenantId) {
      await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...tenantApiKeyKey(record.tenantId, record.prefix), ...record } }));
    }
  }

  /**
   * A portal session sits where API keys do (APIKEY#<sha256>, with portal, readOnly and
   * sessionEndsAt), with no KEY#<prefix> copy: it is neither listed nor counted against the key
   * quota. The table's TTL removes it a day after it ends (authentication refuses it from its end on).
   */
  async putPortalSession(record: ApiKeyRecord & { portal: true; sessionEndsAt: string }): Promise<void> {
    const ttl = Math.floor(Date.parse(record.sessionEndsAt) / 1000) + 86_400;
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...apiKeyKey(record.hash), ...record, [TTL]: ttl } }));
  }

  async getApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: apiKeyKey(hash) }));
    return withoutKeys<ApiKeyRecord>(out.Item);
  }

  async listApiKeys(tenantId: string): Promise<Omit<ApiKeyRecord, 'hash'>[]> {
    const items = await queryItems(this.tableName, {
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': tenantPartition(tenantId), ':prefix': TENANT_API_KEY_PREFIX },
    });
    return items.map((item) => {
      const { hash: _hash, ...rest } = withoutKeys<ApiKeyRecord>(item)!;
      return rest;
    });
  }

  async revokeApiKey(tenantId: string, prefix: string, at: string): Promise<boolean> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: tenantApiKeyKey(tenantId, prefix), ConsistentRead: true }));
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
}
