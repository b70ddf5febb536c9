import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Powertools per function container. Logs are JSON carrying the correlation ids handlers append
 * (tenantId, subscriptionId, eventId, deliveryId); metrics are CloudWatch EMF lines in the
 * `Herald` namespace with the service as their only dimension (low cardinality: no tenant or
 * subscription ids, those belong in logs and in GET /v1/subscriptions/{id}/stats); the tracer
 * records the AWS SDK calls when the function runs with active tracing.
 */
export const logger = new Logger({ serviceName: 'herald' });
export const metrics = new Metrics({
  namespace: 'Herald',
  serviceName: 'herald',
  // Its own warnings go through the structured logger, at the logger's level.
  logger: {
    debug: (...args: unknown[]) => logger.debug(args.map(String).join(' ')),
    info: (...args: unknown[]) => logger.debug(args.map(String).join(' ')),
    warn: (...args: unknown[]) => logger.debug(args.map(String).join(' ')),
    error: (...args: unknown[]) => logger.error(args.map(String).join(' ')),
  },
});
export const tracer = new Tracer({ serviceName: 'herald' });
export { MetricUnit };
