/**
 * A fast-check fuzz of every route through the local API Gateway: random and malformed bodies,
 * query strings, headers and ids never produce a 5xx, and every error is problem+json.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolver } from '../../lambdas/adapters/dns-resolver.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';

const ADMIN = 'hk_admin_e2e_fuzz_000000000000000000000000000000000';
let herald: HeraldLocal;
let tenantKey: string;
let tenantId: string;

beforeAll(async () => {
  // Nothing the fuzz creates may reach beyond this machine: no name resolves.
  resolver.lookup = async (host) => {
    throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  const res = await apiClient(herald.url)('POST', '/v1/tenants', ADMIN, { name: 'Fuzz' });
  tenantKey = res.body.apiKey;
  tenantId = res.body.id;
});

afterAll(async () => {
  await herald?.stop();
});

const ROUTES: [string, string][] = [
  ['POST', '/v1/tenants'],
  ['POST', '/v1/tenants/{id}/keys'],
  ['POST', '/v1/tenants/{id}/portal-sessions'],
  ['GET', '/v1/session'],
  ['POST', '/v1/events'],
  ['POST', '/v1/events/batch'],
  ['GET', '/v1/events/{id}'],
  ['GET', '/v1/event-types'],
  ['POST', '/v1/subscriptions'],
  ['GET', '/v1/subscriptions'],
  ['GET', '/v1/subscriptions/{id}'],
  ['PATCH', '/v1/subscriptions/{id}'],
  ['DELETE', '/v1/subscriptions/{id}'],
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
];

const eventish = fc.record({ tenantId: fc.oneof(fc.string(), fc.constant('TENANT')), type: fc.string(), subject: fc.string(), data: fc.jsonValue(), id: fc.string() }, { requiredKeys: [] });

const jsonish = fc.oneof(
  fc.jsonValue(),
  eventish,
  fc.record({ events: fc.oneof(fc.array(fc.oneof(eventish, fc.jsonValue()), { maxLength: 12 }), fc.jsonValue()) }, { requiredKeys: [] }),
  fc.record(
    {
      name: fc.string(),
      eventTypes: fc.array(fc.oneof(fc.string(), fc.constantFrom('order.*', 'order.created', '*', 'order.all'))),
      destination: fc.record({ type: fc.constantFrom('webhook', 'eventbridge', 'x'), url: fc.oneof(fc.constant('http://127.0.0.1:9999/fuzz'), fc.constant('https://example.invalid/x'), fc.string()), headers: fc.dictionary(fc.string(), fc.string()), timeoutSeconds: fc.integer() }, { requiredKeys: [] }),
      retryPolicy: fc.oneof(fc.jsonValue(), fc.record({ schedule: fc.array(fc.integer()), maxAttempts: fc.integer() })),
      filter: fc.jsonValue(),
      status: fc.string(),
    },
    { requiredKeys: [] },
  ),
);

const rawBody = fc.oneof(
  jsonish.map((v) => JSON.stringify(v)),
  fc.string(),
  fc.constantFrom('{', '[]', 'null', '""', '{"a":', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
);

const idSegment = fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('sub_x', '..', '%2e%2e', 'a'.repeat(300), '💥', '<script>'));

it('never answers 5xx, whatever the request', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...ROUTES),
      idSegment,
      fc.option(rawBody, { nil: undefined }),
      fc.dictionary(fc.constantFrom('limit', 'nextToken', 'status', 'tenantId', 'x', 'subscriptionId'), fc.string()),
      fc.constantFrom('admin', 'tenant'),
      fc.constantFrom('application/json', 'text/plain', 'application/merge-patch+json', ''),
      async ([method, template], id, body, query, who, contentType) => {
        const path = template.replace('{id}', encodeURIComponent(id));
        const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, v === 'TENANT' ? tenantId : v])).toString();
        const headers: Record<string, string> = { authorization: `Bearer ${who === 'admin' ? ADMIN : tenantKey}` };
        if (contentType) headers['content-type'] = contentType;
        const res = await fetch(`${herald.url}${path}${qs ? `?${qs}` : ''}`, {
          method,
          headers,
          body: method === 'GET' || method === 'DELETE' ? undefined : (body ?? undefined)?.replace(/"TENANT"/g, JSON.stringify(tenantId)),
        });
        const text = await res.text();
        expect(res.status, `${method} ${path} → ${text}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.headers.get('content-type')).toContain('application/problem+json');
      },
    ),
    { numRuns: 400 },
  );
}, 120_000);
