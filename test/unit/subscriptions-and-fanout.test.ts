/**
 * Subscription patterns and schemas, and fan-out's choice of recipients: which keys an event
 * type is looked up under, which subscriptions then receive it, and what they may not set.
 */
import fc from 'fast-check';
import type { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildEnvelope, dataSchemaUri, payloadFor, versionFromDataSchema } from '../../lambdas/core/envelope.ts';
import { isValidEventType, normaliseTypePattern, patternKeysFor, typeMatchesPattern } from '../../lambdas/core/event-types.ts';
import { jobsFor, selectRecipients } from '../../lambdas/core/fanout.ts';
import type { SubscriptionIndexEntry } from '../../lambdas/core/ports.ts';
import { createSubscriptionSchema, patchSubscriptionSchema } from '../../lambdas/core/subscription.ts';

const NOW = new Date('2026-11-25T12:00:00Z');
const event = (type: string, data: object = { facilityId: 'LF500' }, version?: number) =>
  buildEnvelope({ tenantId: 't1', id: 'evt-1', type, subject: 'order/1', data }, 'herald.test', NOW, version ? { dataschema: dataSchemaUri(type, version) } : {});

describe('event types and patterns', () => {
  it('normalises the provider spelling prefix.all to prefix.*', () => {
    expect(normaliseTypePattern('order.all')).toBe('order.*');
    expect(normaliseTypePattern('order.*')).toBe('order.*');
    expect(normaliseTypePattern('*')).toBe('*');
    expect(normaliseTypePattern('order.created')).toBe('order.created');
  });

  it.each(['', 'Order.Created', 'order..created', 'order.*.created', '*.created', 'order.', '.order', 'order created', 'ord*'])('refuses the pattern %j', (p) => {
    expect(normaliseTypePattern(p)).toBeUndefined();
  });

  it('refuses .all as a type name, so aliases never collide with types', () => {
    expect(isValidEventType('order.all')).toBe(false);
    expect(isValidEventType('order.si.generate')).toBe(true);
  });

  it('looks a type up under itself, each prefix wildcard and *', () => {
    expect(patternKeysFor('order.si.generate')).toEqual(['order.si.generate', 'order.si.*', 'order.*', '*']);
    expect(patternKeysFor('ping')).toEqual(['ping', '*']);
  });

  it('a pattern matches a type exactly when it is one of the type’s keys (property)', () => {
    const segment = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/).filter((s) => s !== 'all');
    const type = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
    fc.assert(
      fc.property(type, type, (t, other) => {
        expect(typeMatchesPattern(t, t)).toBe(true);
        expect(typeMatchesPattern(t, '*')).toBe(true);
        const prefix = t.split('.').slice(0, -1).join('.');
        if (prefix) {
          expect(typeMatchesPattern(t, `${prefix}.*`)).toBe(true);
          expect(typeMatchesPattern(t, `${prefix}.all`)).toBe(true);
        }
        // A wildcard never matches a type outside its prefix.
        const otherPrefix = other.split('.')[0];
        if (!t.startsWith(`${otherPrefix}.`)) expect(typeMatchesPattern(t, `${otherPrefix}.*`)).toBe(false);
      }),
    );
  });
});

describe('selectRecipients', () => {
  const entry = (id: string, extra: Partial<SubscriptionIndexEntry> = {}): SubscriptionIndexEntry => ({ subscriptionId: id, status: 'active', ...extra });

  it('keeps each subscription once, even when several of their patterns match', () => {
    const chosen = selectRecipients(event('order.created'), [entry('a'), entry('a'), entry('c')]);
    expect(chosen.map((e) => e.subscriptionId)).toEqual(['a', 'c']);
  });

  it('plans deliveries for paused subscriptions too: they are held, not dropped', () => {
    const chosen = selectRecipients(event('order.created'), [entry('a'), entry('b', { status: 'paused' })]);
    expect(chosen.map((e) => e.subscriptionId)).toEqual(['a', 'b']);
  });

  it('applies content filters to the envelope', () => {
    const candidates = [entry('lf500', { filter: { data: { facilityId: ['LF500'] } } }), entry('lf900', { filter: { data: { facilityId: ['LF900'] } } })];
    expect(selectRecipients(event('order.created'), candidates).map((e) => e.subscriptionId)).toEqual(['lf500']);
  });

  it('honours version pins', () => {
    const candidates = [entry('v1', { versions: { 'order.created': 1 } }), entry('v2', { versions: { 'order.created': 2 } }), entry('any')];
    expect(selectRecipients(event('order.created', {}, 2), candidates).map((e) => e.subscriptionId)).toEqual(['v2', 'any']);
  });

  it('gives every recipient a deterministic delivery id, so a repeated fan-out makes the same jobs', () => {
    const recipients = [entry('a'), entry('b')];
    const first = jobsFor(event('order.created'), recipients, NOW);
    const again = jobsFor(event('order.created'), recipients, NOW);
    expect(first.map((j) => j.deliveryId)).toEqual(again.map((j) => j.deliveryId));
    expect(new Set(first.map((j) => j.deliveryId)).size).toBe(2);
    expect(first[0]).toMatchObject({ tenantId: 't1', subscriptionId: 'a', attemptOffset: 0 });
  });
});

describe('envelope', () => {
  it('thin payloads carry no data', () => {
    expect(payloadFor(event('order.created'), 'thin')).not.toHaveProperty('data');
    expect(payloadFor(event('order.created'), 'full')).toHaveProperty('data');
  });

  it('round-trips the schema version through dataschema', () => {
    expect(versionFromDataSchema(dataSchemaUri('order.created', 3))).toBe(3);
    expect(versionFromDataSchema(undefined)).toBeUndefined();
  });
});

describe('subscription schema', () => {
  const base = { name: 'hooks', eventTypes: ['order.all'], destination: { type: 'webhook', url: 'https://example.com/hook' } };
  const paths = (input: unknown, schema: z.ZodType = createSubscriptionSchema) => {
    const result = schema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
  };

  it('accepts a minimal subscription and normalises its patterns', () => {
    expect(createSubscriptionSchema.parse(base).eventTypes).toEqual(['order.*']);
  });

  it.each([
    [{ ...base, destination: { ...base.destination, headers: { Host: 'evil' } } }, 'destination.headers.Host'],
    [{ ...base, destination: { ...base.destination, headers: { 'webhook-signature': 'x' } } }, 'destination.headers.webhook-signature'],
    [{ ...base, destination: { ...base.destination, headers: { 'Transfer-Encoding': 'chunked' } } }, 'destination.headers.Transfer-Encoding'],
    [{ ...base, destination: { ...base.destination, headers: { 'x-ok': 'a\r\nInjected: 1' } } }, 'destination.headers.x-ok'],
    [{ ...base, destination: { ...base.destination, headers: { 'bad name': '1' } } }, 'destination.headers.bad name'],
    [{ ...base, destination: { ...base.destination, timeoutSeconds: 91 } }, 'destination.timeoutSeconds'],
    [{ ...base, destination: { ...base.destination, url: 'https://user:pw@example.com/' } }, 'destination.url'],
    [{ ...base, eventTypes: [] }, 'eventTypes'],
    [{ ...base, eventTypes: ['order.*.x'] }, 'eventTypes.0'],
    [{ ...base, retryPolicy: { schedule: [-1] } }, 'retryPolicy.schedule.0'],
    [{ ...base, retryPolicy: { preset: 'nope' } }, 'retryPolicy.preset'],
    [{ ...base, filter: { data: { facilityId: 'LF500' } } }, 'filter.data.facilityId'],
    [{ ...base, payload: 'summary' }, 'payload'],
    [{ ...base, surprise: 1 }, ''],
  ])('refuses %j at %s', (input, path) => {
    expect(paths(input)).toContain(path);
  });

  it('lets a patch clear optional settings with null, and nothing unknown', () => {
    expect(paths({ retryPolicy: null, filter: null, versions: null }, patchSubscriptionSchema)).toEqual([]);
    expect(paths({ secret: 'x' }, patchSubscriptionSchema)).toEqual(['']);
  });
});
