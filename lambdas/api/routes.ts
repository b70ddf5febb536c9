import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import type { Principal } from '#core/api-keys';
import type { Catalogue } from '#core/catalogue';
import { publishEventSchema } from '#core/publish-schema';
import { subscriptionIdField, tenantIdField } from '#core/id-schemas';
import { ID_FORMATS } from '#core/ids';
import { DomainError, NotFoundError } from '#core/errors';
import { pauseSubscription, resumeSubscription, subscriptionStats } from '#core/health';
import type { ApiKeyStore, DeadLetterQueue, DeliveryQueue, DeliveryStore, DestinationBindingStore, EventPublisher, EventStore, QuotaCounter, StatsStore, SubscriptionStore, TenantStore } from '#core/ports';
import { destinationBindingSchema, type DestinationTrust } from '#core/destination-trust';
import type { TenantQuotas } from '#core/quotas';
import { redriveDeadLetters, redriveSchema, resendDelivery, resendEvents, resendQuerySchema } from '#core/recovery';
import { publishEvent } from '#core/publishing';
import { stripStorage } from '#core/sweeper';
import { createPortalSession, createPortalSessionSchema } from '#core/portal-sessions';
import { BATCH_NESTING, batchBodyProblem, publishBatch, publishBatchSchema } from '#core/batch-publishing';
import { createSubscriptionSchema, patchSubscriptionSchema, rotateSecretSchema, toPublicSubscription } from '#core/subscription';
import * as subscriptions from '#core/subscription-service';
import { createApiKey, createTenant, createTenantSchema, describeSession, requireAdmin, resolveTenant, revokeApiKey } from '#core/tenancy';
import { json, jsonBody, noContent, parseWith } from '#shared/http';
import { logger } from '#shared/observability';

export interface ApiPorts {
  tenants: TenantStore;
  keys: ApiKeyStore;
  subscriptions: SubscriptionStore;
  events: EventStore;
  deliveries: DeliveryStore;
  publisher: EventPublisher;
  queue: DeliveryQueue;
  deadLetters: DeadLetterQueue;
  stats: StatsStore;
  quotas: QuotaCounter;
  bindings: DestinationBindingStore;
  clock: () => Date;
  catalogue: Catalogue;
  targetRefusal: (url: string) => Promise<string | undefined>;
  config: { eventSource: string; environment?: string; eventRetentionDays: number; secretGraceHours: number; thinLinkTemplate?: string; region?: string; sweepAfterSeconds?: number; tenantQuotas: TenantQuotas; trust: DestinationTrust };
}

interface RouteContext {
  event: APIGatewayProxyEvent;
  principal: Principal;
  params: Record<string, string>;
  ports: ApiPorts;
}

type RouteHandler = (ctx: RouteContext) => Promise<APIGatewayProxyResult>;

const pageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    nextToken: z.string().max(2048).optional(),
    tenantId: tenantIdField.optional(),
    status: z.enum(['pending', 'succeeded', 'failed', 'held', 'discarded']).optional(),
  })
  .strict();

const deadLetterQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    nextToken: z.string().max(2048).optional(),
    tenantId: tenantIdField.optional(),
    subscriptionId: subscriptionIdField.optional(),
  })
  .strict();

const tenantQuery = z.object({ tenantId: tenantIdField.optional() }).strict();
const pauseBody = z.object({ reason: z.string().trim().min(1).max(300).optional(), tenantId: tenantIdField.optional() }).strict();
const resumeBody = z.object({ held: z.enum(['deliver', 'discard']).default('deliver'), tenantId: tenantIdField.optional() }).strict();

/** Pause or resume through core/health.ts: atomic, announced, held deliveries released. */
async function changeStatus(ctx: RouteContext, tenantId: string, id: string, status: 'active' | 'paused', reason?: string) {
  if (status === 'paused') {
    await pauseSubscription(ctx.ports, tenantId, id, reason ?? 'paused by the tenant');
    return subscriptions.getSubscription(ctx.ports, tenantId, id);
  }
  return (await resumeSubscription(ctx.ports, tenantId, id, 'deliver')).subscription;
}
const tenantBody = z.object({ tenantId: tenantIdField.optional() }).strict();

const query = (ctx: RouteContext) => ctx.event.queryStringParameters ?? {};

/** The tenant a route acts for: the key's own, or the one the admin names in query or body. */
async function tenantFor(ctx: RouteContext, named?: string): Promise<string> {
  return resolveTenant(ctx.ports.tenants, ctx.principal, named ?? parseWith(tenantQuery.partial().passthrough(), query(ctx)).tenantId);
}

const routes: [method: string, pattern: string, handler: RouteHandler][] = [
  ['POST', '/v1/tenants', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenant = await createTenant(ctx.ports, parseWith(createTenantSchema, jsonBody(ctx.event)));
    return json(201, tenant);
  }],
  ['POST', '/v1/tenants/{id}/keys', async (ctx) => {
    requireAdmin(ctx.principal);
    parseWith(z.object({}).strict(), jsonBody(ctx.event));
    return json(201, await createApiKey(ctx.ports, await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id)));
  }],
  ['POST', '/v1/tenants/{id}/portal-sessions', async (ctx) => {
    requireAdmin(ctx.principal);
    const input = parseWith(createPortalSessionSchema, jsonBody(ctx.event));
    return json(201, await createPortalSession(ctx.ports, await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id), input));
  }],
  ['PUT', '/v1/tenants/{id}/destination-binding', async (ctx) => {
    requireAdmin(ctx.principal);
    const input = parseWith(destinationBindingSchema, jsonBody(ctx.event));
    const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
    const binding = { ...input, tenantId, updatedAt: ctx.ports.clock().toISOString() };
    await ctx.ports.bindings.putDestinationBinding(binding);
    return json(200, binding);
  }],
  ['GET', '/v1/tenants/{id}/destination-binding', async (ctx) => {
    const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
    const binding = await ctx.ports.bindings.getDestinationBinding(tenantId);
    return json(200, binding ?? { tenantId, accounts: [], eventBusArns: [] });
  }],
  ['DELETE', '/v1/tenants/{id}/destination-binding', async (ctx) => {
    requireAdmin(ctx.principal);
    const tenantId = await resolveTenant(ctx.ports.tenants, ctx.principal, ctx.params.id);
    if (!(await ctx.ports.bindings.deleteDestinationBinding(tenantId))) throw new NotFoundError('destination binding of tenant', tenantId);
    return noContent();
  }],
  ['POST', '/v1/keys', async (ctx) => {
    const { tenantId } = parseWith(tenantBody, jsonBody(ctx.event));
    return json(201, await createApiKey(ctx.ports, await tenantFor(ctx, tenantId)));
  }],
  ['GET', '/v1/session', async (ctx) => json(200, await describeSession(ctx.ports.tenants, ctx.principal))],
  ['GET', '/v1/keys', async (ctx) => json(200, { items: await ctx.ports.keys.listApiKeys(await tenantFor(ctx)) })],
  ['DELETE', '/v1/keys/{id}', async (ctx) => {
    await revokeApiKey(ctx.ports, await tenantFor(ctx), ctx.params.id!);
    return noContent();
  }],
  ['POST', '/v1/events', async (ctx) => {
    requireAdmin(ctx.principal);
    const result = await publishEvent(ctx.ports, parseWith(publishEventSchema, jsonBody(ctx.event)));
    return json(202, { id: result.id });
  }],
  ['POST', '/v1/events/batch', async (ctx) => {
    requireAdmin(ctx.principal);
    // Input limits over the whole body, as on every route, with nesting counted from each event.
    const body = jsonBody(ctx.event, { nestedAt: BATCH_NESTING });
    const notABatch = batchBodyProblem(body);
    if (notABatch) throw notABatch;
    const { events } = parseWith(publishBatchSchema, body);
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
  }],
  ['GET', '/v1/events/{id}', async (ctx) => {
    // The envelope as kept (its retention), so the console can show what a delivery carried.
    const event = await ctx.ports.events.getEvent(await tenantFor(ctx), ctx.params.id!);
    if (!event) throw new NotFoundError('event', ctx.params.id!);
    return json(200, stripStorage(event));
  }],
  ['GET', '/v1/event-types', async (ctx) => json(200, { items: ctx.ports.catalogue.list() })],
  ['POST', '/v1/subscriptions', async (ctx) => {
    const input = parseWith(createSubscriptionSchema, jsonBody(ctx.event));
    const tenantId = await tenantFor(ctx, input.tenantId);
    return json(201, await subscriptions.createSubscription(ctx.ports, tenantId, input));
  }],
  ['GET', '/v1/subscriptions', async (ctx) => {
    const { tenantId: named, status: _s, ...page } = parseWith(pageQuery, query(ctx));
    return json(200, await subscriptions.listSubscriptions(ctx.ports, await tenantFor(ctx, named), page));
  }],
  ['GET', '/v1/subscriptions/{id}', async (ctx) => {
    const sub = await subscriptions.getSubscription(ctx.ports, await tenantFor(ctx), ctx.params.id!);
    return json(200, toPublicSubscription(sub));
  }],
  ['PATCH', '/v1/subscriptions/{id}', async (ctx) => {
    const patch = parseWith(patchSubscriptionSchema, jsonBody(ctx.event));
    const tenantId = await tenantFor(ctx, patch.tenantId);
    const updated = await subscriptions.patchSubscription(ctx.ports, tenantId, ctx.params.id!, patch);
    if (patch.status === undefined || patch.status === updated.status) return json(200, updated);
    return json(200, toPublicSubscription(await changeStatus(ctx, tenantId, ctx.params.id!, patch.status)));
  }],
  ['POST', '/v1/subscriptions/{id}/pause', async (ctx) => {
    const { tenantId, reason } = parseWith(pauseBody, jsonBody(ctx.event));
    return json(200, toPublicSubscription(await changeStatus(ctx, await tenantFor(ctx, tenantId), ctx.params.id!, 'paused', reason)));
  }],
  ['POST', '/v1/subscriptions/{id}/resume', async (ctx) => {
    const { tenantId, held } = parseWith(resumeBody, jsonBody(ctx.event));
    const result = await resumeSubscription(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, held);
    return json(200, { subscription: toPublicSubscription(result.subscription), released: result.released, discarded: result.discarded });
  }],
  ['GET', '/v1/subscriptions/{id}/stats', async (ctx) => {
    return json(200, await subscriptionStats(ctx.ports, await tenantFor(ctx), ctx.params.id!));
  }],
  ['DELETE', '/v1/subscriptions/{id}', async (ctx) => {
    await subscriptions.deleteSubscription(ctx.ports, await tenantFor(ctx), ctx.params.id!);
    return noContent();
  }],
  ['POST', '/v1/subscriptions/{id}/rotate-secret', async (ctx) => {
    const { tenantId, secret } = parseWith(rotateSecretSchema, jsonBody(ctx.event));
    return json(200, await subscriptions.rotateSecret(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, secret));
  }],
  ['POST', '/v1/subscriptions/{id}/test', async (ctx) => {
    const { tenantId } = parseWith(tenantBody, jsonBody(ctx.event));
    return json(202, await subscriptions.sendTestEvent(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!));
  }],
  ['GET', '/v1/subscriptions/{id}/deliveries', async (ctx) => {
    const { tenantId: named, ...page } = parseWith(pageQuery, query(ctx));
    return json(200, await subscriptions.listDeliveries(ctx.ports, await tenantFor(ctx, named), ctx.params.id!, page));
  }],
  ['GET', '/v1/deliveries/{id}', async (ctx) => {
    return json(200, await subscriptions.getDelivery(ctx.ports, ctx.principal, await tenantFor(ctx), ctx.params.id!));
  }],
  ['POST', '/v1/deliveries/{id}/resend', async (ctx) => {
    const { tenantId } = parseWith(tenantBody, jsonBody(ctx.event));
    return json(202, await resendDelivery(ctx.ports, ctx.principal, await tenantFor(ctx, tenantId), ctx.params.id!));
  }],
  ['POST', '/v1/subscriptions/{id}/resend', async (ctx) => {
    const { tenantId, ...range } = parseWith(resendQuerySchema, jsonBody(ctx.event));
    return json(202, await resendEvents(ctx.ports, await tenantFor(ctx, tenantId), ctx.params.id!, range));
  }],
  ['GET', '/v1/dead-letters', async (ctx) => {
    const { tenantId: named, ...page } = parseWith(deadLetterQuery, query(ctx));
    return json(200, await ctx.ports.deliveries.listDeadLetters(await tenantFor(ctx, named), page));
  }],
  ['POST', '/v1/dead-letters/redrive', async (ctx) => {
    const { tenantId, ...scope } = parseWith(redriveSchema, jsonBody(ctx.event));
    return json(202, await redriveDeadLetters(ctx.ports, await tenantFor(ctx, tenantId), scope));
  }],
];

/** Method and path of every route, for the OpenAPI document's coverage test. */
export const ROUTES: readonly [method: string, path: string][] = routes.map(([method, path]) => [method, path]);

const compiled = routes.map(([method, pattern, handler]) => ({
  method,
  regex: new RegExp(`^${pattern.replace(/\{(\w+)\}/g, '(?<$1>[A-Za-z0-9_.:@-]{1,128})')}/?$`),
  handler,
}));

/** What the `{id}` of each resource names, and its shape: a malformed id is a 404 before any read. */
const ID_PARAMS: [prefix: string, what: string, format: RegExp][] = [
  ['/v1/tenants/', 'tenant', ID_FORMATS.tenant],
  ['/v1/subscriptions/', 'subscription', ID_FORMATS.subscription],
  ['/v1/deliveries/', 'delivery', ID_FORMATS.delivery],
  ['/v1/keys/', 'API key', ID_FORMATS.apiKey],
];

/** Finds the route for a request: 404 for an unknown path or malformed id, 405 for a known path and wrong method. */
export function route(method: string, path: string): { handler: RouteHandler; params: Record<string, string> } {
  let pathKnown = false;
  for (const candidate of compiled) {
    const match = candidate.regex.exec(path);
    if (!match) continue;
    pathKnown = true;
    if (candidate.method !== method) continue;
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
    return { handler: candidate.handler, params };
  }
  if (pathKnown) throw new DomainError(405, 'Method not allowed', `${method} is not supported on ${path}`);
  throw new NotFoundError('route', `${method} ${path}`);
}
