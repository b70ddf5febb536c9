import type { Subscription } from './subscription.ts';
import type { SubscriptionIndex, SubscriptionIndexEntry, Tenant, TenantStore } from './ports.ts';

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

/** How long fan-out trusts cached index entries whose version has not moved (see below). */
export const SUBSCRIPTION_INDEX_MAX_AGE_MS = 60_000;

/**
 * The fan-out index as a container remembers it: per tenant, the entries found for each set of
 * patterns, with the index version they were read at. Each lookup reads the version (one small
 * item, which also names the patterns the tenant has entries under when the store keeps them:
 * only those keys are queried) and queries the index again only when the version moved, so a
 * subscription change applies to the next event whose version read sees it. The entries also expire after `maxAgeMs`
 * whatever the version says: a change whose version write failed (the store moves the version
 * after the entries) applies within that time.
 *
 * Any other version than the remembered one invalidates, lower too: a replica behind by a moment
 * only costs a query, and a table that was recreated (versions from 0 again) is never trusted.
 */
export function cachedSubscriptionIndex(
  index: SubscriptionIndex,
  maxAgeMs: number = SUBSCRIPTION_INDEX_MAX_AGE_MS,
  now: () => number = Date.now,
): Pick<SubscriptionIndex, 'findSubscriptionsByPatterns'> {
  interface Known {
    version: number;
    readAt: number;
    /** By the patterns' key; promises, so concurrent events of a type share one lookup. */
    lookups: Map<string, Promise<SubscriptionIndexEntry[]>>;
  }
  const tenants = new Map<string, Known>();
  return {
    async findSubscriptionsByPatterns(tenantId: string, patterns: string[]): Promise<SubscriptionIndexEntry[]> {
      const head = index.subscriptionIndexHead ? await index.subscriptionIndexHead(tenantId) : { version: await index.subscriptionIndexVersion(tenantId) };
      const version = head.version;
      let known = tenants.get(tenantId);
      if (!known || known.version !== version || now() - known.readAt >= maxAgeMs) {
        if (!known && tenants.size >= 10_000) tenants.clear();
        known = { version, readAt: now(), lookups: new Map() };
        tenants.set(tenantId, known);
      }
      const key = patterns.join(' ');
      let lookup = known.lookups.get(key);
      if (!lookup) {
        const lookups = known.lookups;
        // Only the pattern keys the tenant has entries under (one query at one subscription, not one per key of the type).
        const started = findListedPatterns(index, tenantId, patterns, head);
        // A failed lookup is not remembered: the next event asks again.
        started.catch(() => lookups.get(key) === started && lookups.delete(key));
        lookups.set(key, started);
        lookup = started;
      }
      return lookup;
    },
  };
}

/**
 * The entries under `patterns`, querying only the pattern keys the tenant's index head lists
 * (every key when it lists none, or when the index keeps no head): one query at one
 * subscription, none for a type no pattern of the tenant matches. `head` when already read.
 */
export async function findListedPatterns(
  index: Pick<SubscriptionIndex, 'findSubscriptionsByPatterns' | 'subscriptionIndexHead'>,
  tenantId: string,
  patterns: string[],
  head?: { patterns?: string[] },
): Promise<SubscriptionIndexEntry[]> {
  const listed = (head ?? (await index.subscriptionIndexHead?.(tenantId)))?.patterns;
  const used = listed ? patterns.filter((pattern) => listed.includes(pattern)) : patterns;
  return used.length > 0 ? index.findSubscriptionsByPatterns(tenantId, used) : [];
}
