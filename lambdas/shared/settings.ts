import * as z from 'zod';
import type { CustomerBusAccess } from '#adapters/customer-bus';
import { SUBSCRIPTION_KEEP_SECONDS } from '#core/caching';
import { DEGRADED_MIN_RETRY_SECONDS } from '#core/degrade';
import { parsePortRule } from '#core/destination-policy';
import { parseDestinationTrust, type DestinationTrust } from '#core/destination-trust';
import { parseTenantQuotas } from '#core/quotas';
import { DEFAULT_HANDSHAKE_TIMEOUT_SECONDS } from '#core/webhook-validation';
import { ENV, FUNCTIONS } from '#shared/herald-config';

/**
 * The one place the functions read their environment. Each handler reads its settings once, at
 * cold start, with `settingsFor(fn)`: every value is parsed and checked here, and a missing or bad
 * one fails the cold start with the variable's name and the value it got. No setting falls back
 * to a default because its value was bad; defaults apply only to variables left unset (or empty,
 * which is how the stack writes "none").
 */

/** A parser from the variable's text that turns a thrown error (the core's own parsers) into a zod issue. */
function parsedBy<T>(parse: (text: string) => T) {
  return z.string().transform((text, ctx) => {
    try {
      return parse(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** A number written in decimal; `abc`, `1e`, `12h` are refused, not read as NaN or a default. */
function numberText<S extends z.ZodType<number, number>>(check: S) {
  return z
    .string()
    .regex(/^-?\d+(\.\d+)?$/, 'must be a decimal number')
    .transform(Number)
    .pipe(check);
}

const text = z.string();
const queueUrl = z.url({ protocol: /^https?$/, error: 'must be an SQS queue URL' });
const positiveDays = numberText(z.number().positive('must be more than 0'));

/** Each variable's parser: the raw text in (undefined when unset or empty), the typed value out. */
const SCHEMAS = {
  tableName: text,
  eventBusName: text,
  deliveryQueueUrl: queueUrl,
  orderedQueueUrl: queueUrl.optional(),
  /** core/slow-lane.ts: unset, no slow lane (every standard-queue job stays on the delivery queue). */
  slowLaneQueueUrl: queueUrl.optional(),
  deadLetterQueueUrl: queueUrl,
  /** The hex SHA-256 of the platform admin key (core/api-keys.ts hashApiKey); unset: no admin key. */
  adminKeyHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the hex SHA-256 of the admin key')
    .optional(),
  /** "1" lets subscriptions target http:// and private addresses (local runtime only); deployed "0". */
  allowPrivateTargets: z
    .enum(['0', '1'], { error: 'must be 0 or 1' })
    .default('0')
    .transform((flag) => flag === '1'),
  /** One or more folders, path-delimiter separated (adapters/catalogue-files.ts). */
  catalogueDir: text,
  destinationPorts: parsedBy(parsePortRule).optional().transform((rule) => rule ?? parsePortRule()),
  tenantQuotas: parsedBy(parseTenantQuotas).optional().transform((quotas) => quotas ?? parseTenantQuotas(undefined)),
  operatorAccount: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .optional(),
  /** Checked here for its shape; combined with the account and bus name by `destinationTrustOf`. */
  destinationTrust: parsedBy((json) => {
    parseDestinationTrust(json, undefined, '');
    return json;
  }).optional(),
  customerBusRoleArn: z.string().startsWith('arn:', 'must be an IAM role ARN').optional(),
  customerRoleName: z
    .string()
    .regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name')
    .optional(),
  environment: text.optional(),
  /** core/tenant-share.ts: unset, no cap. */
  tenantMaxInFlight: numberText(z.number().int('must be a positive integer').positive('must be a positive integer')).optional(),
  eventSource: text.default('urn:herald:platform'),
  eventRetentionDays: positiveDays.default(30),
  deliveryRetentionDays: positiveDays.default(30),
  secretGraceHours: numberText(z.number().min(0, 'must be 0 or more')).default(24),
  sweepAfterSeconds: numberText(z.number().min(0, 'must be 0 or more')).default(600),
  sweepWindowSeconds: numberText(z.number().min(0.1, 'must be 0.1 to 60 (seconds)').max(60, 'must be 0.1 to 60 (seconds)')).optional(),
  degradedProbeSeconds: numberText(z.number().int('must be 1 to 900 (seconds)').min(1, 'must be 1 to 900 (seconds)').max(900, 'must be 1 to 900 (seconds)')).default(DEGRADED_MIN_RETRY_SECONDS),
  subscriptionCacheSeconds: numberText(z.number().min(0, 'must be 0 to 60 (seconds)').max(60, 'must be 0 to 60 (seconds)')).default(SUBSCRIPTION_KEEP_SECONDS),
  thinLinkTemplate: z.url({ error: 'must be a URL template, e.g. https://api.example.com/{type}/{subject}' }).optional(),
  webhookOrigin: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i, 'must be a DNS name')
    .optional(),
  publicApiUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  handshakeTimeoutSeconds: numberText(z.number().min(1, 'must be 1 to 20 (seconds)').max(20, 'must be 1 to 20 (seconds)')).default(DEFAULT_HANDSHAKE_TIMEOUT_SECONDS),
  region: text.optional(),
} satisfies Record<keyof typeof ENV, z.ZodType<unknown, string | undefined>>;

export type SettingName = keyof typeof SCHEMAS;
export type Settings<K extends SettingName = SettingName> = { [P in K]: z.output<(typeof SCHEMAS)[P]> };

/** Tunables each function reads besides what the stack sets (FUNCTIONS[fn].env); all have defaults. */
const TUNABLES = {
  api: ['eventSource', 'eventRetentionDays', 'sweepAfterSeconds', 'sweepWindowSeconds', 'secretGraceHours', 'thinLinkTemplate', 'webhookOrigin', 'publicApiUrl', 'handshakeTimeoutSeconds', 'region'],
  authorizer: [],
  fanout: ['eventRetentionDays'],
  deliver: ['deliveryRetentionDays', 'eventSource', 'eventRetentionDays', 'sweepAfterSeconds', 'degradedProbeSeconds', 'subscriptionCacheSeconds'],
  sweeper: ['sweepAfterSeconds'],
  selfTest: [],
} as const satisfies Record<keyof typeof FUNCTIONS, readonly SettingName[]>;

type FunctionName = keyof typeof FUNCTIONS;
export type FunctionSettings<F extends FunctionName> = Settings<(typeof FUNCTIONS)[F]['env'][number] | (typeof TUNABLES)[F][number]>;

/** The names `fn` reads: what the stack sets for it and its tunables. */
export function settingNamesOf<F extends FunctionName>(fn: F): SettingName[] {
  return [...FUNCTIONS[fn].env, ...TUNABLES[fn]];
}

/**
 * Reads and checks `names` from `env`; throws one error listing every bad or missing variable by
 * name with the value it got.
 */
export function readSettings<K extends SettingName>(names: readonly K[], env: Readonly<Record<string, string | undefined>> = process.env): Settings<K> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of names) {
    const variable = ENV[name];
    const raw = env[variable];
    const given = raw === undefined || raw === '' ? undefined : raw;
    const parsed = (SCHEMAS[name] as z.ZodType<unknown, string | undefined>).safeParse(given);
    if (parsed.success) values[name] = parsed.data;
    else if (given === undefined) problems.push(`${variable} is required`);
    else problems.push(`${variable} ${parsed.error.issues.map((issue) => issue.message).join('; ')}, got ${JSON.stringify(given)}`);
  }
  if (problems.length > 0) throw new Error(`invalid environment: ${problems.join('; ')}`);
  return values as Settings<K>;
}

/** What function `fn` reads, read and checked now: call it once, at module scope (cold start). */
export function settingsFor<F extends FunctionName>(fn: F, env: Readonly<Record<string, string | undefined>> = process.env): FunctionSettings<F> {
  return readSettings(settingNamesOf(fn), env) as FunctionSettings<F>;
}

/** Who may deliver where on AWS (core/destination-trust.ts): the operator's list, account and Herald's bus. */
export function destinationTrustOf(settings: Settings<'destinationTrust' | 'operatorAccount' | 'eventBusName'>): DestinationTrust {
  return parseDestinationTrust(settings.destinationTrust, settings.operatorAccount, settings.eventBusName);
}

/** How the deliver function acts on customers' buses (adapters/customer-bus.ts). */
export function customerBusAccessOf(settings: Settings<'customerRoleName' | 'customerBusRoleArn'>): CustomerBusAccess {
  if (settings.customerRoleName) return { mode: 'customer-role', roleName: settings.customerRoleName };
  return settings.customerBusRoleArn ? { mode: 'herald-role', roleArn: settings.customerBusRoleArn } : { mode: 'ambient' };
}
