import * as z from 'zod';
import { retryPolicySchema } from '#core/retry-policy-schema';
import { validationSchema } from '#core/webhook-validation';
import {
  autoPauseSchema,
  eventbridgeDestinationSchema,
  eventPatternShape,
  httpDestinationSchema,
  maxConcurrencySchema,
  rateLimitSchema,
  signatureSchemeSchema,
  successStatusSchema,
  webhookDestinationSchema,
} from '#core/subscription';

/**
 * What the API answers, as zod schemas: the OpenAPI document's response bodies (and so the typed
 * client's types) are generated from these, as request bodies are from the schemas the routes
 * parse with. The `id` of each names its component in the document.
 */
const timestamp = z.iso.datetime({ offset: true });

/** `pending_validation` only for subscriptions that opted into `validation`. */
const subscriptionStatusOut = z
  .enum(['active', 'paused', 'pending_validation'])
  .describe('`pending_validation`: waiting for the receiver to consent (validation "cloudevents"); deliveries are held, released in order on approval');

const handshakeSchema = z
  .object({
    url: z.string().describe('The destination URL the consent is for'),
    origin: z.string().describe('The WebHook-Request-Origin sent'),
    lastAttemptAt: timestamp,
    lastResult: z.string().describe('The last handshake in words: why the subscription is still pending, or how it was approved'),
    requestedRate: z.number().int().optional().describe('WebHook-Request-Rate sent: requests per minute, from rateLimit'),
    allowedRate: z.union([z.number().int(), z.literal('*')]).optional().describe('WebHook-Allowed-Rate granted: requests per minute (caps rateLimit), or * for no limit'),
    configuredRateLimit: rateLimitSchema.optional().describe("The tenant's own rateLimit; `rateLimit` shows the stricter of it and allowedRate"),
    approvedAt: timestamp.optional(),
    approvedBy: z.enum(['answer', 'callback']).optional(),
  })
  .meta({ id: 'ValidationHandshake', description: 'The CloudEvents webhook validation handshake of a subscription with validation "cloudevents"' });

export const validationApprovedSchema = z.object({ approved: z.literal(true) }).meta({ id: 'ValidationApproved' });

export const problemSchema = z
  .object({
    type: z.string().describe('Always `about:blank`: the status and title say what went wrong'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What was wrong and what to do about it'),
    errors: z.array(z.object({ path: z.string().describe('The field, e.g. `destination.url` or `events[3].type`'), message: z.string() })).optional(),
    quota: z.string().optional().describe('429: the quota that was reached'),
    limit: z.number().int().optional().describe('429: its limit'),
  })
  .meta({ id: 'Problem', description: 'An RFC 9457 problem document (application/problem+json)' });

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextToken: z.string().optional().describe('Pass as `nextToken` for the next page; absent on the last page') });

export const attemptSchema = z.object({
  number: z.number().int(),
  at: timestamp,
  durationMs: z.number(),
  statusCode: z.number().int().optional(),
  error: z.string().optional(),
  errorMessage: z.string().optional(),
  responseExcerpt: z.string().optional(),
  retryAfterSeconds: z.number().optional(),
  nextAttemptAt: timestamp.optional(),
}).meta({ id: 'Attempt' });

export const deliveryStatusSchema = z.enum(['pending', 'succeeded', 'failed', 'held', 'discarded']);

export const deliverySchema = z
  .object({
    id: z.string(),
    tenantId: z.string().optional(),
    subscriptionId: z.string(),
    eventId: z.string(),
    eventIds: z.array(z.string()).optional(),
    eventType: z.string(),
    subject: z.string().optional(),
    status: deliveryStatusSchema,
    attempts: z
      .array(attemptSchema)
      .describe('GET /v1/deliveries/{id}: the last 20 attempts, oldest first, each with its response excerpt (attempt numbers run on across redrives). In lists: the latest attempt only, a failed one without its excerpt'),
    attemptCount: z.number().int().optional().describe('Every attempt made, including those no longer listed'),
    createdAt: timestamp,
    updatedAt: timestamp.optional(),
    nextAttemptAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    reason: z.string().optional(),
  })
  .meta({ id: 'Delivery' });

/** An http destination as answered: credentials are write-only (subscription.ts toPublicDestination). */
const publicHttpDestination = httpDestinationSchema
  .omit({ auth: true })
  .extend({
    auth: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('api_key'), header: z.string() }),
        z.object({ type: z.literal('basic'), username: z.string() }),
        z.object({ type: z.literal('oauth2'), tokenUrl: z.string(), clientId: z.string(), scope: z.string().optional(), credentialsIn: z.enum(['body', 'header']).optional() }),
      ])
      .optional()
      .describe('The authentication, without its secrets'),
  })
  .meta({ id: 'PublicHttpDestination' });

export const publicDestinationSchema = z
  .discriminatedUnion('type', [webhookDestinationSchema, eventbridgeDestinationSchema, publicHttpDestination])
  .meta({ id: 'PublicDestination', description: 'The destination as answered: http credentials are never shown again' });

export const subscriptionSchema = z
  .object({
    id: z.string(),
    tenantId: z.string().optional(),
    name: z.string(),
    description: z.string().optional(),
    eventTypes: z.array(z.string()),
    destination: publicDestinationSchema,
    retryPolicy: retryPolicySchema.optional(),
    successStatus: successStatusSchema.optional(),
    filter: eventPatternShape.optional(),
    payload: z.enum(['full', 'thin']),
    ordering: z.enum(['none', 'subject']),
    batching: z.object({ maxItems: z.number().int(), intervalSeconds: z.number().int() }).optional(),
    autoPause: autoPauseSchema.optional(),
    signature: signatureSchemeSchema.optional().describe('How webhooks are signed; absent means hmac'),
    publicKey: z.string().regex(/^whpk_/).optional().describe('signature "ed25519": the current public key that verifies v1a signatures'),
    rateLimit: rateLimitSchema.optional(),
    maxConcurrency: maxConcurrencySchema.optional(),
    validation: validationSchema.optional(),
    handshake: handshakeSchema.optional(),
    versions: z.record(z.string(), z.number().int()).optional(),
    status: subscriptionStatusOut,
    pausedAt: timestamp.optional(),
    pausedReason: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    createdAt: timestamp,
    updatedAt: timestamp.optional(),
  })
  .meta({ id: 'Subscription' });

export const publicKeysSchema = z
  .object({
    subscriptionId: z.string(),
    items: z.array(
      z.object({
        publicKey: z.string().regex(/^whpk_/),
        createdAt: timestamp,
        expiresAt: timestamp.optional().describe('A rotated-out key: it stops signing then'),
      }),
    ),
  })
  .meta({ id: 'PublicKeys' });

export const subscriptionWithSecretSchema = subscriptionSchema
  .extend({ secret: z.string().optional().describe('The generated signing secret, shown once (absent when one was imported)') })
  .meta({ id: 'SubscriptionWithSecret' });

const nullableNumber = z.number().nullable();
const statsWindow = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  ...Object.fromEntries(['events', 'attempts', 'succeeded', 'failed', 'retries', 'deadLettered', 'held'].map((k) => [k, z.number().int().optional()])),
  successRate: nullableNumber.optional(),
  responseTimeMs: z.object({ p50: nullableNumber.optional(), p95: nullableNumber.optional() }).optional(),
  errors: z.record(z.string(), z.number().int()).optional(),
  statusCodes: z.record(z.string(), z.number().int()).optional(),
});

export const statsSchema = z
  .object({
    subscriptionId: z.string(),
    generatedAt: z.string().optional(),
    status: subscriptionStatusOut.optional(),
    pausedAt: z.string().nullable().optional(),
    pausedReason: z.string().nullable().optional(),
    lastAttemptAt: z.string().nullable().optional(),
    lastSuccessAt: z.string().nullable().optional(),
    lastError: z.object({ at: z.string().optional(), error: z.string().optional(), statusCode: z.number().int().optional(), message: z.string().optional() }).nullable().optional(),
    consecutiveFailures: z.number().int().optional(),
    failingSince: z.string().nullable().optional(),
    degraded: z.boolean().optional().describe('The endpoint keeps failing: its deliveries wait behind one trial attempt a minute (less of the shared capacity) until it answers again, long before auto-pause'),
    degradedReason: z.string().nullable().optional(),
    windows: z.object({ '1h': statsWindow.optional(), '24h': statsWindow.optional(), '7d': statsWindow.optional() }),
    hourly: z.array(
      z.object({ hour: z.string().optional(), attempts: z.number().int().optional(), succeeded: z.number().int().optional(), failed: z.number().int().optional(), p50: nullableNumber.optional() }),
    ),
    throttle: z
      .object({
        configuredPerSecond: z.number().optional().describe('The subscription’s rateLimit.perSecond'),
        effectivePerSecond: z.number().nullable().describe('The rate in force now: lower than configured while backpressure recovers; null when no rate applies'),
        backpressure: z
          .object({ signal: z.enum(['http_429', 'http_503', 'timeout']), since: timestamp, throttledSeconds: z.number().int().describe('How long the rate has been lowered') })
          .optional()
          .describe('Present while the receiver’s pushback keeps the rate below its configured (or unlimited) level'),
        maxConcurrency: z.number().int().optional(),
        inFlight: z.number().int().optional().describe('Requests open now (maxConcurrency)'),
        delayedDeliveries: z.number().int().describe('Deliveries that waited for a rate slot, all told'),
      })
      .optional()
      .describe('Only for a subscription with a rate or concurrency limit, or slowed by backpressure'),
  })
  .meta({ id: 'Stats' });

export const destinationBindingSchemaOut = z
  .object({ tenantId: z.string(), accounts: z.array(z.string()), eventBusArns: z.array(z.string()), updatedAt: timestamp.optional() })
  .meta({ id: 'DestinationBinding' });

export const tenantCreatedSchema = z.object({ id: z.string(), name: z.string(), createdAt: timestamp.optional(), apiKey: z.string().describe('The tenant’s first API key, shown once') });

export const apiKeyCreatedSchema = z.object({
  prefix: z.string(),
  apiKey: z.string().describe('The key, shown once'),
  role: z.literal('tenant'),
  tenantId: z.string(),
  createdAt: timestamp,
});

export const apiKeySchema = z.object({
  prefix: z.string(),
  role: z.enum(['admin', 'tenant']),
  tenantId: z.string().optional(),
  createdAt: timestamp,
  revokedAt: timestamp.optional(),
});

export const batchResultSchema = z
  .object({
    items: z.array(
      z.object({
        index: z.number().int().min(0).describe('The position of the event in the request'),
        id: z.string().optional().describe("The event's id (generated when the event had none)"),
        status: z
          .number()
          .int()
          .describe('202 accepted; 200 this id was already accepted (no new deliveries); 4xx refused (see problem); 503 not published yet (stored: the sweeper publishes it) or not stored: send it again with the same id'),
        problem: problemSchema.optional(),
      }),
    ),
  })
  .meta({ id: 'PublishEventBatchResult' });

export const eventTypeSchema = z.record(z.string(), z.unknown());

export const storedEventSchema = z
  .looseObject({
    specversion: z.literal('1.0'),
    id: z.string(),
    source: z.string(),
    type: z.string(),
    time: z.string(),
    subject: z.string().optional(),
    datacontenttype: z.string().optional(),
    dataschema: z.string().optional(),
    tenantid: z.string().optional(),
    environment: z.string().optional(),
    data: z.unknown().optional(),
  })
  .meta({ id: 'Event', description: 'A published event as kept: its CloudEvents envelope with data' });

export const sessionSchema = z
  .object({ role: z.literal('tenant'), tenantId: z.string(), tenantName: z.string(), readOnly: z.boolean(), expiresAt: timestamp.optional() })
  .meta({ id: 'Session', description: 'Who the calling tenant key or portal session acts for' });

export const portalSessionSchema = z
  .object({ token: z.string().regex(/^hps_/).describe('The bearer token, shown once'), tenantId: z.string(), readOnly: z.boolean(), expiresAt: timestamp })
  .meta({ id: 'PortalSession' });
