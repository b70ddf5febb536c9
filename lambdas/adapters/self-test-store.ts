import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SELF_TEST_MAX_HOOKS, SELF_TEST_RETENTION_SECONDS, type ReceivedHook, type SelfTestRun, type SelfTestStore } from '#core/self-test';
import { dynamo } from './clients.ts';
import { batchWriteAll } from './dynamo-helpers.ts';
import { queryItems } from './table-queries.ts';
import { PK, SELF_TEST_HOOK_PREFIX, selfTestHookKey, selfTestPartition, selfTestRunKey, SK, TTL, withoutKeys } from './table-keys.ts';

/** The self-test receiver's items (key layout in table-keys.ts): one partition per run, with a TTL. */

export class DynamoSelfTestStore implements SelfTestStore {
  constructor(private readonly tableName: string) {}

  async putRun(run: SelfTestRun): Promise<void> {
    const expiresAt = Math.floor(Date.parse(run.createdAt) / 1000) + SELF_TEST_RETENTION_SECONDS;
    await dynamo().send(new PutCommand({ TableName: this.tableName, Item: { ...selfTestRunKey(run.runId), [TTL]: expiresAt, ...run } }));
  }

  async getRun(runId: string): Promise<SelfTestRun | undefined> {
    const out = await dynamo().send(new GetCommand({ TableName: this.tableName, Key: selfTestRunKey(runId), ConsistentRead: true }));
    if (!out.Item) return undefined;
    // The table's TTL deletes within days, not at once: an expired run is gone.
    if (typeof out.Item[TTL] === 'number' && out.Item[TTL] * 1000 < Date.now()) return undefined;
    return { runId: out.Item.runId, secret: out.Item.secret, createdAt: out.Item.createdAt };
  }

  async listHooks(runId: string): Promise<ReceivedHook[]> {
    const items = await queryItems(
      this.tableName,
      {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :hook)',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': selfTestPartition(runId), ':hook': SELF_TEST_HOOK_PREFIX },
        ConsistentRead: true,
      },
      // A run holds at most SELF_TEST_MAX_HOOKS small items.
      { limit: SELF_TEST_MAX_HOOKS },
    );
    return items.map((item) => withoutKeys<ReceivedHook>(item)!);
  }

  async recordHook(hook: ReceivedHook): Promise<void> {
    const expiresAt = Math.floor(Date.parse(hook.receivedAt) / 1000) + SELF_TEST_RETENTION_SECONDS;
    await dynamo().send(
      new PutCommand({ TableName: this.tableName, Item: { ...selfTestHookKey(hook.runId, hook.receivedAt, hook.webhookId), [TTL]: expiresAt, ...hook } }),
    );
  }

  async deleteRun(runId: string): Promise<void> {
    const items = await queryItems(this.tableName, {
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': selfTestPartition(runId) },
      ProjectionExpression: '#pk, #sk',
      ConsistentRead: true,
    });
    await batchWriteAll(this.tableName, items.map((item) => ({ DeleteRequest: { Key: { [PK]: item[PK], [SK]: item[SK] } } })));
  }
}
