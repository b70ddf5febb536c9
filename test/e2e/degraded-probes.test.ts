/**
 * Degrade, don't spread, on the local runtime (real handlers, emulated SQS and DynamoDB): a
 * degraded subscription with a backlog of 50 deliveries makes about one attempt per probe
 * interval while its endpoint is down, every delivery arrives once it answers again, and a
 * delivery whose policy would have ended while it waited is a dead letter with that reason. The
 * probe interval is compressed to 1 s (HERALD_DEGRADED_PROBE_SECONDS), so losers wait 5 to 15 s;
 * the subscriptions are made degraded by writing their health record as ten failures over ten
 * minutes would have left it, rather than by waiting a minute of failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { DynamoStatsStore } from '../../lambdas/adapters/stats-store.ts';
import { aggregateObservations, DEFAULT_AUTO_PAUSE, type AttemptObservation } from '../../lambdas/core/stats.ts';
import { ENV } from '../../lambdas/shared/herald-config.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_degraded_probes_000000000000000000';
const PROBE_SECONDS = 1;
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

async function subscribe(path: string, retryPolicy: Record<string, unknown>): Promise<string> {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix: `${path}:` }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    retryPolicy,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** The health record ten failures over the last ten minutes leave: degraded from now on. */
async function degrade(subscriptionId: string): Promise<void> {
  const start = Date.now() - 10 * 60_000;
  const observations: AttemptObservation[] = Array.from({ length: 10 }, (_, i) => ({
    tenantId: tenant.id,
    subscriptionId,
    at: start + i * 60_000,
    attempt: 1,
    outcome: 'retry',
    durationMs: 5,
    statusCode: 503,
    error: 'http_status',
    endpointFailure: true,
    autoPause: DEFAULT_AUTO_PAUSE,
  }));
  await new DynamoStatsStore(process.env[ENV.tableName]!).addStats(aggregateObservations(observations), new Date());
}

async function publish(path: string, n: number): Promise<void> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${path}:order-${n}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
}

const idsOf = (requests: { headers: Record<string, unknown> }[]) => new Set(requests.map((r) => String(r.headers['webhook-id'])));

beforeAll(async () => {
  // Read by the deliver handler at its cold start, which startHeraldLocal performs.
  process.env[ENV.degradedProbeSeconds] = String(PROBE_SECONDS);
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Degraded' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

describe('a degraded subscription with a backlog', () => {
  it('makes about one attempt per probe interval while down, and delivers all 50 once its endpoint answers', async () => {
    // Gaps of 2 s for up to 60 attempts: without probes, 50 deliveries would make 25 attempts a second.
    const sub = await subscribe('/dead', { schedule: Array.from({ length: 59 }, () => 2) });
    receiver.otherwise('/dead', { status: 503 });
    await degrade(sub);
    const stats = (await api('GET', `/v1/subscriptions/${sub}/stats`, tenant.apiKey)).body;
    expect(stats).toMatchObject({ degraded: true, degradedReason: expect.stringContaining('wait behind one trial attempt every') });

    const start = Date.now();
    await Promise.all(Array.from({ length: 50 }, (_, n) => publish('/dead', n)));
    await herald.settle();
    // Six intervals, every delivery queued: at most one attempt per interval (one slack each side).
    await new Promise((r) => setTimeout(r, 6_000));
    const elapsed = (Date.now() - start) / 1000;
    const whileDown = receiver.on('/dead');
    expect(whileDown.length).toBeGreaterThanOrEqual(1);
    expect(whileDown.length).toBeLessThanOrEqual(Math.ceil(elapsed / PROBE_SECONDS) + 2);
    // A delivery that lost the probe: no attempt made, pending until its wait ends.
    const log = (await api('GET', `/v1/subscriptions/${sub}/deliveries?limit=100`, tenant.apiKey)).body.items as { id: string; status: string; nextAttemptAt?: string; attempts: unknown[] }[];
    const waiting = log.filter((d) => d.attempts.length === 0 && d.status === 'pending');
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((d) => Date.parse(d.nextAttemptAt!) > start)).toBe(true);

    const recoveredAt = receiver.requests.length;
    receiver.otherwise('/dead', { status: 200 });
    // Losers wait at most 15 intervals; the first success ends the degradation.
    await eventually(async () => (idsOf(receiver.requests.slice(recoveredAt).filter((r) => r.path === '/dead')).size >= 50 ? true : undefined), 45_000);
    const delivered = await eventually(async () => {
      const items = (await api('GET', `/v1/subscriptions/${sub}/deliveries?limit=100`, tenant.apiKey)).body.items as { status: string }[];
      return items.length === 50 && items.every((d) => d.status === 'succeeded') ? items : undefined;
    }, 10_000);
    expect(delivered).toHaveLength(50);
    expect((await api('GET', `/v1/subscriptions/${sub}/stats`, tenant.apiKey)).body).toMatchObject({ degraded: false, consecutiveFailures: 0 });
  }, 90_000);

  it('parks a delivery whose policy would have ended while it waited, with the reason', async () => {
    // Two retries 2 s apart: the policy is over about 6 s after a delivery was created.
    const sub = await subscribe('/short', { schedule: [2, 2] });
    receiver.otherwise('/short', { status: 503 });
    await degrade(sub);
    await Promise.all(Array.from({ length: 5 }, (_, n) => publish('/short', n)));
    const letters = await eventually(async () => {
      const items = (await api('GET', `/v1/dead-letters?subscriptionId=${sub}`, tenant.apiKey)).body.items as { id: string; reason: string; attempts: unknown[] }[];
      return items.length === 5 ? items : undefined;
    }, 30_000);
    const unattempted = letters.filter((l) => l.reason.startsWith('retry policy ended while its subscription was degraded'));
    expect(unattempted.length).toBeGreaterThan(0);
    // The letter counts only the attempts made; the probes' own letters say their policy ran out.
    for (const letter of letters.filter((l) => !unattempted.includes(l))) expect(letter.reason).toMatch(/^retry policy exhausted after \d+ attempt\(s\)/);
    expect(receiver.on('/short').length).toBeLessThan(15);
  }, 60_000);
});
