import type { Subscription } from './subscription.ts';
import type { SubscriptionIndex, SubscriptionIndexEntry, SubscriptionStore, Tenant, TenantStore } from './ports.ts';

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
 * share one read (through the container's kept reads, below), so a batch sees one version of it.
 */
export type SubscriptionReads = Map<string, Promise<Subscription | undefined>>;

/** How long a deliver container keeps a subscription it read (HERALD_SUBSCRIPTION_CACHE_SECONDS). */
export const SUBSCRIPTION_KEEP_SECONDS = 10;

/**
 * The subscriptions a deliver container read, kept `keepMs`: a busy subscription costs one read
 * per container every `keepMs` instead of one per batch (at 10 subscriptions a batch of 10 held
 * ten of them: a strongly consistent read of each was 1 read unit per delivery). Each read is
 * eventually consistent (half the units); one that finds nothing reads again consistently, so a
 * subscription created a moment before its first event is never taken for deleted. What is not
 * found is not kept (a deleted subscription's deliveries each look again).
 *
 * So an edit, a pause, a secret rotation or a deletion reaches a container's deliveries within
 * `keepMs` (plus DynamoDB's replication, typically well under a second). What must not wait holds
 * anyway: a delivery held for a paused (or not yet validated) subscription reads it again
 * consistently (`consistent: true` always goes to the store, and its answer is kept), so a
 * resume within those seconds releases it at once; the old secret keeps signing for its grace
 * period (24 h), so a receiver that already has the new one still verifies. A status this
 * container changes itself (an auto-pause) is kept at once.
 */
export function keptSubscriptions(
  store: Pick<SubscriptionStore, 'getSubscription' | 'changeSubscriptionStatus'>,
  keepMs: number = SUBSCRIPTION_KEEP_SECONDS * 1000,
  now: () => number = Date.now,
): Pick<SubscriptionStore, 'getSubscription' | 'changeSubscriptionStatus'> {
  const kept = new Map<string, { read: Promise<Subscription | undefined>; at: number }>();
  const keep = (key: string, read: Promise<Subscription | undefined>) => {
    if (!kept.has(key) && kept.size >= 10_000) kept.clear();
    kept.set(key, { read, at: now() });
    // Only what exists is kept; a failed read is not remembered either.
    const drop = () => kept.get(key)?.read === read && kept.delete(key);
    read.then((subscription) => subscription ?? drop(), drop);
    return read;
  };
  return {
    getSubscription(tenantId, id, read = {}) {
      const key = `${tenantId}#${id}`;
      const hit = kept.get(key);
      if (!read.consistent && hit && now() - hit.at < keepMs) return hit.read;
      const fresh = read.consistent
        ? store.getSubscription(tenantId, id, { consistent: true })
        : store.getSubscription(tenantId, id, { consistent: false }).then((found) => found ?? store.getSubscription(tenantId, id, { consistent: true }));
      return keepMs > 0 ? keep(key, fresh) : fresh;
    },
    async changeSubscriptionStatus(tenantId, id, change) {
      const changed = await store.changeSubscriptionStatus(tenantId, id, change);
      const key = `${tenantId}#${id}`;
      // Refused (its status was not `from`): what is kept may be stale, so it is read next time.
      if (changed && keepMs > 0) keep(key, Promise.resolve(changed));
      else kept.delete(key);
      return changed;
    },
  };
}

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
 * subscription, none for a type no pattern of the tenant matches. `head` when already read;
 * `read` as findSubscriptionsByPatterns takes it.
 */
export async function findListedPatterns(
  index: Pick<SubscriptionIndex, 'findSubscriptionsByPatterns' | 'subscriptionIndexHead'>,
  tenantId: string,
  patterns: string[],
  head?: { patterns?: string[] },
  read?: { consistent?: boolean },
): Promise<SubscriptionIndexEntry[]> {
  const listed = (head ?? (await index.subscriptionIndexHead?.(tenantId)))?.patterns;
  const used = listed ? patterns.filter((pattern) => listed.includes(pattern)) : patterns;
  return used.length > 0 ? index.findSubscriptionsByPatterns(tenantId, used, ...(read ? [read] : [])) : [];
}
