/**
 * POST /v1/events/batch on the local runtime: 100 events in one request, one item per event in
 * order, 10 entries per PutEvents, every event delivered; duplicates, per-event problems, the
 * whole-request refusals, and entries the bus refuses, which the sweeper still delivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_BUS, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_batch_publishing_000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;
/** Entries per PutEvents call on Herald's bus, in call order. */
const putEventsCalls: number[] = [];
let apiInvocations = 0;

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A subscription of its own (a subject prefix), so each test counts only its deliveries. */
async function subscribe(path: string) {
  const prefix = `b${++counter}:`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return prefix;
}

const event = (prefix: string, n: number, extra: Record<string, unknown> = {}) => ({
  tenantId: tenant.id,
  type: 'order.created',
  subject: `${prefix}order-${n}`,
  data: { ...exampleOf('order.created'), orderId: `OM-${n}` },
  ...extra,
});

type Item = { index: number; id?: string; status: number; problem?: { type: string; title: string; status: number; detail: string; errors?: { path: string; message: string }[] } };

async function batch(events: unknown[], key = ADMIN) {
  return api<{ items: Item[] }>('POST', '/v1/events/batch', key, { events });
}

beforeAll(async () => {
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    sweepAfterSeconds: 1,
    onInvocation: (fn) => void (fn === 'api' && apiInvocations++),
  });
  const putEvents = herald.bus.putEvents.bind(herald.bus);
  herald.bus.putEvents = (entries) => {
    if (entries.some((e) => e.EventBusName === LOCAL_BUS || e.EventBusName?.endsWith(`/${LOCAL_BUS}`))) putEventsCalls.push(entries.length);
    return putEvents(entries);
  };
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'batch publisher' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

describe('POST /v1/events/batch', () => {
  it('takes 100 events in one request: 207, 100 items in order, 10 PutEvents calls, every event delivered', async () => {
    const prefix = await subscribe('/hundred');
    putEventsCalls.length = 0;
    const res = await batch(Array.from({ length: 100 }, (_, n) => event(prefix, n)));
    expect(res.status, JSON.stringify(res.body)).toBe(207);
    expect(res.contentType).toContain('application/json');
    expect(res.body.items).toHaveLength(100);
    res.body.items.forEach((item, n) => expect(item).toEqual({ index: n, id: expect.stringMatching(/^evt_/), status: 202 }));
    expect(new Set(res.body.items.map((i) => i.id)).size).toBe(100);
    expect(putEventsCalls).toEqual(Array(10).fill(10));

    const requests = await receiver.waitFor('/hundred', 100, 30_000);
    const delivered = requests.map((r) => JSON.parse(r.body) as { id: string; subject: string; data: { orderId: string } });
    expect(new Set(delivered.map((d) => d.id))).toEqual(new Set(res.body.items.map((i) => i.id)));
    const byId = new Map(delivered.map((d) => [d.id, d]));
    res.body.items.forEach((item, n) => expect(byId.get(item.id!)).toMatchObject({ subject: `${prefix}order-${n}`, data: { orderId: `OM-${n}` } }));
    await herald.settle();
    expect(receiver.on('/hundred')).toHaveLength(100);
  }, 60_000);

  it('saves 99 of 100 API requests and 90 of 100 PutEvents calls against the single route', async () => {
    const prefix = await subscribe('/counted');
    const count = async (publish: () => Promise<void>) => {
      const before = { api: apiInvocations, calls: putEventsCalls.length, entries: putEventsCalls.reduce((a, b) => a + b, 0) };
      await publish();
      return { api: apiInvocations - before.api, putEvents: putEventsCalls.length - before.calls, entries: putEventsCalls.reduce((a, b) => a + b, 0) - before.entries };
    };
    const single = await count(async () => {
      for (let n = 0; n < 100; n++) expect((await api('POST', '/v1/events', ADMIN, event(prefix, n))).status).toBe(202);
    });
    const batched = await count(async () => {
      expect((await batch(Array.from({ length: 100 }, (_, n) => event(prefix, 100 + n)))).status).toBe(207);
    });
    expect(single).toEqual({ api: 100, putEvents: 100, entries: 100 });
    expect(batched).toEqual({ api: 1, putEvents: 10, entries: 100 });
    await receiver.waitFor('/counted', 200, 30_000);
  }, 60_000);

  it('stores and delivers an id once: a repeat in the batch or of an earlier publish answers 200', async () => {
    const prefix = await subscribe('/dupes');
    const single = await api('POST', '/v1/events', ADMIN, event(prefix, 0, { id: `${prefix}earlier` }));
    expect(single.status).toBe(202);
    const first = await batch([
      event(prefix, 1, { id: `${prefix}a` }),
      event(prefix, 2, { id: `${prefix}a` }),
      event(prefix, 3, { id: `${prefix}earlier` }),
      event(prefix, 4, { id: `${prefix}b` }),
    ]);
    expect(first.status).toBe(207);
    expect(first.body.items).toEqual([
      { index: 0, id: `${prefix}a`, status: 202 },
      { index: 1, id: `${prefix}a`, status: 200 },
      { index: 2, id: `${prefix}earlier`, status: 200 },
      { index: 3, id: `${prefix}b`, status: 202 },
    ]);
    const again = await batch([event(prefix, 4, { id: `${prefix}b` }), event(prefix, 1, { id: `${prefix}a` })]);
    expect(again.body.items.map((i) => i.status)).toEqual([200, 200]);
    // The single route still answers 202 for an id the batch accepted (its contract).
    expect((await api('POST', '/v1/events', ADMIN, event(prefix, 1, { id: `${prefix}a` }))).status).toBe(202);

    await receiver.waitFor('/dupes', 3);
    await later(500);
    await herald.settle();
    const ids = receiver.on('/dupes').map((r) => JSON.parse(r.body).id).sort();
    expect(ids).toEqual([`${prefix}a`, `${prefix}b`, `${prefix}earlier`]);
    // The first of the repeated id was kept, not the second.
    expect(JSON.parse(receiver.on('/dupes').find((r) => JSON.parse(r.body).id === `${prefix}a`)!.body).subject).toBe(`${prefix}order-1`);
  });

  it('answers each invalid event with its own problem, naming fields within the event, and accepts the rest', async () => {
    const prefix = await subscribe('/mixed');
    const res = await batch([
      event(prefix, 0),
      event(prefix, 1, { data: { status: 'CREATED' } }),
      event(prefix, 2, { type: 'order.craeted' }),
      { ...event(prefix, 3), priority: 'high' },
      event(prefix, 4, { tenantId: 'ten_01JZZZZZZZZZZZZZZZZZZZZZZZ' }),
      event(prefix, 5, { subject: '' }),
      event(prefix, 6),
    ]);
    expect(res.status).toBe(207);
    expect(res.body.items.map((i) => i.status)).toEqual([202, 400, 400, 400, 404, 400, 202]);
    const problems = res.body.items.map((i) => i.problem);
    expect(problems[1]).toMatchObject({ type: 'about:blank', title: 'Invalid request', status: 400, errors: [{ path: 'data.orderId' }] });
    expect(problems[2]!.errors).toEqual([{ path: 'type', message: expect.stringContaining('order.created') }]);
    expect(problems[3]!.errors).toEqual([{ path: 'priority', message: 'is not a known field' }]);
    expect(problems[4]).toMatchObject({ status: 404, title: 'Not found', detail: expect.stringContaining('ten_01JZZZZZZZZZZZZZZZZZZZZZZZ') });
    expect(problems[5]!.errors).toEqual([{ path: 'subject', message: expect.any(String) }]);
    await receiver.waitFor('/mixed', 2);
    await herald.settle();
    expect(receiver.on('/mixed').map((r) => JSON.parse(r.body).subject).sort()).toEqual([`${prefix}order-0`, `${prefix}order-6`]);
  });

  it('lets an event nest as deep in a batch as on its own, and no deeper', async () => {
    const nest = (levels: number): unknown => (levels === 0 ? 'x' : { a: nest(levels - 1) });
    // The event is level 1, data level 2, data.deep level 3: 30 more objects reach level 32.
    const deep = event('deep:', 0, { data: { ...exampleOf('order.created'), deep: nest(30) } });
    expect((await api('POST', '/v1/events', ADMIN, deep)).status).toBe(202);
    expect((await batch([deep, { ...deep, id: 'deep-1' }, { ...deep, id: 'deep-1' }])).body.items.map((i) => i.status)).toEqual([202, 202, 200]);
    const tooDeep = event('deep:', 1, { data: { ...exampleOf('order.created'), deep: nest(31) } });
    expect((await api('POST', '/v1/events', ADMIN, tooDeep)).status).toBe(400);
    // Input limits are checked over the whole body first, as on every route: the request is refused.
    const res = await api('POST', '/v1/events/batch', ADMIN, { events: [event('deep:', 2), tooDeep] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: expect.stringMatching(/^events\[1\]\.data\.deep(\.a)+$/), message: 'nests deeper than 32 levels' }]);
  });

  it('is for the admin: a tenant key gets 403', async () => {
    const res = await batch([event('t:', 0)], tenant.apiKey);
    expect(res.status).toBe(403);
    expect(res.contentType).toContain('application/problem+json');
  });

  it('refuses a body that is not {events: [1..100 events]} as a whole, naming events', async () => {
    for (const body of [{ events: Array.from({ length: 101 }, (_, n) => event('x:', n)) }, { events: [] }, {}, [event('x:', 0)], { events: 'nope' }]) {
      const res = await api('POST', '/v1/events/batch', ADMIN, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'events' })]));
    }
    const other = await api('POST', '/v1/events/batch', ADMIN, { events: [event('x:', 0)], tenantId: tenant.id });
    expect(other.status).toBe(400);
    expect(other.body.errors).toEqual([{ path: 'tenantId', message: 'is not a known field' }]);
    // The body limit is the API's: 256 KB for the whole batch.
    const big = Array.from({ length: 2 }, (_, n) => event('x:', n, { data: { ...exampleOf('order.created'), note: 'x'.repeat(60_000) } }));
    expect((await batch([...big, ...big, ...big])).status).toBe(413);
    // A reserved key anywhere is refused before any event is looked at, as on every route.
    const reserved = await api('POST', '/v1/events/batch', ADMIN, `{"events":[${JSON.stringify(event('x:', 0))},{"__proto__":{}}]}`);
    expect(reserved.status).toBe(400);
    expect(reserved.body.errors).toEqual([{ path: 'events[1].__proto__', message: expect.stringContaining('reserved') }]);
  });

  it('reports entries the bus refuses, delivers them once (fanned out before the bus refused them), and the sweeper still publishes them', async () => {
    const prefix = await subscribe('/refused');
    herald.bus.failNext(LOCAL_BUS, 3, 'ThrottlingException', 'Rate exceeded');
    const res = await batch(Array.from({ length: 12 }, (_, n) => event(prefix, n)));
    expect(res.status).toBe(207);
    const refused = res.body.items.filter((i) => i.status === 503);
    expect(refused).toHaveLength(3);
    expect(res.body.items.filter((i) => i.status === 202)).toHaveLength(9);
    for (const item of refused) {
      expect(item.id).toMatch(/^evt_/);
      expect(item.problem).toMatchObject({ status: 503, title: 'Service unavailable', detail: expect.stringContaining('ThrottlingException: Rate exceeded') });
    }
    // The API enqueued every event's deliveries before putting them on the bus (fan-out at
    // publish): a refused entry is stored, answered 503 and unmarked, and delivered all the same.
    const requests = await receiver.waitFor('/refused', 12);
    expect(new Set(requests.map((r) => JSON.parse(r.body).id))).toEqual(new Set(res.body.items.map((i) => i.id)));
    await herald.settle();
    expect(receiver.on('/refused')).toHaveLength(12);

    // The sweeper puts the three on the bus, marked: the API recorded their fan-out with the
    // unmark, so the fan-out function does not run for them and nothing is sent twice.
    await later(1200);
    const report = await herald.sweep();
    expect(report.eventsPublished).toBe(3);
    const refusedIds = refused.map((i) => i.id!);
    const onBus = (herald.bus.received.get(LOCAL_BUS) ?? []).filter((e) => refusedIds.includes((e.detail as { id: string }).id));
    expect(onBus.map((e) => (e.detail as Record<string, unknown>).heraldfannedout)).toEqual([true, true, true]);
    await herald.settle();
    await later(500);
    expect(receiver.on('/refused')).toHaveLength(12);
    // The record of the fan-out is the store's own: never in what a client reads.
    for (const id of refusedIds) {
      const stored = await api('GET', `/v1/events/${id}`, tenant.apiKey);
      expect(stored.status).toBe(200);
      expect(stored.body).not.toHaveProperty('fannedOutAt');
      expect(stored.body).not.toHaveProperty('heraldfannedout');
    }
  });
});
