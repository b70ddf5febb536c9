import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { DynamoBatchStore } from '#adapters/batch-store';
import { DynamoSubscriptionStore } from '#adapters/subscription-store';
import { SqsDeliveryQueue } from '#adapters/sqs-queue';
import { cachedSubscriptionIndex } from '#core/caching';
import { cloudEventSchema } from '#core/envelope';
import { fanOut } from '#core/fanout';
import { jsonDocumentProblems } from '#core/input-limits';
import { DELIVERY_MARKER } from '#core/destination-trust';
import { FANNED_OUT_ATTRIBUTE } from '#shared/herald-config';
import { settingsFor } from '#shared/settings';
import { logger, metrics, MetricUnit, tracer } from '#shared/observability';

const settings = settingsFor('fanout');
const ports = {
  // Per event one read of the tenant's index version; the index is queried again only when it moved.
  subscriptions: cachedSubscriptionIndex(new DynamoSubscriptionStore(settings.tableName)),
  batches: new DynamoBatchStore(settings.tableName),
  config: { eventRetentionDays: settings.eventRetentionDays },
  queue: new SqsDeliveryQueue(settings.deliveryQueueUrl, settings.orderedQueueUrl),
  clock: () => new Date(),
};

/**
 * Target of the Herald bus rule, invoked asynchronously, for the events the API did not fan out
 * itself (core/publishing.ts `fanOutInline`: those it could not, and those other publishers put).
 * Throwing makes Lambda (not EventBridge: its retry policy and DLQ only cover handing the event
 * over) retry the whole event twice, then send it to the function's on-failure destination, the fan-out DLQ, as an invocation record
 * (requestPayload: the event; responsePayload: the error). Jobs are idempotent by delivery id,
 * so a retry after a partial enqueue only repeats what receivers deduplicate.
 */
export const handler = middy<EventBridgeEvent<string, unknown>, { jobs: number }>()
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    // The API only puts events within the input limits; anything else on the bus is not Herald's.
    const tooBig = jsonDocumentProblems(event.detail);
    if (tooBig.length > 0) {
      logger.error('event on the Herald bus breaks the input limits; dropped', { eventBridgeId: event.id, problems: tooBig });
      return { jobs: 0 };
    }
    // Something Herald delivered came back to its own bus: never fan it out again (no loop).
    const delivered = (event.detail as Record<string, unknown> | null)?.[DELIVERY_MARKER];
    if (delivered !== undefined) {
      logger.error('loop detected: an event Herald delivered reached the Herald bus; dropped', { eventBridgeId: event.id, source: event.source, deliveryId: String(delivered) });
      metrics.addMetric('loop_detected', MetricUnit.Count, 1);
      return { jobs: 0 };
    }
    // The API already enqueued this event's deliveries. The rule skips such events; this only
    // answers a rule that does not (an earlier stack's, mid-update), so nothing goes out twice.
    if ((event.detail as Record<string, unknown> | null)?.[FANNED_OUT_ATTRIBUTE] !== undefined) {
      logger.debug('fanned out at publish; skipped', { eventBridgeId: event.id });
      return { jobs: 0 };
    }
    const parsed = cloudEventSchema.safeParse(event.detail);
    if (!parsed.success) {
      logger.error('event on the Herald bus is not a Herald CloudEvent; dropped', { eventBridgeId: event.id, issues: parsed.error.issues });
      return { jobs: 0 };
    }
    // A child logger, not appended keys: locally the functions share one logger, and another
    // function's invocation resets its keys.
    const log = logger.createChild({ persistentKeys: { tenantId: parsed.data.tenantid, eventId: parsed.data.id, eventType: parsed.data.type } });
    const result = await fanOut(ports, parsed.data);
    // Debug only: at the deployed level a successful fan-out writes no log line (issue #20's budget).
    log.debug('fanned out', { jobs: result.jobs, buffered: result.buffered });
    return result;
  });
