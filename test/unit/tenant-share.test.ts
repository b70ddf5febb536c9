/**
 * The per-tenant cap on deliveries in progress (lambdas/core/tenant-share.ts): leases on the
 * tenant's own row of the throttle store, reserved once per batch and shared by concurrent
 * invocations; a delivery over the cap waits out of flight, no attempt counted, each wait longer;
 * ordered jobs and deployments without a cap write nothing.
 */
import { describe, expect, it } from 'vitest';
import { admitTenant, BatchTenantShare, capWaitMs, MAX_CAP_WAIT_MS, TENANT_SCOPE } from '../../lambdas/core/tenant-share.ts';
import { LEASE_WAIT_MS } from '../../lambdas/core/delivery-plan.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import { deliveryJobsOf, processDeliveryMessage, tenantDemandOf, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import type { SQSRecord } from 'aws-lambda';
import { InMemoryThrottleStore } from '../support/in-memory-ports.ts';

const T0 = 1_800_000_000_000;
const job = (extra: Partial<DeliveryJob> = {}) =>
  ({ v: 1, deliveryId: 'dlv_1', tenantId: 'ten_a', subscriptionId: 'sub_1', attemptOffset: 0, createdAt: '2026-12-01T00:00:00Z', ...extra }) as DeliveryJob;
const receipt = { ordered: false, receiveCount: 1, now: T0 };
let ids = 0;
const share = (store: InMemoryThrottleStore, cap: number, demand: Record<string, number>, now = T0) =>
  new BatchTenantShare(store, cap, new Map(Object.entries(demand)), () => now, 930_000, () => `l${ids++}`);

describe('BatchTenantShare', () => {
  it('reserves a batch’s leases for a tenant in one write, never beyond the cap across invocations', async () => {
    const store = new InMemoryThrottleStore();
    const first = share(store, 5, { ten_a: 4 });
    const leases = await Promise.all([1, 2, 3, 4].map(() => first.lease('ten_a')));
    expect(leases.every((l) => l !== undefined)).toBe(true);
    expect(store.writes).toBe(1);
    const second = share(store, 5, { ten_a: 3 });
    const more = await Promise.all([1, 2, 3].map(() => second.lease('ten_a')));
    expect(more.filter((l) => l !== undefined)).toHaveLength(1);
    // The tenant's row of the throttle store, beside (never instead of) its subscriptions'.
    expect([...store.items.keys()]).toEqual([`ten_a#${TENANT_SCOPE}`]);
  });

  it('keeps tenants apart: one at its cap leaves another’s leases alone', async () => {
    const store = new InMemoryThrottleStore();
    const batch = share(store, 2, { ten_a: 3, ten_b: 2 });
    const a = await Promise.all([1, 2, 3].map(() => batch.lease('ten_a')));
    const b = await Promise.all([1, 2].map(() => batch.lease('ten_b')));
    expect(a.filter(Boolean)).toHaveLength(2);
    expect(b.filter(Boolean)).toHaveLength(2);
  });

  it('a finished delivery gives its lease back, and unused leases are ended at the batch’s end', async () => {
    const store = new InMemoryThrottleStore();
    const batch = share(store, 3, { ten_a: 3 });
    const lease = (await batch.lease('ten_a'))!;
    await batch.release('ten_a', lease);
    await batch.releaseUnused();
    expect(store.items.get(`ten_a#${TENANT_SCOPE}`)!.state.leases).toEqual({});
    const next = share(store, 3, { ten_a: 3 });
    expect((await Promise.all([1, 2, 3].map(() => next.lease('ten_a')))).filter(Boolean)).toHaveLength(3);
  });

  it('a crashed invocation’s leases lapse', async () => {
    const store = new InMemoryThrottleStore();
    await share(store, 1, { ten_a: 1 }).lease('ten_a');
    expect(await share(store, 1, { ten_a: 1 }, T0 + 1000).lease('ten_a')).toBeUndefined();
    expect(await share(store, 1, { ten_a: 1 }, T0 + 930_001).lease('ten_a')).toBeDefined();
  });
});

describe('admitTenant', () => {
  it('writes nothing without a cap, nor for an ordered job', async () => {
    const store = new InMemoryThrottleStore();
    expect(await admitTenant(undefined, job(), receipt, Math.random)).toEqual({});
    expect(await admitTenant(share(store, 1, { ten_a: 1 }), job(), { ...receipt, ordered: true }, Math.random)).toEqual({});
    expect(store.writes).toBe(0);
  });

  it('over the cap: waits out of flight, no attempt counted, the wait remembered on the job', async () => {
    const store = new InMemoryThrottleStore();
    await share(store, 1, { ten_a: 1 }).lease('ten_a');
    const { wait } = await admitTenant(share(store, 1, { ten_a: 1 }), job({ attemptOffset: 2 }), { ...receipt, receiveCount: 4 }, () => 0.5);
    expect(wait).toMatchObject({ kind: 'reenqueue', delaySeconds: LEASE_WAIT_MS / 1000 });
    const next = (wait as { job: DeliveryJob }).job;
    // Receives 1-3 of this message were attempts; the fourth was not.
    expect(next.attemptOffset).toBe(5);
    expect(next.capWaits).toBe(1);
    expect(next.notBefore).toBe(new Date(T0 + LEASE_WAIT_MS).toISOString());
  });

  it('with a lease: goes, and its release ends the lease', async () => {
    const store = new InMemoryThrottleStore();
    const admitted = await admitTenant(share(store, 1, { ten_a: 1 }), job(), receipt, Math.random);
    expect(admitted.wait).toBeUndefined();
    await admitted.release!();
    expect(store.items.get(`ten_a#${TENANT_SCOPE}`)!.state.leases).toEqual({});
  });
});

describe('capWaitMs', () => {
  it('doubles with each wait, spread ±50 %, up to a minute', () => {
    expect(capWaitMs(0, 0.5)).toBe(LEASE_WAIT_MS);
    expect(capWaitMs(1, 0.5)).toBe(2 * LEASE_WAIT_MS);
    expect(capWaitMs(3, 0)).toBe(4 * LEASE_WAIT_MS);
    expect(capWaitMs(50, 0.5)).toBe(MAX_CAP_WAIT_MS);
    expect(capWaitMs(50, 0.999)).toBeLessThan(1.5 * MAX_CAP_WAIT_MS);
  });
});

describe('tenantDemandOf', () => {
  it('counts each tenant’s jobs due now (or a moment before their slot), not later ones nor flush jobs', () => {
    const event = { specversion: '1.0', id: 'evt_1', source: 'urn:test', type: 'order.created', time: '2026-12-01T00:00:00Z', subject: 'o1', datacontenttype: 'application/json', tenantid: 'ten_a' };
    const record = (body: unknown) => ({ body: JSON.stringify(body) }) as SQSRecord;
    const demand = tenantDemandOf(
      deliveryJobsOf([
        record({ ...job(), event }),
        record({ ...job({ tenantId: 'ten_b' }), event }),
        record({ ...job({ tenantId: 'ten_b', notBefore: new Date(T0 + 500).toISOString(), slotAt: new Date(T0 + 500).toISOString() }), event }),
        record({ ...job({ tenantId: 'ten_b', notBefore: new Date(T0 + 60_000).toISOString() }), event }),
        record({ kind: 'flush', tenantId: 'ten_c' }),
      ]),
      T0,
    );
    expect(Object.fromEntries(demand)).toEqual({ ten_a: 1, ten_b: 2 });
  });
});

describe('the deliver worker with a tenant at its cap', () => {
  it('re-enqueues the delivery before anything else is read or sent, and counts no attempt', async () => {
    const store = new InMemoryThrottleStore();
    await share(store, 1, { ten_a: 1 }).lease('ten_a');
    const enqueued: { jobs: DeliveryJob[]; delay: number }[] = [];
    const ports = {
      clock: () => new Date(T0),
      random: () => 0.5,
      tenantShare: share(store, 1, { ten_a: 1 }),
      subscriptions: { getSubscription: async () => expect.unreachable('no subscription read for a delivery that must wait') },
      queue: { enqueue: async (jobs: DeliveryJob[], delay = 0) => void enqueued.push({ jobs, delay }), changeVisibility: async () => undefined },
      deadLetters: { park: async () => undefined },
    } as unknown as DeliveryWorkerPorts;
    const event = { specversion: '1.0', id: 'evt_1', source: 'urn:test', type: 'order.created', time: '2026-12-01T00:00:00Z', subject: 'o1', datacontenttype: 'application/json', tenantid: 'ten_a' };
    const record = { messageId: 'm1', receiptHandle: 'r1', body: JSON.stringify({ ...job(), event }), attributes: { ApproximateReceiveCount: '1' }, eventSourceARN: 'arn:aws:sqs:us-east-1:1:herald-deliveries' } as unknown as SQSRecord;
    await processDeliveryMessage(ports, record);
    expect(enqueued).toHaveLength(1);
    expect(enqueued[0]!.delay).toBe(LEASE_WAIT_MS / 1000);
    expect(enqueued[0]!.jobs[0]).toMatchObject({ deliveryId: 'dlv_1', attemptOffset: 0, capWaits: 1 });
  });
});
