import { DynamoThrottleStore } from '#adapters/throttle-store';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadCatalogue } from '#adapters/catalogue-files';
import { DynamoApiKeyStore } from '#adapters/api-key-store';
import { DynamoBatchStore } from '#adapters/batch-store';
import { DynamoBindingStore } from '#adapters/binding-store';
import { DynamoDeliveryStore } from '#adapters/delivery-store';
import { DynamoEventStore } from '#adapters/event-store';
import { DynamoQuotaCounter } from '#adapters/quota-store';
import { DynamoSubscriptionStore } from '#adapters/subscription-store';
import { DynamoTenantStore } from '#adapters/tenant-store';
import { EventBridgePublisher } from '#adapters/event-bus';
import { SqsDeliveryQueue } from '#adapters/sqs-queue';
import { DynamoStatsStore } from '#adapters/stats-store';
import { targetRefusal } from '#adapters/target-guard';
import { handshakeSender } from '#adapters/handshake-sender';
import { NodeHttpSender } from '#adapters/http-sender';
import { destinationTrustOf, settingsFor } from '#shared/settings';
import { errorResponse, json, principalOf } from '#shared/http';
import { docsPage, openApiDocument } from './openapi.ts';
import { logger } from '#shared/observability';
import { cachedSubscriptionIndex, cachedTenants } from '#core/caching';
import { checkSessionAllows } from '#core/portal-sessions';
import { ANONYMOUS, contextFor } from './route-table.ts';
import { route, type ApiPorts } from './routes.ts';

const settings = settingsFor('api');
const table = settings.tableName;
const queue = new SqsDeliveryQueue(settings.deliveryQueueUrl, settings.orderedQueueUrl);
const ports: ApiPorts = {
  // Read on every publish; tenants are never deleted, so a short memory is safe.
  tenants: cachedTenants(new DynamoTenantStore(table), 60_000),
  keys: new DynamoApiKeyStore(table),
  subscriptions: new DynamoSubscriptionStore(table),
  // Sweep windows a tenth of the sweeper's grace (up to a minute) unless set apart: events are checked at most one window late.
  events: new DynamoEventStore(table, { sweepAfterSeconds: settings.sweepAfterSeconds, ...(settings.sweepWindowSeconds ? { sweepWindowSeconds: settings.sweepWindowSeconds } : {}) }),
  deliveries: new DynamoDeliveryStore(table),
  publisher: new EventBridgePublisher(settings.eventBusName),
  queue,
  // Fan-out at publish (core/publishing.ts fanOutInline): the fan-out function's ports, with the
  // same per-container index cache (one read of the tenant's index version per lookup).
  fanout: {
    subscriptions: cachedSubscriptionIndex(new DynamoSubscriptionStore(table)),
    queue,
    batches: new DynamoBatchStore(table),
    // As the fan-out function logs: debug only on success (issue #20's log budget).
    observe: (event, outcome) => {
      const keys = { tenantId: event.tenantid, eventId: event.id, eventType: event.type };
      if (outcome.ok) logger.debug('fanned out', { ...keys, jobs: outcome.jobs, buffered: outcome.buffered, atPublish: true });
      else if (outcome.error === undefined) logger.debug('left to the fan-out function (the request has more jobs than it sends itself)', keys);
      else logger.warn('fan-out at publish failed: the fan-out function does it', { ...keys, error: outcome.error as Error });
    },
  },
  stats: new DynamoStatsStore(table),
  throttles: new DynamoThrottleStore(table),
  quotas: new DynamoQuotaCounter(table),
  bindings: new DynamoBindingStore(table),
  clock: () => new Date(),
  catalogue: loadCatalogue(settings.catalogueDir),
  targetRefusal: (url) => targetRefusal(url, settings.allowPrivateTargets, settings.destinationPorts),
  handshake: handshakeSender(new NodeHttpSender(settings.allowPrivateTargets, settings.destinationPorts)),
  config: {
    webhookOrigin: settings.webhookOrigin,
    publicApiUrl: settings.publicApiUrl,
    handshakeTimeoutSeconds: settings.handshakeTimeoutSeconds,
    eventSource: settings.eventSource,
    environment: settings.environment,
    eventRetentionDays: settings.eventRetentionDays,
    sweepAfterSeconds: settings.sweepAfterSeconds,
    secretGraceHours: settings.secretGraceHours,
    thinLinkTemplate: settings.thinLinkTemplate,
    region: settings.region,
    tenantQuotas: settings.tenantQuotas,
    trust: destinationTrustOf(settings),
  },
};

/** The REST API: API Gateway proxies every route here; the authorizer has already run. */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    try {
      // The documentation is public (API Gateway has no authorizer on these two routes).
      if (event.httpMethod === 'GET' && event.path === '/v1/openapi.json') return json(200, openApiDocument(ports.catalogue));
      if (event.httpMethod === 'GET' && event.path === '/docs') {
        return { statusCode: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: docsPage(ports.catalogue) };
      }
      const found = route(event.httpMethod, event.path);
      // API Gateway runs no authorizer on public routes (a receiver's validation callback).
      const principal = found.route.auth === 'public' ? ANONYMOUS : principalOf(event);
      // A portal session ends at its expiry here, whatever the authorizer's cache still allows.
      if (found.route.auth !== 'public') checkSessionAllows(principal, event.httpMethod, event.path, ports.clock());
      logger.appendKeys({ tenantId: principal.tenantId, role: principal.role });
      return await found.route.handler(contextFor(found.route, { event, principal, params: found.params, ports }));
    } catch (error) {
      return errorResponse(error, (e) => logger.error('request failed', { error: e as Error, path: event.path }));
    }
  });
