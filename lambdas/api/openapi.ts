import { destinationBindingSchema } from '#core/destination-trust';
import * as z from 'zod';
import { publishEventSchema } from '#core/publish-schema';
import { MAX_BATCH_EVENTS } from '#core/batch-publishing';
import { redriveSchema, resendQuerySchema } from '#core/recovery';
import { createSubscriptionSchema, patchSubscriptionSchema, rotateSecretSchema } from '#core/subscription';
import { createTenantSchema } from '#core/tenancy';
import { createPortalSessionSchema } from '#core/portal-sessions';

/**
 * The OpenAPI 3.1 document of the public contract (docs/api.md), generated from the same zod
 * schemas the routes parse with, plus JSON Schemas for what the routes answer. Served at
 * GET /v1/openapi.json and rendered at /docs; the typed client (test/support/herald-client.ts)
 * is generated from it by `npm run openapi`.
 */
const input = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const attempt = {
  type: 'object',
  required: ['number', 'at', 'durationMs'],
  properties: {
    number: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    durationMs: { type: 'number' },
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    errorMessage: { type: 'string' },
    responseExcerpt: { type: 'string' },
    retryAfterSeconds: { type: 'number' },
    nextAttemptAt: { type: 'string', format: 'date-time' },
  },
};

const delivery = {
  type: 'object',
  required: ['id', 'subscriptionId', 'eventId', 'eventType', 'status', 'attempts', 'createdAt'],
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    subscriptionId: { type: 'string' },
    eventId: { type: 'string' },
    eventIds: { type: 'array', items: { type: 'string' } },
    eventType: { type: 'string' },
    subject: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed', 'held', 'discarded'] },
    attempts: { type: 'array', items: attempt, description: 'The last 10 attempts, oldest first (attempt numbers run on across redrives)' },
    attemptCount: { type: 'integer', description: 'Every attempt made, including those no longer listed' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    nextAttemptAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    reason: { type: 'string' },
  },
};

const subscription = {
  type: 'object',
  required: ['id', 'name', 'eventTypes', 'destination', 'status', 'createdAt'],
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    eventTypes: { type: 'array', items: { type: 'string' } },
    destination: { type: 'object', additionalProperties: true },
    retryPolicy: { type: 'object', additionalProperties: true },
    filter: { type: 'object', additionalProperties: true },
    payload: { type: 'string', enum: ['full', 'thin'] },
    ordering: { type: 'string', enum: ['none', 'subject'] },
    batching: { type: 'object', properties: { maxItems: { type: 'integer' }, intervalSeconds: { type: 'integer' } } },
    autoPause: { type: 'object', additionalProperties: true },
    status: { type: 'string', enum: ['active', 'paused'] },
    pausedAt: { type: 'string', format: 'date-time' },
    pausedReason: { type: 'string' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

const window = {
  type: 'object',
  properties: Object.fromEntries(
    [
      ['from', { type: 'string' }],
      ['to', { type: 'string' }],
      ...['events', 'attempts', 'succeeded', 'failed', 'retries', 'deadLettered', 'held'].map((k) => [k, { type: 'integer' }]),
      ['successRate', { type: ['number', 'null'] }],
      ['responseTimeMs', { type: 'object', properties: { p50: { type: ['number', 'null'] }, p95: { type: ['number', 'null'] } } }],
      ['errors', { type: 'object', additionalProperties: { type: 'integer' } }],
      ['statusCodes', { type: 'object', additionalProperties: { type: 'integer' } }],
    ] as [string, unknown][],
  ),
};

const stats = {
  type: 'object',
  required: ['subscriptionId', 'windows', 'hourly'],
  properties: {
    subscriptionId: { type: 'string' },
    generatedAt: { type: 'string' },
    status: { type: 'string', enum: ['active', 'paused'] },
    pausedAt: { type: ['string', 'null'] },
    pausedReason: { type: ['string', 'null'] },
    lastAttemptAt: { type: ['string', 'null'] },
    lastSuccessAt: { type: ['string', 'null'] },
    lastError: { type: ['object', 'null'], additionalProperties: true },
    consecutiveFailures: { type: 'integer' },
    failingSince: { type: ['string', 'null'] },
    windows: { type: 'object', properties: { '1h': window, '24h': window, '7d': window } },
    hourly: {
      type: 'array',
      items: { type: 'object', properties: { hour: { type: 'string' }, attempts: { type: 'integer' }, succeeded: { type: 'integer' }, failed: { type: 'integer' }, p50: { type: ['number', 'null'] } } },
    },
  },
};

const page = (item: unknown) => ({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: item }, nextToken: { type: 'string' } } });
const problem = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

type Op = { summary: string; body?: unknown; ok: [number, unknown?]; query?: string[] };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const queryParams: Record<string, object> = {
  nextToken: {
    description: "The previous page's nextToken, as returned: opaque, sealed, and valid only for the same tenant and list (route, subscription, filters); anything else is a 400",
    schema: { type: 'string', maxLength: 2048 },
  },
};

function operation(op: Op, withId: boolean) {
  const [status, schema] = op.ok;
  return {
    summary: op.summary,
    parameters: [...(withId ? [idParam] : []), ...(op.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' }, ...queryParams[name] }))],
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
    responses: {
      [String(status)]: schema ? { description: 'OK', content: { 'application/json': { schema } } } : { description: 'No content' },
      default: { description: 'A problem', content: { 'application/problem+json': { schema: ref('Problem') } } },
    },
  };
}

/** Every route of routes.ts (a unit test holds the two together). */
export const OPENAPI_OPERATIONS: Record<string, Record<string, Op>> = {
  '/v1/tenants': { post: { summary: 'Create a tenant (admin)', body: ref('CreateTenant'), ok: [201, { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, apiKey: { type: 'string' } } }] } },
  '/v1/tenants/{id}/keys': { post: { summary: 'Create an API key for a tenant (admin)', body: { type: 'object' }, ok: [201, { type: 'object', additionalProperties: true }] } },
  '/v1/tenants/{id}/portal-sessions': {
    post: {
      summary: 'Create a short-lived portal session for a tenant (admin): open the console at …/console/#session=<token>',
      body: input(createPortalSessionSchema),
      ok: [201, { type: 'object', required: ['token', 'tenantId', 'readOnly', 'expiresAt'], properties: { token: { type: 'string', description: 'hps_…: a bearer token for this tenant until expiresAt' }, tenantId: { type: 'string' }, readOnly: { type: 'boolean' }, expiresAt: { type: 'string', format: 'date-time' } } }],
    },
  },
  '/v1/tenants/{id}/destination-binding': {
    put: { summary: "Bind a tenant to the AWS accounts and buses it may deliver to (admin)", body: ref('DestinationBindingInput'), ok: [200, ref('DestinationBinding')] },
    get: { summary: "A tenant's destination binding (admin, or the tenant itself)", ok: [200, ref('DestinationBinding')] },
    delete: { summary: "Remove a tenant's destination binding: its AWS deliveries stop (admin)", ok: [204] },
  },
  '/v1/keys': {
    post: { summary: 'Create an API key', body: { type: 'object', properties: { tenantId: { type: 'string' } } }, ok: [201, { type: 'object', additionalProperties: true }] },
    get: { summary: 'List API keys (prefixes only)', ok: [200, page({ type: 'object', additionalProperties: true })], query: ['tenantId'] },
  },
  '/v1/keys/{id}': { delete: { summary: 'Revoke an API key by prefix', ok: [204], query: ['tenantId'] } },
  '/v1/events': { post: { summary: 'Publish an event (admin)', body: ref('PublishEvent'), ok: [202, { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }] } },
  '/v1/events/{id}': {
    get: {
      summary: 'One published event as kept (the CloudEvents envelope with its data), while its retention lasts',
      ok: [200, { type: 'object', required: ['id', 'type', 'subject', 'time'], additionalProperties: true, properties: { id: { type: 'string' }, type: { type: 'string' }, subject: { type: 'string' }, time: { type: 'string', format: 'date-time' }, data: {} } }],
      query: ['tenantId'],
    },
  },
  '/v1/events/batch': {
    post: {
      summary: `Publish up to ${MAX_BATCH_EVENTS} events (admin): 207 with one result per event, in order`,
      body: ref('PublishEventBatch'),
      ok: [207, ref('PublishEventBatchResult')],
    },
  },
  '/v1/session': {
    get: {
      summary: 'Who this tenant key or portal session acts for (the console’s header)',
      ok: [200, { type: 'object', required: ['role', 'tenantId', 'tenantName', 'readOnly'], properties: { role: { type: 'string', enum: ['tenant'] }, tenantId: { type: 'string' }, tenantName: { type: 'string' }, readOnly: { type: 'boolean' }, expiresAt: { type: 'string', format: 'date-time' } } }],
    },
  },
  '/v1/event-types': { get: { summary: 'The event catalogue', ok: [200, page({ type: 'object', additionalProperties: true })] } },
  '/v1/subscriptions': {
    post: { summary: 'Create a subscription (the signing secret is shown once)', body: ref('CreateSubscription'), ok: [201, ref('SubscriptionWithSecret')] },
    get: { summary: 'List subscriptions', ok: [200, page(ref('Subscription'))], query: ['limit', 'nextToken', 'tenantId'] },
  },
  '/v1/subscriptions/{id}': {
    get: { summary: 'Get a subscription', ok: [200, ref('Subscription')], query: ['tenantId'] },
    patch: { summary: 'Change a subscription (status pauses or resumes)', body: ref('PatchSubscription'), ok: [200, ref('Subscription')] },
    delete: { summary: 'Delete a subscription', ok: [204], query: ['tenantId'] },
  },
  '/v1/subscriptions/{id}/rotate-secret': {
    post: {
      summary: 'Rotate the signing secret (the old one signs for 24 h more); with `secret`, to an imported one (not answered back)',
      body: input(rotateSecretSchema),
      ok: [200, { type: 'object', properties: { secret: { type: 'string', description: 'The generated secret, shown once (absent for an imported one)' }, previousSecretExpiresAt: { type: 'string', format: 'date-time', description: 'When the secret that signed until now stops signing (with a generated secret)' } } }],
    },
  },
  '/v1/subscriptions/{id}/test': { post: { summary: 'Send a herald.ping now', body: { type: 'object' }, ok: [202, { type: 'object', properties: { deliveryId: { type: 'string' }, eventId: { type: 'string' } } }] } },
  '/v1/subscriptions/{id}/pause': { post: { summary: 'Pause: deliveries are held', body: { type: 'object', properties: { reason: { type: 'string' } } }, ok: [200, ref('Subscription')] } },
  '/v1/subscriptions/{id}/resume': {
    post: {
      summary: 'Resume: held deliveries are released (or discarded)',
      body: { type: 'object', properties: { held: { type: 'string', enum: ['deliver', 'discard'] } } },
      ok: [200, { type: 'object', properties: { subscription: ref('Subscription'), released: { type: 'integer' }, discarded: { type: 'integer' } } }],
    },
  },
  '/v1/subscriptions/{id}/stats': { get: { summary: 'Delivery statistics over 1 h, 24 h and 7 days', ok: [200, ref('Stats')], query: ['tenantId'] } },
  '/v1/subscriptions/{id}/deliveries': { get: { summary: 'The delivery log', ok: [200, page(ref('Delivery'))], query: ['status', 'limit', 'nextToken', 'tenantId'] } },
  '/v1/subscriptions/{id}/resend': { post: { summary: 'Resend kept events by subject and/or time range', body: ref('ResendQuery'), ok: [202, { type: 'object', properties: { count: { type: 'integer' } } }] } },
  '/v1/deliveries/{id}': { get: { summary: 'A delivery with its attempts', ok: [200, ref('Delivery')], query: ['tenantId'] } },
  '/v1/deliveries/{id}/resend': { post: { summary: 'Deliver the same event again (a new delivery)', body: { type: 'object', properties: { tenantId: { type: 'string', description: 'the tenant the admin key acts for' } }, additionalProperties: false }, ok: [202, { type: 'object', properties: { deliveryId: { type: 'string' } } }] } },
  '/v1/dead-letters': { get: { summary: 'Deliveries that exhausted their policy, with the reason', ok: [200, page(ref('Delivery'))], query: ['subscriptionId', 'limit', 'nextToken', 'tenantId'] } },
  '/v1/dead-letters/redrive': { post: { summary: 'Redrive dead letters', body: ref('Redrive'), ok: [202, { type: 'object', properties: { count: { type: 'integer' } } }] } },
};

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Herald', version: '1', description: 'Event notifications: signed webhooks, EventBridge buses and third-party APIs. Contract: API.md.' },
    security: [{ apiKey: [] }],
    paths: Object.fromEntries(
      Object.entries(OPENAPI_OPERATIONS).map(([path, ops]) => [path, Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, operation(op, path.includes('{id}'))]))]),
    ),
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Herald API key (admin or tenant)' } },
      schemas: {
        CreateTenant: input(createTenantSchema),
        PublishEvent: input(publishEventSchema),
        PublishEventBatch: {
          type: 'object',
          required: ['events'],
          additionalProperties: false,
          properties: { events: { type: 'array', minItems: 1, maxItems: MAX_BATCH_EVENTS, items: ref('PublishEvent') } },
        },
        PublishEventBatchResult: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                required: ['index', 'status'],
                properties: {
                  index: { type: 'integer', minimum: 0, description: 'The position of the event in the request' },
                  id: { type: 'string', description: "The event's id (generated when the event had none)" },
                  status: {
                    type: 'integer',
                    description: '202 accepted; 200 this id was already accepted (no new deliveries); 4xx refused (see problem); 503 not published yet (stored: the sweeper publishes it) or not stored: send it again with the same id',
                  },
                  problem: ref('Problem'),
                },
              },
            },
          },
        },
        CreateSubscription: input(createSubscriptionSchema),
        PatchSubscription: input(patchSubscriptionSchema),
        ResendQuery: input(resendQuerySchema),
        Redrive: input(redriveSchema),
        DestinationBindingInput: input(destinationBindingSchema),
        DestinationBinding: {
          type: 'object',
          required: ['tenantId', 'accounts', 'eventBusArns'],
          properties: { tenantId: { type: 'string' }, accounts: { type: 'array', items: { type: 'string' } }, eventBusArns: { type: 'array', items: { type: 'string' } }, updatedAt: { type: 'string', format: 'date-time' } },
        },
        Subscription: subscription,
        SubscriptionWithSecret: {
          allOf: [subscription, { type: 'object', properties: { secret: { type: 'string', description: 'The generated signing secret, shown once (absent when one was imported)' } } }],
        },
        Delivery: delivery,
        Stats: stats,
        Problem: problem,
      },
    },
  };
  return cached;
}

/** /docs: the document rendered as a readable page (no scripts, no external assets). */
export function docsPage(): string {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { summary: string }>> };
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const rows = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => `<tr><td class="m">${method.toUpperCase()}</td><td><code>${esc(path)}</code></td><td>${esc(op.summary)}</td></tr>`))
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herald API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1f24}td{padding:.3rem .6rem;border-bottom:1px solid #e3e6ea;vertical-align:top}.m{font-weight:600;font-family:monospace}code{font-size:14px}</style></head>
<body><h1>Herald API</h1><p>Every route takes <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>application/problem+json</code> naming each field.
The machine-readable document is <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1).</p>
<table><thead><tr><th>method</th><th>path</th><th>what it does</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>`;
}
