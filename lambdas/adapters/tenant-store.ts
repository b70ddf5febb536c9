import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Tenant, TenantStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { tenantKey, withoutKeys } from './table-keys.ts';

/** Tenants: one item each (key layout in table-keys.ts). */
export class DynamoTenantStore implements TenantStore {
  constructor(private readonly tableName: string) {}

  async putTenant(tenant: Tenant): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...tenantKey(tenant.id), ...tenant } }));
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: tenantKey(id) }));
    return withoutKeys<Tenant>(out.Item);
  }
}
