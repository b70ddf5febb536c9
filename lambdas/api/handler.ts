import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadCatalogue } from '#adapters/catalogue-files';
import { DynamoStore } from '#adapters/dynamo-store';
import { EventBridgePublisher } from '#adapters/event-bus';
import { SqsDeadLetterQueue, SqsDeliveryQueue } from '#adapters/sqs-queue';
import { DynamoStatsStore } from '#adapters/stats-store';
import { targetRefusal } from '#adapters/target-guard';
import { allowPrivateTargets, destinationTrust, optionalEnv, requireEnv, SETTINGS } from '#shared/env';
import { errorResponse, json, principalOf } from '#shared/http';
import { docsPage, openApiDocument } from './openapi.ts';
import { logger } from '#shared/observability';
import { cachedTenants } from '#core/caching';
import { parseTenantQuotas } from '#core/quotas';
import { checkSessionAllows } from '#core/portal-sessions';
import { route, type ApiPorts } from './routes.ts';

const store = new DynamoStore(requireEnv('tableName'));
const ports: ApiPorts = {
  // Read on every publish; tenants are never deleted, so a short memory is safe.
  tenants: cachedTenants(store, 60_000),
  keys: store,
  subscriptions: store,
  events: store,
  deliveries: store,
  publisher: new EventBridgePublisher(requireEnv('eventBusName')),
  queue: new SqsDeliveryQueue(requireEnv('deliveryQueueUrl'), optionalEnv('orderedQueueUrl')),
  deadLetters: new SqsDeadLetterQueue(requireEnv('deadLetterQueueUrl')),
  stats: new DynamoStatsStore(requireEnv('tableName')),
  quotas: store,
  bindings: store,
  clock: () => new Date(),
  catalogue: loadCatalogue(),
  targetRefusal: (url) => targetRefusal(url, allowPrivateTargets()),
  config: {
    eventSource: SETTINGS.eventSource(),
    environment: optionalEnv('environment'),
    eventRetentionDays: SETTINGS.eventRetentionDays(),
    sweepAfterSeconds: SETTINGS.sweepAfterSeconds(),
    secretGraceHours: SETTINGS.secretGraceHours(),
    thinLinkTemplate: SETTINGS.thinLinkTemplate(),
    region: process.env.AWS_REGION,
    tenantQuotas: parseTenantQuotas(optionalEnv('tenantQuotas')),
    get trust() {
      return destinationTrust();
    },
  },
};

/** The REST API: API Gateway proxies every route here; the authorizer has already run. */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    try {
      // The documentation is public (API Gateway has no authorizer on these two routes).
      if (event.httpMethod === 'GET' && event.path === '/v1/openapi.json') return json(200, openApiDocument());
      if (event.httpMethod === 'GET' && event.path === '/docs') {
        return { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: docsPage() };
      }
      const principal = principalOf(event);
      checkSessionAllows(principal, event.httpMethod, event.path, ports.clock());
      logger.appendKeys({ tenantId: principal.tenantId, role: principal.role });
      const { handler: run, params } = route(event.httpMethod, event.path);
      return await run({ event, principal, params, ports });
    } catch (error) {
      return errorResponse(error, (e) => logger.error('request failed', { error: e as Error, path: event.path }));
    }
  });
