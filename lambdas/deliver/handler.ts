import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoBatchStore } from '#adapters/batch-store';
import { DynamoBindingStore } from '#adapters/binding-store';
import { DynamoDeliveryStore } from '#adapters/delivery-store';
import { DynamoEventStore } from '#adapters/event-store';
import { DynamoSubscriptionStore } from '#adapters/subscription-store';
import { EventBridgeCustomerBus } from '#adapters/customer-bus';
import { EventBridgePublisher } from '#adapters/event-bus';
import { NodeHttpSender } from '#adapters/http-sender';
import { OAuthTokenSource } from '#adapters/oauth-tokens';
import { SqsDeadLetterQueue, SqsDeliveryQueue } from '#adapters/sqs-queue';
import { DynamoStatsStore } from '#adapters/stats-store';
import { DynamoThrottleStore } from '#adapters/throttle-store';
import { DynamoSlowMarkStore } from '#adapters/slow-mark-store';
import { DynamoOrderHoldStore } from '#adapters/order-hold-store';
import { keptSubscriptions } from '#core/caching';
import { BatchSlowMarks } from '#core/slow-lane';
import { applyBackpressure, BatchThrottle } from '#core/throttle';
import { BatchTenantShare } from '#core/tenant-share';
import { BatchProbeGate } from '#core/degrade';
import { timeoutSecondsOf } from '#core/subscription-settings';
import { randomUUID } from 'node:crypto';
import { WorkerTransformRunner } from '#adapters/transform-runner';
import { recordBatchStats } from '#core/health';
import type { AttemptObservation } from '#core/stats';
import { customerBusAccessOf, destinationTrustOf, settingsFor } from '#shared/settings';
import { logger, metrics, MetricUnit, tracer } from '#shared/observability';
import { deliveryJobsOf, processDeliveryMessage, RetryLater, tenantDemandOf, throttleDemandOf, type DeliveryWorkerPorts } from './worker.ts';
import { TIMEOUTS } from '#shared/herald-config';

const settings = settingsFor('deliver');
const table = settings.tableName;
const throttles = new DynamoThrottleStore(table);
const store = new DynamoSubscriptionStore(table);
/** Each subscription read once per container every few seconds, not once per batch (core/caching.ts). */
const subscriptions = keptSubscriptions(store, settings.subscriptionCacheSeconds * 1000);
/** Marks of slow subscriptions, read and written only when the stack has a slow lane (core/slow-lane.ts). */
const slowMarkStore = settings.slowLaneQueueUrl ? new DynamoSlowMarkStore(table) : undefined;
/** A lease outlives its request by this much, should its holder crash before ending it. */
const LEASE_MARGIN_MS = 30_000;
/** `herald:tenantMaxInFlight`; undefined: no cap, no writes. */
const TENANT_CAP = settings.tenantMaxInFlight;
/** A tenant lease cannot outlive the invocation that holds it, whichever subscription it serves. */
const TENANT_LEASE_MS = TIMEOUTS.deliverFunctionTimeoutSeconds * 1000 + LEASE_MARGIN_MS;
const stats = new DynamoStatsStore(table);
const http = new NodeHttpSender(settings.allowPrivateTargets, settings.destinationPorts);
const ports: DeliveryWorkerPorts = {
  subscriptions,
  deliveries: new DynamoDeliveryStore(table),
  events: new DynamoEventStore(table, { sweepAfterSeconds: settings.sweepAfterSeconds }),
  stats,
  batches: new DynamoBatchStore(table),
  publisher: new EventBridgePublisher(settings.eventBusName),
  http,
  customerBus: new EventBridgeCustomerBus(customerBusAccessOf(settings)),
  bindings: new DynamoBindingStore(table),
  tokens: new OAuthTokenSource(http),
  // JSONata in a worker thread with its own memory limit and deadline, started on first use.
  transforms: new WorkerTransformRunner(),
  queue: new SqsDeliveryQueue(settings.deliveryQueueUrl, settings.orderedQueueUrl, settings.slowLaneQueueUrl),
  deadLetters: new SqsDeadLetterQueue(settings.deadLetterQueueUrl),
  // Ordered groups whose head waits long leave flight for the table (core/order-hold.ts).
  holds: new DynamoOrderHoldStore(table),
  clock: () => new Date(),
  random: Math.random,
  config: {
    deliveryRetentionDays: settings.deliveryRetentionDays,
    eventSource: settings.eventSource,
    environment: settings.environment,
    eventRetentionDays: settings.eventRetentionDays,
    sweepAfterSeconds: settings.sweepAfterSeconds,
    trust: destinationTrustOf(settings),
  },
};


/**
 * SQS consumer: one delivery attempt per record; retries are reported as batch item failures.
 * The batch's attempts then go into the per-subscription statistics in one write per bucket,
 * which may auto-pause a subscription that keeps failing. Statistics never fail the batch: the
 * deliveries themselves are already recorded.
 */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event: SQSEvent, context: Context) => {
    const observations: AttemptObservation[] = [];
    const hidden = new Set<string>();
    // Each body parsed once for the batch's throttle and tenant-cap reservations.
    const jobs = deliveryJobsOf(event.Records);
    const now = ports.clock().getTime();
    // One look per subscription for the whole batch, at the container's kept reads (core/caching.ts).
    const batchPorts = {
      ...ports,
      subscriptionReads: new Map(),
      // Each subscription's health record, read at most once per batch; a degraded one's trial attempts (core/degrade.ts).
      probes: new BatchProbeGate(stats, () => ports.clock().getTime(), settings.degradedProbeSeconds),
      // Throttled subscriptions reserve their slots and leases once for the whole batch.
      throttle: new BatchThrottle(throttles, throttleDemandOf(jobs, now), () => ports.clock().getTime(), (s) => timeoutSecondsOf(s.destination) * 1000 + LEASE_MARGIN_MS, randomUUID),
      ...(slowMarkStore ? { slowMarks: new BatchSlowMarks(slowMarkStore, () => ports.clock().getTime(), (message, { error, ...ids }) => (error === undefined ? logger.info(message, ids) : logger.warn(message, { ...ids, error: error as Error }))) } : {}),
      ...(TENANT_CAP ? { tenantShare: new BatchTenantShare(throttles, TENANT_CAP, tenantDemandOf(jobs, now), () => ports.clock().getTime(), TENANT_LEASE_MS, randomUUID) } : {}),
    };
    const run = async (record: SQSRecord) => {
      try {
        await processDeliveryMessage(batchPorts, record, observations);
      } catch (error) {
        if (error instanceof RetryLater) hidden.add(record.messageId);
        throw error;
      }
    };
    const fifo = event.Records[0]?.eventSourceARN?.endsWith('.fifo') ?? false;
    // A processor per invocation: it holds the batch's state, and the local runtime (unlike
    // Lambda) runs several invocations of one container at once.
    // Standard queue: records go out concurrently, one slow endpoint does not hold the others'
    // attempts; the invocation still ends with its slowest record, which is why a slow
    // subscription's jobs move to the slow lane, one record per invocation (core/slow-lane.ts).
    // FIFO queue: in order; a failing record fails only the rest of its own group.
    const response = fifo
      ? await processPartialResponse(event, run, new SqsFifoPartialProcessorAsync(), { context, skipGroupOnError: true, throwOnFullBatchFailure: false })
      : await processPartialResponse(event, run, new BatchProcessor(EventType.SQS), { context, processInParallel: true, throwOnFullBatchFailure: false });
    await batchPorts.tenantShare?.releaseUnused().catch((error: unknown) => logger.warn('could not end unused tenant leases; they lapse by themselves', { error: error as Error }));
    if (fifo) {
      // Records skipped behind a failing one of their group: visible again at once, still queued
      // behind it (a group's messages are only received after the one in flight ends).
      const skipped = response.batchItemFailures.filter((f) => !hidden.has(f.itemIdentifier));
      await Promise.all(
        skipped.map((f) => {
          const record = event.Records.find((r) => r.messageId === f.itemIdentifier)!;
          return ports.queue.changeVisibility(record.receiptHandle, 0, 'ordered').catch(() => undefined);
        }),
      );
    }
    // The success path's one line per invocation; failures were logged one by one, with ids.
    const outcomes: Record<string, number> = {};
    for (const observation of observations) outcomes[observation.outcome] = (outcomes[observation.outcome] ?? 0) + 1;
    logger.info('batch done', { records: event.Records.length, ...outcomes, failedRecords: response.batchItemFailures.length });
    try {
      for (const slowed of await applyBackpressure({ throttles, subscriptions }, observations)) {
        logger.info('receiver pushed back: rate lowered', { ...slowed });
      }
    } catch (error) {
      logger.error('could not lower the rate of a subscription whose receiver pushed back', { error: error as Error });
    }
    try {
      const paused = await recordBatchStats(ports, observations);
      for (const subscriptionId of paused) logger.warn('subscription auto-paused: endpoint failing continuously', { subscriptionId });
    } catch (error) {
      logger.error('could not record delivery statistics for this batch', { error: error as Error, attempts: observations.length });
    }
    return response;
  });
