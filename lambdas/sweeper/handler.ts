import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoDeliveryStore } from '#adapters/delivery-store';
import { DynamoEventStore } from '#adapters/event-store';
import { DynamoSubscriptionStore } from '#adapters/subscription-store';
import { SHARDS } from '#adapters/table-keys';
import { EventBridgePublisher } from '#adapters/event-bus';
import { SqsDeliveryQueue } from '#adapters/sqs-queue';
import { DynamoSlowMarkStore } from '#adapters/slow-mark-store';
import { DynamoSweepStore } from '#adapters/sweep-store';
import { DynamoOrderHoldStore } from '#adapters/order-hold-store';
import { DynamoStatsStore } from '#adapters/stats-store';
import { sweep, type SweepPorts, type SweepReport } from '#core/sweeper';
import { settingsFor } from '#shared/settings';
import { logger, metrics, MetricUnit, tracer } from '#shared/observability';

const settings = settingsFor('sweeper');
const table = settings.tableName;
const ports: SweepPorts = {
  sweep: new DynamoSweepStore(table),
  subscriptions: new DynamoSubscriptionStore(table),
  events: new DynamoEventStore(table),
  deliveries: new DynamoDeliveryStore(table),
  publisher: new EventBridgePublisher(settings.eventBusName),
  // Jobs go on the delivery queue (the deliver function moves a slow subscription's); the slow
  // lane is only watched for its backlog.
  queue: new SqsDeliveryQueue(settings.deliveryQueueUrl, settings.orderedQueueUrl, settings.slowLaneQueueUrl),
  ...(settings.slowLaneQueueUrl ? { slowMarks: new DynamoSlowMarkStore(table) } : {}),
  holds: new DynamoOrderHoldStore(table),
  stats: new DynamoStatsStore(table),
  clock: () => new Date(),
  config: { sweepAfterSeconds: settings.sweepAfterSeconds, shards: SHARDS },
};

/** Runs on a schedule (every minute): finds what was lost in transit and re-enqueues it. */
export const handler = middy<ScheduledEvent, SweepReport>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (_event, context) => {
    // The event list gets most of the run; 15 s stay for the cursor, pending and held deliveries.
    const budget = Math.max(1_000, Math.min(35_000, context.getRemainingTimeInMillis() - 15_000));
    const report = await sweep({ ...ports, config: { ...ports.config, deadline: Date.now() + budget } });
    // Two metrics, the ones an operator acts on (work lost in transit upstream, and work beyond
    // repair), each only when non-zero: a custom metric costs $0.30 for every month it has data,
    // and the sweeps' bookkeeping (events checked, cleared, deferred) is in the log line below.
    const recovered = report.eventsPublished + report.deliveriesEnqueued + report.pendingRequeued + report.heldReleased + report.batchLooksRequeued;
    // A held ordered group's head sent when due is the plan, not a recovery: in the log line only.
    if (report.headlessHolds) logger.error('held ordered groups whose head has no kept job: they wait until an operator looks', { holds: report.headlessHolds });
    if (recovered > 0) metrics.addMetric('sweep_recovered', MetricUnit.Count, recovered);
    if (report.unrecoverable > 0) metrics.addMetric('sweep_unrecoverable', MetricUnit.Count, report.unrecoverable);
    if (recovered + report.unrecoverable > 0) logger.warn('sweeper recovered work that was lost in transit', { ...report });
    else logger.info('sweep clean', { ...report });
    return report;
  });
