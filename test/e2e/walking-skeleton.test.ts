/**
 * The walking skeleton end to end on the local runtime: REST API → DynamoDB → local EventBridge
 * → fan-out → SQS → deliver → signed webhook to a loopback receiver. Real handlers, real AWS SDK
 * clients, dynalite and fauxqs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_walking_skeleton_0000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

async function subscribe(key: string, body: Record<string, unknown>) {
  const res = await api('POST', '/v1/subscriptions', key, { name: 'test', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

async function publish(body: Record<string, unknown> & { type: string }) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, subject: 'order-1', data: exampleOf(body.type), ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { id: string };
}

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const res = await api('POST', '/v1/tenants', ADMIN, { name: 'Acme Fulfilment' });
  expect(res.status).toBe(201);
  tenant = res.body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

describe('authentication', () => {
  it('answers 401 problem+json without a key or with a wrong key', async () => {
    for (const key of [undefined, 'hk_nope_nothing', ADMIN.slice(0, -1)]) {
      const res = await api('GET', '/v1/subscriptions', key);
      expect(res.status).toBe(401);
      expect(res.contentType).toContain('application/problem+json');
    }
  });

  it('refuses admin routes to a tenant key with 403', async () => {
    const res = await api('POST', '/v1/tenants', tenant.apiKey, { name: 'x' });
    expect(res.status).toBe(403);
    const publishRes = await api('POST', '/v1/events', tenant.apiKey, { tenantId: tenant.id, type: 'order.created', subject: 's', data: exampleOf('order.created') });
    expect(publishRes.status).toBe(403);
  });

  it('creates a tenant with a key shown once, usable at once', async () => {
    const res = await api('POST', '/v1/tenants', ADMIN, { name: 'Second' });
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^ten_/), name: 'Second', apiKey: expect.stringMatching(/^hk_/) });
    expect((await api('GET', '/v1/subscriptions', res.body.apiKey)).status).toBe(200);
  });
});

describe('publish → signed webhook', () => {
  it('delivers a matching event once, signed, with the CloudEvents body of the contract', async () => {
    const matching = await subscribe(tenant.apiKey, { eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/match`, headers: { 'x-api-token': 'abc' } } });
    await subscribe(tenant.apiKey, { eventTypes: ['shipment.*'], destination: { type: 'webhook', url: `${receiver.url}/nomatch` } });

    const data = { ...exampleOf('order.created'), total: 12.5 };
    const { id } = await publish({ type: 'order.created', subject: 'order-42', data });
    const [request] = await receiver.waitFor('/match', 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.on('/match')).toHaveLength(1);
    expect(receiver.on('/nomatch')).toHaveLength(0);

    const body = JSON.parse(request!.body);
    expect(body).toEqual({
      specversion: '1.0',
      id,
      source: expect.any(String),
      type: 'order.created',
      time: expect.any(String),
      subject: 'order-42',
      datacontenttype: 'application/json',
      tenantid: tenant.id,
      dataschema: 'urn:herald:event-types:order.created:v1',
      data,
    });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['x-api-token']).toBe('abc');
    const headers = {
      'webhook-id': String(request!.headers['webhook-id']),
      'webhook-timestamp': String(request!.headers['webhook-timestamp']),
      'webhook-signature': String(request!.headers['webhook-signature']),
    };
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(new StandardWebhook(matching.secret).verify(request!.body, headers)).toEqual(body);
    expect(new SvixWebhook(matching.secret).verify(request!.body, headers)).toEqual(body);
    expect(() => new StandardWebhook(matching.secret).verify(request!.body.replace('12.5', '13'), headers)).toThrow();

    const deliveries = await eventually(async () => {
      const res = await api('GET', `/v1/subscriptions/${matching.id}/deliveries`, tenant.apiKey);
      return res.body.items?.length ? res.body.items : undefined;
    });
    expect(deliveries[0]).toMatchObject({ id: headers['webhook-id'], eventId: id, status: 'succeeded', attempts: [{ number: 1, statusCode: 200 }] });
  });

  it('retries a 500 and delivers on the next attempt with the same webhook-id', async () => {
    const sub = await subscribe(tenant.apiKey, {
      eventTypes: ['order.shipped'],
      destination: { type: 'webhook', url: `${receiver.url}/flaky` },
      retryPolicy: { schedule: [1, 1] },
    });
    receiver.script('/flaky', [{ status: 500, body: 'boom' }]);
    await publish({ type: 'order.shipped' });
    const [first, second] = await receiver.waitFor('/flaky', 2);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(700);

    const delivery = await eventually(async () => {
      const res = await api('GET', `/v1/deliveries/${String(first!.headers['webhook-id'])}`, tenant.apiKey);
      return res.body?.status === 'succeeded' ? res.body : undefined;
    });
    expect(delivery.attempts).toMatchObject([
      { number: 1, statusCode: 500, error: 'http_status', responseExcerpt: 'boom', nextAttemptAt: expect.any(String) },
      { number: 2, statusCode: 200 },
    ]);
    expect(sub.id).toBe(delivery.subscriptionId);
  });

  it('publishing the same event id twice produces one delivery', async () => {
    await subscribe(tenant.apiKey, { eventTypes: ['order.cancelled'], destination: { type: 'webhook', url: `${receiver.url}/once` } });
    const first = await publish({ type: 'order.cancelled', id: 'evt-dup-1' });
    const second = await publish({ type: 'order.cancelled', id: 'evt-dup-1' });
    expect(second.id).toBe(first.id);
    await receiver.waitFor('/once', 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(receiver.on('/once')).toHaveLength(1);
  });

  it('matches order.all and order.* to every order event and nothing else; * to everything', async () => {
    await subscribe(tenant.apiKey, { eventTypes: ['order.all'], destination: { type: 'webhook', url: `${receiver.url}/order-all` } });
    await subscribe(tenant.apiKey, { eventTypes: ['order.*'], destination: { type: 'webhook', url: `${receiver.url}/order-star` } });
    await subscribe(tenant.apiKey, { eventTypes: ['*'], destination: { type: 'webhook', url: `${receiver.url}/everything` } });
    const before = receiver.on('/everything').length;
    await publish({ type: 'order.si.generate' });
    await publish({ type: 'order.return_receive' });
    await publish({ type: 'shipment.delivered' });
    await receiver.waitFor('/order-all', 2);
    await receiver.waitFor('/order-star', 2);
    await receiver.waitFor('/everything', before + 3);
    await new Promise((r) => setTimeout(r, 500));
    const types = (path: string) => receiver.on(path).map((r) => JSON.parse(r.body).type).sort();
    expect(types('/order-all')).toEqual(['order.return_receive', 'order.si.generate']);
    expect(types('/order-star')).toEqual(['order.return_receive', 'order.si.generate']);
  });

  it('applies a content filter and sends thin payloads without data', async () => {
    await subscribe(tenant.apiKey, {
      eventTypes: ['purchase_order.submitted'],
      filter: { data: { ReceivingLocation: ['LF500'] } },
      payload: 'thin',
      destination: { type: 'webhook', url: `${receiver.url}/filtered` },
    });
    await publish({ type: 'purchase_order.submitted', subject: 'po-1', data: { ...exampleOf('purchase_order.submitted'), ReceivingLocation: 'XX1' } });
    await publish({ type: 'purchase_order.submitted', subject: 'po-2', data: { ...exampleOf('purchase_order.submitted'), ReceivingLocation: 'LF500' } });
    const [request] = await receiver.waitFor('/filtered', 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.on('/filtered')).toHaveLength(1);
    const body = JSON.parse(request!.body);
    expect(body.subject).toBe('po-2');
    expect(body).not.toHaveProperty('data');
  });

  it('sends a herald.ping on /test and signs with old and new secret after a rotation', async () => {
    const sub = await subscribe(tenant.apiKey, { eventTypes: ['subscription.resumed'], destination: { type: 'webhook', url: `${receiver.url}/ping` } });
    const rotated = await api('POST', `/v1/subscriptions/${sub.id}/rotate-secret`, tenant.apiKey);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    const test = await api('POST', `/v1/subscriptions/${sub.id}/test`, tenant.apiKey);
    expect(test.status).toBe(202);
    const [request] = await receiver.waitFor('/ping', 1);
    expect(request!.headers['webhook-id']).toBe(test.body.deliveryId);
    expect(JSON.parse(request!.body).type).toBe('herald.ping');
    const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(request!.headers[h])]));
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new StandardWebhook(sub.secret).verify(request!.body, headers)).not.toThrow();
    expect(() => new StandardWebhook(rotated.body.secret).verify(request!.body, headers)).not.toThrow();
  });
});

describe('subscriptions CRUD and tenant isolation', () => {
  it('gets, lists, patches and deletes, never showing secrets', async () => {
    const sub = await subscribe(tenant.apiKey, { eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/crud` } });
    const got = await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey);
    expect(got.status).toBe(200);
    expect(got.body).not.toHaveProperty('secret');
    expect(got.body).not.toHaveProperty('secrets');
    const patched = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { status: 'paused', eventTypes: ['shipment.all'] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'paused', eventTypes: ['shipment.*'] });
    const listed = await api('GET', '/v1/subscriptions?limit=100', tenant.apiKey);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toContain(sub.id);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect((await api('DELETE', `/v1/subscriptions/${sub.id}`, tenant.apiKey)).status).toBe(204);
    expect((await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey)).status).toBe(404);
  });

  it('answers 404 for another tenant’s subscription and deliveries', async () => {
    const other = (await api('POST', '/v1/tenants', ADMIN, { name: 'Other' })).body;
    const sub = await subscribe(tenant.apiKey, { eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/mine` } });
    for (const [method, path] of [
      ['GET', `/v1/subscriptions/${sub.id}`],
      ['PATCH', `/v1/subscriptions/${sub.id}`],
      ['DELETE', `/v1/subscriptions/${sub.id}`],
      ['GET', `/v1/subscriptions/${sub.id}/deliveries`],
      ['POST', `/v1/subscriptions/${sub.id}/test`],
      ['POST', `/v1/subscriptions/${sub.id}/rotate-secret`],
    ] as const) {
      const res = await api(method, path, other.apiKey, method === 'PATCH' ? { name: 'stolen' } : undefined);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain(tenant.id);
    }
    const list = await api('GET', '/v1/subscriptions', other.apiKey);
    expect(list.body.items).toEqual([]);
    expect((await api('GET', `/v1/subscriptions?tenantId=${tenant.id}`, other.apiKey)).status).toBe(404);
  });

  it('lets the admin act for a tenant it names', async () => {
    const res = await api('POST', '/v1/subscriptions', ADMIN, { tenantId: tenant.id, name: 'by admin', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/admin` } });
    expect(res.status).toBe(201);
    expect((await api('GET', `/v1/subscriptions/${res.body.id}?tenantId=${tenant.id}`, ADMIN)).status).toBe(200);
    const missing = await api('GET', `/v1/subscriptions/${res.body.id}`, ADMIN);
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].path).toBe('tenantId');
  });
});

describe('bad input answers 4xx problem+json naming the field', () => {
  const cases: [string, string, () => string, unknown, string][] = [
    ['POST', '/v1/tenants', () => ADMIN, {}, 'name'],
    ['POST', '/v1/tenants', () => ADMIN, { name: 'x', extra: 1 }, 'extra'],
    ['POST', '/v1/events', () => ADMIN, { tenantId: 'ten_x', type: 'Order Created!', subject: 's', data: {} }, 'type'],
    ['POST', '/v1/events', () => ADMIN, { tenantId: 'ten_x', type: 'order.craeted', subject: 's', data: {} }, 'type'],
    ['POST', '/v1/events', () => ADMIN, { tenantId: 'ten_x', type: 'order.created', subject: 's', data: {}, version: 99 }, 'version'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.created', 'nosuch.*'], destination: { type: 'webhook', url: 'http://127.0.0.1/' } }, 'eventTypes[1]'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.created'], versions: { 'order.created': 7 }, destination: { type: 'webhook', url: 'http://127.0.0.1/' } }, 'versions.order.created'],
    ['POST', '/v1/events', () => ADMIN, { type: 'order.created', subject: 's', data: {} }, 'tenantId'],
    ['POST', '/v1/events', () => ADMIN, { tenantId: 't', type: 'order.created', data: {} }, 'subject'],
    ['POST', '/v1/events', () => ADMIN, { tenantId: 't', type: 'order.created', subject: 's', data: {}, id: 'has spaces' }, 'id'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: [], destination: { type: 'webhook', url: 'http://127.0.0.1/' } }, 'eventTypes'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order..x'], destination: { type: 'webhook', url: 'http://127.0.0.1/' } }, 'eventTypes[0]'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'webhook', url: 'not a url' } }, 'destination.url'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'webhook', url: 'http://127.0.0.1/', timeoutSeconds: 91 } }, 'destination.timeoutSeconds'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'webhook', url: 'http://127.0.0.1/', headers: { Host: 'evil' } } }, 'destination.headers.Host'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'pigeon' } }, 'destination.type'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'webhook', url: 'http://127.0.0.1/' }, retryPolicy: { schedule: [-1] } }, 'retryPolicy'],
    ['POST', '/v1/subscriptions', () => tenant.apiKey, { name: 'x', eventTypes: ['order.*'], destination: { type: 'webhook', url: 'http://127.0.0.1/' }, filter: { data: { facilityId: 'LF500' } } }, 'filter.data.facilityId'],
    ['GET', '/v1/subscriptions?limit=1000', () => tenant.apiKey, undefined, 'limit'],
    ['GET', '/v1/subscriptions?nextToken=garbage', () => tenant.apiKey, undefined, 'nextToken'],
    ['GET', '/v1/subscriptions?colour=red', () => tenant.apiKey, undefined, 'colour'],
  ];

  it.each(cases)('%s %s %j → names %s', async (method, path, key, body, field) => {
    const res = await api(method, path, key(), body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.status, detail: expect.any(String) });
    const paths = (res.body.errors ?? []).map((e: { path: string }) => e.path);
    expect(paths.some((p: string) => p === field || p.startsWith(`${field}.`) || p.startsWith(`${field}[`)), JSON.stringify(res.body)).toBe(true);
  });

  it('answers 400 for a body that is not JSON, 404 for unknown routes and ids, 405 for a wrong method', async () => {
    const res = await api('POST', '/v1/tenants', ADMIN, '{not json');
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect((await api('GET', '/v1/nothing-here', ADMIN)).status).toBe(404);
    expect((await api('GET', '/v1/subscriptions/sub_doesnotexist', tenant.apiKey)).status).toBe(404);
    expect((await api('GET', '/v1/deliveries/dlv_doesnotexist', tenant.apiKey)).status).toBe(404);
    expect((await api('PUT', '/v1/tenants', ADMIN, {})).status).toBe(405);
    const unknownTenant = await api('POST', '/v1/events', ADMIN, { tenantId: 'ten_missing', type: 'order.created', subject: 's', data: exampleOf('order.created') });
    expect(unknownTenant.status).toBe(404);
  });
});

describe('event catalogue', () => {
  it('lists every catalogued type with versions and examples', async () => {
    const res = await api('GET', '/v1/event-types', tenant.apiKey);
    expect(res.status).toBe(200);
    const types = res.body.items.map((t: { type: string }) => t.type);
    for (const type of ['order.created', 'shipment.delivered', 'order.si.generate', 'purchase_order.submitted', 'print_file.ready', 'herald.ping', 'subscription.paused']) {
      expect(types).toContain(type);
    }
    const created = res.body.items.find((t: { type: string }) => t.type === 'order.created');
    expect(created).toMatchObject({ description: expect.any(String), versions: [{ version: 1, schema: expect.any(Object), example: expect.anything() }] });
  });

  it('answers an unknown type with close names, and schema violations with every path', async () => {
    const unknown = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.craeted', subject: 's', data: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0]).toMatchObject({ path: 'type', message: expect.stringContaining('order.created') });
    // An empty object misses every required field: each is reported at its own path.
    const invalid = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 's', data: {} });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.length).toBeGreaterThanOrEqual(1);
    expect(invalid.body.errors.every((e: { path: string }) => e.path.startsWith('data.'))).toBe(true);
    const notObject = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 's', data: 'nope' });
    expect(notObject.body.errors[0]).toMatchObject({ path: 'data' });
  });

  it('delivers only the pinned version to a subscription that pins one', async () => {
    await subscribe(tenant.apiKey, { eventTypes: ['order.completed'], versions: { 'order.completed': 1 }, destination: { type: 'webhook', url: `${receiver.url}/pinned` } });
    await publish({ type: 'order.completed', version: 1 });
    const [request] = await receiver.waitFor('/pinned', 1);
    expect(JSON.parse(request!.body).dataschema).toBe('urn:herald:event-types:order.completed:v1');
  });
});
