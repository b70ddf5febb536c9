/**
 * Per-subscription throttling on the local runtime (issue #23): `rateLimit` spaces requests at
 * the receiver to the configured rate after its burst, `maxConcurrency` bounds the requests open
 * at once; waiting is no attempt (every delivery succeeds on attempt 1), nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_throttling_00000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'throttled receivers' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

async function subscribe(path: string, extra: Record<string, unknown>) {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix: `${path}:` }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; rateLimit?: unknown; maxConcurrency?: number };
}

async function publish(path: string, count: number) {
  const events = Array.from({ length: count }, (_, n) => ({ tenantId: tenant.id, type: 'order.created', subject: `${path}:${n}`, data: exampleOf('order.created') }));
  const res = await api<{ items: { status: number }[] }>('POST', '/v1/events/batch', ADMIN, { events });
  expect(res.status, JSON.stringify(res.body)).toBe(207);
  expect(res.body.items.every((item) => item.status === 202)).toBe(true);
}

/** Every delivery of the subscription: succeeded, on its first attempt (waiting counted nothing). */
async function expectFirstAttemptSuccesses(subscriptionId: string, count: number) {
  type Listed = { id: string; status: string; attemptCount: number };
  // The last attempts are recorded once their (slow) answers came.
  const items = await eventually(async () => {
    const res = await api<{ items: Listed[] }>('GET', `/v1/subscriptions/${subscriptionId}/deliveries?limit=100`, tenant.apiKey);
    return res.body.items.length === count && res.body.items.every((d) => d.status !== 'pending') ? res.body.items : undefined;
  }, 20_000);
  expect(items.filter((d) => d.status !== 'succeeded' || d.attemptCount !== 1)).toEqual([]);
}

describe('throttling', () => {
  it('validates the limits, naming the field', async () => {
    const bad = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/bad` },
      rateLimit: { perSecond: 0 },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('rateLimit.perSecond');
    const worse = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/bad` },
      maxConcurrency: 0,
    });
    expect(worse.status).toBe(400);
    expect(JSON.stringify(worse.body)).toContain('maxConcurrency');
  });

  it('a subscription limited to 5/s receives 100 events no faster than 5/s after its burst, none lost or failed', async () => {
    const sub = await subscribe('/rate5', { rateLimit: { perSecond: 5 } });
    expect(sub.rateLimit).toEqual({ perSecond: 5 });
    await publish('/rate5', 100);
    const requests = await receiver.waitFor('/rate5', 100, 90_000);
    const times = requests.map((r) => r.at).sort((a, b) => a - b);
    const burst = 5;
    // Between any two requests, no more than the burst plus 5 a second went out (one more for
    // the jitter of a request that left a little after its slot, as seen by the receiver).
    for (let i = 0; i < times.length; i++) {
      for (let j = i + burst; j < times.length; j++) {
        const allowed = burst + (5 * (times[j]! - times[i]!)) / 1000 + 1;
        expect(j - i + 1, `requests ${i}..${j} within ${times[j]! - times[i]!} ms`).toBeLessThanOrEqual(allowed);
      }
    }
    // …and the whole run took about as long as the rate says: 95 intervals after the burst.
    expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(((100 - burst - 1) * 1000) / 5);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(100);
    await expectFirstAttemptSuccesses(sub.id, 100);
  }, 120_000);

  it('with maxConcurrency 2 a slow receiver never sees more than 2 requests at once', async () => {
    receiver.otherwise('/slow', { status: 200, body: 'ok', delayMs: 1500 });
    const sub = await subscribe('/slow', { maxConcurrency: 2 });
    await publish('/slow', 8);
    await receiver.waitFor('/slow', 8, 60_000);
    expect(receiver.peakInFlight.get('/slow')).toBeLessThanOrEqual(2);
    await expectFirstAttemptSuccesses(sub.id, 8);
  }, 90_000);

  it('a receiver answering 429 without Retry-After sees the rate fall, then climb back once it answers 2xx; nothing dead-lettered', async () => {
    // Two attempts at most: a 429 counted as a failure would dead-letter at the second one.
    receiver.script('/busy', Array.from({ length: 8 }, () => ({ status: 429, body: 'slow down' })));
    const sub = await subscribe('/busy', { rateLimit: { perSecond: 20 }, retryPolicy: { schedule: [1] } });
    await publish('/busy', 40);
    const stats = () => api<{ throttle?: { configuredPerSecond?: number; effectivePerSecond: number | null; backpressure?: { signal: string; throttledSeconds: number } } }>('GET', `/v1/subscriptions/${sub.id}/stats`, tenant.apiKey);
    const lowered = await eventually(async () => {
      const throttle = (await stats()).body.throttle;
      return throttle?.backpressure ? throttle : undefined;
    }, 30_000);
    expect(lowered).toMatchObject({ configuredPerSecond: 20, backpressure: { signal: 'http_429' } });
    expect(lowered.effectivePerSecond!).toBeLessThan(20);
    await receiver.waitFor('/busy', 48, 60_000);
    // Answers are 2xx again: the rate climbs (additively) back towards the configured 20/s.
    await new Promise((r) => setTimeout(r, 3000));
    const later = (await stats()).body.throttle!;
    expect(later.effectivePerSecond === null || later.effectivePerSecond > lowered.effectivePerSecond!).toBe(true);
    const listed = await eventually(async () => {
      const res = await api<{ items: { status: string }[] }>('GET', `/v1/subscriptions/${sub.id}/deliveries?limit=100`, tenant.apiKey);
      return res.body.items.length === 40 && res.body.items.every((d) => d.status === 'succeeded') ? res.body.items : undefined;
    }, 30_000);
    expect(listed).toHaveLength(40);
    const dead = await api<{ items: unknown[] }>('GET', `/v1/dead-letters?subscriptionId=${sub.id}`, tenant.apiKey);
    expect(dead.body.items).toEqual([]);
  }, 120_000);

  it('limits can be changed and removed with PATCH', async () => {
    const sub = await subscribe('/patched', { rateLimit: { perSecond: 2, burst: 4 } });
    const changed = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { rateLimit: { perSecond: 50 }, maxConcurrency: 3 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ rateLimit: { perSecond: 50 }, maxConcurrency: 3 });
    const cleared = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { rateLimit: null, maxConcurrency: null });
    expect(cleared.body.rateLimit).toBeUndefined();
    expect(cleared.body.maxConcurrency).toBeUndefined();
  });
});
