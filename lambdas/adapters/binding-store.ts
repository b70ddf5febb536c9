import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DestinationBinding } from '#core/destination-trust';
import type { DestinationBindingStore } from '#core/ports';
import { dynamo } from './clients.ts';
import { bindingKey, withoutKeys } from './table-keys.ts';

/** Where each tenant may deliver on AWS: one item per tenant, in its partition (table-keys.ts). */
export class DynamoBindingStore implements DestinationBindingStore {
  constructor(private readonly tableName: string) {}

  async getDestinationBinding(tenantId: string): Promise<DestinationBinding | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: bindingKey(tenantId), ConsistentRead: true }));
    return withoutKeys<DestinationBinding>(out.Item);
  }

  async putDestinationBinding(binding: DestinationBinding): Promise<void> {
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...bindingKey(binding.tenantId), ...binding } }));
  }

  async deleteDestinationBinding(tenantId: string): Promise<boolean> {
    const out = await dynamo().send(new DeleteCommand({ TableName: this.tableName, Key: bindingKey(tenantId), ReturnValues: 'ALL_OLD' }));
    return out.Attributes !== undefined;
  }
}
