/**
 * The OpenAPI document is built from the route table the router serves: every route is
 * documented, each request body and query is generated from the zod schema the route parses with,
 * and the router finds every documented operation.
 */
import { describe, expect, it } from 'vitest';
import { repositoryDocument } from '../../scripts/openapi.ts';
import { ROUTES, route } from '../../lambdas/api/routes.ts';

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };
const doc = () => repositoryDocument() as Doc;
const VALID_IDS: Record<string, string> = {
  '/v1/tenants/': 'ten_01JAAAAAAAAAAAAAAAAAAAAAAA',
  '/v1/subscriptions/': 'sub_01JAAAAAAAAAAAAAAAAAAAAAAA',
  '/v1/deliveries/': 'dlv_01JAAAAAAAAAAAAAAAAAAAAAAA',
  '/v1/keys/': 'abcdef12',
};

describe('the OpenAPI document', () => {
  it('documents every route of the table, and only those', () => {
    const documented = Object.entries(doc().paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(new Set(documented).size).toBe(ROUTES.length);
  });

  it('the router serves each documented operation with the route it was documented from', () => {
    for (const spec of ROUTES) {
      const prefix = Object.keys(VALID_IDS).find((p) => spec.path.startsWith(p));
      const concrete = spec.path.replace('{id}', prefix ? VALID_IDS[prefix]! : 'x');
      expect(route(spec.method, concrete).route).toBe(spec);
    }
  });

  it('takes request schemas from the zod schemas (strict, with their limits)', () => {
    const schemas = doc().components.schemas;
    expect(schemas.CreateSubscription.additionalProperties).toBe(false);
    expect(schemas.CreateSubscription.required).toEqual(expect.arrayContaining(['name', 'eventTypes', 'destination']));
    expect(schemas.CreateSubscription.properties.batching.properties.maxItems).toMatchObject({ minimum: 1, maximum: 1000 });
    expect(schemas.PublishEvent.required).toEqual(expect.arrayContaining(['tenantId', 'type', 'subject']));
  });

  it('takes query parameters from the zod schema the route parses with', () => {
    const deliveries = doc().paths['/v1/subscriptions/{id}/deliveries']!.get;
    const names = deliveries.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
    expect(names.sort()).toEqual(['path:id', 'query:limit', 'query:nextToken', 'query:status', 'query:tenantId']);
    const status = deliveries.parameters.find((p: { name: string }) => p.name === 'status');
    expect(status.schema.enum).toEqual(['pending', 'succeeded', 'failed', 'held', 'discarded']);
    const limit = deliveries.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ minimum: 1, maximum: 100 });
  });

  it('says who may call each route and which problems it answers', () => {
    const publish = doc().paths['/v1/events']!.post;
    expect(publish.security).toEqual([{ adminKey: [] }]);
    expect(Object.keys(publish.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413', '415', '503']));
    expect(publish.responses['400'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    const get = doc().paths['/v1/subscriptions/{id}']!.get;
    expect(get.security).toEqual([{ tenantKey: [] }, { adminKey: [] }]);
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['200', '401', '404']));
  });
});
