import { NotFoundError } from './errors.ts';
import { ID_FORMATS } from './ids.ts';
import type { Tenant, TenantStore } from './ports.ts';

/** The tenant an id names, or a 404: an id of the wrong shape cannot name one, so it is never looked up. */
export async function requireTenant(tenants: TenantStore, id: string): Promise<Tenant> {
  const tenant = ID_FORMATS.tenant.test(id) ? await tenants.getTenant(id) : undefined;
  if (!tenant) throw new NotFoundError('tenant', id);
  return tenant;
}
