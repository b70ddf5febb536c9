/**
 * The CloudEvents webhook validation handshake on the local runtime (issue #23, items 3 and 4):
 * a receiver that consents with a declared rate activates its subscription at that rate (and
 * deliveries respect it); one that never answers leaves it `pending_validation` with the reason,
 * its events held; approving later through the callback releases them in order. Subscriptions
 * that do not opt in are untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { HandshakeReceiver } from '../support/handshake-receiver.ts';

const ADMIN = 'hk_admin_e2e_validation_000000000000000000000000000';
let herald: HeraldLocal;
let receiver: HandshakeReceiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

type Sub = {
  id: string;
  status: string;
  rateLimit?: { perSecond: number; burst?: number };
  handshake?: { origin: string; lastResult: string; requestedRate?: number; allowedRate?: number | '*'; approvedBy?: string; configuredRateLimit?: unknown };
};

beforeAll(async () => {
  // A receiver that never answers costs the create call this long.
  process.env.HERALD_HANDSHAKE_TIMEOUT_SECONDS = '2';
  process.env.HERALD_WEBHOOK_ORIGIN = 'herald.e2e.example';
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new HandshakeReceiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'validating receivers' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
  delete process.env.HERALD_HANDSHAKE_TIMEOUT_SECONDS;
  delete process.env.HERALD_WEBHOOK_ORIGIN;
});

async function subscribe(path: string, extra: Record<string, unknown> = {}): Promise<Sub> {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix: `${path}:` }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    validation: 'cloudevents',
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Sub;
}

async function publish(path: string, count: number, subject?: string) {
  const events = Array.from({ length: count }, (_, n) => ({ tenantId: tenant.id, type: 'order.created', subject: subject ?? `${path}:${n}`, data: { ...exampleOf('order.created'), seq: n } }));
  const res = await api<{ items: { status: number }[] }>('POST', '/v1/events/batch', ADMIN, { events });
  expect(res.status, JSON.stringify(res.body)).toBe(207);
}

const getSub = async (id: string) => (await api<Sub>('GET', `/v1/subscriptions/${id}`, tenant.apiKey)).body;

describe('webhook validation handshake', () => {
  it('activates a subscription at the rate its receiver declares, and deliveries keep to it', async () => {
    receiver.on('/declares', { mode: 'approve', rate: 120 });
    const sub = await subscribe('/declares', { rateLimit: { perSecond: 10 } });
    expect(sub.status).toBe('active');
    expect(sub.handshake).toMatchObject({ origin: 'herald.e2e.example', requestedRate: 600, allowedRate: 120, approvedBy: 'answer', configuredRateLimit: { perSecond: 10 } });
    expect(sub.rateLimit).toEqual({ perSecond: 2, burst: 2 });
    expect(JSON.stringify(sub)).not.toContain('callbackKeyHash');
    const asked = receiver.handshakes.find((h) => h.path === '/declares')!;
    expect(asked.headers['webhook-request-origin']).toBe('herald.e2e.example');
    expect(asked.headers['webhook-request-rate']).toBe('600');
    expect(String(asked.headers['webhook-request-callback'])).toMatch(new RegExp(`^${herald.url}/v1/validation-callbacks/ten_`));
    expect((await getSub(sub.id)).rateLimit).toEqual({ perSecond: 2, burst: 2 });

    await publish('/declares', 8);
    const got = await eventually(async () => (receiver.deliveriesTo('/declares').length >= 8 ? receiver.deliveriesTo('/declares') : undefined), 20_000);
    // Two at once (the burst), then one each 500 ms: the last no sooner than 3 s after the first.
    const times = got.map((d) => d.at).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_700);
    // After the handshake every delivery names the origin (spec §4.1.2).
    expect(got.every((d) => d.headers['webhook-request-origin'] === 'herald.e2e.example')).toBe(true);
  });

  it('a receiver that never answers leaves it pending_validation; approving later through the callback releases the held events in order', async () => {
    receiver.on('/silent', { mode: 'silent' });
    const sub = await subscribe('/silent', { ordering: 'subject' });
    expect(sub.status).toBe('pending_validation');
    expect(sub.handshake?.lastResult).toMatch(/no answer to the validation request \(timeout/);
    expect((await getSub(sub.id)).status).toBe('pending_validation');

    await publish('/silent', 6, '/silent:one');
    const held = await eventually(async () => {
      const res = await api<{ items: { status: string }[] }>('GET', `/v1/subscriptions/${sub.id}/deliveries?limit=100`, tenant.apiKey);
      return res.body.items.length === 6 && res.body.items.every((d) => d.status === 'held') ? res.body.items : undefined;
    });
    expect(held).toHaveLength(6);
    expect(receiver.deliveriesTo('/silent')).toEqual([]);
    // Held, not resumable: consent is what releases them.
    expect((await api('POST', `/v1/subscriptions/${sub.id}/resume`, tenant.apiKey, {})).status).toBe(409);

    const approval = await receiver.approveByCallback('/silent', { method: 'GET', rate: 6000 });
    expect(approval.status).toBe(200);
    expect(await approval.json()).toEqual({ approved: true });
    const active = await getSub(sub.id);
    expect(active.status).toBe('active');
    expect(active.handshake).toMatchObject({ allowedRate: 6000, approvedBy: 'callback' });
    expect(active.rateLimit).toEqual({ perSecond: 100 });

    const got = await eventually(async () => (receiver.deliveriesTo('/silent').length >= 6 ? receiver.deliveriesTo('/silent') : undefined), 15_000);
    expect(got.map((d) => (JSON.parse(d.body) as { data: { seq: number } }).data.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    // A second call changes nothing.
    expect((await receiver.approveByCallback('/silent')).status).toBe(200);
  });

  it('waits for the callback when the receiver answers without consent; a retried handshake replaces the callback URL', async () => {
    receiver.on('/later', { mode: 'callback' });
    const sub = await subscribe('/later');
    expect(sub.status).toBe('pending_validation');
    expect(sub.handshake?.lastResult).toContain('without WebHook-Allowed-Origin');
    const first = receiver.callbackFor('/later')!;

    receiver.on('/later', { mode: 'approve', origin: 'someone-else.example' });
    const refused = await api<Sub>('POST', `/v1/subscriptions/${sub.id}/validate`, tenant.apiKey, {});
    expect(refused.status).toBe(200);
    expect(refused.body.status).toBe('pending_validation');
    expect(refused.body.handshake?.lastResult).toContain('"someone-else.example" is neither "herald.e2e.example" nor *');
    // Only the newest handshake's callback approves; an older or forged one is an unknown route.
    expect(receiver.callbackFor('/later')).not.toBe(first);
    expect((await fetch(first, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${herald.url}/v1/validation-callbacks/not-a-token`)).status).toBe(404);

    receiver.on('/later', { mode: 'approve', origin: '*' });
    const approved = await api<Sub>('POST', `/v1/subscriptions/${sub.id}/validate`, tenant.apiKey, {});
    expect(approved.body.status).toBe('active');
    expect(approved.body.rateLimit).toBeUndefined();
    expect((await api('POST', `/v1/subscriptions/${sub.id}/validate`, tenant.apiKey, {})).status).toBe(409);
  });

  it('a new destination URL asks again; subscriptions without validation are untouched', async () => {
    receiver.on('/moved-from', { mode: 'approve' });
    const sub = await subscribe('/moved-from');
    expect(sub.status).toBe('active');
    const moved = await api<Sub>('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { destination: { type: 'webhook', url: `${receiver.url}/moved-to` } });
    expect(moved.status).toBe(200);
    expect(moved.body.status).toBe('pending_validation');
    expect(moved.body.handshake?.lastResult).toContain('answered 405');

    const plain = await api<Sub>('POST', '/v1/subscriptions', tenant.apiKey, { name: 'plain', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/plain` } });
    expect(plain.body.status).toBe('active');
    expect(plain.body.handshake).toBeUndefined();
    expect(receiver.handshakes.some((h) => h.path === '/plain')).toBe(false);

    const bad = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'bad', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/bad` }, validation: 'yes' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('validation');
  });
});
