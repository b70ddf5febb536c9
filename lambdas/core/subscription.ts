import * as z from 'zod';
import { MAX_BURST, MAX_CONCURRENCY, MAX_RATE_PER_SECOND, type RateLimit } from './throttle.ts';
import { normaliseTypePattern } from './event-types.ts';
import { documentedAs } from './documented-shape.ts';
import { tenantIdField } from './id-schemas.ts';
import { EVENT_BUS_ARN } from './destination-trust.ts';

export { EVENT_BUS_ARN };
import { validateEventPattern, type EventPattern } from './event-pattern.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { retryPolicySchema } from './retry-policy-schema.ts';
import { MAX_SUBSCRIPTION_TIMEOUT_SECONDS } from './subscription-settings.ts';
import { transformProblem } from './transform-check.ts';
import { importedSecretProblem, publicKeyOf } from './signing.ts';
import { toPublicHandshake, validationSchema, type HandshakeState, type PublicHandshake, type ValidationMode } from './webhook-validation.ts';

/**
 * A subscription: which events a tenant wants (`eventTypes`, optional content `filter`), where
 * they go (`destination`) and how hard Herald tries (`retryPolicy`). Schemas are strict: an
 * unknown field is a 400 naming it, never silently ignored.
 */

const MAX_HEADERS = 20;
const MAX_HEADER_VALUE = 1024;

/** Headers Herald owns on the wire: a subscription may not set or override them. */
const RESERVED_HEADER = /^(host|content-length|content-type|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-.*|webhook-.*)$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** What HTTP allows in a field value (RFC 9110 §5.5) that every server reads alike: visible ASCII, space and tab. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const HEADER_VALUE_MESSAGE = 'may only contain visible ASCII characters, spaces and tabs';

const headersSchema = z
  .record(z.string(), z.string().max(MAX_HEADER_VALUE, `header values are at most ${MAX_HEADER_VALUE} characters`))
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > MAX_HEADERS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_HEADERS} headers` });
    for (const name of names) {
      if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid header name' });
      else if (RESERVED_HEADER.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by Herald and cannot be overridden' });
      if (!HEADER_VALUE.test(headers[name] ?? '')) ctx.addIssue({ code: 'custom', path: [name], message: HEADER_VALUE_MESSAGE });
    }
  });

const urlSchema = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not an absolute URL' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not carry credentials; use headers' });
  });

export const MAX_TRANSFORM_LENGTH = 10_000;

/** A JSONata expression shaping the body (webhook and http destinations), checked when saved. */
const transformSchema = z
  .string()
  .min(1)
  .max(MAX_TRANSFORM_LENGTH)
  .superRefine((expression, ctx) => {
    const problem = transformProblem(expression);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const webhookDestinationSchema = z
  .object({
    type: z.literal('webhook'),
    url: urlSchema,
    headers: headersSchema.optional(),
    /** The body is this JSONata expression's result; the signature covers exactly those bytes. */
    transform: transformSchema.optional(),
    timeoutSeconds: z.number().int().min(1).max(MAX_SUBSCRIPTION_TIMEOUT_SECONDS).optional(),
    /**
     * For migrations: a provider's own HMAC-SHA256 signature in a header of its choosing (e.g.
     * Omisell's `Authorization`), beside the Standard Webhooks headers unless `standardHeaders`
     * is false. Weaker than Standard Webhooks over `body` alone (no timestamp: replayable).
     */
    legacySignature: z
      .object({
        header: z
          .string()
          .regex(HEADER_NAME, 'is not a valid header name')
          .refine((v) => !RESERVED_HEADER.test(v), 'is set by Herald and cannot be used'),
        over: z.enum(['body', 'timestamp.body']).default('body'),
        encoding: z.enum(['hex', 'base64']).default('hex'),
        prefix: z.string().max(64).regex(HEADER_VALUE, HEADER_VALUE_MESSAGE).optional(),
        standardHeaders: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((destination, ctx) => {
    const header = destination.legacySignature?.header.toLowerCase();
    if (header && Object.keys(destination.headers ?? {}).some((name) => name.toLowerCase() === header)) {
      ctx.addIssue({ code: 'custom', path: ['legacySignature', 'header'], message: 'is also set in headers: one of them would be lost' });
    }
  })
  .meta({
    id: 'WebhookDestination',
    description:
      'A signed webhook (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers). `transform` is a JSONata expression shaping the body; `legacySignature` adds a provider-style HMAC header for migrations',
  });

export const eventbridgeDestinationSchema = z
  .object({
    type: z.literal('eventbridge'),
    eventBusArn: z.string().regex(EVENT_BUS_ARN, 'must be an event bus ARN: arn:aws:events:<region>:<account id>:event-bus/<name>'),
    source: z
      .string()
      .min(1)
      .max(256)
      .refine((v) => !v.startsWith('aws.'), 'must not start with aws. (reserved by AWS)')
      .optional(),
    detailType: z.string().min(1).max(128).optional(),
  })
  .strict()
  .meta({ id: 'EventBridgeDestination', description: "An Amazon EventBridge bus (the tenant's, bound by the operator with PUT /v1/tenants/{id}/destination-binding): the CloudEvent is the detail" });

const secretText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((v) => !/[\r\n\0]/.test(v), 'must not contain CR, LF or NUL');

export const httpAuthSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('api_key'),
      header: z
        .string()
        .regex(HEADER_NAME, 'is not a valid header name')
        .refine((v) => !RESERVED_HEADER.test(v), 'is set by Herald and cannot be used'),
      value: secretText(2048).regex(HEADER_VALUE, HEADER_VALUE_MESSAGE),
    })
    .strict(),
  z
    .object({
      type: z.literal('basic'),
      username: secretText(256).refine((v) => !v.includes(':'), 'must not contain a colon'),
      password: secretText(1024),
    })
    .strict(),
  z
    .object({
      type: z.literal('oauth2'),
      tokenUrl: urlSchema,
      clientId: secretText(512),
      clientSecret: secretText(2048),
      scope: z.string().max(1024).optional(),
      /** Where the client credentials go in the token request (RFC 6749 §2.3.1); default the body. */
      credentialsIn: z.enum(['body', 'header']).optional(),
    })
    .strict(),
]);
export type HttpAuth = z.infer<typeof httpAuthSchema>;
export type OAuth2Auth = Extract<HttpAuth, { type: 'oauth2' }>;

export const httpDestinationSchema = z
  .object({
    type: z.literal('http'),
    url: urlSchema,
    method: z.enum(['POST', 'PUT', 'PATCH']).optional(),
    headers: headersSchema.optional(),
    transform: transformSchema.optional(),
    timeoutSeconds: z.number().int().min(1).max(MAX_SUBSCRIPTION_TIMEOUT_SECONDS).optional(),
    auth: httpAuthSchema.optional(),
  })
  .strict()
  .meta({ id: 'HttpDestination', description: "A third-party HTTP API: the body (shaped by `transform`) sent with the API's own authentication (api_key, basic or oauth2 client credentials); credentials are write-only" });

export const destinationSchema = z
  .discriminatedUnion('type', [webhookDestinationSchema, eventbridgeDestinationSchema, httpDestinationSchema])
  .meta({ id: 'Destination', description: 'Where deliveries go, by `type`: webhook, eventbridge or http' });
export type Destination = z.infer<typeof destinationSchema>;
export type WebhookDestination = z.infer<typeof webhookDestinationSchema>;
export type EventBridgeDestination = z.infer<typeof eventbridgeDestinationSchema>;
export type HttpDestination = z.infer<typeof httpDestinationSchema>;

/** URLs Herald will connect to for this destination: each is checked against the SSRF rules. */
export function destinationUrls(destination: Destination): { path: string; url: string }[] {
  if (destination.type === 'eventbridge') return [];
  const urls = [{ path: 'destination.url', url: destination.url }];
  if (destination.type === 'http' && destination.auth?.type === 'oauth2') urls.push({ path: 'destination.auth.tokenUrl', url: destination.auth.tokenUrl });
  return urls;
}

/** The destination as the API shows it: credentials are write-only. */
export function toPublicDestination(destination: Destination): Destination | Record<string, unknown> {
  if (destination.type !== 'http' || !destination.auth) return destination;
  const auth = destination.auth;
  const visible =
    auth.type === 'api_key'
      ? { type: auth.type, header: auth.header }
      : auth.type === 'basic'
        ? { type: auth.type, username: auth.username }
        : { type: auth.type, tokenUrl: auth.tokenUrl, clientId: auth.clientId, ...(auth.scope ? { scope: auth.scope } : {}), ...(auth.credentialsIn ? { credentialsIn: auth.credentialsIn } : {}) };
  return { ...destination, auth: visible };
}

const eventTypePattern = z.string().transform((value, ctx) => {
  const normalised = normaliseTypePattern(value);
  if (!normalised) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not an event type, 'prefix.*', 'prefix.all' or '*'` });
    return z.NEVER;
  }
  return normalised;
});

/** An EventBridge pattern as event-pattern.ts reads it (validateEventPattern words the mistakes). */
const leafValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const textOrFolded = z.union([z.string(), z.object({ 'equals-ignore-case': z.string() }).strict()]);
const textMatchers = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard'] as const;
const patternOperator = z
  .union([
    z.object({ prefix: textOrFolded }).strict(),
    z.object({ suffix: textOrFolded }).strict(),
    z.object({ 'equals-ignore-case': z.string() }).strict(),
    z.object({ wildcard: z.string() }).strict(),
    z.object({ numeric: z.array(z.union([z.enum(['=', '<', '<=', '>', '>=']), z.number()])).min(2).max(4) }).strict(),
    z.object({ exists: z.boolean() }).strict(),
    z.object({ cidr: z.string() }).strict(),
    z
      .object({
        'anything-but': z.union([
          leafValue,
          z.array(leafValue),
          ...textMatchers.map((name) => z.object({ [name]: z.union([z.string(), z.array(z.string())]) }).strict()),
        ]),
      })
      .strict(),
  ])
  .meta({ id: 'EventPatternOperator', description: 'One matching operator, as in EventBridge content filtering' });
export const eventPatternShape: z.ZodType = z
  .record(
    z.string(),
    z.union([
      z.array(z.union([leafValue, patternOperator])).describe('The values the field may take (any one matches), or operators'),
      z.lazy(() => eventPatternShape),
      z.array(z.lazy(() => eventPatternShape)).describe('Under `$or`: alternative patterns, one of which must match'),
    ]),
  )
  .meta({
    id: 'EventPattern',
    description:
      'An Amazon EventBridge event pattern over the CloudEvent (e.g. {"data": {"status": ["paid"], "total": [{"numeric": [">", 100]}]}}): nested objects match nested fields, arrays list allowed values or operators, `$or` lists alternatives',
  });

const filterSchema = documentedAs(
  z.record(z.string(), z.unknown()).superRefine((pattern, ctx) => {
    for (const problem of validateEventPattern(pattern)) {
      ctx.addIssue({ code: 'custom', path: problem.path ? problem.path.split('.') : [], message: problem.message });
    }
  }),
  eventPatternShape,
);

export const subscriptionStatusSchema = z.enum(['active', 'paused']);

/**
 * Endpoint health: after `afterFailures` consecutive failed attempts spanning at least
 * `afterHours`, the subscription is paused and its deliveries held (defaults: 100 over 24 h).
 */
export const autoPauseSchema = z
  .object({
    enabled: z.boolean().optional(),
    afterFailures: z.number().int().min(1).max(100_000).optional(),
    afterHours: z.number().min(0).max(720).optional(),
  })
  .strict();

export type AutoPauseSettings = z.infer<typeof autoPauseSchema>;

/**
 * Which HTTP answers count as success: `"2xx"` (default) or exactly the codes listed (webhook and
 * http destinations). Any other answer is a failed attempt (`http_status`), retried by the policy.
 */
export const successStatusSchema = z.union([
  z.literal('2xx'),
  z
    .array(z.number().int().min(100).max(599))
    .min(1)
    .max(20)
    .refine((codes) => new Set(codes).size === codes.length, 'codes must be unique'),
]);

export const rateLimitSchema = z
  .object({
    perSecond: z.number().min(0.001).max(MAX_RATE_PER_SECOND).describe('Requests a second at most, after the burst'),
    burst: z.number().int().min(1).max(MAX_BURST).optional().describe('Requests that may go at once after a quiet spell (default: one second’s worth)'),
  })
  .strict()
  .meta({ id: 'RateLimit', description: 'Deliveries over the rate wait for their slot: no attempt is counted, nothing fails' });

export const maxConcurrencySchema = z.number().int().min(1).max(MAX_CONCURRENCY).describe('Requests in flight to this destination at once, at most, across every worker');
/**
 * How webhooks are signed: `hmac` (default), Standard Webhooks `v1` with a shared `whsec_`
 * secret; `ed25519`, `v1a` with a key pair whose public `whpk_` half is all receivers hold.
 */
export const signatureSchemeSchema = z.enum(['hmac', 'ed25519']);
export type SignatureScheme = z.infer<typeof signatureSchemeSchema>;

const subscriptionFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(1000).optional(),
  eventTypes: z.array(eventTypePattern).min(1, 'at least one event type').max(50),
  destination: destinationSchema,
  retryPolicy: retryPolicySchema.optional(),
  successStatus: successStatusSchema.optional(),
  /** Webhook destinations only; fixed when the subscription is created. */
  signature: signatureSchemeSchema.optional(),
  filter: filterSchema.optional(),
  payload: z.enum(['full', 'thin']).optional(),
  /** `subject`: the events of one subject reach this subscription one at a time, in publish order. */
  ordering: z.enum(['none', 'subject']).optional(),
  status: subscriptionStatusSchema.optional(),
  autoPause: autoPauseSchema.optional(),
  /** Batched notifications: up to maxItems events of one type per notification, intervalSeconds apart. */
  batching: z
    .object({ maxItems: z.number().int().min(1).max(1000), intervalSeconds: z.number().int().min(0).max(3600) })
    .strict()
    .optional(),
  /**
   * At most `perSecond` requests a second to this destination (batched notifications count one
   * each), after a burst of `burst` (default one second's worth); deliveries over it wait their
   * slot, no attempt counted.
   */
  rateLimit: rateLimitSchema.optional(),
  maxConcurrency: maxConcurrencySchema.optional(),
  /** Opt-in: the receiver consents before anything is delivered (core/webhook-validation.ts). */
  validation: validationSchema.optional(),
  metadata: z.record(z.string(), z.string().max(500)).optional(),
  /** Pins event types to one schema version: `{"order.created": 1}`. */
  versions: z.record(z.string(), z.number().int().min(1)).optional(),
};

/**
 * A signing secret a platform brings along (create or rotate): `whsec_<base64 key>` (24–64 byte
 * key) or a raw secret of 32–512 visible ASCII characters. Write-only: never answered back.
 */
export const importedSecretSchema = z.string().superRefine((secret, ctx) => {
  const problem = importedSecretProblem(secret);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const createSubscriptionSchema = z.object({ ...subscriptionFields, secret: importedSecretSchema.optional(), tenantId: tenantIdField.optional() }).strict();
export const rotateSecretSchema = z.object({ secret: importedSecretSchema.optional(), tenantId: tenantIdField.optional() }).strict();
export const patchSubscriptionSchema = z
  .object({
    name: subscriptionFields.name.optional(),
    description: subscriptionFields.description,
    eventTypes: subscriptionFields.eventTypes.optional(),
    destination: subscriptionFields.destination.optional(),
    retryPolicy: subscriptionFields.retryPolicy.nullable(),
    successStatus: subscriptionFields.successStatus.nullable(),
    /** Accepted when unchanged (a full object sent back); a different scheme is a 400. */
    signature: subscriptionFields.signature,
    filter: subscriptionFields.filter.nullable(),
    payload: subscriptionFields.payload,
    ordering: subscriptionFields.ordering,
    status: subscriptionFields.status,
    autoPause: subscriptionFields.autoPause.nullable(),
    batching: subscriptionFields.batching.nullable(),
    rateLimit: subscriptionFields.rateLimit.nullable(),
    maxConcurrency: subscriptionFields.maxConcurrency.nullable(),
    validation: subscriptionFields.validation.nullable(),
    metadata: subscriptionFields.metadata,
    versions: subscriptionFields.versions.nullable(),
    tenantId: tenantIdField.optional(),
  })
  .strict();

export type CreateSubscriptionInput = z.infer<typeof createSubscriptionSchema>;
export type PatchSubscriptionInput = z.infer<typeof patchSubscriptionSchema>;

export interface SigningSecret {
  secret: string;
  createdAt: string;
  /** Set on a rotated-out secret: it keeps signing beside the new one until then. */
  expiresAt?: string;
}

export interface Subscription {
  id: string;
  tenantId: string;
  name: string;
  description?: string;
  eventTypes: string[];
  destination: Destination;
  retryPolicy?: RetryPolicy;
  /** Which answers count as success (webhook and http destinations): default any 2xx. */
  successStatus?: '2xx' | number[];
  /** How webhooks are signed (absent: `hmac`); an `ed25519` subscription's secrets are `whsk_` keys. */
  signature?: SignatureScheme;
  filter?: EventPattern;
  payload: 'full' | 'thin';
  ordering: 'none' | 'subject';
  /** `pending_validation`: opted into `validation` and the receiver has not consented yet (deliveries held). */
  status: 'active' | 'paused' | 'pending_validation';
  /** Why and when it was last paused (by the tenant, a 410, or auto-pause). */
  pausedAt?: string;
  pausedReason?: string;
  autoPause?: AutoPauseSettings;
  batching?: { maxItems: number; intervalSeconds: number };
  rateLimit?: RateLimit;
  maxConcurrency?: number;
  validation?: ValidationMode;
  /** The validation handshake's state (only with `validation`). */
  handshake?: HandshakeState;
  metadata?: Record<string, string>;
  versions?: Record<string, number>;
  secrets: SigningSecret[];
  createdAt: string;
  updatedAt: string;
}

/**
 * What the API shows: signing secrets and destination credentials never leave after creation.
 * An ed25519 subscription shows its current `whpk_` public key (the one its newest key signs with).
 */
export type PublicSubscription = Omit<Subscription, 'secrets' | 'destination' | 'handshake'> & {
  destination: Destination | Record<string, unknown>;
  publicKey?: string;
  handshake?: PublicHandshake;
};

export function toPublicSubscription(subscription: Subscription): PublicSubscription {
  const { secrets, destination, handshake, ...rest } = subscription;
  const publicKey = subscription.signature === 'ed25519' ? publicKeyOf(newestSecret(secrets).secret) : undefined;
  return { ...rest, destination: toPublicDestination(destination), ...(publicKey ? { publicKey } : {}), ...(handshake ? { handshake: toPublicHandshake(handshake) } : {}) };
}

/** The current secret: the one without an expiry (a rotation puts it first and dates the others). */
export function newestSecret(secrets: readonly SigningSecret[]): SigningSecret {
  return secrets.find((s) => !s.expiresAt) ?? secrets[0]!;
}

export { activeSecrets, timeoutSecondsOf } from './subscription-settings.ts';
