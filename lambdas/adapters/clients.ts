import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { tracer } from '#shared/observability';

/**
 * SDK clients, built once per container and only when first used. Endpoints come from the
 * standard AWS_ENDPOINT_URL_* variables, so the same code talks to AWS or to local emulators.
 */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** Each AWS call becomes a subsegment when the function runs with active tracing (a no-op locally). */
export const dynamo = lazy(() =>
  DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), { marshallOptions: { removeUndefinedValues: true } }),
);
export const sqs = lazy(() => tracer.captureAWSv3Client(new SQSClient({})));
export const eventBridge = lazy(() => tracer.captureAWSv3Client(new EventBridgeClient({})));
