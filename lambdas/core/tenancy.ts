import * as z from 'zod';
import { generateApiKey, type Principal } from './api-keys.ts';
import { DomainError, ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import { newId } from './ids.ts';
import type { ApiKeyStore, Tenant, TenantStore } from './ports.ts';
import { checkHolding, type TenantQuotas } from './quotas.ts';
import { requireTenant } from './tenant-lookup.ts';

export const createTenantSchema = z.object({ name: z.string().trim().min(1).max(200) }).strict();

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw new ForbiddenError('this route needs the platform admin key');
}

/**
 * The tenant a request acts for. A tenant key acts for its own tenant only: naming another
 * tenant answers 404, as if it did not exist, so ids never leak across tenants. The admin key
 * must name the tenant it acts for.
 */
export async function resolveTenant(
  tenants: TenantStore,
  principal: Principal,
  requested: string | undefined,
): Promise<string> {
  if (principal.role === 'tenant') {
    // Not even the id it named is echoed back: the answer is the same for any other tenant.
    if (requested !== undefined && requested !== principal.tenantId) throw new DomainError(404, 'Not found', 'no such tenant');
    return principal.tenantId!;
  }
  if (!requested) throw new ValidationError([{ path: 'tenantId', message: 'is required when acting with the admin key' }]);
  await requireTenant(tenants, requested);
  return requested;
}

/**
 * Who a tenant key or portal session acts for, for the console's header: the tenant's name,
 * whether it may change anything, and when a portal session ends. The admin key acts for no
 * one tenant, so it has no session to describe.
 */
export async function describeSession(
  tenants: TenantStore,
  principal: Principal,
): Promise<{ role: 'tenant'; tenantId: string; tenantName: string; readOnly: boolean; expiresAt?: string }> {
  if (principal.role !== 'tenant') throw new ForbiddenError('the admin key acts for no tenant: sign in to the console with a tenant key or a portal session');
  const tenant = await requireTenant(tenants, principal.tenantId!);
  return { role: 'tenant', tenantId: tenant.id, tenantName: tenant.name, readOnly: principal.readOnly ?? false, ...(principal.expiresAt ? { expiresAt: principal.expiresAt } : {}) };
}

/** An extra key for a tenant (rotation without downtime: create the new, then revoke the old). */
export async function createApiKey(
  ports: { keys: ApiKeyStore; clock: () => Date; config: { tenantQuotas: TenantQuotas } },
  tenantId: string,
): Promise<{ prefix: string; apiKey: string; role: 'tenant'; tenantId: string; createdAt: string }> {
  const active = (await ports.keys.listApiKeys(tenantId)).filter((key) => !key.revokedAt).length;
  checkHolding('apiKeys', ports.config.tenantQuotas, active);
  const createdAt = ports.clock().toISOString();
  const key = generateApiKey();
  await ports.keys.putApiKey({ hash: key.hash, prefix: key.prefix, role: 'tenant', tenantId, createdAt });
  return { prefix: key.prefix, apiKey: key.key, role: 'tenant', tenantId, createdAt };
}

export async function revokeApiKey(ports: { keys: ApiKeyStore; clock: () => Date }, tenantId: string, prefix: string): Promise<void> {
  if (!(await ports.keys.revokeApiKey(tenantId, prefix, ports.clock().toISOString()))) throw new NotFoundError('API key', prefix);
}

export async function createTenant(
  ports: { tenants: TenantStore; keys: ApiKeyStore; clock: () => Date },
  input: z.infer<typeof createTenantSchema>,
): Promise<Tenant & { apiKey: string }> {
  const now = ports.clock().toISOString();
  const tenant: Tenant = { id: newId('ten'), name: input.name, createdAt: now };
  const key = generateApiKey();
  await ports.tenants.putTenant(tenant);
  await ports.keys.putApiKey({ hash: key.hash, prefix: key.prefix, role: 'tenant', tenantId: tenant.id, createdAt: now });
  return { ...tenant, apiKey: key.key };
}
