import type { Subscription } from './subscription.ts';
import type { Tenant, TenantStore } from './ports.ts';

/**
 * Tenants as the API reads them on every publish, remembered by the container for `ttlMs`.
 * Only tenants that exist are remembered (tenants are never deleted), so an unknown id is always
 * looked up again and a tenant created a moment ago is found at once.
 */
export function cachedTenants(store: TenantStore, ttlMs: number, now: () => number = Date.now): TenantStore {
  const seen = new Map<string, { tenant: Tenant; until: number }>();
  return {
    putTenant: (tenant) => store.putTenant(tenant),
    async getTenant(id: string): Promise<Tenant | undefined> {
      const hit = seen.get(id);
      if (hit && hit.until > now()) return hit.tenant;
      const tenant = await store.getTenant(id);
      if (tenant) {
        if (seen.size >= 10_000) seen.clear();
        seen.set(id, { tenant, until: now() + ttlMs });
      } else seen.delete(id);
      return tenant;
    },
  };
}

/**
 * Subscriptions read for one batch of deliveries: the records of one subscription in a batch
 * share one read. Lives for one invocation only, so a pause, an edit or a deletion applies from
 * the next batch on.
 */
export type SubscriptionReads = Map<string, Promise<Subscription | undefined>>;
