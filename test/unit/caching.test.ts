/**
 * The short-lived caches on the delivery path (core/caching.ts): remembered tenants expire
 * after their TTL and unknown tenants are never remembered; fan-out's index cache queries again
 * exactly when the tenant's index version moved (a new, changed or deleted subscription gets the
 * very next event), or after its maximum age when a writer crashed before moving the version.
 */
import { describe, expect, it } from 'vitest';
import { cachedSubscriptionIndex, cachedTenants, findListedPatterns, SUBSCRIPTION_INDEX_MAX_AGE_MS } from '../../lambdas/core/caching.ts';
import { buildEnvelope } from '../../lambdas/core/envelope.ts';
import { patternKeysFor } from '../../lambdas/core/event-types.ts';
import { fanOut } from '../../lambdas/core/fanout.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { DeliveryQueue, Tenant, TenantStore } from '../../lambdas/core/ports.ts';
import { InMemorySubscriptionIndex } from '../support/in-memory-ports.ts';

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

describe('cachedSubscriptionIndex', () => {
  const T = 'ten_a';
  const entry = (subscriptionId: string) => ({ subscriptionId, status: 'active' as const, createdAt: '2026-01-01T00:00:00Z' });
  const created = patternKeysFor('order.created');
  const ids = (entries: { subscriptionId: string }[]) => entries.map((e) => e.subscriptionId).sort();

  function setup() {
    const index = new InMemorySubscriptionIndex();
    let now = 0;
    const cached = cachedSubscriptionIndex(index, SUBSCRIPTION_INDEX_MAX_AGE_MS, () => now);
    return { index, cached, advance: (ms: number) => (now += ms) };
  }

  it('reads only the version for every event after the first while nothing changes', async () => {
    const { index, cached, advance } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    for (let i = 0; i < 100; i++) {
      expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1']);
      advance(500);
    }
    expect(index.versionReads).toBe(100);
    // One lookup (a query per pattern key) in 50 s of events, then one per minute at most.
    expect(index.queries).toHaveLength(created.length);
  });

  it('a subscription created, changed or deleted applies to the very next event', async () => {
    const { index, cached } = setup();
    expect(await cached.findSubscriptionsByPatterns(T, created)).toEqual([]);
    index.subscribe(T, entry('sub_1'), ['order.*']);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1']);
    index.subscribe(T, { ...entry('sub_1'), filter: { data: { facilityId: ['LF500'] } } }, ['order.*']);
    expect(await cached.findSubscriptionsByPatterns(T, created)).toEqual([expect.objectContaining({ filter: { data: { facilityId: ['LF500'] } } })]);
    index.unsubscribe(T, 'sub_1');
    expect(await cached.findSubscriptionsByPatterns(T, created)).toEqual([]);
  });

  it('a table from before the version item (read as 0) is invalidated by its first subscription change', async () => {
    const { index, cached } = setup();
    // 0.1 wrote entries and no version.
    index.subscribe(T, entry('sub_old'), ['order.created'], { moveVersion: false });
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_old']);
    index.subscribe(T, entry('sub_new'), ['*']);
    expect(index.versions.get(T)).toBe(1);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_new', 'sub_old']);
  });

  it('a change whose version write was lost applies once the cached entries reach their maximum age', async () => {
    const { index, cached, advance } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    await cached.findSubscriptionsByPatterns(T, created);
    index.subscribe(T, entry('sub_2'), ['order.created'], { moveVersion: false });
    advance(SUBSCRIPTION_INDEX_MAX_AGE_MS - 1);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1']);
    advance(1);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1', 'sub_2']);
  });

  it('any other version invalidates, a lower one too (a table recreated from scratch)', async () => {
    const { index, cached } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    index.subscribe(T, entry('sub_2'), ['order.created']);
    await cached.findSubscriptionsByPatterns(T, created);
    index.unsubscribe(T, 'sub_1', { moveVersion: false });
    index.unsubscribe(T, 'sub_2', { moveVersion: false });
    index.versions.set(T, 1);
    expect(await cached.findSubscriptionsByPatterns(T, created)).toEqual([]);
  });

  it('keeps each event type apart, and a tenant’s change leaves other tenants’ entries cached', async () => {
    const { index, cached } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    index.subscribe('ten_b', entry('sub_b'), ['*']);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1']);
    expect(await cached.findSubscriptionsByPatterns(T, patternKeysFor('order.cancelled'))).toEqual([]);
    expect(ids(await cached.findSubscriptionsByPatterns('ten_b', created))).toEqual(['sub_b']);
    const before = index.queries.length;
    index.subscribe(T, entry('sub_2'), ['order.cancelled']);
    expect(ids(await cached.findSubscriptionsByPatterns(T, patternKeysFor('order.cancelled')))).toEqual(['sub_2']);
    expect(ids(await cached.findSubscriptionsByPatterns('ten_b', created))).toEqual(['sub_b']);
    expect(index.queries.slice(before)).toEqual(patternKeysFor('order.cancelled').map((p) => `${T}#${p}`));
  });

  it('with a head naming the patterns in use, queries only those keys of the type (none when none is listed); without one, every key', async () => {
    const { index } = setup();
    let listed: string[] | undefined = ['order.created'];
    const withHead = Object.assign(Object.create(index) as InMemorySubscriptionIndex, {
      subscriptionIndexHead: async (tenantId: string) => ({ version: await index.subscriptionIndexVersion(tenantId), ...(listed ? { patterns: listed } : {}) }),
    });
    const cached = cachedSubscriptionIndex(withHead, SUBSCRIPTION_INDEX_MAX_AGE_MS, () => 0);
    index.subscribe(T, entry('sub_1'), ['order.created']);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1']);
    expect(index.queries).toEqual([`${T}#order.created`]);
    expect(await cached.findSubscriptionsByPatterns(T, patternKeysFor('invoice.paid'))).toEqual([]);
    expect(index.queries).toHaveLength(1);
    // The set is no longer vouched for (a change by the version before): every key of the type.
    listed = undefined;
    index.subscribe(T, entry('sub_2'), ['order.*']);
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1', 'sub_2']);
    expect(index.queries.slice(1)).toEqual(created.map((p) => `${T}#${p}`));
  });

  it("findListedPatterns (the sweeper's lookup): every key without a head, the listed ones with it, no query when none is listed", async () => {
    const { index } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    expect(ids(await findListedPatterns(index, T, created))).toEqual(['sub_1']);
    expect(index.queries).toEqual(created.map((p) => `${T}#${p}`));
    const withHead = Object.assign(Object.create(index) as InMemorySubscriptionIndex, { subscriptionIndexHead: async () => ({ version: 1, patterns: ['order.created', 'invoice.*'] }) });
    expect(ids(await findListedPatterns(withHead, T, created))).toEqual(['sub_1']);
    expect(index.queries.slice(created.length)).toEqual([`${T}#order.created`]);
    expect(await findListedPatterns(withHead, T, patternKeysFor('shipment.sent'))).toEqual([]);
    expect(index.queries).toHaveLength(created.length + 1);
  });

  it('events arriving together share one lookup, and a failed lookup is asked again by the next event', async () => {
    const { index, cached } = setup();
    index.subscribe(T, entry('sub_1'), ['order.created']);
    const together = await Promise.all([cached.findSubscriptionsByPatterns(T, created), cached.findSubscriptionsByPatterns(T, created)]);
    expect(together.map(ids)).toEqual([['sub_1'], ['sub_1']]);
    expect(index.queries).toHaveLength(created.length);
    index.subscribe(T, entry('sub_2'), ['order.created']);
    index.failQueries = 1;
    await expect(cached.findSubscriptionsByPatterns(T, created)).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(ids(await cached.findSubscriptionsByPatterns(T, created))).toEqual(['sub_1', 'sub_2']);
  });

  it('fan-out through the cache: a subscription created right before a publish receives it, a deleted one right after does not', async () => {
    const { index, cached } = setup();
    const sent: DeliveryJob[] = [];
    const queue: DeliveryQueue = { enqueue: async (jobs) => void sent.push(...jobs), enqueueFlush: async () => undefined };
    const ports = { subscriptions: cached, queue, clock: () => new Date('2026-11-25T12:00:00Z') };
    const publish = (id: string) => fanOut(ports, buildEnvelope({ tenantId: T, id, type: 'order.created', subject: 'order/1', data: {} }, 'herald.test', new Date('2026-11-25T12:00:00Z')));
    expect(await publish('evt_0')).toEqual({ jobs: 0, buffered: 0 });
    index.subscribe(T, entry('sub_1'), ['order.created']);
    expect(await publish('evt_1')).toEqual({ jobs: 1, buffered: 0 });
    expect(await publish('evt_2')).toEqual({ jobs: 1, buffered: 0 });
    index.unsubscribe(T, 'sub_1');
    expect(await publish('evt_3')).toEqual({ jobs: 0, buffered: 0 });
    expect(sent.map((j) => `${j.event.id}:${j.subscriptionId}`)).toEqual(['evt_1:sub_1', 'evt_2:sub_1']);
    // Four events: four version reads, and a lookup only for the first and after each change.
    expect(index.versionReads).toBe(4);
    expect(index.queries).toHaveLength(3 * created.length);
  });
});
