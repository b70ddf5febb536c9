import { CALLBACK_PATH } from '../core/webhook-validation.ts';
import { MAX_SUBSCRIPTION_TIMEOUT_SECONDS } from '../core/subscription-settings.ts';

/**
 * Facts shared by the CDK stack and the local runtime, so both build the same system:
 * table key schema, the bus rule that feeds fan-out, function names and their environment.
 * Deliberately free of aws-cdk-lib imports: the local runtime loads it without CDK.
 */

/**
 * Single-table design: every item has pk/sk; sparse GSIs serve the "list by parent" queries.
 * Each index projects only what its queries read (README "Storage layout"):
 *   gsi1 (ALL): 0.1's events by subject, no longer written (kept: removing it is an update of its own);
 *   gsi2 (ALL): events by time in 16 shards per tenant (resend by time and by subject), scheduled batch looks;
 *   gsi3 (KEYS_ONLY): the sweeper's list (windows, rechecks) and the deliveries' status lists (pending, held,
 *   dead letters), whose readers fetch the delivery records by key;
 *   gsi4 (INCLUDE status): each subscription's delivery log in earlier builds of 0.2, no longer written (the log
 *   is now the delivery records themselves, table-keys.ts; kept as deployed: one index per update).
 * 0.1 had gsi1 to gsi3 only; CloudFormation adds one index per update (test/infra/table-indexes.test.ts).
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  gsi1: { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projection: 'ALL' },
  gsi2: { indexName: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk', projection: 'ALL' },
  gsi3: { indexName: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk', projection: 'KEYS_ONLY' },
  gsi4: { indexName: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'gsi4sk', projection: 'INCLUDE', include: ['status'] },
} as const;

/** How an index copies items: ALL attributes, only the keys, or the keys and `include`. */
export type TableIndex = { indexName: string; partitionKey: string; sortKey: string } & (
  | { projection: 'ALL' | 'KEYS_ONLY' }
  | { projection: 'INCLUDE'; include: readonly string[] }
);

export const TABLE_INDEXES: readonly TableIndex[] = [TABLE_SCHEMA.gsi1, TABLE_SCHEMA.gsi2, TABLE_SCHEMA.gsi3, TABLE_SCHEMA.gsi4];

/** `source` of the events the API puts on the Herald bus. */
export const HERALD_EVENT_SOURCE = 'herald.events';

/**
 * A CloudEvents extension attribute (lowercase alphanumeric, as the spec asks) on the bus copy of
 * an event the API fanned out itself (lambdas/core/fanout.ts `fanOutMany`): its deliveries are
 * already enqueued. Only the bus copy carries it (adapters/event-bus.ts adds it to the entry's
 * Detail); the stored event and every delivery are built without it. An attribute in the detail
 * rather than another source or detail-type, so the enterprise targets' rules and other readers
 * of the bus match these events exactly as before; it is the one thing they see more.
 */
export const FANNED_OUT_ATTRIBUTE = 'heraldfannedout';

/**
 * The rule on the Herald bus whose target is the fan-out function: Herald's events the API has
 * not fanned out (those it could not, and those other publishers put: the sweeper, the deliver
 * function's operational events). `exists: false` matches an event whose detail lacks the field
 * (EventBridge's comparison operators, "exists matching"; core/event-pattern.ts agrees for the
 * local bus). Unmarked means "fan out", so anything published without the marker, including by
 * an API function of an earlier version mid-update, is still fanned out.
 */
export const FANOUT_RULE_PATTERN = { source: [HERALD_EVENT_SOURCE], detail: { [FANNED_OUT_ATTRIBUTE]: [{ exists: false }] } } as const;

/**
 * Timeouts that must stay consistent: a delivery attempt may take up to the maximum
 * subscription timeout; the deliver function must outlive it; SQS must not make a message
 * visible again while a function still works on it (AWS advises 6x the function timeout).
 */
export const TIMEOUTS = {
  maxSubscriptionTimeoutSeconds: MAX_SUBSCRIPTION_TIMEOUT_SECONDS,
  deliverFunctionTimeoutSeconds: 100,
  deliveryQueueVisibilitySeconds: 600,
} as const;

/**
 * Environment variable names read by the functions, each parsed and checked at cold start by
 * lambdas/shared/settings.ts (the only code that reads them).
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  eventBusName: 'EVENT_BUS_NAME',
  deliveryQueueUrl: 'DELIVERY_QUEUE_URL',
  /** The FIFO delivery queue for `ordering: "subject"` subscriptions (message group per subscription and subject). */
  orderedQueueUrl: 'ORDERED_QUEUE_URL',
  /** The slow lane: a standard queue for slow receivers' deliveries, one per invocation (core/slow-lane.ts); empty: none. */
  slowLaneQueueUrl: 'SLOW_LANE_QUEUE_URL',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  adminKeyHash: 'HERALD_ADMIN_KEY_HASH',
  allowPrivateTargets: 'HERALD_ALLOW_PRIVATE_TARGETS',
  catalogueDir: 'HERALD_CATALOGUE_DIR',
  /** `443,1024-65535` (default) or the operator's list: see lambdas/core/destination-policy.ts. */
  destinationPorts: 'HERALD_DESTINATION_PORTS',
  /** JSON of per-tenant quotas, e.g. {"subscriptions":100}: see lambdas/core/quotas.ts. */
  tenantQuotas: 'HERALD_TENANT_QUOTAS',
  /** The account Herald runs in (its own buses are never a tenant's target). */
  operatorAccount: 'HERALD_OPERATOR_ACCOUNT',
  /** JSON: {"operatorAccountTenants": [...], "reservedSources": [...]} (core/destination-trust.ts). */
  destinationTrust: 'HERALD_DESTINATION_TRUST',
  /** The role Herald assumes, per tenant, to put on customers' buses (empty: ambient credentials). */
  customerBusRoleArn: 'HERALD_CUSTOMER_BUS_ROLE_ARN',
  /** `herald:customerRoleName`: assume this role in the bus's account instead, external id = tenant id. */
  customerRoleName: 'HERALD_CUSTOMER_ROLE_NAME',
  /** `herald:environment` (e.g. production, sandbox): the `environment` attribute of every event Herald builds; empty: none. */
  environment: 'HERALD_ENVIRONMENT',
  /** `herald:tenantMaxInFlight`: the most deliveries of one tenant in progress at once (core/tenant-share.ts); empty: no cap. */
  tenantMaxInFlight: 'HERALD_TENANT_MAX_IN_FLIGHT',
  // Tunables the stack does not set: each has a default (settings.ts); the local runtime and
  // tests set some of them.
  /** The `source` of the events Herald builds (default `urn:herald:platform`). */
  eventSource: 'HERALD_EVENT_SOURCE_URI',
  eventRetentionDays: 'HERALD_EVENT_RETENTION_DAYS',
  deliveryRetentionDays: 'HERALD_DELIVERY_RETENTION_DAYS',
  /** How long a rotated-out signing secret still signs. */
  secretGraceHours: 'HERALD_SECRET_GRACE_HOURS',
  /** How long past its due time the sweeper leaves a delivery or an event's fan-out alone. */
  sweepAfterSeconds: 'HERALD_SWEEP_AFTER_SECONDS',
  /** How long a sweep window of a tenant's events lasts (default a tenth of the grace, 0.1 to 60 s). */
  sweepWindowSeconds: 'HERALD_SWEEP_WINDOW_SECONDS',
  /** A degraded subscription's probe interval (core/degrade.ts; default 60 s); tests compress it. */
  degradedProbeSeconds: 'HERALD_DEGRADED_PROBE_SECONDS',
  /** How long a deliver container keeps a subscription it read (core/caching.ts keptSubscriptions; default 10 s, 0: every batch reads). */
  subscriptionCacheSeconds: 'HERALD_SUBSCRIPTION_CACHE_SECONDS',
  /** e.g. https://api.example.com/{type}/{subject}: the link thin payloads carry as `dataref`. */
  thinLinkTemplate: 'HERALD_THIN_LINK_TEMPLATE',
  /** `WebHook-Request-Origin` of validation handshakes (a DNS name); default the API's host name. */
  webhookOrigin: 'HERALD_WEBHOOK_ORIGIN',
  /** The API's public base URL (e.g. a custom domain) for validation callback URLs; default the request's own. */
  publicApiUrl: 'HERALD_PUBLIC_API_URL',
  /** How long a validation handshake waits for the receiver's answer (1–20 s, within API Gateway's 29 s). */
  handshakeTimeoutSeconds: 'HERALD_HANDSHAKE_TIMEOUT_SECONDS',
  /** Set by Lambda itself (and by the local runtime). */
  region: 'AWS_REGION',
} as const;

/** The event catalogue folder (relative to the repository root), bundled with the api function. */
export const CATALOGUE_DIR = 'catalogue';

/** One entry per Lambda: the folder under lambdas/ holding handler.ts, and the env it needs. */
export const FUNCTIONS = {
  api: { entry: 'lambdas/api/handler.ts', env: ['tableName', 'eventBusName', 'deliveryQueueUrl', 'orderedQueueUrl', 'allowPrivateTargets', 'catalogueDir', 'destinationPorts', 'tenantQuotas', 'operatorAccount', 'destinationTrust', 'environment'] },
  authorizer: { entry: 'lambdas/authorizer/handler.ts', env: ['tableName', 'adminKeyHash'] },
  fanout: { entry: 'lambdas/fanout/handler.ts', env: ['tableName', 'deliveryQueueUrl', 'orderedQueueUrl'] },
  deliver: { entry: 'lambdas/deliver/handler.ts', env: ['tableName', 'eventBusName', 'deliveryQueueUrl', 'orderedQueueUrl', 'slowLaneQueueUrl', 'deadLetterQueueUrl', 'allowPrivateTargets', 'destinationPorts', 'operatorAccount', 'destinationTrust', 'customerBusRoleArn', 'customerRoleName', 'environment', 'tenantMaxInFlight'] },
  sweeper: { entry: 'lambdas/sweeper/handler.ts', env: ['tableName', 'eventBusName', 'deliveryQueueUrl', 'orderedQueueUrl', 'slowLaneQueueUrl'] },
  /** Optional (`herald:selfTestReceiver`): the webhook receiver `herald smoke` delivers to. */
  selfTest: { entry: 'lambdas/self-test/handler.ts', env: ['tableName', 'adminKeyHash'] },
} as const satisfies Record<string, { entry: string; env: readonly (keyof typeof ENV)[] }>;

/** Routes anyone may GET without a key: the API's own documentation. */
export const PUBLIC_ROUTES = ['/v1/openapi.json', '/docs'] as const;

/**
 * Paths under which anyone may GET or POST without a key: a receiver's validation callback
 * (lambdas/core/webhook-validation.ts), which carries its own unguessable token.
 */
export const PUBLIC_CALLBACK_PREFIX = `${CALLBACK_PATH}/`;

/** How often the sweeper runs (the stack's schedule; the local runtime's default interval). */
export const SWEEP_INTERVAL_MINUTES = 1;

/**
 * Records per deliver invocation from the delivery queue, when its event source mapping waits to
 * fill a batch (AWS takes more than 10 only with a batching window of at least 1 s). Statistics are
 * written once per subscription and batch (core/health.ts), so at 10 subscriptions a batch of 10,
 * one event's deliveries, cost a statistics write per delivery; a batch of up to 100 holds up to
 * ten deliveries of each subscription in one invocation (≤ 0.1 WU per delivery once traffic fills
 * it within the window) and runs them concurrently, as before. The slow lane keeps one slow
 * receiver from holding such a batch's invocation past its first slow attempts (core/slow-lane.ts).
 */
export const DELIVER_BATCH_SIZE = 100;

/** Records per deliver invocation without a batching window (latency first): SQS's own maximum of a receive. */
export const DELIVER_BATCH_SIZE_WITHOUT_WINDOW = 10;

/** The delivery queue's batch size for a batching window of `windowSeconds`. */
export const deliverBatchSize = (windowSeconds: number): number => (windowSeconds >= 1 ? DELIVER_BATCH_SIZE : DELIVER_BATCH_SIZE_WITHOUT_WINDOW);

/** The ordered (FIFO) queue's batch size: FIFO event source mappings take at most 10. */
export const ORDERED_BATCH_SIZE = 10;

/** The delivery queue's batching window unless `herald:deliveryBatchWindowSeconds` says otherwise (0–300 s, whole seconds). */
export const DEFAULT_DELIVERY_BATCH_WINDOW_SECONDS = 1;

/** The slow lane's batch: one record, so a slow delivery holds only its own invocation (core/slow-lane.ts). */
export const SLOW_LANE_BATCH_SIZE = 1;

/** Slow-lane deliver invocations at once, unless `herald:slowLaneConcurrency` says otherwise. */
export const DEFAULT_SLOW_LANE_CONCURRENCY = 10;

/**
 * SQS's largest maxReceiveCount, on the ordered (FIFO) queue. An ordered delivery's long waits
 * leave flight (lambdas/core/order-hold.ts) and a message received REENQUEUE_AFTER_RECEIVES times
 * holds its group, so no policy meets this limit: it only catches crashes and poison messages.
 */
export const ORDERED_MAX_RECEIVES = 1000;

/**
 * The Content-Security-Policy of the tenant console and the API reference (/docs/, served with it;
 * the console holds an API key in the page): its own files only (and data: images), no inline script or style, no plugins, no <base>, no form posts, never framed; fetches to
 * its own origin (config.json; locally the API too) and to the API's origin when that differs.
 */
export function consoleContentSecurityPolicy(apiOrigin?: string, embedOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    // data: for the API reference's icons (Swagger UI's stylesheet draws them as data: SVGs); an
    // image cannot run script, and the rest of the policy is unchanged.
    "img-src 'self' data:",
    `connect-src 'self'${apiOrigin ? ` ${apiOrigin}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    // Framed only by the platforms named (a portal session embeds it in their app), else never.
    `frame-ancestors ${embedOrigins.length > 0 ? embedOrigins.join(' ') : "'none'"}`,
  ].join('; ');
}

/**
 * An origin allowed to frame the console (`herald:consoleEmbedOrigins`): `https://host[:port]`,
 * nothing more, since it lands in the Content-Security-Policy as it is.
 */
export function checkEmbedOrigin(origin: string): string {
  if (!/^https:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i.test(origin)) {
    throw new Error(`herald:consoleEmbedOrigins: ${JSON.stringify(origin)} is not an https origin (https://host or https://host:port, no path)`);
  }
  return origin;
}

/** The console's other security headers, the same deployed (CloudFront) and local. */
export const CONSOLE_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/** HSTS for the deployed console (HTTPS only; two years, subdomains included). */
export const CONSOLE_HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 3600;
