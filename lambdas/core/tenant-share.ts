import type { DeliveryJob } from './delivery-job.ts';
import { attemptNumberOf, LEASE_WAIT_MS, planWaitUntil, type DeliveryPlan, type Receipt } from './delivery-plan.ts';
import { admit, type ThrottleStore } from './throttle.ts';

/**
 * A per-tenant cap on deliveries in progress (`herald:tenantMaxInFlight`), so one tenant whose
 * endpoints are slow, failing or flooded cannot hold every deliver worker. It is the
 * `maxConcurrency` lease of core/throttle.ts keyed on the tenant instead of a subscription: the
 * same state item shape, the same versioned write, in the tenant's own row of the throttle store
 * (TENANT_SCOPE, which no subscription id can take). A batch reserves the leases its records of
 * a tenant need in one write; each attempt ends its own lease as it finishes. A delivery over the
 * cap waits out of flight with no attempt counted, and waits longer each time it finds the cap
 * full (capWaitMs), so a large backlog costs a trickle of re-enqueues rather than a storm.
 *
 * Ordered (FIFO) jobs are exempt: each subject group has one message in flight at a time, and a
 * wait there is one more receive of the same message, counted against the ordered queue's 1,000.
 */
export const TENANT_SCOPE = '*tenant';

/** The longest an over-cap delivery waits before it asks again. */
export const MAX_CAP_WAIT_MS = 60_000;

/**
 * How long a delivery over its tenant's cap waits: doubling from LEASE_WAIT_MS with each wait it
 * already made (`job.capWaits`), to at most MAX_CAP_WAIT_MS, spread by ±50 % so a backlog does not
 * come back in one clump.
 */
export function capWaitMs(capWaits: number, random: number): number {
  const base = Math.min(MAX_CAP_WAIT_MS, LEASE_WAIT_MS * 2 ** Math.min(capWaits, 10));
  return Math.round(base * (0.5 + random));
}

/** One deliver invocation's leases on each tenant's cap. */
export class BatchTenantShare {
  private readonly pools = new Map<string, Promise<string[]>>();

  constructor(
    private readonly store: ThrottleStore,
    private readonly cap: number,
    /** Records per tenant that may ask for a lease in this batch (counted by the handler). */
    private readonly demand: ReadonlyMap<string, number>,
    private readonly now: () => number,
    private readonly leaseMs: number,
    private readonly newLeaseId: () => string,
  ) {}

  /** A lease for one delivery, or undefined when the tenant already has `cap` in progress. */
  async lease(tenantId: string): Promise<string | undefined> {
    let pool = this.pools.get(tenantId);
    if (!pool) {
      const want = Math.max(1, this.demand.get(tenantId) ?? 1);
      pool = admit(this.store, { tenantId, id: TENANT_SCOPE, maxConcurrency: this.cap }, { slots: 0, leases: want }, this.now, this.leaseMs, this.newLeaseId).then((a) => a.leases);
      this.pools.set(tenantId, pool);
    }
    return (await pool).pop();
  }

  release(tenantId: string, lease: string): Promise<void> {
    return this.store.release(tenantId, TENANT_SCOPE, [lease]);
  }

  /** Ends the leases reserved for records that never took one (not due after all, a flush job): one write per tenant. */
  async releaseUnused(): Promise<void> {
    await Promise.all(
      [...this.pools.entries()].map(async ([tenantId, pool]) => {
        const left = await pool;
        const ids = left.splice(0);
        if (ids.length > 0) await this.store.release(tenantId, TENANT_SCOPE, ids);
      }),
    );
  }
}

/**
 * Before an attempt on the standard queue: a lease on the tenant's cap, or the plan to wait
 * (no attempt counted). Without a cap, or for an ordered job, nothing is asked and nothing is written.
 */
export async function admitTenant(
  share: BatchTenantShare | undefined,
  job: DeliveryJob,
  receipt: Receipt,
  random: () => number,
): Promise<{ wait?: DeliveryPlan; release?: () => Promise<void> }> {
  if (!share || receipt.ordered) return {};
  const lease = await share.lease(job.tenantId);
  if (lease === undefined) {
    const capWaits = job.capWaits ?? 0;
    const waiting: DeliveryJob = { ...job, capWaits: capWaits + 1 };
    return { wait: planWaitUntil(waiting, receipt, receipt.now + capWaitMs(capWaits, random()), attemptNumberOf(job, receipt) - 1) };
  }
  return { release: () => share.release(job.tenantId, lease) };
}
