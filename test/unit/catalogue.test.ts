/**
 * The shipped catalogue (catalogue/<type>/v<n>.json): every event the provider documents name
 * is there, every example passes its own schema, and the Catalogue's validation, suggestions
 * and pattern checks behave.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCatalogueEntries } from '../../lambdas/adapters/catalogue-files.ts';
import { Catalogue } from '../../lambdas/core/catalogue.ts';

const entries = readCatalogueEntries(fileURLToPath(new URL('../../catalogue', import.meta.url)));
const catalogue = new Catalogue(entries);

/** Every event named in the five provider documents Herald's users come from, under Herald's names. */
const PROVIDER_EVENTS = {
  omisell: [
    'order.created', 'order.ready_to_ship', 'order.shipped', 'order.completed', 'order.returned', 'order.cancelled', 'order.reconciled', 'order.return_receive',
    'shipment.created', 'shipment.ready_to_ship', 'shipment.shipped', 'shipment.delivered', 'shipment.returned', 'shipment.cancelled',
    'order_return.status_changed', 'order.si.generate',
  ],
  gains: ['purchase_order.submitted', 'transfer_order.submitted', 'work_order.submitted', 'sku_location.inventory_policy_changed', 'sku.forecast_changed', 'task.status_changed'],
  printprice: ['document.analyzed', 'pricing.completed', 'compatibility.evaluated', 'routing.decision_created', 'order.generated', 'processing.failed'],
  'production-hub': ['print_file.ready', 'order.status_changed', 'order.received'],
  fulfillmenttools: ['order.routed', 'pick_job.completed'],
  herald: ['herald.ping', 'subscription.paused', 'subscription.resumed', 'delivery.dead_lettered'],
};

describe('the shipped catalogue', () => {
  it.each(Object.entries(PROVIDER_EVENTS))('covers every %s event', (origin, types) => {
    for (const type of types) {
      expect(catalogue.has(type), type).toBe(true);
      expect(catalogue.entry(type, 1)!.origin).toBe(origin);
    }
  });

  it.each(entries.map((e) => [`${e.type} v${e.version}`, e] as const))('%s: its example passes its schema', (_name, entry) => {
    expect(catalogue.validate(entry.type, entry.example, entry.version)).toEqual([]);
    expect(entry.description.length).toBeGreaterThan(10);
  });

  it('selects every provider wildcard: order.all, shipment.all, order_return.all', () => {
    for (const pattern of ['order.all', 'shipment.all', 'order_return.all', 'order.*', '*']) expect(catalogue.patternProblem(pattern)).toBeUndefined();
  });
});

describe('Catalogue', () => {
  const small = new Catalogue([
    { type: 'order.created', version: 1, description: 'd', schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' }, lines: { type: 'array', items: { type: 'object', required: ['sku'] } } } }, example: { orderId: 'o' } },
    { type: 'order.created', version: 2, description: 'd2', schema: { type: 'object', required: ['id'] }, example: { id: 'o' } },
    { type: 'shipment.delivered', version: 1, description: 'd', schema: { type: 'object' }, example: {} },
  ]);

  it('reports every violation with a path from data', () => {
    expect(small.validate('order.created', { orderId: 5, lines: [{}] }, 1)).toEqual([
      { path: 'data.orderId', message: 'must be string' },
      { path: 'data.lines[0].sku', message: expect.stringContaining('sku') },
    ]);
  });

  it('validates against the latest version unless one is named', () => {
    expect(small.latestVersion('order.created')).toBe(2);
    expect(small.validate('order.created', { orderId: 'x' })).toEqual([{ path: 'data.id', message: expect.any(String) }]);
    expect(small.validate('order.created', { orderId: 'x' }, 1)).toEqual([]);
    expect(small.validate('order.created', {}, 3)).toEqual([{ path: 'version', message: 'order.created has versions 1, 2' }]);
  });

  it('suggests close names for an unknown type', () => {
    expect(small.validate('order.craeted', {})[0]).toEqual({ path: 'type', message: expect.stringContaining('did you mean order.created') });
    expect(small.suggestionsFor('completely.different.thing')).toEqual([]);
  });

  it('accepts patterns that select something and refuses those that select nothing', () => {
    expect(small.patternProblem('order.*')).toBeUndefined();
    expect(small.patternProblem('order.all')).toBeUndefined();
    expect(small.patternProblem('invoice.*')).toMatch(/selects no event type/);
    expect(small.patternProblem('order.craeted')).toMatch(/did you mean order.created/);
    expect(small.patternProblem('Order Created')).toMatch(/is not an event type/);
  });

  it('refuses a catalogue that defines a version twice or names a type badly', () => {
    const entry = { type: 'a.b', version: 1, description: 'd', schema: {}, example: {} };
    expect(() => new Catalogue([entry, entry])).toThrow(/defined twice/);
    expect(() => new Catalogue([{ ...entry, type: 'A B' }])).toThrow(/not a valid event type/);
  });

  it('lists types with all versions, latest description', () => {
    expect(small.list()[0]).toMatchObject({ type: 'order.created', description: 'd2', versions: [{ version: 1 }, { version: 2 }] });
  });
});
