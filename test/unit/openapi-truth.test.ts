/**
 * The OpenAPI document tells the whole truth: it passes an OpenAPI linter (Redocly's recommended
 * rules) with no errors, every example in it validates against the schema beside it, every request
 * body field has a type (so the typed client never says `unknown`), and the event catalogue is in
 * it as webhooks with each type's schema and example.
 */
import { readFileSync } from 'node:fs';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { components } from '../../console/api-types.ts';
import { repositoryDocument } from '../../scripts/openapi.ts';

type Json = Record<string, any>;
const doc = repositoryDocument() as Json;

/** Every `example` in the document with the JSON pointer of the schema it sits beside. */
function examples(): { where: string; schemaPointer: string; example: unknown }[] {
  const found: { where: string; schemaPointer: string; example: unknown }[] = [];
  const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');
  const visit = (node: unknown, pointer: string[]) => {
    if (!node || typeof node !== 'object') return;
    const media = node as Json;
    if ('schema' in media && 'example' in media) {
      found.push({ where: pointer.join('/'), schemaPointer: `#/${[...pointer, 'schema'].map(escape).join('/')}`, example: media.example });
    }
    for (const [key, value] of Object.entries(media)) if (key !== 'example' && key !== 'schema') visit(value, [...pointer, key]);
  };
  visit(doc.paths, ['paths']);
  visit(doc.webhooks, ['webhooks']);
  return found;
}

describe('the OpenAPI document tells the whole truth', () => {
  it('passes the OpenAPI linter (Redocly recommended) with no errors', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi/herald.json', config });
    const errors = problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
  });

  it('has an example for every operation’s body and answer, and every example validates against its schema', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats.default(ajv);
    ajv.addSchema({ ...doc, $id: 'herald' });
    const all = examples();
    for (const [path, ops] of Object.entries<Json>(doc.paths)) {
      for (const [method, op] of Object.entries<Json>(ops)) {
        if (op.requestBody) expect(all.some((e) => e.where.startsWith(`paths/${path}/${method}/requestBody`)), `${method} ${path} request`).toBe(true);
        for (const [status, answer] of Object.entries<Json>(op.responses)) {
          if (answer.content) expect(all.some((e) => e.where.startsWith(`paths/${path}/${method}/responses/${status}`)), `${method} ${path} ${status}`).toBe(true);
        }
      }
    }
    const invalid = all.flatMap(({ where, schemaPointer, example }) => {
      const validate = ajv.getSchema(`herald${schemaPointer}`)!;
      return validate(example) ? [] : [`${where}: ${ajv.errorsText(validate.errors)}`];
    });
    expect(invalid).toEqual([]);
    expect(all.length).toBeGreaterThan(80);
  });

  it('gives every request body field a type (the typed client has no `unknown` field)', () => {
    const untyped: string[] = [];
    const resolve = (schema: Json) => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema);
    const walk = (schema: Json, where: string, seen: Set<string>) => {
      // An event's `data` is any JSON until the catalogue checks it (the webhooks list each type's schema).
      if (schema.$ref === '#/components/schemas/JsonValue') return;
      if (schema.$ref) {
        if (seen.has(schema.$ref)) return;
        seen = new Set([...seen, schema.$ref]);
      }
      const s = resolve(schema);
      if (!['type', 'anyOf', 'oneOf', 'allOf', 'const', 'enum', '$ref'].some((k) => k in s)) untyped.push(where);
      for (const [name, property] of Object.entries<Json>(s.properties ?? {})) walk(property, `${where}.${name}`, seen);
      if (s.items) walk(s.items, `${where}[]`, seen);
      for (const key of ['anyOf', 'oneOf', 'allOf']) (s[key] ?? []).forEach((branch: Json) => walk(branch, where, seen));
    };
    for (const [path, ops] of Object.entries<Json>(doc.paths)) {
      for (const [method, op] of Object.entries<Json>(ops)) {
        const body = op.requestBody?.content['application/json'].schema;
        if (body) walk(body, `${method.toUpperCase()} ${path}`, new Set());
      }
    }
    expect(untyped).toEqual([]);
    // The fields the issue found typed as `unknown`, as the client sees them.
    type Create = components['schemas']['CreateSubscription'];
    expectTypeOf<Create['retryPolicy']>().not.toBeUnknown();
    expectTypeOf<NonNullable<Create['retryPolicy']>>().toEqualTypeOf<components['schemas']['RetryPolicy']>();
    expectTypeOf<Create['destination']>().not.toBeUnknown();
    expectTypeOf<Create['filter']>().not.toBeUnknown();
    expectTypeOf<components['schemas']['PublishEvent']['data']>().not.toBeUnknown();
  });

  it('documents retry policy presets, every destination type, filters, batching and ordering', () => {
    const schemas = doc.components.schemas;
    expect(schemas.RetryPolicy.anyOf.map((s: Json) => s.$ref)).toEqual([
      '#/components/schemas/RetryPolicyPreset',
      '#/components/schemas/RetryPolicySchedule',
      '#/components/schemas/RetryPolicyExponential',
    ]);
    expect(schemas.RetryPolicyPreset.properties.preset.enum).toEqual(expect.arrayContaining(['default', 'omisell', 'fulfillmenttools']));
    expect(schemas.Destination.oneOf.map((s: Json) => s.$ref.split('/').pop())).toEqual(['WebhookDestination', 'EventBridgeDestination', 'HttpDestination']);
    expect(schemas.CreateSubscription.properties.filter.$ref).toBe('#/components/schemas/EventPattern');
    expect(schemas.CreateSubscription.properties.ordering.enum).toEqual(['none', 'subject']);
    expect(schemas.PublishEventBatch.properties.events.items.$ref).toBe('#/components/schemas/PublishEvent');
    expect(schemas.Subscription.properties.destination.$ref).toBe('#/components/schemas/PublicDestination');
  });

  it('lists the event catalogue as webhooks, each with its data schema and example', () => {
    const created = doc.webhooks['order.created'].post;
    const body = created.requestBody.content['application/json'];
    const entry = JSON.parse(readFileSync(new URL('../../catalogue/order.created/v1.json', import.meta.url), 'utf8'));
    expect(body.schema.properties.data.properties).toEqual(entry.schema.properties);
    expect(body.example.data).toEqual(entry.example);
    expect(created.parameters.map((p: Json) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    expect(Object.keys(doc.webhooks).length).toBeGreaterThanOrEqual(30);
  });

  it('is the checked-in openapi/herald.json (npm run openapi)', () => {
    expect(JSON.parse(readFileSync(new URL('../../openapi/herald.json', import.meta.url), 'utf8'))).toEqual(doc);
  });
});
