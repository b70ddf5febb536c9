/**
 * The OpenAPI document covers every route the API serves, with each request body generated from
 * the zod schema the route parses with.
 */
import { describe, expect, it } from 'vitest';
import { OPENAPI_OPERATIONS, openApiDocument } from '../../lambdas/api/openapi.ts';
import { ROUTES } from '../../lambdas/api/routes.ts';

describe('the OpenAPI document', () => {
  it('documents every route, and only routes that exist', () => {
    const documented = Object.entries(OPENAPI_OPERATIONS).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(ROUTES.map(([m, p]) => `${m} ${p}`).sort());
  });

  it('takes request schemas from the zod schemas (strict, with their limits)', () => {
    const schemas = (openApiDocument() as { components: { schemas: Record<string, any> } }).components.schemas;
    expect(schemas.CreateSubscription.additionalProperties).toBe(false);
    expect(schemas.CreateSubscription.required).toEqual(expect.arrayContaining(['name', 'eventTypes', 'destination']));
    expect(schemas.CreateSubscription.properties.batching.properties.maxItems).toMatchObject({ minimum: 1, maximum: 1000 });
    expect(schemas.PublishEvent.required).toEqual(expect.arrayContaining(['tenantId', 'type', 'subject']));
  });
});
