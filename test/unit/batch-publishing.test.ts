/**
 * Batch publishing (POST /v1/events/batch) in the core, with in-memory ports: one item per event
 * in order, each event validated and idempotent as on its own, new events stored with conditional
 * puts a bounded number at a time, put on the bus in calls of at most 10 entries (and 256 KB), and
 * an entry the bus refuses handed back to the sweeper, never lost.
 */
import { fileURLToPath } from 'node:url';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { readCatalogueEntries } from '../../lambdas/adapters/catalogue-files.ts';
import { chunkPutEventsEntries, EventBridgePublisher, putEventsEntrySize } from '../../lambdas/adapters/event-bus.ts';
import { MAX_BATCH_EVENTS, publishBatch, STORES_AT_ONCE } from '../../lambdas/core/batch-publishing.ts';
import { Catalogue } from '../../lambdas/core/catalogue.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';
import { newId } from '../../lambdas/core/ids.ts';
import type { EventPublisher, PublishOutcome, StoredEvent, Tenant } from '../../lambdas/core/ports.ts';
import { publishEventSchema } from '../../lambdas/core/publish-schema.ts';
import { publishEvent, type PublishPorts } from '../../lambdas/core/publishing.ts';
import { parseWith } from '../../lambdas/shared/http.ts';
import { LocalEventBus } from '../../local/event-bus.ts';
import { exampleOf } from '../support/catalogue.ts';

const catalogue = new Catalogue(readCatalogueEntries(fileURLToPath(new URL('../../catalogue', import.meta.url))));
const NOW = new Date('2026-11-25T12:00:00Z');
const parse = (raw: unknown) => parseWith(publishEventSchema, raw);

function world(options: { refuse?: (event: CloudEvent) => string | undefined; publishManyThrows?: boolean } = {}) {
  const tenant: Tenant = { id: newId('ten'), name: 'acme', createdAt: NOW.toISOString() };
  const stored = new Map<string, StoredEvent>();
  const key = (t: string, id: string) => `${t}/${id}`;
  const calls: string[][] = [];
  const single: string[] = [];
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const publisher: EventPublisher = {
    publish: async (event) => {
      single.push(event.id);
      const reason = options.refuse?.(event);
      if (reason) throw new Error(reason);
    },
    publishMany: async (events): Promise<PublishOutcome[]> => {
      if (options.publishManyThrows) throw new Error('socket hang up');
      calls.push(events.map((e) => e.id));
      return events.map((event) => {
        const reason = options.refuse?.(event);
        return reason ? { ok: false, reason } : { ok: true };
      });
    },
  };
  const ports: PublishPorts = {
    tenants: { putTenant: async () => undefined, getTenant: async (id) => (id === tenant.id ? tenant : undefined) },
    events: {
      putEventIfAbsent: async (event, _days, _sweepAt, publishedAt) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        const existing = stored.get(key(event.tenantid, event.id));
        if (existing) return existing;
        log.push(`put ${event.id}`);
        stored.set(key(event.tenantid, event.id), { ...event, ...(publishedAt ? { publishedAt } : {}) });
        return undefined;
      },
      markEventPublished: async (t, id, at) => {
        log.push(`mark ${id}`);
        stored.set(key(t, id), { ...stored.get(key(t, id))!, publishedAt: at });
      },
      markEventUnpublished: async (t, id) => {
        log.push(`unmark ${id}`);
        const { publishedAt: _p, ...event } = stored.get(key(t, id))!;
        stored.set(key(t, id), event);
      },
      getEvent: async (t, id) => stored.get(key(t, id)),
      findEvents: async () => [],
    },
    publisher,
    clock: () => NOW,
    catalogue,
    config: { eventSource: 'herald.test', eventRetentionDays: 7, sweepAfterSeconds: 60 },
  };
  const event = (extra: Record<string, unknown> = {}) => ({ tenantId: tenant.id, type: 'order.created', subject: 'order-1', data: exampleOf('order.created'), ...extra });
  return { tenant, ports, stored, calls, single, log, event, maxInFlight: () => maxInFlight, get: (id: string) => stored.get(key(tenant.id, id)) };
}

describe('publishBatch', () => {
  it('answers one item per event, in order: accepted, duplicate, invalid, unknown tenant, refused by the bus', async () => {
    const w = world({ refuse: (e) => (e.id === 'evt-refused' ? 'ThrottlingException: Rate exceeded' : undefined) });
    await publishEvent(w.ports, parse(w.event({ id: 'evt-earlier' })));
    w.log.length = 0;
    const items = await publishBatch(w.ports, [
      w.event({ id: 'evt-a' }),
      w.event({ id: 'evt-earlier' }),
      w.event({ id: 'evt-bad', data: { status: 'CREATED' } }),
      w.event({ type: 'order.creatd' }),
      { ...w.event(), color: 'red' },
      w.event({ tenantId: newId('ten') }),
      w.event({ id: 'evt-refused' }),
      w.event({ id: 'evt-a' }),
      'not an event',
      w.event(),
    ], parse);

    expect(items.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(items.map((i) => i.status)).toEqual([202, 200, 400, 400, 400, 404, 503, 200, 400, 202]);
    expect(items[0]).toEqual({ index: 0, id: 'evt-a', status: 202 });
    expect(items[1]).toEqual({ index: 1, id: 'evt-earlier', status: 200 });
    // Problems name fields relative to the event; the index says which event.
    expect(items[2]!.problem).toMatchObject({ type: 'about:blank', title: 'Invalid request', status: 400, errors: [{ path: 'data.orderId', message: expect.any(String) }] });
    expect(items[3]!.problem!.errors).toEqual([{ path: 'type', message: expect.stringContaining('did you mean order.created') }]);
    expect(items[4]!.problem!.errors).toEqual([{ path: 'color', message: 'is not a known field' }]);
    expect(items[5]).toMatchObject({ status: 404, problem: { status: 404, title: 'Not found' } });
    expect(items[6]).toMatchObject({ id: 'evt-refused', status: 503, problem: { status: 503, detail: expect.stringContaining('ThrottlingException: Rate exceeded') } });
    expect(items[7]).toEqual({ index: 7, id: 'evt-a', status: 200 });
    expect(items[8]!.problem!.errors).toEqual([{ path: '', message: expect.any(String) }]);
    expect(items[9]!.id).toMatch(/^evt_/);

    // Stored once each (evt-a once for two entries); nothing invalid stored; one bus call.
    expect(w.log.filter((l) => l.startsWith('put')).sort()).toEqual(['put evt-a', 'put evt-refused', `put ${items[9]!.id}`].sort());
    expect(w.calls).toEqual([['evt-a', 'evt-refused', items[9]!.id]]);
  });

  it('leaves a refused entry stored and unmarked, for the sweeper; a retry of its id publishes it', async () => {
    let refusing = true;
    const w = world({ refuse: (e) => (refusing && e.id === 'evt-2' ? 'InternalFailure' : undefined) });
    const items = await publishBatch(w.ports, [w.event({ id: 'evt-1' }), w.event({ id: 'evt-2' }), w.event({ id: 'evt-3' })], parse);
    expect(items.map((i) => i.status)).toEqual([202, 503, 202]);
    expect(w.get('evt-1')!.publishedAt).toBe(NOW.toISOString());
    expect(w.get('evt-2')).toBeDefined();
    expect(w.get('evt-2')!.publishedAt).toBeUndefined();
    expect(w.log).toContain('unmark evt-2');

    refusing = false;
    const again = await publishBatch(w.ports, [w.event({ id: 'evt-2' }), w.event({ id: 'evt-1' })], parse);
    expect(again.map((i) => i.status)).toEqual([200, 200]);
    expect(w.calls.at(-1)).toEqual(['evt-2']);
    expect(w.get('evt-2')!.publishedAt).toBe(NOW.toISOString());
  });

  it('hands every entry back when the bus call fails outright', async () => {
    const w = world({ publishManyThrows: true });
    const items = await publishBatch(w.ports, [w.event({ id: 'evt-1' }), w.event({ id: 'evt-2' })], parse);
    expect(items.map((i) => [i.status, i.problem?.detail])).toEqual([
      [503, expect.stringContaining('socket hang up')],
      [503, expect.stringContaining('socket hang up')],
    ]);
    expect(w.get('evt-1')!.publishedAt).toBeUndefined();
    expect(w.get('evt-2')!.publishedAt).toBeUndefined();
  });

  it('a repeat within the batch answers what its first answered', async () => {
    const w = world({ refuse: (e) => (e.id === 'evt-x' ? 'ThrottlingException' : undefined) });
    const items = await publishBatch(w.ports, [w.event({ id: 'evt-x' }), w.event({ id: 'evt-x', subject: 'other' })], parse);
    expect(items.map((i) => i.status)).toEqual([503, 503]);
    expect(w.log.filter((l) => l.startsWith('put'))).toEqual(['put evt-x']);
  });

  it('an invalid first does not make a valid repeat of its id a duplicate', async () => {
    const w = world();
    const items = await publishBatch(w.ports, [w.event({ id: 'evt-y', data: {} }), w.event({ id: 'evt-y' })], parse);
    expect(items.map((i) => i.status)).toEqual([400, 202]);
  });

  it('stores 100 events with bounded concurrency and one publishMany', async () => {
    const w = world();
    const items = await publishBatch(w.ports, Array.from({ length: MAX_BATCH_EVENTS }, (_, i) => w.event({ id: `evt-${i}` })), parse);
    expect(items.every((i, n) => i.status === 202 && i.index === n && i.id === `evt-${n}`)).toBe(true);
    expect(w.maxInFlight()).toBeGreaterThan(1);
    expect(w.maxInFlight()).toBeLessThanOrEqual(STORES_AT_ONCE);
    expect(w.calls).toHaveLength(1);
    expect(w.calls[0]).toEqual(items.map((i) => i.id));
  });

  it('counts nesting from each event, so an event nests as deep in a batch as on its own', async () => {
    const w = world();
    const nest = (levels: number): unknown => (levels === 0 ? 'x' : { a: nest(levels - 1) });
    // The event is level 1, data level 2, data.a level 3: 30 more objects reach level 32 and fit.
    const ping = (a: unknown) => w.event({ type: 'herald.ping', data: { subscriptionId: 'sub', a } });
    const fits = await publishBatch(w.ports, [ping(nest(30))], parse);
    expect(fits[0]).toMatchObject({ status: 202 });
    const tooDeep = await publishBatch(w.ports, [ping(nest(31))], parse);
    expect(tooDeep[0]).toMatchObject({ status: 400, problem: { errors: [{ path: expect.stringMatching(/^data(\.a)+$/), message: 'nests deeper than 32 levels' }] } });
  });
});

describe('EventBridgePublisher.publishMany', () => {
  const event = (id: string, data: unknown = {}): CloudEvent =>
    ({ specversion: '1.0', id, source: 'herald.test', type: 'order.created', time: NOW.toISOString(), subject: 's', datacontenttype: 'application/json', tenantid: 't', data }) as CloudEvent;

  it('puts 25 events in calls of 10, 10 and 5, and maps FailedEntryCount to each entry', async () => {
    const calls: PutEventsRequestEntry[][] = [];
    const publisher = new EventBridgePublisher('herald-bus', async (command) => {
      const entries = command.input.Entries!;
      calls.push(entries);
      const results = entries.map((e) => (JSON.parse(e.Detail!).id === 'e7' ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' } : { EventId: 'x' }));
      return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
    });
    const outcomes = await publisher.publishMany(Array.from({ length: 25 }, (_, i) => event(`e${i}`)));
    expect(calls.map((c) => c.length).sort((a, b) => b - a)).toEqual([10, 10, 5]);
    expect(calls.flat().every((e) => e.EventBusName === 'herald-bus' && e.Source === 'herald.events' && e.DetailType === 'order.created')).toBe(true);
    expect(outcomes).toHaveLength(25);
    expect(outcomes[7]).toEqual({ ok: false, reason: 'ThrottlingException: Rate exceeded' });
    expect(outcomes.filter((o) => o.ok)).toHaveLength(24);
  });

  it('fails only the entries of a call that failed', async () => {
    let n = 0;
    const publisher = new EventBridgePublisher('b', async (command) => {
      if (n++ === 1) throw Object.assign(new Error('Service unavailable'), { name: 'InternalException' });
      return { FailedEntryCount: 0, Entries: command.input.Entries!.map(() => ({ EventId: 'x' })) };
    });
    const outcomes = await publisher.publishMany(Array.from({ length: 12 }, (_, i) => event(`e${i}`)));
    expect(outcomes.slice(0, 10).every((o) => o.ok)).toBe(true);
    expect(outcomes.slice(10)).toEqual([
      { ok: false, reason: 'InternalException: Service unavailable' },
      { ok: false, reason: 'InternalException: Service unavailable' },
    ]);
  });

  it('splits by size too: no call over 256 KB', () => {
    const big = (i: number): PutEventsRequestEntry => ({ Source: 'herald.events', DetailType: 'order.created', Detail: JSON.stringify({ i, pad: 'x'.repeat(60_000) }), Time: NOW });
    const entries = Array.from({ length: 9 }, (_, i) => big(i));
    const chunks = chunkPutEventsEntries(entries);
    expect(chunks).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8]]);
    for (const chunk of chunks) expect(chunk.reduce((sum, i) => sum + putEventsEntrySize(entries[i]!), 0)).toBeLessThanOrEqual(256 * 1024);
    expect(putEventsEntrySize({ Source: 'ab', DetailType: 'c', Detail: 'é', Time: NOW })).toBe(14 + 2 + 1 + 2);
  });
});

describe('the local EventBridge', () => {
  it('takes up to 10 entries per PutEvents and reports per-entry failures as AWS does', async () => {
    const bus = new LocalEventBus();
    bus.createBus('herald-bus');
    const endpoint = await bus.listen(0);
    const client = new EventBridgeClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const entry = (i: number) => ({ EventBusName: 'herald-bus', Source: 'herald.events', DetailType: 'order.created', Detail: JSON.stringify({ i }) });
      bus.failNext('herald-bus', 2, 'ThrottlingException', 'Rate exceeded');
      const out = await client.send(new PutEventsCommand({ Entries: Array.from({ length: 10 }, (_, i) => entry(i)) }));
      expect(out.FailedEntryCount).toBe(2);
      expect(out.Entries!.slice(0, 2)).toEqual([
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
      ]);
      expect(out.Entries!.slice(2).every((e) => e.EventId && !e.ErrorCode)).toBe(true);
      expect(bus.received.get('herald-bus')!.map((e) => (e.detail as { i: number }).i)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      await expect(client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, (_, i) => entry(i)) }))).rejects.toMatchObject({ name: 'ValidationException' });
    } finally {
      client.destroy();
      await bus.stop();
    }
  });
});
