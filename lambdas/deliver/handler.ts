import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoStore } from '#adapters/dynamo-store';
import { EventBridgeCustomerBus } from '#adapters/customer-bus';
import { UndiciHttpSender } from '#adapters/http-sender';
import { OAuthTokenSource } from '#adapters/oauth-tokens';
import { SqsDeadLetterQueue, SqsDeliveryQueue } from '#adapters/sqs-queue';
import { allowPrivateTargets, requireEnv, SETTINGS } from '#shared/env';
import { logger } from '#shared/observability';
import { processDeliveryMessage, type DeliveryWorkerPorts } from './worker.ts';

const store = new DynamoStore(requireEnv('tableName'));
const http = new UndiciHttpSender(allowPrivateTargets());
const ports: DeliveryWorkerPorts = {
  subscriptions: store,
  deliveries: store,
  http,
  customerBus: new EventBridgeCustomerBus(),
  tokens: new OAuthTokenSource(http),
  queue: new SqsDeliveryQueue(requireEnv('deliveryQueueUrl')),
  deadLetters: new SqsDeadLetterQueue(requireEnv('deadLetterQueueUrl')),
  clock: () => new Date(),
  random: Math.random,
  config: { deliveryRetentionDays: SETTINGS.deliveryRetentionDays() },
};

// Records of a batch go out concurrently: one slow endpoint does not hold the others.
const processor = new BatchProcessor(EventType.SQS);

/** SQS consumer: one delivery attempt per record; retries are reported as batch item failures. */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event: SQSEvent, context: Context) =>
    processPartialResponse(event, (record: SQSRecord) => processDeliveryMessage(ports, record), processor, {
      context,
      processInParallel: true,
      throwOnFullBatchFailure: false,
    }),
  );
