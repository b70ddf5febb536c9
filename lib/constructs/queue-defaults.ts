import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * Every Herald queue: SQS-managed encryption, TLS-only access, and the SQS maximum retention
 * (14 days), so a retry policy can always run to its end and a DLQ entry waits long enough.
 * Retained when the stack (or the queue's construct) is deleted: the queues hold deliveries in
 * flight and dead letters no other copy of exists.
 */
export const QUEUE_DEFAULTS = {
  retentionPeriod: Duration.days(14),
  removalPolicy: RemovalPolicy.RETAIN,
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
} as const satisfies sqs.QueueProps;
