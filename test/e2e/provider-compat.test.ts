/**
 * Provider compatibility on the local runtime: a platform moves its existing webhook customers
 * to Herald unchanged — its success rule (`successStatus`), its signing secrets (imported, whsec_
 * or raw), its body shape (a JSONata transform on a webhook, signed over the bytes sent) and its
 * environment name on every event.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver, type Received } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_provider_compat_0000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;

interface TestSubscription {
  id: string;
  secret?: string;
  prefix: string;
}

async function subscribe(path: string, extra: Record<string, unknown> = {}): Promise<TestSubscription & { body: Record<string, unknown> }> {
  const prefix = `pc${++counter}:`;
  const { destination, ...rest } = extra as { destination?: Record<string, unknown> };
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}`, ...destination },
    ...rest,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...(res.body as { id: string; secret?: string }), prefix, body: res.body };
}

async function publish(sub: TestSubscription, subject = 'order-1'): Promise<string> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${sub.prefix}${subject}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const headersOf = (request: Received) => ({
  'webhook-id': String(request.headers['webhook-id']),
  'webhook-timestamp': String(request.headers['webhook-timestamp']),
  'webhook-signature': String(request.headers['webhook-signature']),
});

/** What a provider that signs with a plain string computes: HMAC-SHA256 keyed by its UTF-8 bytes. */
const providerSignature = (raw: string, request: Received) =>
  createHmac('sha256', Buffer.from(raw, 'utf8')).update(`${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.${request.body}`).digest('base64');

beforeAll(async () => {
  // Handlers read their environment at cold start: set before the runtime loads them.
  process.env.HERALD_ENVIRONMENT = 'sandbox';
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Provider compat' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
  delete process.env.HERALD_ENVIRONMENT;
});

describe('successStatus', () => {
  it('with [200], a 201 is a failed attempt with its status, retried until a 200', async () => {
    const sub = await subscribe('/only-200', { successStatus: [200], retryPolicy: { schedule: [1, 1, 1] } });
    expect(sub.body.successStatus).toEqual([200]);
    receiver.script('/only-200', [{ status: 201, body: 'created' }, { status: 201 }, { status: 200 }]);
    await publish(sub);
    const requests = await receiver.waitFor('/only-200', 3, 20_000);
    const deliveryId = String(requests[0]!.headers['webhook-id']);
    const delivery = await eventually(async () => {
      const res = await api('GET', `/v1/deliveries/${deliveryId}`, tenant.apiKey);
      return res.status === 200 && res.body.status === 'succeeded' ? res.body : undefined;
    }, 15_000);
    expect(delivery.attempts.map((a: { statusCode: number; error?: string }) => [a.statusCode, a.error ?? null])).toEqual([
      [201, 'http_status'],
      [201, 'http_status'],
      [200, null],
    ]);
  });

  it('the default "2xx" takes a 201', async () => {
    const sub = await subscribe('/any-2xx', { retryPolicy: { schedule: [1] } });
    receiver.script('/any-2xx', [{ status: 201 }]);
    await publish(sub);
    const [request] = await receiver.waitFor('/any-2xx', 1);
    const delivery = await eventually(async () => {
      const res = await api('GET', `/v1/deliveries/${String(request!.headers['webhook-id'])}`, tenant.apiKey);
      return res.status === 200 && res.body.status !== 'pending' ? res.body : undefined;
    });
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: [{ statusCode: 201 }] });
  });

  it('is validated, can be patched back to the default, and does not apply to EventBridge', async () => {
    for (const bad of [[], [99], [200, 200], '201', 'xx']) {
      const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
        name: 'bad',
        eventTypes: ['order.created'],
        destination: { type: 'webhook', url: `${receiver.url}/bad` },
        successStatus: bad,
      });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    const bus = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bus',
      eventTypes: ['order.created'],
      destination: { type: 'eventbridge', eventBusArn: 'arn:aws:events:us-east-1:000000000000:event-bus/elsewhere' },
      successStatus: [200],
    });
    expect(bus.status).toBe(400);
    const sub = await subscribe('/patched', { successStatus: [200, 202] });
    const cleared = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { successStatus: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.successStatus).toBeUndefined();
  });
});

describe('imported secrets', () => {
  it('a whsec_ secret: not answered back, and deliveries verify with it (standardwebhooks)', async () => {
    const theirs = `whsec_${randomBytes(32).toString('base64')}`;
    const sub = await subscribe('/import-whsec', { secret: theirs });
    expect(sub.secret).toBeUndefined();
    expect(JSON.stringify(sub.body)).not.toContain(theirs.slice(6));
    const read = await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey);
    expect(JSON.stringify(read.body)).not.toContain(theirs.slice(6));
    await publish(sub);
    const [request] = await receiver.waitFor('/import-whsec', 1);
    expect(() => new Webhook(theirs).verify(request!.body, headersOf(request!))).not.toThrow();
  });

  it('a raw secret signs as the provider did: HMAC-SHA256 keyed by its bytes', async () => {
    const raw = `sk_live_${randomBytes(24).toString('hex')}`;
    const sub = await subscribe('/import-raw', { secret: raw });
    expect(sub.secret).toBeUndefined();
    await publish(sub);
    const [request] = await receiver.waitFor('/import-raw', 1);
    expect(request!.headers['webhook-signature']).toBe(`v1,${providerSignature(raw, request!)}`);
    const asWhsec = `whsec_${Buffer.from(raw, 'utf8').toString('base64')}`;
    expect(() => new Webhook(asWhsec).verify(request!.body, headersOf(request!))).not.toThrow();
  });

  it('refuses secrets too weak or malformed to import', async () => {
    for (const secret of ['too-short', `whsec_${randomBytes(16).toString('base64')}`, 'whsec_%%%', `${'x'.repeat(20)} ${'y'.repeat(20)}`]) {
      const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
        name: 'weak',
        eventTypes: ['order.created'],
        destination: { type: 'webhook', url: `${receiver.url}/weak` },
        secret,
      });
      expect(res.status, secret).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain(secret);
    }
  });

  it('rotating to an imported secret: answered {}, both secrets sign during the overlap', async () => {
    const sub = await subscribe('/rotate-import');
    const raw = `legacy-${randomBytes(20).toString('hex')}`;
    const rotated = await api('POST', `/v1/subscriptions/${sub.id}/rotate-secret`, tenant.apiKey, { secret: raw });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body).toEqual({});
    await publish(sub);
    const [request] = await receiver.waitFor('/rotate-import', 1);
    const signatures = String(request!.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures).toContain(`v1,${providerSignature(raw, request!)}`);
    expect(() => new Webhook(sub.secret!).verify(request!.body, headersOf(request!))).not.toThrow();
    const bad = await api('POST', `/v1/subscriptions/${sub.id}/rotate-secret`, tenant.apiKey, { secret: 'short' });
    expect(bad.status).toBe(400);
  });
});

describe('webhook body templates and environment', () => {
  it('a webhook with a transform receives the transformed body, signed over exactly those bytes', async () => {
    const transform = '{"kind": type, "ref": subject, "env": environment, "order": data.orderId, "skus": [data.items.sku]}';
    const sub = await subscribe('/templated', { destination: { transform } });
    await publish(sub, 'order-42');
    const [request] = await receiver.waitFor('/templated', 1);
    const body = JSON.parse(request!.body);
    expect(body).toEqual({ kind: 'order.created', ref: `${sub.prefix}order-42`, env: 'sandbox', order: 'OM-100234', skus: ['TSHIRT-M-BLK'] });
    expect(() => new Webhook(sub.secret!).verify(request!.body, headersOf(request!))).not.toThrow();
  });

  it('a transform is checked when the subscription is saved', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'broken',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/broken`, transform: '{"a": ' },
    });
    expect(res.status).toBe(400);
  });

  it('events carry the stack environment as the CloudEvents attribute `environment`', async () => {
    const sub = await subscribe('/environment');
    const eventId = await publish(sub);
    const [request] = await receiver.waitFor('/environment', 1);
    expect(JSON.parse(request!.body)).toMatchObject({ id: eventId, environment: 'sandbox', specversion: '1.0' });
    const test = await api('POST', `/v1/subscriptions/${sub.id}/test`, tenant.apiKey, {});
    expect(test.status).toBe(202);
    const [, ping] = await receiver.waitFor('/environment', 2);
    expect(JSON.parse(ping!.body)).toMatchObject({ type: 'herald.ping', environment: 'sandbox' });
  });
});

describe('legacy signature header (migrations)', () => {
  it("signs in the provider's own header, the provider's way, beside the Standard Webhooks headers", async () => {
    const raw = `omisell-${randomBytes(24).toString('hex')}`;
    const sub = await subscribe('/legacy', {
      secret: raw,
      destination: { legacySignature: { header: 'Authorization', over: 'body', encoding: 'hex', prefix: 'HMAC-SHA256 ' } },
    });
    await publish(sub);
    const [request] = await receiver.waitFor('/legacy', 1);
    const expected = createHmac('sha256', Buffer.from(raw, 'utf8')).update(request!.body).digest('hex');
    expect(request!.headers.authorization).toBe(`HMAC-SHA256 ${expected}`);
    expect(request!.headers['webhook-signature']).toBe(`v1,${providerSignature(raw, request!)}`);
    // A tampered body would not verify: the header is bound to these exact bytes.
    expect(createHmac('sha256', Buffer.from(raw, 'utf8')).update(`${request!.body} `).digest('hex')).not.toBe(expected);
  });

  it('can sign timestamp.body in base64 and leave the Standard Webhooks headers out', async () => {
    const raw = `provider-${randomBytes(24).toString('hex')}`;
    const sub = await subscribe('/legacy-ts', {
      secret: raw,
      destination: { legacySignature: { header: 'X-Signature', over: 'timestamp.body', encoding: 'base64', standardHeaders: false } },
    });
    await publish(sub);
    const [request] = await receiver.waitFor('/legacy-ts', 1);
    expect(request!.headers['webhook-signature']).toBeUndefined();
    const signature = String(request!.headers['x-signature']);
    const seconds = Math.floor(Date.now() / 1000);
    const candidates = [seconds, seconds - 1, seconds - 2, seconds - 3].map((t) => createHmac('sha256', Buffer.from(raw, 'utf8')).update(`${t}.${request!.body}`).digest('base64'));
    expect(candidates).toContain(signature);
  });

  it('refuses a header Herald owns, or one the subscription also sets', async () => {
    for (const [legacySignature, headers, path] of [
      [{ header: 'webhook-signature' }, undefined, 'destination.legacySignature.header'],
      [{ header: 'Authorization' }, { authorization: 'Bearer x' }, 'destination.legacySignature.header'],
      [{ header: 'X-Sig', encoding: 'binary' }, undefined, 'destination.legacySignature.encoding'],
    ] as const) {
      const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
        name: 'bad legacy',
        eventTypes: ['order.created'],
        destination: { type: 'webhook', url: `${receiver.url}/never`, legacySignature, ...(headers ? { headers } : {}) },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });
});
