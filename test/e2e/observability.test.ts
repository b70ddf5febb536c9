/**
 * Observability on the local runtime: per-subscription stats that follow a scripted sequence
 * exactly, auto-pause at the threshold announced as `subscription.paused` to another
 * subscription, deliveries held while paused and released (or discarded) on resume, and JSON
 * log lines carrying the correlation ids.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_observability_000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
const logLines: string[] = [];
let counter = 0;

async function subscribe(path: string, extra: Record<string, unknown> = {}) {
  const prefix = `o${++counter}:`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as string, prefix };
}

async function publish(prefix: string, subject = 'order-1') {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${prefix}${subject}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

async function deliveriesOf(subscriptionId: string) {
  return (await api('GET', `/v1/subscriptions/${subscriptionId}/deliveries?limit=100`, tenant.apiKey)).body.items as any[];
}

beforeAll(async () => {
  // DEBUG: the per-delivery success lines exist at DEBUG only (at INFO a batch writes one line).
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(' '));
    });
  }
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'observability' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
});

afterAll(async () => {
  vi.restoreAllMocks();
  await herald?.stop();
  await receiver?.stop();
});

describe('GET /v1/subscriptions/{id}/stats', () => {
  it('reflects a scripted sequence of successes and failures exactly', async () => {
    const sub = await subscribe('/stats', { retryPolicy: { schedule: [1] } });
    const empty = await api('GET', `/v1/subscriptions/${sub.id}/stats`, tenant.apiKey);
    expect(empty.status).toBe(200);
    expect(empty.body.windows['1h']).toMatchObject({ events: 0, attempts: 0, successRate: null });
    expect(empty.body.lastAttemptAt).toBeNull();

    // Event 1: 200. Event 2: 500, then 200 on the retry. Event 3: 503 twice, dead-lettered.
    receiver.script('/stats', [{ status: 200 }]);
    await publish(sub.prefix, 'A');
    await receiver.waitFor('/stats', 1);
    receiver.script('/stats', [{ status: 500 }, { status: 200 }]);
    await publish(sub.prefix, 'B');
    await receiver.waitFor('/stats', 3);
    receiver.script('/stats', [{ status: 503 }, { status: 503 }]);
    await publish(sub.prefix, 'C');
    await eventually(async () => ((await deliveriesOf(sub.id)).filter((d) => d.status === 'failed').length === 1 ? true : undefined));

    const stats = await eventually(async () => {
      const res = await api('GET', `/v1/subscriptions/${sub.id}/stats`, tenant.apiKey);
      // Counters and the health record are written one after the other: wait for both.
      return res.body.windows['1h'].attempts === 5 && res.body.windows['1h'].deadLettered === 1 && res.body.consecutiveFailures === 2 ? res.body : undefined;
    });
    for (const window of ['1h', '24h', '7d']) {
      expect(stats.windows[window]).toMatchObject({
        events: 3,
        attempts: 5,
        succeeded: 2,
        failed: 3,
        retries: 2,
        deadLettered: 1,
        held: 0,
        successRate: 0.4,
        errors: { http_status: 3 },
        statusCodes: { '200': 2, '500': 1, '503': 2 },
      });
      expect(stats.windows[window].responseTimeMs.p50).toBeGreaterThan(0);
      expect(stats.windows[window].responseTimeMs.p95).toBeGreaterThanOrEqual(stats.windows[window].responseTimeMs.p50);
    }
    expect(stats.lastError).toMatchObject({ error: 'http_status', statusCode: 503 });
    expect(Date.parse(stats.lastSuccessAt)).toBeLessThanOrEqual(Date.parse(stats.lastAttemptAt));
    expect(stats.consecutiveFailures).toBe(2);
    expect(stats.status).toBe('active');
    expect(stats.hourly).toHaveLength(24);
    expect(stats.hourly.at(-1)).toMatchObject({ attempts: 5, succeeded: 2, failed: 3 });
  });

  it('answers 404 for another tenant’s subscription', async () => {
    const sub = await subscribe('/stats-private');
    const other = await api('POST', '/v1/tenants', ADMIN, { name: 'other' });
    const res = await api('GET', `/v1/subscriptions/${sub.id}/stats`, other.body.apiKey);
    expect(res.status).toBe(404);
    expect(res.contentType).toContain('application/problem+json');
  });
});

describe('endpoint health', () => {
  it('auto-pauses at the threshold, announces it, holds deliveries and releases them on resume', async () => {
    const watcher = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'ops watcher',
      eventTypes: ['subscription.*'],
      destination: { type: 'webhook', url: `${receiver.url}/ops` },
    });
    expect(watcher.status).toBe(201);
    const sub = await subscribe('/flaky', { retryPolicy: { schedule: [1, 1, 1, 1, 1, 1] }, autoPause: { afterFailures: 3, afterHours: 0 } });
    receiver.script('/flaky', Array.from({ length: 20 }, () => ({ status: 500 })));
    await publish(sub.prefix, 'first');

    const [paused] = await receiver.waitFor('/ops', 1, 20_000);
    const announcement = JSON.parse(paused!.body);
    expect(announcement).toMatchObject({ type: 'subscription.paused', subject: sub.id, tenantid: tenant.id });
    expect(announcement.data).toMatchObject({ subscriptionId: sub.id, consecutiveFailures: 3 });
    expect(announcement.data.reason).toMatch(/3 consecutive failed attempts/);
    // Exactly at the threshold: three attempts reached the endpoint, the fourth was held.
    expect(receiver.on('/flaky')).toHaveLength(3);
    const state = await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey);
    expect(state.body).toMatchObject({ status: 'paused' });
    expect(state.body.pausedReason).toMatch(/consecutive failed attempts/);

    // The failing delivery's next retry and a new event are both held, not dropped.
    await publish(sub.prefix, 'second');
    const held = await eventually(async () => {
      const items = await deliveriesOf(sub.id);
      return items.length === 2 && items.every((d) => d.status === 'held') ? items : undefined;
    }, 20_000);
    expect(held.map((d) => d.subject).sort()).toEqual([`${sub.prefix}first`, `${sub.prefix}second`]);
    expect(receiver.on('/flaky')).toHaveLength(3);
    const stats = (await api('GET', `/v1/subscriptions/${sub.id}/stats`, tenant.apiKey)).body;
    expect(stats.windows['1h']).toMatchObject({ attempts: 3, failed: 3, held: 2 });
    expect(stats.status).toBe('paused');

    // The endpoint is fixed; resuming releases both held deliveries.
    receiver.script('/flaky', []);
    const resumed = await api('POST', `/v1/subscriptions/${sub.id}/resume`, tenant.apiKey, {});
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ released: 2, discarded: 0, subscription: { status: 'active' } });
    const after = await receiver.waitFor('/flaky', 5);
    expect(after.slice(3).map((r) => JSON.parse(r.body).subject).sort()).toEqual([`${sub.prefix}first`, `${sub.prefix}second`]);
    // The held retry keeps its webhook-id: receivers deduplicate on it.
    expect(after.slice(3).map((r) => r.headers['webhook-id'])).toContain(after[0]!.headers['webhook-id']);
    await eventually(async () => ((await deliveriesOf(sub.id)).every((d) => d.status === 'succeeded') ? true : undefined));
    const [, resumedEvent] = await receiver.waitFor('/ops', 2);
    expect(JSON.parse(resumedEvent!.body)).toMatchObject({ type: 'subscription.resumed', data: { subscriptionId: sub.id, releasedDeliveries: 2 } });
  });

  it('pausing by hand holds deliveries, and resume can discard them instead', async () => {
    const sub = await subscribe('/manual');
    const paused = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { status: 'paused' });
    expect(paused.body).toMatchObject({ status: 'paused', pausedReason: 'paused by the tenant' });
    await publish(sub.prefix, 'x');
    await publish(sub.prefix, 'y');
    await eventually(async () => ((await deliveriesOf(sub.id)).filter((d) => d.status === 'held').length === 2 ? true : undefined));
    const held = await api('GET', `/v1/subscriptions/${sub.id}/deliveries?status=held`, tenant.apiKey);
    expect(held.body.items).toHaveLength(2);
    const resumed = await api('POST', `/v1/subscriptions/${sub.id}/resume`, tenant.apiKey, { held: 'discard' });
    expect(resumed.body).toMatchObject({ released: 0, discarded: 2 });
    const items = await deliveriesOf(sub.id);
    expect(items.map((d) => d.status)).toEqual(['discarded', 'discarded']);
    expect(items[0].reason).toMatch(/discarded/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.on('/manual')).toHaveLength(0);
    // Resumed for real: new events flow again.
    await publish(sub.prefix, 'z');
    await receiver.waitFor('/manual', 1);
  });

  it('refuses a bad auto-pause setting with the field named', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/bad` },
      autoPause: { afterFailures: 0 },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('autoPause.afterFailures');
    const resume = await api('POST', `/v1/subscriptions/sub_nope/resume`, tenant.apiKey, { held: 'later' });
    expect(resume.status).toBe(400);
    expect(resume.body.errors[0].path).toBe('held');
  });
});

describe('logs', () => {
  it('are JSON lines carrying tenant, subscription, event and delivery ids', async () => {
    const sub = await subscribe('/logged');
    const eventId = await publish(sub.prefix);
    const [request] = await receiver.waitFor('/logged', 1);
    const deliveryId = String(request!.headers['webhook-id']);
    const line = await eventually(async () =>
      logLines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.deliveryId === deliveryId && l.message === 'delivered'),
    );
    expect(line).toMatchObject({ level: 'DEBUG', service: 'herald', tenantId: tenant.id, subscriptionId: sub.id, eventId, deliveryId });
    expect(line.timestamp).toBeTruthy();
    const fanout = logLines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.eventId === eventId && l.message === 'fanned out');
    expect(fanout).toMatchObject({ level: 'DEBUG', tenantId: tenant.id, eventType: 'order.created' });
    // At the deployed INFO level, the success path writes one summary line per deliver batch.
    const summary = logLines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.message === 'batch done' && l.succeeded >= 1);
    expect(summary).toMatchObject({ level: 'INFO', records: expect.any(Number) });
  });
});
