import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from './clients.ts';

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
