import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AttemptResult } from '#core/delivery';
import { EVENT_BUS_ARN } from '#core/destination-trust';
import type { CustomerBusEntry, CustomerBusSender } from '#core/ports';
import { classifyNetworkError } from './http-sender.ts';

/**
 * How Herald acts on a customer's bus, always as one tenant:
 *   - `herald-role` (deployed default): it assumes its own customer-bus role (which may put on
 *     customers' buses, never on Herald's) with the session tag `herald-tenant=<tenant id>`, so a
 *     customer's bus policy can trust that role *and* exactly its own tenant;
 *   - `customer-role`: it assumes a role the customer made in the bus's account, named as the
 *     operator configured, with the tenant's id as external id (and the same session tag);
 *   - `ambient` (the local runtime): the process's own credentials.
 */
export type CustomerBusAccess = { mode: 'ambient' } | { mode: 'herald-role'; roleArn: string } | { mode: 'customer-role'; roleName: string };

export const TENANT_SESSION_TAG = 'herald-tenant';

/** The role to assume for this tenant and bus, with its external id (none for Herald's own role). */
export function roleFor(access: CustomerBusAccess, entry: Pick<CustomerBusEntry, 'tenantId' | 'eventBusArn'>): { roleArn: string; externalId?: string } | undefined {
  if (access.mode === 'herald-role') return { roleArn: access.roleArn };
  if (access.mode !== 'customer-role') return undefined;
  const [, , account] = EVENT_BUS_ARN.exec(entry.eventBusArn) ?? [];
  const partition = entry.eventBusArn.split(':')[1] ?? 'aws';
  return { roleArn: `arn:${partition}:iam::${account}:role/${access.roleName}`, externalId: entry.tenantId };
}

/** Assumed-role sessions last 15 minutes; a client is reused until a minute before that. */
const SESSION_SECONDS = 900;

/**
 * Delivers to a customer's EventBridge bus with PutEvents on the bus ARN (cross-account, same
 * region). The SDK makes one try: the delivery engine owns retries, so every refusal and
 * throttle is in the attempt log.
 */
export class EventBridgeCustomerBus implements CustomerBusSender {
  private ambient?: EventBridgeClient;
  private readonly sessions = new Map<string, { client: EventBridgeClient; expires: number }>();

  constructor(
    private readonly access: CustomerBusAccess = { mode: 'ambient' },
    private readonly sts: Pick<STSClient, 'send'> = new STSClient({ maxAttempts: 2 }),
  ) {}

  private async clientFor(entry: CustomerBusEntry): Promise<EventBridgeClient> {
    const role = roleFor(this.access, entry);
    if (!role) return (this.ambient ??= new EventBridgeClient({ maxAttempts: 1 }));
    const key = `${role.roleArn}|${entry.tenantId}`;
    const cached = this.sessions.get(key);
    if (cached && cached.expires > Date.now()) return cached.client;
    const out = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: role.roleArn,
        RoleSessionName: `herald-${entry.tenantId}`.slice(0, 64),
        DurationSeconds: SESSION_SECONDS,
        Tags: [{ Key: TENANT_SESSION_TAG, Value: entry.tenantId }],
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
      }),
    );
    const credentials = out.Credentials;
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey) throw Object.assign(new Error(`AssumeRole ${role.roleArn} returned no credentials`), { name: 'AssumeRoleFailed', $metadata: { httpStatusCode: 403 } });
    const client = new EventBridgeClient({
      maxAttempts: 1,
      credentials: { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, sessionToken: credentials.SessionToken },
    });
    if (this.sessions.size > 500) this.sessions.clear();
    this.sessions.set(key, { client, expires: (credentials.Expiration?.getTime() ?? Date.now() + SESSION_SECONDS * 1000) - 60_000 });
    return client;
  }

  async put(entry: CustomerBusEntry): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const client = await this.clientFor(entry);
      const out = await client.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: entry.eventBusArn, Source: entry.source, DetailType: entry.detailType, Detail: entry.detail, Time: entry.time }],
        }),
      );
      const failed = out.Entries?.find((e) => e.ErrorCode);
      if ((out.FailedEntryCount ?? 0) > 0 || failed) {
        const code = failed?.ErrorCode ?? 'Unknown';
        return { durationMs: elapsed(), error: /throttl/i.test(code) ? 'throttled' : 'eventbridge_error', errorMessage: `${code}: ${failed?.ErrorMessage ?? 'entry refused'}` };
      }
      return { durationMs: elapsed(), statusCode: 200, responseExcerpt: JSON.stringify({ EventId: out.Entries?.[0]?.EventId }) };
    } catch (error) {
      const err = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      if (status === undefined) return { durationMs: elapsed(), ...classifyNetworkError(error) };
      const name = err.name ?? 'Error';
      return {
        durationMs: elapsed(),
        statusCode: status,
        error: /throttl/i.test(name) || status === 429 ? 'throttled' : 'eventbridge_error',
        errorMessage: `${name}: ${(err.message ?? '').slice(0, 300)}`,
      };
    }
  }
}
