import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from './clients.ts';

/** Small DynamoDB helpers the stores share. */

/** A conditional update as a claim: true when it applied, false when its condition did not hold. */
export function conditionalUpdate(command: UpdateCommand): Promise<boolean> {
  return dynamo()
    .send(command)
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      },
    );
}

/** BatchWriteItem in chunks of 25, retrying unprocessed items with backoff. */
export async function batchWriteAll(tableName: string, requests: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let pending: Record<string, unknown>[] | undefined = requests.slice(i, i + 25);
    for (let round = 0; pending && pending.length > 0; round++) {
      if (round === 8) throw new Error('DynamoDB kept returning unprocessed items');
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      const out = await dynamo().send(new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }));
      pending = out.UnprocessedItems?.[tableName] as Record<string, unknown>[] | undefined;
    }
  }
}

/** The TTL attribute's value for an item kept `days` from `now` (epoch seconds). */
export function expiresAt(now: Date, days: number): number {
  return Math.floor(now.getTime() / 1000) + Math.round(days * 86_400);
}
