/**
 * Hostile input at every route, as admin and as tenant (fast-check): depth up to 10,000, numbers
 * at and beyond every limit, reserved keys at any depth, huge strings and arrays, forged tokens
 * and ids. Every answer is a 2xx, or a 4xx problem+json (a 400 names its fields); never a 5xx;
 * the process answers after every run. Plus the cases that once widened a filter or crashed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolver } from '../../lambdas/adapters/dns-resolver.ts';
import { INPUT_LIMITS } from '../../lambdas/core/input-limits.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_hostile_0000000000000000000000000000000';
let herald: HeraldLocal;
let call: ReturnType<typeof apiClient>;
const tenants: { id: string; key: string; subscriptionId: string }[] = [];

const subscriptionBody = (extra: Record<string, unknown> = {}) => ({
  name: 'hostile',
  eventTypes: ['order.created'],
  destination: { type: 'webhook', url: 'http://127.0.0.1:9999/hook' },
  ...extra,
});

beforeAll(async () => {
  resolver.lookup = async (host) => {
    throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0 });
  call = apiClient(herald.url);
  for (const name of ['A', 'B']) {
    const tenant = (await call('POST', '/v1/tenants', ADMIN, { name })).body;
    const sub = (await call('POST', '/v1/subscriptions', tenant.apiKey, subscriptionBody())).body;
    tenants.push({ id: tenant.id, key: tenant.apiKey, subscriptionId: sub.id });
  }
});

afterAll(async () => {
  await herald?.stop();
});

const ROUTES: [string, string][] = [
  ['POST', '/v1/tenants'],
  ['POST', '/v1/tenants/{tid}/keys'],
  ['POST', '/v1/tenants/{tid}/portal-sessions'],
  ['GET', '/v1/session'],
  ['POST', '/v1/events'],
  ['POST', '/v1/events/batch'],
  ['GET', '/v1/events/{id}'],
  ['POST', '/v1/subscriptions'],
  ['GET', '/v1/subscriptions'],
  ['GET', '/v1/subscriptions/{id}'],
  ['PATCH', '/v1/subscriptions/{id}'],
  ['POST', '/v1/subscriptions/{id}/pause'],
  ['POST', '/v1/subscriptions/{id}/resume'],
  ['GET', '/v1/subscriptions/{id}/stats'],
  ['POST', '/v1/subscriptions/{id}/rotate-secret'],
  ['POST', '/v1/subscriptions/{id}/test'],
  ['GET', '/v1/subscriptions/{id}/deliveries'],
  ['POST', '/v1/subscriptions/{id}/resend'],
  ['GET', '/v1/deliveries/{id}'],
  ['POST', '/v1/deliveries/{id}/resend'],
  ['GET', '/v1/dead-letters'],
  ['POST', '/v1/dead-letters/redrive'],
  ['POST', '/v1/keys'],
  ['GET', '/v1/keys'],
  ['DELETE', '/v1/keys/{id}'],
  ['DELETE', '/v1/subscriptions/{id}'],
];

/** A JSON text nested `depth` levels (objects and arrays mixed) around `leaf`. */
const deepText = (depth: number, leaf: string, key: string) => {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    if (i % 3 === 2) {
      open += '[';
      close = `]${close}`;
    } else {
      open += `{"${i % 2 ? key : 'a'}":`;
      close = `}${close}`;
    }
  }
  return open + leaf + close;
};

/** Number texts at and beyond every limit, as raw JSON (some do not survive JSON.stringify). */
const hostileNumber = fc.constantFrom(
  '9007199254740991',
  '9007199254740993',
  '123456789012345678901234567890',
  '1e400',
  '-1e400',
  '9.9999999999999999999999999999999999999e125',
  '1e126',
  '1e-130',
  '1e-131',
  '-0',
  '0.1',
);

const hostileLeaf = fc.oneof(
  hostileNumber,
  fc.constantFrom('"x"', 'null', 'true', '{}', '[]'),
  fc.integer({ min: INPUT_LIMITS.stringLength - 2, max: INPUT_LIMITS.stringLength + 10 }).map((n) => JSON.stringify('s'.repeat(n))),
  fc.integer({ min: INPUT_LIMITS.arrayItems - 1, max: INPUT_LIMITS.arrayItems + 5 }).map((n) => `[${new Array(n).fill('0').join(',')}]`),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"prototype":["x"]}'),
);

/** Where the hostile part goes: a field every route family reads. */
const slot = fc.constantFrom('data', 'filter', 'metadata', 'headers', 'name', 'tenantId', 'transform', 'retryPolicy', 'root');

const hostileBody = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(31, 32, 33, 1000, 10_000)),
    leaf: hostileLeaf,
    key: fc.constantFrom('a', '__proto__', 'constructor', 'prototype', 'x'.repeat(INPUT_LIMITS.keyLength + 1)),
    slot,
  })
  .map(({ depth, leaf, key, slot }) => {
    const value = deepText(depth, leaf, key);
    const base = `"tenantId":"TENANT","type":"order.created","subject":"s-1","name":"n","eventTypes":["order.created"],"destination":{"type":"http","url":"http://127.0.0.1:9999/x"}`;
    switch (slot) {
      case 'root':
        return value;
      case 'headers':
        return `{${base.replace('"type":"http"', `"type":"webhook","headers":${value}`)}}`;
      case 'transform':
        return `{${base.replace('"type":"http"', `"type":"http","transform":${value}`)}}`;
      default:
        return `{${base.replace(`"${slot}":`, '"_replaced":')},"${slot}":${value}}`;
    }
  });

const forgedToken = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.base64String({ maxLength: 400 }),
  fc.constantFrom('TENANT', 'SUBID').map((marker) => Buffer.from(JSON.stringify({ pk: `TENANT#${marker}`, sk: 'SUB#x' })).toString('base64url')),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
);

const forgedId = fc.oneof(
  fc.string({ maxLength: 130 }),
  fc.constantFrom('sub_00000000000000000000000000', 'dlv_', 'ten_01H', '..', 'a'.repeat(128), 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ#x', 'OWN', 'OTHER'),
);

describe('hostile input at every route', () => {
  it('answers 2xx or a 4xx problem naming the field; never 5xx; stays up', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.option(hostileBody, { nil: undefined }),
        forgedId,
        fc.record({ nextToken: forgedToken, limit: fc.constantFrom('1', '0', '-1', '1e3', '100', 'x'), tenantId: forgedId }, { requiredKeys: [] }),
        fc.constantFrom('admin', 'A', 'B'),
        async ([method, template], body, id, query, who) => {
          const [a, b] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
          const resolveId = (value: string) => (value === 'OWN' ? a.subscriptionId : value === 'OTHER' ? b.subscriptionId : value);
          const path = template.replace('{id}', encodeURIComponent(resolveId(id))).replace('{tid}', a.id);
          const qs = new URLSearchParams(
            Object.entries(query).map(([k, v]): [string, string] => [k, String(v).replace('TENANT', a.id).replace('SUBID', a.subscriptionId)]),
          ).toString();
          const key = who === 'admin' ? ADMIN : who === 'A' ? a.key : b.key;
          const bodyText = body?.replace(/"TENANT"/g, JSON.stringify(a.id));
          // A batch carries the hostile body as its events (twice: a repeat is answered too).
          const sendBody = method === 'GET' || method === 'DELETE' ? undefined : template === '/v1/events/batch' && bodyText !== undefined ? `{"events":[${bodyText},${bodyText}]}` : bodyText;
          const res = await fetch(`${herald.url}${path}${qs ? `?${qs}` : ''}`, {
            method,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: sendBody,
          });
          const text = await res.text();
          const where = `${method} ${path}?${qs.slice(0, 200)} ${sendBody?.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`;
          expect(res.status, where).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get('content-type'), where).toContain('application/problem+json');
            const problem = JSON.parse(text);
            expect(problem.status, where).toBe(res.status);
            if (res.status === 400) {
              expect(problem.errors?.length, where).toBeGreaterThan(0);
              for (const error of problem.errors) expect(typeof error.path, where).toBe('string');
            }
          }
          // Each event of a batch is answered like a request of its own: never 5xx, problems in shape.
          if (res.status === 207) {
            for (const item of JSON.parse(text).items) {
              expect(item.status, where).toBeLessThan(500);
              if (item.status >= 400) expect(item.problem.status, where).toBe(item.status);
            }
          }
          // A tenant never sees the other tenant's subscription: naming it answers as for an id
          // that does not exist (which may echo the id it named, and nothing else of A's).
          if (who === 'B' && (path.includes(a.subscriptionId) || qs.includes(a.subscriptionId))) expect(res.status, where).toBeGreaterThanOrEqual(400);
          else if (who === 'B') expect(text, where).not.toContain(a.subscriptionId);
          const alive = await call('GET', '/v1/event-types', a.key);
          expect(alive.status).toBe(200);
        },
      ),
      { numRuns: 250 },
    );
  }, 240_000);
});

describe('cases that once crashed or widened', () => {
  it('a filter on a reserved key is refused, never stored as match-all', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const raw = JSON.stringify(subscriptionBody()).replace(/}$/, `,"filter":{"data":{"${key}":["x"]}}}`);
      const res = await call('POST', '/v1/subscriptions', tenants[0]!.key, raw);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.errors[0].path).toBe(`filter.data.${key}`);
    }
  });

  it('a 10,000-deep filter, metadata or event body answers 400 naming the path', async () => {
    const deep = deepText(10_000, '1', 'a');
    for (const [path, raw, who] of [
      ['filter', JSON.stringify(subscriptionBody()).replace(/}$/, `,"filter":${deep}}`), tenants[0]!.key],
      ['metadata', JSON.stringify(subscriptionBody()).replace(/}$/, `,"metadata":${deep}}`), tenants[0]!.key],
      ['data', `{"tenantId":"${tenants[0]!.id}","type":"order.created","subject":"s","data":${deep}}`, ADMIN],
    ] as const) {
      const res = await call('POST', path === 'data' ? '/v1/events' : '/v1/subscriptions', who, raw);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path.startsWith(path)).toBe(true);
      expect(res.body.errors[0].message).toMatch(/nests deeper than 32 levels/);
    }
  });

  it('numbers DynamoDB cannot keep are refused with their path, not a marshalling 500', async () => {
    for (const n of ['1e126', '1e-131', '123456789012345678901234567890', '1e400']) {
      const raw = `{"tenantId":"${tenants[0]!.id}","type":"order.created","subject":"s","data":{"orderId":"o","status":"created","total":${n}}}`;
      const res = await call('POST', '/v1/events', ADMIN, raw);
      expect(res.status, n).toBe(400);
      expect(res.body.errors[0].path).toBe('data.total');
    }
  });

  it('header values outside visible ASCII and non-HTTP ports are refused at create', async () => {
    const badHeader = await call('POST', '/v1/subscriptions', tenants[0]!.key, subscriptionBody({ destination: { type: 'webhook', url: 'http://127.0.0.1:9999/x', headers: { 'x-a': 'é' } } }));
    expect(badHeader.status).toBe(400);
    expect(badHeader.body.errors[0].path).toBe('destination.headers.x-a');
    for (const url of ['http://127.0.0.1:6379/x', 'http://127.0.0.1:22/x', 'http://127.0.0.1:25/x']) {
      const res = await call('POST', '/v1/subscriptions', tenants[0]!.key, subscriptionBody({ destination: { type: 'webhook', url } }));
      expect(res.status, url).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ path: 'destination.url', message: expect.stringMatching(/port/) });
    }
    const oauth = await call('POST', '/v1/subscriptions', tenants[0]!.key, subscriptionBody({
      destination: { type: 'http', url: 'http://127.0.0.1:9999/x', auth: { type: 'oauth2', tokenUrl: 'http://127.0.0.1:5432/token', clientId: 'c', clientSecret: 's' } },
    }));
    expect(oauth.status).toBe(400);
    expect(oauth.body.errors[0].path).toBe('destination.auth.tokenUrl');
  });

  it('malformed ids are a 404 or 400 at the edge', async () => {
    expect((await call('GET', '/v1/subscriptions/sub_x', tenants[0]!.key)).status).toBe(404);
    expect((await call('GET', '/v1/deliveries/dlv_short', tenants[0]!.key)).status).toBe(404);
    expect((await call('GET', '/v1/subscriptions?tenantId=TENANT%23x', ADMIN)).status).toBe(404);
    const longTenant = await call('GET', `/v1/subscriptions?tenantId=${'t'.repeat(3000)}`, ADMIN);
    expect(longTenant.status).toBe(400);
    expect(longTenant.body.errors[0].path).toBe('tenantId');
    const badSubscription = await call('GET', '/v1/dead-letters?subscriptionId=sub_x', tenants[0]!.key);
    expect(badSubscription.status).toBe(400);
    expect(badSubscription.body.errors[0].path).toBe('subscriptionId');
  });

  it('one large event for many subscriptions is enqueued in batches SQS accepts, and reaches every one', async () => {
    const receiver = await new Receiver().start();
    try {
      const tenant = (await call('POST', '/v1/tenants', ADMIN, { name: 'large' })).body;
      for (let i = 0; i < 8; i++) {
        const sub = await call('POST', '/v1/subscriptions', tenant.apiKey, subscriptionBody({ destination: { type: 'webhook', url: `${receiver.url}/large` } }));
        expect(sub.status).toBe(201);
      }
      // 8 jobs of ~150 KB: one batch of them would pass SQS's batch size limit.
      const data = { ...exampleOf('order.created'), notes: Array.from({ length: 3 }, () => 'n'.repeat(50_000)) };
      const published = await call('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 'big-1', data });
      expect(published.status).toBe(202);
      const received = await receiver.waitFor('/large', 8, 30_000);
      expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(8);
    } finally {
      await receiver.stop();
    }
  }, 60_000);
});
