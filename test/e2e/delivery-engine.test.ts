/**
 * The delivery engine on the local runtime: retry schedules within jitter, Retry-After, 410
 * pausing, timeouts, redirects, exhaustion into dead letters with a reason, redrive, resend and
 * resend by subject.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_delivery_engine_00000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;

/**
 * Each test gets its own subscription to order.created, isolated by a content filter on a
 * subject prefix of its own: real catalogue types, and tests that don't see each other's events.
 */
interface TestSubscription {
  id: string;
  secret: string;
  prefix: string;
}

async function subscribe(path: string, extra: Record<string, unknown> = {}, url = `${receiver.url}${path}`): Promise<TestSubscription> {
  const prefix = `t${++counter}:`;
  const { destination, ...rest } = extra as { destination?: Record<string, unknown> };
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url, ...destination },
    ...rest,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...(res.body as { id: string; secret: string }), prefix };
}

async function publish(sub: TestSubscription, subject = 'order-1') {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${sub.prefix}${subject}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

async function deliveryWhen(id: string, done: (d: any) => boolean, timeoutMs = 15_000) {
  return eventually(async () => {
    const res = await api('GET', `/v1/deliveries/${id}`, tenant.apiKey);
    return res.status === 200 && done(res.body) ? res.body : undefined;
  }, timeoutMs);
}

const gapsOf = (times: number[]) => times.slice(1).map((t, i) => (t - times[i]!) / 1000);

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Engine' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

describe('retry schedule', () => {
  it('follows an explicit schedule within jitter and records every attempt', async () => {
    const sub = await subscribe('/schedule', { retryPolicy: { schedule: [1, 2, 3] } });
    receiver.script('/schedule', [{ status: 500 }, { status: 502 }, { status: 500 }]);
    await publish(sub);
    const requests = await receiver.waitFor('/schedule', 4, 25_000);
    const gaps = gapsOf(requests.map((r) => r.at));
    [1, 2, 3].forEach((delay, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(delay * 0.8 - 0.05);
      // Jitter (+20 %) plus the local poller's pick-up latency.
      expect(gaps[i]).toBeLessThanOrEqual(delay * 1.2 + 1.5);
    });
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const delivery = await deliveryWhen(String(requests[0]!.headers['webhook-id']), (d) => d.status === 'succeeded');
    expect(delivery.attempts.map((a: any) => [a.number, a.statusCode])).toEqual([[1, 500], [2, 502], [3, 500], [4, 200]]);
    expect(delivery.attempts.slice(0, 3).every((a: any) => typeof a.nextAttemptAt === 'string')).toBe(true);
  });

  it('honours Retry-After on 503, capped by the policy', async () => {
    const sub = await subscribe('/retry-after', { retryPolicy: { schedule: [1, 3] } });
    receiver.script('/retry-after', [{ status: 503, headers: { 'retry-after': '2' } }, { status: 429, headers: { 'retry-after': '3600' } }]);
    await publish(sub);
    const requests = await receiver.waitFor('/retry-after', 3, 20_000);
    const gaps = gapsOf(requests.map((r) => r.at));
    expect(gaps[0]).toBeGreaterThanOrEqual(1.95);
    expect(gaps[0]).toBeLessThanOrEqual(3.5);
    // Retry-After: 3600 is capped by the policy's longest delay (3 s).
    expect(gaps[1]).toBeGreaterThanOrEqual(2.95);
    expect(gaps[1]).toBeLessThanOrEqual(4.5);
    const delivery = await deliveryWhen(String(requests[0]!.headers['webhook-id']), (d) => d.status === 'succeeded');
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 503, retryAfterSeconds: 2 });
  });
});

describe('response handling', () => {
  it('pauses the subscription on 410 Gone and stops retrying', async () => {
    const sub = await subscribe('/gone', { retryPolicy: { schedule: [1, 1, 1] } });
    receiver.script('/gone', [{ status: 410 }]);
    await publish(sub);
    const [request] = await receiver.waitFor('/gone', 1);
    const delivery = await deliveryWhen(String(request!.headers['webhook-id']), (d) => d.status === 'failed');
    expect(delivery.reason).toMatch(/410/);
    expect(delivery.attempts).toHaveLength(1);
    expect((await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey)).body.status).toBe('paused');
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.on('/gone')).toHaveLength(1);
  });

  it('counts a timeout as a failed attempt and retries', async () => {
    const sub = await subscribe('/slow', { destination: { timeoutSeconds: 1 }, retryPolicy: { schedule: [1] } });
    receiver.script('/slow', [{ status: 200, delayMs: 2500 }]);
    await publish(sub);
    const [first] = await receiver.waitFor('/slow', 2, 15_000);
    const delivery = await deliveryWhen(String(first!.headers['webhook-id']), (d) => d.status === 'succeeded');
    expect(delivery.attempts[0]).toMatchObject({ number: 1, error: 'timeout' });
    expect(delivery.attempts[0].durationMs).toBeLessThan(2400);
    expect(delivery.attempts[1]).toMatchObject({ number: 2, statusCode: 200 });
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    const sub = await subscribe('/redirect', { retryPolicy: { schedule: [1] } });
    receiver.script('/redirect', [{ status: 302, headers: { location: `${receiver.url}/elsewhere` } }]);
    await publish(sub);
    const [first] = await receiver.waitFor('/redirect', 2, 15_000);
    const delivery = await deliveryWhen(String(first!.headers['webhook-id']), (d) => d.status === 'succeeded');
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 302, error: 'redirect' });
    expect(receiver.on('/elsewhere')).toHaveLength(0);
  });

  it('records connection failures by class', async () => {
    // A port that was just free: nothing listens there (ports below 1024 are refused at create).
    const closed = createServer();
    const port = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as AddressInfo).port)));
    await new Promise((resolve) => closed.close(resolve));
    const sub = await subscribe('/refused', { retryPolicy: { schedule: [], maxAttempts: 1 } }, `http://127.0.0.1:${port}/nothing-listens`);
    await publish(sub);
    const letters = await eventually(async () => {
      const list = await api('GET', `/v1/dead-letters?subscriptionId=${sub.id}`, tenant.apiKey);
      return list.body.items?.length ? list.body.items : undefined;
    });
    expect(letters[0].attempts[0]).toMatchObject({ error: 'connection_refused' });
  });
});

describe('exhaustion, dead letters and redrive', () => {
  it('parks an exhausted delivery with its reason, then redrive delivers it', async () => {
    const sub = await subscribe('/exhaust', { retryPolicy: { schedule: [1], maxAttempts: 2 } });
    receiver.script('/exhaust', [{ status: 500, body: 'down' }, { status: 500, body: 'still down' }]);
    await publish(sub);
    const [first] = await receiver.waitFor('/exhaust', 2);
    const id = String(first!.headers['webhook-id']);
    const failed = await deliveryWhen(id, (d) => d.status === 'failed');
    expect(failed.reason).toMatch(/exhausted after 2 attempt\(s\).*HTTP 500/);
    expect(failed.finishedAt).toEqual(expect.any(String));

    const letters = await eventually(async () => {
      const res = await api('GET', '/v1/dead-letters', tenant.apiKey);
      const found = res.body.items?.find((d: any) => d.id === id);
      return found ? res.body.items : undefined;
    });
    expect(letters.find((d: any) => d.id === id)).toMatchObject({ status: 'failed', reason: expect.stringContaining('HTTP 500') });

    const redrive = await api('POST', '/v1/dead-letters/redrive', tenant.apiKey, { subscriptionId: sub.id });
    expect(redrive.status).toBe(202);
    expect(redrive.body.count).toBe(1);
    await receiver.waitFor('/exhaust', 3);
    const delivered = await deliveryWhen(id, (d) => d.status === 'succeeded');
    expect(delivered.attempts.map((a: any) => a.number)).toEqual([1, 2, 3]);
    const after = await api('GET', '/v1/dead-letters', tenant.apiKey);
    expect(after.body.items.find((d: any) => d.id === id)).toBeUndefined();
  });

  it('redrives only the caller’s dead letters', async () => {
    const other = (await api('POST', '/v1/tenants', ADMIN, { name: 'Other engine' })).body;
    const res = await api('POST', '/v1/dead-letters/redrive', other.apiKey, {});
    expect(res.status).toBe(202);
    expect(res.body.count).toBe(0);
    expect((await api('GET', '/v1/dead-letters', other.apiKey)).body.items).toEqual([]);
  });
});

describe('resend', () => {
  it('resends one delivery as a new delivery of the same event', async () => {
    const sub = await subscribe('/resend');
    const eventId = await publish(sub);
    const [original] = await receiver.waitFor('/resend', 1);
    const res = await api('POST', `/v1/deliveries/${String(original!.headers['webhook-id'])}/resend`, tenant.apiKey);
    expect(res.status).toBe(202);
    expect(res.body.deliveryId).not.toBe(original!.headers['webhook-id']);
    const [, again] = await receiver.waitFor('/resend', 2);
    expect(again!.headers['webhook-id']).toBe(res.body.deliveryId);
    expect(JSON.parse(again!.body).id).toBe(eventId);
  });

  it('resends by subject only the matching kept events, even while paused', async () => {
    const sub = await subscribe('/by-subject');
    await publish(sub, 'TRK-1');
    await publish(sub, 'TRK-2');
    await publish(sub, 'TRK-1');
    await receiver.waitFor('/by-subject', 3);
    await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { status: 'paused' });
    const res = await api('POST', `/v1/subscriptions/${sub.id}/resend`, tenant.apiKey, { subject: `${sub.prefix}TRK-1` });
    expect(res.status).toBe(202);
    expect(res.body.count).toBe(2);
    const all = await receiver.waitFor('/by-subject', 5);
    const resent = all.slice(3).map((r) => JSON.parse(r.body).subject);
    expect(resent).toEqual([`${sub.prefix}TRK-1`, `${sub.prefix}TRK-1`]);
    const ids = all.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(5);
  });

  it('resends by time range and validates the range', async () => {
    const sub = await subscribe('/by-time');
    const from = new Date().toISOString();
    await publish(sub, 'A');
    await publish(sub, 'B');
    await receiver.waitFor('/by-time', 2);
    const res = await api('POST', `/v1/subscriptions/${sub.id}/resend`, tenant.apiKey, { from, to: new Date(Date.now() + 1000).toISOString() });
    expect(res.body.count).toBe(2);
    await receiver.waitFor('/by-time', 4);
    const bad = await api('POST', `/v1/subscriptions/${sub.id}/resend`, tenant.apiKey, {});
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('subject');
    const reversed = await api('POST', `/v1/subscriptions/${sub.id}/resend`, tenant.apiKey, { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' });
    expect(reversed.status).toBe(400);
  });
});
