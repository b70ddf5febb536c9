/**
 * The short-lived caches on the delivery path (core/caching.ts): remembered tenants expire
 * after their TTL and unknown tenants are never remembered.
 */
import { describe, expect, it } from 'vitest';
import { cachedTenants } from '../../lambdas/core/caching.ts';
import type { Tenant, TenantStore } from '../../lambdas/core/ports.ts';

function countingStore(tenants: Tenant[]) {
  const reads: string[] = [];
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const store: TenantStore = {
    putTenant: async (t) => void byId.set(t.id, t),
    getTenant: async (id) => {
      reads.push(id);
      return byId.get(id);
    },
  };
  return { store, reads };
}

const tenant = { id: 'ten_a', name: 'a', createdAt: '2026-01-01T00:00:00Z' } as Tenant;

describe('cachedTenants', () => {
  it('reads a known tenant once per TTL', async () => {
    const { store, reads } = countingStore([tenant]);
    let now = 0;
    const cached = cachedTenants(store, 60_000, () => now);
    expect(await cached.getTenant('ten_a')).toEqual(tenant);
    now = 59_999;
    expect(await cached.getTenant('ten_a')).toEqual(tenant);
    expect(reads).toEqual(['ten_a']);
    now = 60_001;
    await cached.getTenant('ten_a');
    expect(reads).toEqual(['ten_a', 'ten_a']);
  });

  it('never remembers a tenant that does not exist, so one created later is found at once', async () => {
    const { store, reads } = countingStore([]);
    const cached = cachedTenants(store, 60_000, () => 0);
    expect(await cached.getTenant('ten_b')).toBeUndefined();
    await cached.putTenant({ ...tenant, id: 'ten_b' });
    expect(await cached.getTenant('ten_b')).toMatchObject({ id: 'ten_b' });
    expect(reads).toEqual(['ten_b', 'ten_b']);
  });
});
