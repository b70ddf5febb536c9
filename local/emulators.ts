import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { interceptLocalhostDns, startFauxqs } from 'fauxqs';
import { TABLE_INDEXES, TABLE_SCHEMA, TIMEOUTS } from '../lambdas/shared/herald-config.ts';
import { installFairQueues } from './fair-queues.ts';

/**
 * The AWS-compatible emulators behind the local runtime, all in-process and from npm:
 * dynalite for DynamoDB (on-disk when a data dir is given) and fauxqs for SQS (memory only), with
 * SQS fair queues added to fauxqs's standard queues (local/fair-queues.ts).
 */
export interface DynamoEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startDynamo(dataDir?: string): Promise<DynamoEmulator> {
  const options: { createTableMs: number; deleteTableMs: number; updateTableMs: number; path?: string } = {
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  };
  if (dataDir) {
    options.path = join(dataDir, 'dynamodb');
    mkdirSync(options.path, { recursive: true });
  }
  const server = dynalite(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The table the storage construct creates, minus what dynalite lacks (TTL, KMS, PITR). */
export async function ensureTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const { partitionKey, sortKey } = TABLE_SCHEMA;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [partitionKey, sortKey, ...TABLE_INDEXES.flatMap((gsi) => [gsi.partitionKey, gsi.sortKey])].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE_INDEXES.map((gsi) => ({
        IndexName: gsi.indexName,
        KeySchema: [
          { AttributeName: gsi.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: gsi.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: gsi.projection, ...(gsi.projection === 'INCLUDE' ? { NonKeyAttributes: [...gsi.include] } : {}) },
      })),
    }),
  );
  client.destroy();
}

export interface SqsEmulator {
  endpoint: string;
  deliveryQueue: { url: string; arn: string };
  deadLetterQueue: { url: string; arn: string };
  orderedQueue: { url: string; arn: string };
  /** The slow lane (lambdas/core/slow-lane.ts): a standard queue like the delivery queue, the same DLQ. */
  slowLane: { url: string; arn: string };
  stop(): Promise<void>;
}

/** The slow lane's name on the emulator (a standard queue: local/fair-queues.ts makes it fair too). */
export const SLOW_LANE_QUEUE = 'herald-slow-lane';

let dnsIntercepted = false;

/** fauxqs queue URLs use *.localhost host names; resolve them to loopback in this process. */
export function resolveLocalhostNames(): void {
  if (dnsIntercepted) return;
  interceptLocalhostDns();
  dnsIntercepted = true;
}

export async function startSqs(options: { visibilityTimeoutSeconds?: number; port?: number } = {}): Promise<SqsEmulator> {
  resolveLocalhostNames();
  await installFairQueues();
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  const dlq = server.createQueue('herald-dead-letters', { attributes: { MessageRetentionPeriod: '1209600' } });
  const queue = server.createQueue('herald-deliveries', {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? TIMEOUTS.deliveryQueueVisibilitySeconds),
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 100 }),
    },
  });
  const slowLane = server.createQueue(SLOW_LANE_QUEUE, {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? TIMEOUTS.deliveryQueueVisibilitySeconds),
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 100 }),
    },
  });
  // `ordering: "subject"` subscriptions: FIFO, one message group per subscription and subject.
  const orderedDlq = server.createQueue('herald-ordered-dead-letters.fifo', { attributes: { FifoQueue: 'true', MessageRetentionPeriod: '1209600' } });
  const ordered = server.createQueue('herald-ordered.fifo', {
    attributes: {
      FifoQueue: 'true',
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? TIMEOUTS.deliveryQueueVisibilitySeconds),
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: orderedDlq.queueArn, maxReceiveCount: 100 }),
    },
  });
  // fauxqs tells regions apart by host name, so the endpoint is the queue URLs' own origin
  // (sqs.<region>.localhost:<port>, resolved to loopback above): the SDK then sends every call
  // where the queue URL says, without warning that the two differ.
  return {
    endpoint: new URL(queue.queueUrl).origin,
    deliveryQueue: { url: queue.queueUrl, arn: queue.queueArn },
    deadLetterQueue: { url: dlq.queueUrl, arn: dlq.queueArn },
    orderedQueue: { url: ordered.queueUrl, arn: ordered.queueArn },
    slowLane: { url: slowLane.queueUrl, arn: slowLane.queueArn },
    stop: () => server.stop(),
  };
}
