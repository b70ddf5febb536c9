import * as z from 'zod';
import { HERALD_EVENT_SOURCE } from '#shared/herald-config';

/**
 * Which AWS resources a tenant may deliver to. Herald holds one set of AWS credentials for every
 * tenant, so without a rule of its own it is a confused deputy: tenant A could name tenant B's
 * bus (whose policy trusts Herald), the operator's own buses, or Herald's bus (a loop). The rule:
 *   - every AWS destination must be inside the tenant's binding, set by the platform admin: whole
 *     accounts, or exact bus ARNs;
 *   - the operator's own account is never a target, unless the operator binds it to a tenant on
 *     purpose (`herald:operatorAccountTenants`);
 *   - Herald's own bus is never a target, whatever the binding.
 * It is checked when a subscription is created or changed (400) and again at every delivery
 * (`destination_not_allowed`, not retried), so removing a binding stops deliveries at once.
 */

/** `arn:aws:events:<region>:<account>:event-bus/<name>` (also the aws-cn and aws-us-gov partitions). */
export const EVENT_BUS_ARN = /^arn:aws(?:-cn|-us-gov)?:events:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):event-bus\/([A-Za-z0-9._\-/]{1,256})$/;

const ACCOUNT_ID = /^\d{12}$/;

export const destinationBindingSchema = z
  .object({
    /** Accounts whose buses the tenant may deliver to. */
    accounts: z.array(z.string().regex(ACCOUNT_ID, 'must be a 12-digit AWS account id')).max(50).default([]),
    /** Exact buses the tenant may deliver to (beside whole accounts). */
    eventBusArns: z.array(z.string().regex(EVENT_BUS_ARN, 'must be an event bus ARN')).max(100).default([]),
  })
  .strict();

export type DestinationBindingInput = z.infer<typeof destinationBindingSchema>;

export interface DestinationBinding extends DestinationBindingInput {
  tenantId: string;
  updatedAt: string;
}

export interface DestinationTrust {
  /** The account Herald runs in. */
  operatorAccount?: string;
  /** Herald's own bus name (in the operator's account): never a target. */
  heraldBusName: string;
  /** Tenants the operator bound its own account to, on purpose. */
  operatorAccountTenants: readonly string[];
  /** `source` prefixes a tenant may not use: Herald's own and the platform's namespaces. */
  reservedSources: readonly string[];
}

/** Sources no tenant may put on a bus: Herald's own, AWS's, and the operator's list. */
export function reservedSourceProblem(source: string, trust: Pick<DestinationTrust, 'reservedSources'>): string | undefined {
  for (const reserved of [HERALD_EVENT_SOURCE, 'herald.', 'aws.', ...trust.reservedSources]) {
    if (source === reserved || source.startsWith(reserved.endsWith('.') ? reserved : `${reserved}.`)) {
      return `'${reserved}' is reserved: a subscription's events cannot claim it`;
    }
  }
  return undefined;
}

/** Why this tenant may not deliver to this bus, or undefined when it may. */
export function busRefusal(eventBusArn: string, tenantId: string, binding: DestinationBinding | undefined, trust: DestinationTrust): string | undefined {
  const match = EVENT_BUS_ARN.exec(eventBusArn);
  if (!match) return 'is not an event bus ARN';
  const [, , account, name] = match;
  const operatorAccount = trust.operatorAccount !== undefined && account === trust.operatorAccount;
  if (operatorAccount && name === trust.heraldBusName) return "is Herald's own bus, which no subscription may target";
  if (operatorAccount && !trust.operatorAccountTenants.includes(tenantId)) {
    return "is in the operator's own account, which the platform has not bound to this tenant";
  }
  const bound = binding !== undefined && (binding.accounts.includes(account!) || binding.eventBusArns.includes(eventBusArn));
  if (!operatorAccount && !bound) {
    return `is not in this tenant's destination binding (account ${account}); the platform admin binds accounts or buses with PUT /v1/tenants/{id}/destination-binding`;
  }
  return undefined;
}

/** The `source` a delivered event carries when the subscription names none: the tenant's own. */
export function defaultSourceFor(tenantId: string): string {
  return `herald.tenant.${tenantId}`;
}

/**
 * A CloudEvents extension attribute on everything Herald delivers to a bus: the delivery's id.
 * Fan-out refuses events that carry it, so nothing Herald delivered is ever fanned out again.
 */
export const DELIVERY_MARKER = 'heralddelivery';

/** The operator's part of the trust (`HERALD_DESTINATION_TRUST`), as the stack writes it. */
const trustSettingSchema = z
  .object({
    operatorAccountTenants: z.array(z.string().min(1)).optional(),
    reservedSources: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** Throws naming what is wrong: a malformed trust setting must fail the cold start, never widen or narrow trust silently. */
export function parseDestinationTrust(json: string | undefined, operatorAccount: string | undefined, heraldBusName: string): DestinationTrust {
  let raw: unknown = {};
  if (json) {
    try {
      raw = JSON.parse(json);
    } catch (error) {
      throw new Error(`destination trust is not JSON: ${(error as Error).message}`);
    }
  }
  const checked = trustSettingSchema.safeParse(raw);
  if (!checked.success) throw new Error(`destination trust ${json}: ${checked.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  const parsed = checked.data;
  return {
    operatorAccount,
    heraldBusName,
    operatorAccountTenants: parsed.operatorAccountTenants ?? [],
    reservedSources: parsed.reservedSources ?? [],
  };
}
