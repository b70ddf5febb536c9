import type { ThrottleStore } from '#core/throttle';
import * as z from 'zod';
import type { Catalogue } from '#core/catalogue';
import { publishEventSchema } from '#core/publish-schema';
import { subscriptionIdField, tenantIdField } from '#core/id-schemas';
import { ID_FORMATS } from '#core/ids';
import { DomainError, NotFoundError } from '#core/errors';
import { pauseSubscription, resumeSubscription, subscriptionStats } from '#core/health';
import type { ApiKeyStore, DeliveryQueue, DeliveryStore, DestinationBindingStore, EventPublisher, EventStore, QuotaCounter, StatsStore, SubscriptionStore, TenantStore } from '#core/ports';
import { destinationBindingSchema, type DestinationTrust } from '#core/destination-trust';
import type { TenantQuotas } from '#core/quotas';
import { redriveDeadLetters, redriveSchema, resendDelivery, resendEvents, resendQuerySchema } from '#core/recovery';
import { publishEvent, stripStorage, type PublishPorts } from '#core/publishing';
import { BATCH_NESTING, batchBodyProblem, MAX_BATCH_EVENTS, publishBatch, publishBatchSchema } from '#core/batch-publishing';
import { createSubscriptionSchema, patchSubscriptionSchema, rotateSecretSchema, toPublicSubscription } from '#core/subscription';
import * as subscriptions from '#core/subscription-service';
import { createApiKey, createTenant, createTenantSchema, describeSession, requireAdmin, resolveTenant, revokeApiKey } from '#core/tenancy';
import { createPortalSession, createPortalSessionSchema } from '#core/portal-sessions';
import { json, noContent, parseWith } from '#shared/http';
import { defineRoute, type Route, type RouteContext } from './route-table.ts';
import {
  apiKeyCreatedSchema,
  apiKeySchema,
  batchResultSchema,
  deliverySchema,
  deliveryStatusSchema,
  destinationBindingSchemaOut,
  eventTypeSchema,
  pageOf,
  portalSessionSchema,
  publicKeysSchema,
  sessionSchema,
  storedEventSchema,
  statsSchema,
  subscriptionSchema,
  subscriptionWithSecretSchema,
  tenantCreatedSchema,
  validationApprovedSchema,
} from './responses.ts';
import { logger } from '#shared/observability';
import { approveByCallback, CALLBACK_PATH, CALLBACK_TOKEN_FORMAT, runHandshake, type HandshakeAnswer, type HandshakeSettings } from '#core/webhook-validation';
import { releaseHeld } from '#core/health';
import type { HttpRequest } from '#core/ports';

export interface ApiPorts {
  tenants: TenantStore;
  keys: ApiKeyStore;
  subscriptions: SubscriptionStore;
  events: EventStore;
  deliveries: DeliveryStore;
  publisher: EventPublisher;
  queue: DeliveryQueue;
  /** Fan-out at publish: the ports the API fans out the events it accepts with (core/publishing.ts). */
  fanout: NonNullable<PublishPorts['fanout']>;
  stats: StatsStore;
  throttles: ThrottleStore;
  quotas: QuotaCounter;
  bindings: DestinationBindingStore;
  clock: () => Date;
  catalogue: Catalogue;
  targetRefusal: (url: string) => Promise<string | undefined>;
  /** Sends a validation handshake's OPTIONS request (same SSRF rules as deliveries). */
  handshake: (request: HttpRequest) => Promise<HandshakeAnswer>;
  /**
   * `webhookOrigin`: the `WebHook-Request-Origin` name (default: the API's host name);
   * `publicApiUrl`: the base of callback URLs (default: the request's own host and stage).
   */
  config: { webhookOrigin?: string; publicApiUrl?: string; handshakeTimeoutSeconds: number; eventSource: string; environment?: string; eventRetentionDays: number; secretGraceHours: number; thinLinkTemplate?: string; region?: string; sweepAfterSeconds?: number; tenantQuotas: TenantQuotas; trust: DestinationTrust };
}

type Context = RouteContext<ApiPorts, any, any>;
const route_ = defineRoute<ApiPorts>();

const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    nextToken: z
      .string()
      .max(2048)
      .optional()
      .describe("The previous page's nextToken, as returned: opaque, sealed, and valid only for the same tenant and list (route, subscription, filters); anything else is a 400"),
    tenantId: tenantIdField.optional(),
    status: deliveryStatusSchema.optional(),
  })
  .strict();
const subscriptionPageQuery = pageQuery.omit({ status: true });

const deadLetterQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    nextToken: pageQuery.shape.nextToken,
    tenantId: tenantIdField.optional(),
    subscriptionId: subscriptionIdField.optional(),
  })
  .strict();

const tenantQuery = z.object({ tenantId: tenantIdField.optional().describe('The tenant an admin key acts for') }).strict();
const pauseBody = z.object({ reason: z.string().trim().min(1).max(300).optional(), tenantId: tenantIdField.optional() }).strict();
const resumeBody = z.object({ held: z.enum(['deliver', 'discard']).default('deliver'), tenantId: tenantIdField.optional() }).strict();
const tenantBody = z.object({ tenantId: tenantIdField.optional().describe('The tenant an admin key acts for') }).strict();

/** Pause or resume through core/health.ts: atomic, announced, held deliveries released. */
async function changeStatus(ctx: Context, tenantId: string, id: string, status: 'active' | 'paused', reason?: string) {
  if (status === 'paused') {
    await pauseSubscription(ctx.ports, tenantId, id, reason ?? 'paused by the tenant');
    return subscriptions.getSubscription(ctx.ports, tenantId, id);
  }
  return (await resumeSubscription(ctx.ports, tenantId, id, 'deliver')).subscription;
}

const query = (ctx: Context) => ctx.event.queryStringParameters ?? {};

function headerOf(ctx: Context, name: string): string | undefined {
  const found = Object.entries(ctx.event.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return found?.[1] ?? undefined;
}

/** Where this deployment's handshakes come from and call back to: settings, else the API's own address. */
function handshakeSettings(ctx: Context): HandshakeSettings {
  const domain = ctx.event.requestContext?.domainName;
  const host = domain ?? headerOf(ctx, 'host') ?? 'localhost';
  const base = ctx.ports.config.publicApiUrl ?? (domain ? `https://${domain}/${ctx.event.requestContext.stage}` : `http://${host}`);
  return {
    origin: ctx.ports.config.webhookOrigin ?? host.replace(/:\d+$/, ''),
    callbackBase: base.replace(/\/+$/, ''),
    timeoutMs: ctx.ports.config.handshakeTimeoutSeconds * 1000,
  };
}

/** The tenant a route acts for: the key's own, or the one the admin names in query or body. */
async function tenantFor(ctx: Context, named?: string): Promise<string> {
  return resolveTenant(ctx.ports.tenants, ctx.principal, named ?? parseWith(tenantQuery.partial().passthrough(), query(ctx)).tenantId);
}

// Examples shown in the document: a test validates each one against its schema.
const EXAMPLE = {
  tenantId: 'ten_01JD8Z6V9K3M4N5P6Q7R8S9T0V',
  subscriptionId: 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K',
  deliveryId: 'dlv_01M8RHMCEGkSyVHDF1ciKz-7Opsub_01JD8Z7A1B2C3D4E5F6G7H8J9K',
  eventId: 'evt_01JD8Z9C3D4E5F6G7H8J9K0M1N',
  at: '2026-12-01T10:15:30.000Z',
};
const exampleSubscription = {
  id: EXAMPLE.subscriptionId,
  tenantId: EXAMPLE.tenantId,
  name: 'Orders to the warehouse',
  eventTypes: ['order.created', 'shipment.*'],
  destination: { type: 'webhook', url: 'https://hooks.example.com/herald' },
  retryPolicy: { preset: 'default' },
  filter: { data: { channel: ['shopee', 'lazada'] } },
  payload: 'full',
  ordering: 'subject',
  status: 'active',
  createdAt: EXAMPLE.at,
  updatedAt: EXAMPLE.at,
};
const { filter: _filter, ...withoutFilter } = exampleSubscription;
const exampleDelivery = {
  id: EXAMPLE.deliveryId,
  tenantId: EXAMPLE.tenantId,
  subscriptionId: EXAMPLE.subscriptionId,
  eventId: EXAMPLE.eventId,
  eventType: 'order.created',
  subject: 'OM-100234',
  status: 'succeeded',
  attempts: [
    { number: 1, at: EXAMPLE.at, durationMs: 412, statusCode: 503, error: 'http_status', nextAttemptAt: '2026-12-01T10:15:35.000Z' },
    { number: 2, at: '2026-12-01T10:15:35.000Z', durationMs: 87, statusCode: 200 },
  ],
  attemptCount: 2,
  createdAt: EXAMPLE.at,
  updatedAt: '2026-12-01T10:15:35.000Z',
  finishedAt: '2026-12-01T10:15:35.000Z',
};
const exampleKey = { prefix: 'Ab3dE9xZ', apiKey: 'hk_Ab3dE9xZ_q0VtK2mP7wR4sY8uB1nC6eH5jL3gF0dA', role: 'tenant', tenantId: EXAMPLE.tenantId, createdAt: EXAMPLE.at };
const exampleBinding = {
  tenantId: EXAMPLE.tenantId,
  accounts: ['123456789012'],
  eventBusArns: ['arn:aws:events:eu-west-1:123456789012:event-bus/orders'],
  updatedAt: EXAMPLE.at,
};
const examplePublish = {
  tenantId: EXAMPLE.tenantId,
  type: 'order.created',
  subject: 'OM-100234',
  id: 'order-OM-100234-created',
  data: { orderId: 'OM-100234', orderNumber: '240925ABC', status: 'CREATED', channel: 'shopee', items: [{ sku: 'TSHIRT-M-BLK', quantity: 2 }] },
};
const exampleWindow = { from: '2026-12-01T09:15:30.000Z', to: EXAMPLE.at, events: 40, attempts: 42, succeeded: 40, failed: 2, retries: 2, deadLettered: 0, held: 0, successRate: 0.952, responseTimeMs: { p50: 85, p95: 410 }, errors: { http_status: 2 }, statusCodes: { '200': 40, '503': 2 } };

const accepted = (description: string, schema: z.ZodType) => ({ status: 202, description, schema });

/**
 * Every route of the API: the router below and the OpenAPI document (openapi.ts) are both built
 * from this table. A handler parses with `ctx.body()` / `ctx.query()`, which use the schemas
 * declared beside it.
 */
export const ROUTES: readonly Route<ApiPorts>[] = [
  route_({
    method: 'POST', path: '/v1/tenants', auth: 'admin',
    summary: 'Create a tenant (answers its first API key, shown once)',
    examples: { request: { name: 'Acme Retail' }, response: { id: EXAMPLE.tenantId, name: 'Acme Retail', createdAt: EXAMPLE.at, apiKey: exampleKey.apiKey } },
    body: createTenantSchema.meta({ id: 'CreateTenant' }),
    response: { status: 201, description: 'The tenant, with its first API key', schema: tenantCreatedSchema },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      return json(201, await createTenant(ctx.ports, ctx.body()));
    },
  }),
  route_({
    method: 'POST', path: '/v1/tenants/{id}/keys', auth: 'admin',
    summary: 'Create an API key for a tenant',
    examples: { request: {}, response: exampleKey },
    body: z.object({}).strict(),
    response: { status: 201, description: 'The key, shown once', schema: apiKeyCreatedSchema },
    errors: { 429: "The tenant holds its quota of active API keys ('apiKeys')" },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      ctx.body();
      return json(201, await createApiKey(ctx.ports, await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id)));
    },
  }),
  route_({
    method: 'POST', path: '/v1/tenants/{id}/portal-sessions', auth: 'admin',
    summary: 'Open a short-lived portal session for one tenant (the embedded console): a bearer token that ends exactly at expiresAt',
    examples: { request: { readOnly: true, ttlSeconds: 900 }, response: { token: 'hps_5VbU3kQ0oV2m8aJ1cXyZ7rT4wN6sE9dH', tenantId: EXAMPLE.tenantId, readOnly: true, expiresAt: EXAMPLE.at } },
    body: createPortalSessionSchema.meta({ id: 'CreatePortalSession' }),
    response: { status: 201, description: 'The session, its token shown once', schema: portalSessionSchema },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      return json(201, await createPortalSession(ctx.ports, await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id), ctx.body()));
    },
  }),
  route_({
    method: 'PUT', path: '/v1/tenants/{id}/destination-binding', auth: 'admin',
    summary: 'Bind a tenant to the AWS accounts and buses it may deliver to',
    examples: { request: { accounts: exampleBinding.accounts, eventBusArns: exampleBinding.eventBusArns }, response: exampleBinding },
    body: destinationBindingSchema.meta({ id: 'DestinationBindingInput' }),
    response: { status: 200, description: 'The binding', schema: destinationBindingSchemaOut },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      const input = ctx.body();
      const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
      const binding = { ...input, tenantId, updatedAt: ctx.ports.clock().toISOString() };
      await ctx.ports.bindings.putDestinationBinding(binding);
      return json(200, binding);
    },
  }),
  route_({
    method: 'GET', path: '/v1/tenants/{id}/destination-binding', auth: 'tenant',
    summary: "A tenant's destination binding (the admin, or the tenant itself)",
    examples: { response: exampleBinding },
    response: { status: 200, description: 'The binding (empty lists when there is none)', schema: destinationBindingSchemaOut },
    handler: async (ctx) => {
      const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
      const binding = await ctx.ports.bindings.getDestinationBinding(tenantId);
      return json(200, binding ?? { tenantId, accounts: [], eventBusArns: [] });
    },
  }),
  route_({
    method: 'DELETE', path: '/v1/tenants/{id}/destination-binding', auth: 'admin',
    summary: "Remove a tenant's destination binding: its AWS deliveries stop",
    response: { status: 204, description: 'Removed' },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
      if (!(await ctx.ports.bindings.deleteDestinationBinding(tenantId))) throw new NotFoundError('destination binding of tenant', tenantId);
      return noContent();
    },
  }),
  route_({
    method: 'POST', path: '/v1/keys', auth: 'tenant',
    summary: 'Create an API key',
    examples: { request: {}, response: exampleKey },
    body: tenantBody,
    response: { status: 201, description: 'The key, shown once', schema: apiKeyCreatedSchema },
    errors: { 429: "The tenant holds its quota of active API keys ('apiKeys')" },
    handler: async (ctx) => {
      const { tenantId } = ctx.body();
      return json(201, await createApiKey(ctx.ports, await tenantFor(ctx, tenantId)));
    },
  }),
  route_({
    method: 'GET', path: '/v1/session', auth: 'tenant',
    summary: 'Who this tenant key or portal session acts for (403 for the admin key)',
    examples: { response: { role: 'tenant', tenantId: EXAMPLE.tenantId, tenantName: 'Acme Fulfilment', readOnly: false } },
    response: { status: 200, description: 'The session', schema: sessionSchema },
    handler: async (ctx) => json(200, await describeSession(ctx.ports.tenants, ctx.principal)),
  }),
  route_({
    method: 'GET', path: '/v1/keys', auth: 'tenant',
    summary: 'List API keys (prefixes only, never the keys)',
    examples: { response: { items: [{ prefix: exampleKey.prefix, role: 'tenant', tenantId: EXAMPLE.tenantId, createdAt: EXAMPLE.at }] } },
    query: tenantQuery,
    response: { status: 200, description: 'The keys', schema: z.object({ items: z.array(apiKeySchema) }) },
    handler: async (ctx) => json(200, { items: await ctx.ports.keys.listApiKeys(await tenantFor(ctx)) }),
  }),
  route_({
    method: 'DELETE', path: '/v1/keys/{id}', auth: 'tenant',
    summary: 'Revoke an API key by its prefix',
    query: tenantQuery,
    response: { status: 204, description: 'Revoked' },
    handler: async (ctx) => {
      await revokeApiKey(ctx.ports, await tenantFor(ctx), ctx.params.id!);
      return noContent();
    },
  }),
  route_({
    method: 'POST', path: '/v1/events', auth: 'admin',
    summary: 'Publish an event',
    examples: { request: examplePublish, response: { id: examplePublish.id } },
    body: publishEventSchema,
    response: accepted('Accepted (also for a repeat of an accepted id: no new deliveries)', z.object({ id: z.string() })),
    errors: { 503: 'Stored, but the bus refused it: the sweeper publishes it within minutes, or send it again with the same id' },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      const result = await publishEvent(ctx.ports, ctx.body());
      return json(202, { id: result.id });
    },
  }),
  route_({
    method: 'POST', path: '/v1/events/batch', auth: 'admin',
    summary: `Publish up to ${MAX_BATCH_EVENTS} events: 207 with one result per event, in order`,
    examples: {
      request: { events: [examplePublish, { tenantId: EXAMPLE.tenantId, type: 'order.created', subject: 'OM-100235', data: { orderNumber: '240925ABD' } }] },
      response: {
        items: [
          { index: 0, id: examplePublish.id, status: 202 },
          { index: 1, status: 400, problem: { type: 'about:blank', title: 'Invalid request', status: 400, detail: "data.orderId: must have required property 'orderId'", errors: [{ path: 'data.orderId', message: "must have required property 'orderId'" }] } },
        ],
      },
    },
    body: publishBatchSchema.meta({ id: 'PublishEventBatch' }),
    // Input limits over the whole body, as on every route, with nesting counted from each event.
    bodyNesting: BATCH_NESTING,
    bodyPrecheck: batchBodyProblem,
    response: { status: 207, description: 'One result per event, in the order sent', schema: batchResultSchema },
    handler: async (ctx) => {
      requireAdmin(ctx.principal);
      const { events } = ctx.body();
      const items = await publishBatch(ctx.ports, events, (raw) => parseWith(publishEventSchema, raw));
      // The single route logs a failed publish as its 500; a batch answers 207, so say it here.
      const unavailable = items.filter((item) => item.status >= 500);
      if (unavailable.length > 0) {
        logger.warn('batch publish: events not published yet (stored ones are left to the sweeper)', {
          count: unavailable.length,
          ids: unavailable.map((item) => item.id),
          detail: unavailable[0]!.problem?.detail,
        });
      }
      return json(207, { items });
    },
  }),
  route_({
    method: 'GET', path: '/v1/events/{id}', auth: 'tenant',
    summary: 'A published event as kept (its retention period), with its data: what a delivery carried',
    examples: { response: { specversion: '1.0', id: EXAMPLE.eventId, source: 'urn:herald:tenant', type: 'order.created', time: EXAMPLE.at, subject: 'OM-100234', datacontenttype: 'application/json', tenantid: EXAMPLE.tenantId, data: { orderId: 'OM-100234' } } },
    query: tenantQuery,
    response: { status: 200, description: 'The event', schema: storedEventSchema },
    handler: async (ctx) => {
      const event = await ctx.ports.events.getEvent(await tenantFor(ctx), ctx.params.id!);
      if (!event) throw new NotFoundError('event', ctx.params.id!);
      return json(200, stripStorage(event));
    },
  }),
  route_({
    method: 'GET', path: '/v1/event-types', auth: 'tenant',
    summary: 'The event catalogue',
    examples: { response: { items: [{ type: 'order.created', description: 'An order was created', versions: [{ version: 1, schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } }, example: { orderId: 'OM-100234' } }] }] } },
    response: { status: 200, description: 'Every event type', schema: z.object({ items: z.array(eventTypeSchema) }) },
    handler: async (ctx) => json(200, { items: ctx.ports.catalogue.list() }),
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions', auth: 'tenant',
    summary: 'Create a subscription (the signing secret is shown once)',
    examples: {
      request: {
        name: exampleSubscription.name,
        eventTypes: exampleSubscription.eventTypes,
        destination: exampleSubscription.destination,
        retryPolicy: { strategy: 'exponential', initialSeconds: 20, factor: 2, maxSeconds: 600, maxAgeSeconds: 86400 },
        filter: exampleSubscription.filter,
        ordering: 'subject',
      },
      response: { ...exampleSubscription, retryPolicy: { strategy: 'exponential', initialSeconds: 20, factor: 2, maxSeconds: 600, maxAgeSeconds: 86400 }, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    },
    body: createSubscriptionSchema.meta({ id: 'CreateSubscription' }),
    response: { status: 201, description: 'The subscription, with its signing secret', schema: subscriptionWithSecretSchema },
    errors: { 429: "The tenant holds its quota of subscriptions ('subscriptions')" },
    handler: async (ctx) => {
      const input = ctx.body();
      const tenantId = await tenantFor(ctx, input.tenantId);
      const created = await subscriptions.createSubscription(ctx.ports, tenantId, input);
      if (created.status !== 'pending_validation') return json(201, created);
      const validated = await runHandshake(ctx.ports, handshakeSettings(ctx), tenantId, created.id);
      return json(201, { ...toPublicSubscription(validated), ...(created.secret ? { secret: created.secret } : {}) });
    },
  }),
  route_({
    method: 'GET', path: '/v1/subscriptions', auth: 'tenant',
    summary: 'List subscriptions',
    examples: { response: { items: [exampleSubscription], nextToken: 'eyJ2IjoxLCJrIjoi...' } },
    query: subscriptionPageQuery,
    response: { status: 200, description: 'A page of subscriptions', schema: pageOf(subscriptionSchema) },
    handler: async (ctx) => {
      const { tenantId: named, ...page } = ctx.query();
      return json(200, await subscriptions.listSubscriptions(ctx.ports, await tenantFor(ctx, named), page));
    },
  }),
  route_({
    method: 'GET', path: '/v1/subscriptions/{id}', auth: 'tenant',
    summary: 'Get a subscription',
    examples: { response: exampleSubscription },
    query: tenantQuery,
    response: { status: 200, description: 'The subscription', schema: subscriptionSchema },
    handler: async (ctx) => {
      const sub = await subscriptions.getSubscription(ctx.ports, await tenantFor(ctx), ctx.params.id!);
      return json(200, toPublicSubscription(sub));
    },
  }),
  route_({
    method: 'PATCH', path: '/v1/subscriptions/{id}', auth: 'tenant',
    summary: 'Change a subscription (`status` pauses or resumes it)',
    examples: { request: { retryPolicy: { schedule: [60, 600, 3600], maxAgeSeconds: 86400 }, filter: null }, response: { ...withoutFilter, retryPolicy: { schedule: [60, 600, 3600], maxAgeSeconds: 86400 } } },
    body: patchSubscriptionSchema.meta({ id: 'PatchSubscription' }),
    response: { status: 200, description: 'The subscription as changed', schema: subscriptionSchema },
    handler: async (ctx) => {
      const patch = ctx.body();
      const tenantId = await tenantFor(ctx, patch.tenantId);
      const before = await subscriptions.getSubscription(ctx.ports, tenantId, ctx.params.id!);
      let updated = await subscriptions.patchSubscription(ctx.ports, tenantId, ctx.params.id!, patch);
      // A new URL under validation (or validation just asked for) is asked again; validation
      // dropped while pending lets the held deliveries go.
      if (updated.status === 'pending_validation' && updated.handshake?.origin === '') {
        updated = toPublicSubscription(await runHandshake(ctx.ports, handshakeSettings(ctx), tenantId, updated.id));
      } else if (before.status === 'pending_validation' && updated.status === 'active') {
        await releaseHeld(ctx.ports, tenantId, updated.id, 'deliver');
      }
      if (patch.status === undefined || patch.status === updated.status) return json(200, updated);
      return json(200, toPublicSubscription(await changeStatus(ctx, tenantId, ctx.params.id!, patch.status)));
    },
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/pause', auth: 'tenant',
    summary: 'Pause: deliveries are held until it is resumed',
    examples: { request: { reason: 'receiver maintenance' }, response: { ...exampleSubscription, status: 'paused', pausedAt: EXAMPLE.at, pausedReason: 'receiver maintenance' } },
    body: pauseBody,
    response: { status: 200, description: 'The paused subscription', schema: subscriptionSchema },
    handler: async (ctx) => {
      const { tenantId, reason } = ctx.body();
      return json(200, toPublicSubscription(await changeStatus(ctx, await tenantFor(ctx, tenantId), ctx.params.id!, 'paused', reason)));
    },
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/resume', auth: 'tenant',
    summary: 'Resume: held deliveries are released (or discarded)',
    examples: { request: { held: 'deliver' }, response: { subscription: exampleSubscription, released: 12, discarded: 0 } },
    body: resumeBody,
    response: {
      status: 200,
      description: 'The resumed subscription and what became of its held deliveries',
      schema: z.object({ subscription: subscriptionSchema, released: z.number().int(), discarded: z.number().int() }),
    },
    handler: async (ctx) => {
      const { tenantId, held } = ctx.body();
      const result = await resumeSubscription(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, held);
      return json(200, { subscription: toPublicSubscription(result.subscription), released: result.released, discarded: result.discarded });
    },
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/validate', auth: 'tenant',
    summary: 'Send the validation handshake again (validation "cloudevents", while pending_validation)',
    description:
      'Sends the CloudEvents webhook validation request (`OPTIONS` with `WebHook-Request-Origin`, `WebHook-Request-Callback` and, with a rateLimit, `WebHook-Request-Rate`) to the destination URL. A consenting answer activates the subscription and releases its held deliveries in order; otherwise `handshake.lastResult` says why it is still pending. Each attempt issues a new callback URL.',
    examples: {
      request: {},
      response: { ...exampleSubscription, validation: 'cloudevents', rateLimit: { perSecond: 2 }, handshake: { url: 'https://hooks.example.com/herald', origin: 'api.example.com', lastAttemptAt: EXAMPLE.at, lastResult: "approved by the receiver's answer (at most 120 requests a minute)", allowedRate: 120, approvedAt: EXAMPLE.at, approvedBy: 'answer' } },
    },
    body: tenantBody,
    response: { status: 200, description: 'The subscription after the handshake: active, or still pending_validation with the reason', schema: subscriptionSchema },
    errors: { 409: 'The subscription has no validation, or its receiver already consented' },
    handler: async (ctx) => {
      const { tenantId } = ctx.body();
      const resolved = await tenantFor(ctx, tenantId);
      return json(200, toPublicSubscription(await runHandshake(ctx.ports, handshakeSettings(ctx), resolved, ctx.params.id!)));
    },
  }),
  ...(['GET', 'POST'] as const).map((method) =>
    route_({
      method, path: `${CALLBACK_PATH}/{id}`, auth: 'public',
      summary: `Approve a subscription's deliveries (the receiver's validation callback, ${method})`,
      description:
        'The `WebHook-Request-Callback` URL of a validation handshake: calling it (no API key; the token is the secret) is the receiver consenting. An optional `WebHook-Allowed-Rate` header (`*` or requests per minute) caps the rate. The subscription becomes active and its held deliveries are released in order. Only the newest handshake\'s URL works; an unknown or stale one is a 404.',
      examples: { response: { approved: true } },
      response: { status: 200, description: 'Approved (again: a repeated call changes nothing)', schema: validationApprovedSchema },
      errors: { 400: 'WebHook-Allowed-Rate is neither * nor a positive whole number', 404: 'No such callback (unknown, or replaced by a newer handshake)' },
      handler: async (ctx) => json(200, await approveByCallback(ctx.ports, ctx.params.id!, headerOf(ctx, 'webhook-allowed-rate'))),
    }),
  ),
  route_({
    method: 'GET', path: '/v1/subscriptions/{id}/stats', auth: 'tenant',
    summary: 'Delivery statistics over 1 h, 24 h and 7 days',
    examples: {
      response: {
        subscriptionId: EXAMPLE.subscriptionId,
        generatedAt: EXAMPLE.at,
        status: 'active',
        lastAttemptAt: EXAMPLE.at,
        lastSuccessAt: EXAMPLE.at,
        lastError: null,
        consecutiveFailures: 0,
        failingSince: null,
        degraded: false,
        degradedReason: null,
        windows: { '1h': exampleWindow, '24h': exampleWindow, '7d': exampleWindow },
        hourly: [{ hour: '2026-12-01T10', attempts: 42, succeeded: 40, failed: 2, p50: 85 }],
      },
    },
    query: tenantQuery,
    response: { status: 200, description: 'The statistics', schema: statsSchema },
    handler: async (ctx) => json(200, await subscriptionStats(ctx.ports, await tenantFor(ctx), ctx.params.id!)),
  }),
  route_({
    method: 'DELETE', path: '/v1/subscriptions/{id}', auth: 'tenant',
    summary: 'Delete a subscription',
    query: tenantQuery,
    response: { status: 204, description: 'Deleted' },
    handler: async (ctx) => {
      await subscriptions.deleteSubscription(ctx.ports, await tenantFor(ctx), ctx.params.id!);
      return noContent();
    },
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/rotate-secret', auth: 'tenant',
    summary: 'Rotate the signing secret (the old one signs for 24 h more); with `secret`, to an imported one (not answered back)',
    examples: { request: {}, response: { secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD' } },
    body: rotateSecretSchema.meta({ id: 'RotateSecret' }),
    response: {
      status: 200,
      description: 'The new secret',
      schema: z.object({
        secret: z.string().optional().describe('The generated secret, shown once (absent for an imported one, and for signature "ed25519")'),
        publicKey: z.string().optional().describe('signature "ed25519": the new key pair’s whpk_ public key (the old key signs for 24 h more)'),
      }),
    },
    handler: async (ctx) => {
      const { tenantId, secret } = ctx.body();
      return json(200, await subscriptions.rotateSecret(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, secret));
    },
  }),
  route_({
    method: 'GET', path: '/v1/subscriptions/{id}/public-keys', auth: 'tenant',
    summary: 'The whpk_ public keys an ed25519 subscription signs with now: the current one first, then a rotated-out one until its expiresAt',
    examples: { response: { subscriptionId: EXAMPLE.subscriptionId, items: [{ publicKey: 'whpk_ZW5QjcQFsU7O3WTMkXumpZJNZjp13PJKs8hEo1cwHqY=', createdAt: EXAMPLE.at }] } },
    query: tenantQuery,
    response: { status: 200, description: 'The public keys', schema: publicKeysSchema },
    errors: { 409: 'The subscription signs with a shared HMAC secret (signature "hmac"): it has no public keys' },
    handler: async (ctx) => json(200, await subscriptions.listPublicKeys(ctx.ports, await tenantFor(ctx), ctx.params.id!)),
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/test', auth: 'tenant',
    summary: 'Send a herald.ping now',
    examples: { request: {}, response: { deliveryId: EXAMPLE.deliveryId, eventId: EXAMPLE.eventId } },
    body: tenantBody,
    response: accepted('The ping is on its way', z.object({ deliveryId: z.string(), eventId: z.string() })),
    handler: async (ctx) => {
      const { tenantId } = ctx.body();
      return json(202, await subscriptions.sendTestEvent(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!));
    },
  }),
  route_({
    method: 'GET', path: '/v1/subscriptions/{id}/deliveries', auth: 'tenant',
    summary: 'The delivery log, newest first',
    examples: { response: { items: [exampleDelivery] } },
    query: pageQuery,
    response: { status: 200, description: 'A page of deliveries', schema: pageOf(deliverySchema) },
    handler: async (ctx) => {
      const { tenantId: named, ...page } = ctx.query();
      return json(200, await subscriptions.listDeliveries(ctx.ports, await tenantFor(ctx, named), ctx.params.id!, page));
    },
  }),
  route_({
    method: 'GET', path: '/v1/deliveries/{id}', auth: 'tenant',
    summary: 'A delivery with its attempts',
    examples: { response: exampleDelivery },
    query: tenantQuery,
    response: { status: 200, description: 'The delivery', schema: deliverySchema },
    handler: async (ctx) => json(200, await subscriptions.getDelivery(ctx.ports, ctx.principal, await tenantFor(ctx), ctx.params.id!)),
  }),
  route_({
    method: 'POST', path: '/v1/deliveries/{id}/resend', auth: 'tenant',
    summary: 'Deliver the same event again (a new delivery)',
    examples: { request: {}, response: { deliveryId: 'dlv_01M8RHNBPGQm3vXhT7a9LcR2pWsub_01JD8Z7A1B2C3D4E5F6G7H8J9K' } },
    body: tenantBody,
    response: accepted('The new delivery', z.object({ deliveryId: z.string() })),
    errors: { 429: "The tenant's hourly resend volume is used up ('resendsPerHour')" },
    handler: async (ctx) => {
      const { tenantId } = ctx.body();
      return json(202, await resendDelivery(ctx.ports, ctx.principal, await tenantFor(ctx, tenantId), ctx.params.id!));
    },
  }),
  route_({
    method: 'POST', path: '/v1/subscriptions/{id}/resend', auth: 'tenant',
    summary: 'Resend kept events by subject and/or time range',
    examples: { request: { subject: 'OM-100234', from: '2026-11-30T00:00:00Z' }, response: { count: 3 } },
    body: resendQuerySchema.meta({ id: 'ResendQuery' }),
    response: accepted('How many events are resent', z.object({ count: z.number().int() })),
    errors: { 429: "The tenant's hourly resend volume is used up ('resendsPerHour')" },
    handler: async (ctx) => {
      const { tenantId, ...range } = ctx.body();
      return json(202, await resendEvents(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, range));
    },
  }),
  route_({
    method: 'GET', path: '/v1/dead-letters', auth: 'tenant',
    summary: 'Deliveries that exhausted their policy, with the reason',
    examples: { response: { items: [{ ...exampleDelivery, status: 'failed', reason: 'retry policy exhausted after 8 attempts (last: http_status 500)' }] } },
    query: deadLetterQuery,
    response: { status: 200, description: 'A page of dead letters', schema: pageOf(deliverySchema) },
    handler: async (ctx) => {
      const { tenantId: named, ...page } = ctx.query();
      return json(200, await ctx.ports.deliveries.listDeadLetters(await tenantFor(ctx, named), page));
    },
  }),
  route_({
    method: 'POST', path: '/v1/dead-letters/redrive', auth: 'tenant',
    summary: 'Redrive dead letters (one by deliveryId, those of one subscription, or all)',
    examples: { request: { subscriptionId: EXAMPLE.subscriptionId }, response: { count: 4 } },
    body: redriveSchema.meta({ id: 'Redrive' }),
    response: accepted(
      'How many are redriven; `notRedriven`: letters whose event is past the event retention period, left in the dead letters (their count, and at most 100 of their ids)',
      z.object({
        count: z.number().int(),
        notRedriven: z.object({ count: z.number().int(), reason: z.string(), deliveryIds: z.array(z.string()) }).optional(),
      }),
    ),
    errors: {
      410: 'The dead letter named by deliveryId cannot be redriven: its event is past the event retention period',
      429: "The tenant's hourly resend volume is used up ('resendsPerHour')",
    },
    handler: async (ctx) => {
      const { tenantId, ...scope } = ctx.body();
      return json(202, await redriveDeadLetters(ctx.ports, await tenantFor(ctx, tenantId), scope));
    },
  }),
];

const compiled = ROUTES.map((spec) => ({
  spec,
  regex: new RegExp(`^${spec.path.replace(/\{(\w+)\}/g, '(?<$1>[A-Za-z0-9_.:@-]{1,128})')}/?$`),
}));

/** What the `{id}` of each resource names, and its shape: a malformed id is a 404 before any read. */
export const ID_PARAMS: [prefix: string, what: string, format: RegExp][] = [
  ['/v1/tenants/', 'tenant', ID_FORMATS.tenant],
  ['/v1/subscriptions/', 'subscription', ID_FORMATS.subscription],
  ['/v1/deliveries/', 'delivery', ID_FORMATS.delivery],
  ['/v1/keys/', 'API key', ID_FORMATS.apiKey],
  [`${CALLBACK_PATH}/`, 'validation callback', CALLBACK_TOKEN_FORMAT],
];

/** Finds the route for a request: 404 for an unknown path or malformed id, 405 for a known path and wrong method. */
export function route(method: string, path: string): { route: Route<ApiPorts>; params: Record<string, string> } {
  let pathKnown = false;
  for (const candidate of compiled) {
    const match = candidate.regex.exec(path);
    if (!match) continue;
    pathKnown = true;
    if (candidate.spec.method !== method) continue;
    const params: Record<string, string> = { ...match.groups };
    const id = params.id;
    const kind = id === undefined ? undefined : ID_PARAMS.find(([prefix]) => path.startsWith(prefix));
    // Checked when the route reads it, after its body: a bad body is still a 400 naming the field.
    if (kind && !kind[2].test(id!)) {
      Object.defineProperty(params, 'id', {
        enumerable: true,
        get: () => {
          throw new NotFoundError(kind[1], id!);
        },
      });
    }
    return { route: candidate.spec, params };
  }
  if (pathKnown) throw new DomainError(405, 'Method not allowed', `${method} is not supported on ${path}`);
  throw new NotFoundError('route', `${method} ${path}`);
}
