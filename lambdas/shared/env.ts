import { ENV } from '#shared/herald-config';
import { parsePortRule, type PortRule } from '#core/destination-policy';
import type { CustomerBusAccess } from '#adapters/customer-bus';
import { parseDestinationTrust, type DestinationTrust } from '#core/destination-trust';
import { DEFAULT_HANDSHAKE_TIMEOUT_SECONDS } from '#core/webhook-validation';

/**
 * The one place functions read their environment. A missing variable fails at cold start with
 * its name, not later inside a request.
 */
export function requireEnv(key: keyof typeof ENV): string {
  const name = ENV[key];
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is required`);
  return value;
}

export function optionalEnv(key: keyof typeof ENV): string | undefined {
  const value = process.env[ENV[key]];
  return value === undefined || value === '' ? undefined : value;
}

/** The ports destinations may use (`herald:destinationPorts`), parsed once per container. */
let portRule: PortRule | undefined;
export function destinationPorts(): PortRule {
  return (portRule ??= parsePortRule(optionalEnv('destinationPorts')));
}

/**
 * Who may deliver where on AWS (core/destination-trust.ts): the operator's account and context.
 * Read on each use (parsed once per value), so the local runtime can change it while running.
 */
let trust: { raw: string; value: DestinationTrust } | undefined;
export function destinationTrust(): DestinationTrust {
  const raw = `${optionalEnv('destinationTrust') ?? ''}|${optionalEnv('operatorAccount') ?? ''}|${requireEnv('eventBusName')}`;
  if (trust?.raw !== raw) trust = { raw, value: parseDestinationTrust(optionalEnv('destinationTrust'), optionalEnv('operatorAccount'), requireEnv('eventBusName')) };
  return trust.value;
}

/** How the deliver function acts on customers' buses (adapters/customer-bus.ts). */
export function customerBusAccess(): CustomerBusAccess {
  const roleName = optionalEnv('customerRoleName');
  if (roleName) return { mode: 'customer-role', roleName };
  const roleArn = optionalEnv('customerBusRoleArn');
  return roleArn ? { mode: 'herald-role', roleArn } : { mode: 'ambient' };
}

/** Deployed default is the strict rule; the local runtime sets 1 explicitly. */
export function allowPrivateTargets(): boolean {
  return optionalEnv('allowPrivateTargets') === '1';
}

/**
 * `herald:tenantMaxInFlight` (core/tenant-share.ts): undefined when no cap is set; anything but a
 * positive integer fails the cold start with the variable's name.
 */
export function tenantMaxInFlight(): number | undefined {
  const raw = optionalEnv('tenantMaxInFlight');
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`environment variable ${ENV.tenantMaxInFlight} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

export function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(value) ? value : fallback;
}

export const SETTINGS = {
  eventSource: () => process.env.HERALD_EVENT_SOURCE_URI || 'urn:herald:platform',
  eventRetentionDays: () => numberSetting('HERALD_EVENT_RETENTION_DAYS', 30),
  deliveryRetentionDays: () => numberSetting('HERALD_DELIVERY_RETENTION_DAYS', 30),
  secretGraceHours: () => numberSetting('HERALD_SECRET_GRACE_HOURS', 24),
  /**
   * How long past its due time the sweeper leaves a delivery (or an event's fan-out) alone before
   * re-enqueuing it: longer than a healthy queue takes, short enough to bound a lost message.
   */
  sweepAfterSeconds: () => numberSetting('HERALD_SWEEP_AFTER_SECONDS', 600),
  /** e.g. https://api.example.com/{type}/{subject}: a link thin payloads carry as `dataref`. */
  thinLinkTemplate: () => process.env.HERALD_THIN_LINK_TEMPLATE || undefined,
  /** `WebHook-Request-Origin` of validation handshakes (a DNS name); default the API's host name. */
  webhookOrigin: () => process.env.HERALD_WEBHOOK_ORIGIN || undefined,
  /** The API's public base URL (e.g. a custom domain), for validation callback URLs; default the request's own. */
  publicApiUrl: () => process.env.HERALD_PUBLIC_API_URL || undefined,
  /** How long a validation handshake waits for the receiver's answer (within API Gateway's 29 s). */
  handshakeTimeoutSeconds: () => Math.min(20, Math.max(1, numberSetting('HERALD_HANDSHAKE_TIMEOUT_SECONDS', DEFAULT_HANDSHAKE_TIMEOUT_SECONDS))),
};
