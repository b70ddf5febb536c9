import type { Node } from 'constructs';
import { parseEnterpriseTargets } from './enterprise-targets.ts';
import { checkEmbedOrigin } from '../lambdas/shared/herald-config.ts';
import type { HeraldStackProps } from './herald-stack.ts';

/**
 * Every `herald:*` context setting (cdk.json or `-c key=value`) → the stack's props. One place,
 * so bin/herald.ts and the tests that synthesize "every option set" read context the same way.
 */
export const HERALD_CONTEXT_KEYS = [
  'herald:allowPrivateTargets',
  'herald:alarmEmail',
  'herald:dashboard',
  'herald:customerBusAccounts',
  'herald:customerBusRoleName',
  'herald:enterpriseTargets',
  'herald:destinationPorts',
  'herald:tenantQuotas',
  'herald:deliveryBatchWindowSeconds',
  'herald:apiRateLimit',
  'herald:apiBurstLimit',
  'herald:terminationProtection',
  'herald:operatorAccountTenants',
  'herald:reservedSources',
  'herald:customerRoleName',
  'herald:tracing',
  'herald:deliverMaxConcurrency',
  'herald:deliverReservedConcurrency',
  'herald:tenantMaxInFlight',
  'herald:slowLaneConcurrency',
  'herald:environment',
  'herald:selfTestReceiver',
  'herald:consoleEmbedOrigins',
] as const;

const flag = (value: unknown) => value === true || value === 'true';
/** A list from cdk.json, or a comma-separated string from `-c key=a,b`. */
const list = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' && value ? value.split(',').map((v) => v.trim()) : undefined;
/** An object from cdk.json, or JSON from `-c key='{"a":1}'`. */
const objectContext = (value: unknown): Record<string, number> | undefined =>
  typeof value === 'string' && value ? JSON.parse(value) : value && typeof value === 'object' ? (value as Record<string, number>) : undefined;

/** A short name: letters, digits, `.`, `_`, `-` (it travels in every event as `environment`). */
function environmentName(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw)) return raw;
  throw new Error(`herald:environment must be a name of letters, digits, '.', '_' or '-' (at most 64), got ${JSON.stringify(raw)}`);
}

/** Lambda's bounds on an SQS event source mapping's maximumConcurrency. */
const ESM_CONCURRENCY = { min: 2, max: 1000 } as const;

function mappingConcurrency(key: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < ESM_CONCURRENCY.min || value > ESM_CONCURRENCY.max) {
    throw new Error(`${key} must be an integer from ${ESM_CONCURRENCY.min} to ${ESM_CONCURRENCY.max} (an event source mapping's maximum concurrency), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function batchWindowSeconds(raw: unknown): number {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < 0 || value > 300) throw new Error(`herald:deliveryBatchWindowSeconds must be a whole number of seconds from 0 to 300, got ${JSON.stringify(raw)}`);
  return value;
}

function tracingMode(raw: unknown): 'sampled' | 'full' | 'off' | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'sampled' || raw === 'full' || raw === 'off') return raw;
  throw new Error(`herald:tracing must be sampled, full or off, got ${JSON.stringify(raw)}`);
}

export function heraldPropsFromContext(node: Node): HeraldStackProps {
  const get = (key: (typeof HERALD_CONTEXT_KEYS)[number]) => node.tryGetContext(key);
  /** A positive number, or undefined when unset. */
  const positive = (key: (typeof HERALD_CONTEXT_KEYS)[number], integer = false): number | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new Error(`${key} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const termination = get('herald:terminationProtection');
  return {
    allowPrivateTargets: flag(get('herald:allowPrivateTargets')),
    alarmEmail: get('herald:alarmEmail') || undefined,
    // A CloudWatch dashboard of the alarms' signals and Herald's metrics ($3 a month beyond an account's three free ones). @default false
    dashboard: flag(get('herald:dashboard')),
    customerBusAccounts: list(get('herald:customerBusAccounts')),
    // @default herald-<stack name>-customer-bus-<region>
    customerBusRoleName: get('herald:customerBusRoleName') || undefined,
    enterpriseTargets: parseEnterpriseTargets(get('herald:enterpriseTargets')),
    destinationPorts: list(get('herald:destinationPorts'))?.join(','),
    tenantQuotas: objectContext(get('herald:tenantQuotas')),
    // Whole seconds, 0–300 (the event source mapping's limits); 1 or more batches up to 100 records. @default 1
    ...(![undefined, ''].includes(get('herald:deliveryBatchWindowSeconds')) ? { deliveryBatchWindowSeconds: batchWindowSeconds(get('herald:deliveryBatchWindowSeconds')) } : {}),
    // The API stage's throttle, shared by every caller: requests/s and burst. @default 100 / 200
    apiRateLimit: positive('herald:apiRateLimit'),
    apiBurstLimit: positive('herald:apiBurstLimit', true),
    // On unless set to false: deleting the stack must be a deliberate, two-step act.
    terminationProtection: termination === undefined ? true : flag(termination),
    operatorAccountTenants: list(get('herald:operatorAccountTenants')),
    reservedSources: list(get('herald:reservedSources')),
    customerRoleName: get('herald:customerRoleName') || undefined,
    tracing: tracingMode(get('herald:tracing')),
    deliverMaxConcurrency: positive('herald:deliverMaxConcurrency', true),
    deliverReservedConcurrency: positive('herald:deliverReservedConcurrency', true),
    // The most deliveries of one tenant in progress at once, across every deliver invocation. @default none (no cap)
    tenantMaxInFlight: positive('herald:tenantMaxInFlight', true),
    // Slow-lane deliver invocations at once (one record each): all slow receivers' deliveries in progress together. @default 10
    slowLaneConcurrency: mappingConcurrency('herald:slowLaneConcurrency', get('herald:slowLaneConcurrency')),
    // The `environment` attribute of every event Herald builds (e.g. production, sandbox). @default none
    environment: environmentName(get('herald:environment')),
    // The receiver `herald smoke` delivers to (a public function URL). @default false
    selfTestReceiver: flag(get('herald:selfTestReceiver')),
    // Origins whose pages may frame the console (the embedded portal). @default none: never framed
    consoleEmbedOrigins: list(get('herald:consoleEmbedOrigins'))?.map(checkEmbedOrigin),
  };
}
