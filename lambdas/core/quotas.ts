import * as z from 'zod';
import { DomainError } from './errors.ts';
import type { QuotaCounter } from './ports.ts';

/**
 * Per-tenant quotas: how much of a shared Herald one tenant may hold or ask for. The operator
 * sets them with the `herald:tenantQuotas` context (JSON, any subset); over a quota the API
 * answers 429 problem+json naming the quota and its limit.
 */
export const tenantQuotasSchema = z
  .object({
    subscriptions: z.number().int().min(1).max(100_000),
    apiKeys: z.number().int().min(1).max(1_000),
    /** Events re-sent per hour through the resend routes (one per resent delivery or event). */
    resendsPerHour: z.number().int().min(1).max(10_000_000),
  })
  .partial()
  .strict();

export type TenantQuotas = Required<z.infer<typeof tenantQuotasSchema>>;
export type QuotaName = keyof TenantQuotas;

export const DEFAULT_TENANT_QUOTAS: TenantQuotas = { subscriptions: 100, apiKeys: 10, resendsPerHour: 10_000 };

/** The operator's JSON over the defaults; a malformed value fails loudly (at synth, or at cold start). */
export function parseTenantQuotas(json: string | undefined): TenantQuotas {
  if (!json) return DEFAULT_TENANT_QUOTAS;
  const parsed = tenantQuotasSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`tenant quotas ${json}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return { ...DEFAULT_TENANT_QUOTAS, ...parsed.data };
}

export class QuotaExceededError extends DomainError {
  constructor(quota: QuotaName, limit: number, detail: string) {
    super(429, 'Quota exceeded', `${detail} (quota '${quota}': ${limit})`, undefined, { quota, limit });
  }
}

/** Refuses one more of something the tenant holds `current` of. */
export function checkHolding(quota: 'subscriptions' | 'apiKeys', quotas: TenantQuotas, current: number): void {
  const limit = quotas[quota];
  if (current >= limit) {
    const what = quota === 'subscriptions' ? 'subscriptions' : 'active API keys';
    throw new QuotaExceededError(quota, limit, `this tenant already has ${current} ${what}; delete one first or ask the operator to raise the quota`);
  }
}

/** The hourly window a use of a rate quota counts in, e.g. `2026-12-01T19`. */
export function hourWindow(now: Date): string {
  return now.toISOString().slice(0, 13);
}

export async function consumeResends(ports: { quotas: QuotaCounter; clock: () => Date; config: { tenantQuotas: TenantQuotas } }, tenantId: string, amount: number): Promise<void> {
  if (amount === 0) return;
  const limit = ports.config.tenantQuotas.resendsPerHour;
  if (!(await ports.quotas.consumeQuota(tenantId, 'resendsPerHour', hourWindow(ports.clock()), amount, limit))) {
    throw new QuotaExceededError('resendsPerHour', limit, `re-sending ${amount} more would pass this tenant's hourly resend volume; narrow the range or wait for the next hour`);
  }
}
