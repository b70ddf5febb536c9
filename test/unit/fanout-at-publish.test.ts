/**
 * Fan-out at publish, in the core with in-memory ports: `fanOutMany` makes the decisions `fanOut`
 * makes for one event (recipients, ordering groups, batching buffers) for a whole publish request,
 * with one index lookup per tenant and type and every direct job in one `enqueue` call in publish
 * order; an event whose fan-out failed is reported, never thrown. The publish paths mark the bus
 * copy of each event fanned out (and only the bus copy), and leave the rest, unmarked, to the
 * fan-out function; the fan-out rule's pattern skips exactly the marked ones.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { readCatalogueEntries } from '../../lambdas/adapters/catalogue-files.ts';
import { EventBridgePublisher } from '../../lambdas/adapters/event-bus.ts';
import { publishBatch } from '../../lambdas/core/batch-publishing.ts';
import { cachedSubscriptionIndex } from '../../lambdas/core/caching.ts';
import { Catalogue } from '../../lambdas/core/catalogue.ts';
import { buildEnvelope, type CloudEvent } from '../../lambdas/core/envelope.ts';
import { matchesEventPattern } from '../../lambdas/core/event-pattern.ts';
import { patternKeysFor } from '../../lambdas/core/event-types.ts';
import { fanOut, fanOutMany, INLINE_FANOUT_MAX_JOBS } from '../../lambdas/core/fanout.ts';
import { deliveryIdFor, newId, orderingGroupFor } from '../../lambdas/core/ids.ts';
import type { EventPublisher, PublishOutcome, StoredEvent, SubscriptionIndexEntry, Tenant } from '../../lambdas/core/ports.ts';
import { publishEventSchema } from '../../lambdas/core/publish-schema.ts';
import { publishEvent, type PublishPorts } from '../../lambdas/core/publishing.ts';
import { FANNED_OUT_ATTRIBUTE, FANOUT_RULE_PATTERN, HERALD_EVENT_SOURCE } from '../../lambdas/shared/herald-config.ts';
import { parseWith } from '../../lambdas/shared/http.ts';
import { exampleOf } from '../support/catalogue.ts';
import { InMemoryBatchStore, InMemorySubscriptionIndex, RecordingDeliveryQueue } from '../support/in-memory-ports.ts';

const catalogue = new Catalogue(readCatalogueEntries(fileURLToPath(new URL('../../catalogue', import.meta.url))));
const NOW = new Date('2026-12-02T08:00:00Z');
const TENANT = newId('ten');
const parse = (raw: unknown) => parseWith(publishEventSchema, raw);

function eventOf(id: string, extra: { type?: string; subject?: string; tenantId?: string } = {}): CloudEvent {
  return buildEnvelope({ tenantId: extra.tenantId ?? TENANT, type: extra.type ?? 'order.created', subject: extra.subject ?? 'order-1', data: { n: id }, id }, 'urn:test', NOW);
}

function fanoutWorld(entries: SubscriptionIndexEntry[], patterns = ['order.created']) {
  const index = new InMemorySubscriptionIndex();
  for (const entry of entries) index.subscribe(TENANT, entry, patterns);
  const queue = new RecordingDeliveryQueue();
  const batches = new InMemoryBatchStore();
  const ports = { subscriptions: index, queue, batches, clock: () => NOW, config: { eventRetentionDays: 7 } };
  return { index, queue, batches, ports };
}

const subscription = (id: string, extra: Partial<SubscriptionIndexEntry> = {}): SubscriptionIndexEntry => ({ subscriptionId: id, status: 'active', ...extra });

describe('fanOutMany', () => {
  it('sends a request’s jobs in one enqueue, in publish order: 10 events to 1 subscription is one SendMessageBatch', async () => {
    const w = fanoutWorld([subscription('sub_1')]);
    const events = Array.from({ length: 10 }, (_, i) => eventOf(`evt-${i}`));
    const outcomes = await fanOutMany(w.ports, events);

    expect(outcomes).toEqual(events.map(() => ({ ok: true, jobs: 1, buffered: 0 })));
    expect(w.queue.calls).toHaveLength(1);
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(events.map((e) => e.id));
    expect(w.queue.jobs.map((j) => j.deliveryId)).toEqual(events.map((e) => deliveryIdFor(TENANT, e.id, 'sub_1', e.time)));
    expect(w.queue.sendMessageBatches).toBe(1);
    // One lookup (the type's pattern keys) for the request's one tenant and type, not one per event.
    expect(w.index.queries).toEqual(patternKeysFor('order.created').map((p) => `${TENANT}#${p}`));
  });

  it('at 10 subscriptions sends 100 jobs in 10 SendMessageBatch requests, each event’s jobs together', async () => {
    const w = fanoutWorld(Array.from({ length: 10 }, (_, i) => subscription(`sub_${i}`)));
    const events = Array.from({ length: 10 }, (_, i) => eventOf(`evt-${i}`));
    const outcomes = await fanOutMany(w.ports, events);

    expect(outcomes.every((o) => o.ok && o.jobs === 10)).toBe(true);
    expect(w.queue.calls).toHaveLength(1);
    expect(w.queue.jobs).toHaveLength(100);
    expect(w.queue.sendMessageBatches).toBe(10);
    expect(new Set(w.queue.jobs.map((j) => j.deliveryId)).size).toBe(100);
  });

  it('keeps an ordered subscription’s groups in publish order', async () => {
    const w = fanoutWorld([subscription('sub_ord', { ordering: 'subject' })]);
    const events = ['a', 'b', 'a', 'c', 'a', 'b'].map((subject, i) => eventOf(`evt-${i}`, { subject }));
    await fanOutMany(w.ports, events);

    const group = orderingGroupFor('sub_ord', 'a');
    expect(w.queue.jobs.filter((j) => j.orderingGroup === group).map((j) => j.event.id)).toEqual(['evt-0', 'evt-2', 'evt-4']);
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(events.map((e) => e.id));
  });

  it('buffers batching subscriptions’ events instead of enqueueing them, as fanOut does', async () => {
    const w = fanoutWorld([subscription('sub_direct'), subscription('sub_batch', { batching: { maxItems: 3, intervalSeconds: 60 } })]);
    const events = Array.from({ length: 4 }, (_, i) => eventOf(`evt-${i}`));
    const outcomes = await fanOutMany(w.ports, events);

    expect(outcomes).toEqual(events.map(() => ({ ok: true, jobs: 1, buffered: 1 })));
    expect(w.queue.jobs.map((j) => j.subscriptionId)).toEqual(['sub_direct', 'sub_direct', 'sub_direct', 'sub_direct']);
    expect(w.batches.waiting(TENANT, 'sub_batch').sort()).toEqual(events.map((e) => e.id).sort());
    // A look scheduled after the interval once, and one right away when maxItems were waiting.
    expect(w.queue.flushes).toEqual(expect.arrayContaining([{ tenantId: TENANT, subscriptionId: 'sub_batch', delaySeconds: 60 }, { tenantId: TENANT, subscriptionId: 'sub_batch', delaySeconds: 0 }]));
  });

  it('reports every event with jobs as not fanned out when the enqueue fails; an event without recipients still is', async () => {
    const w = fanoutWorld([subscription('sub_1')]);
    w.queue.failEnqueues = 1;
    const outcomes = await fanOutMany(w.ports, [eventOf('evt-1'), eventOf('evt-2', { type: 'order.shipped' })]);

    expect(outcomes[0]).toMatchObject({ ok: false, error: expect.objectContaining({ message: expect.stringContaining('SQS refused') }) });
    expect(outcomes[1]).toEqual({ ok: true, jobs: 0, buffered: 0 });
  });

  it('fans out the events before a failed lookup and leaves that one and every later one undone (each group keeps publish order)', async () => {
    const w = fanoutWorld([subscription('sub_1')]);
    w.index.subscribe(TENANT, subscription('sub_2'), ['order.shipped']);
    // The order.shipped lookup goes first (one per type, in order of first use), so let it pass.
    let calls = 0;
    const find = w.index.findSubscriptionsByPatterns.bind(w.index);
    const subscriptions = { findSubscriptionsByPatterns: async (t: string, p: string[]) => (++calls === 2 ? Promise.reject(new Error('ProvisionedThroughputExceededException')) : find(t, p)) };
    const outcomes = await fanOutMany({ ...w.ports, subscriptions }, [eventOf('evt-1', { type: 'order.shipped' }), eventOf('evt-2'), eventOf('evt-3', { type: 'order.shipped' })]);

    expect(outcomes[0]).toEqual({ ok: true, jobs: 1, buffered: 0 });
    expect(outcomes[1]).toMatchObject({ ok: false, error: expect.objectContaining({ message: 'ProvisionedThroughputExceededException' }) });
    expect(outcomes[2]).toEqual({ ok: false });
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(['evt-1']);
  });

  it('takes events in order while their jobs fit maxJobs, and leaves the rest undone, without an error', async () => {
    const w = fanoutWorld(Array.from({ length: 10 }, (_, i) => subscription(`sub_${i}`)));
    const outcomes = await fanOutMany(w.ports, Array.from({ length: 5 }, (_, i) => eventOf(`evt-${i}`)), 25);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, false, false]);
    expect(outcomes.slice(2)).toEqual([{ ok: false }, { ok: false }, { ok: false }]);
    expect(w.queue.jobs).toHaveLength(20);

    // One event with more jobs than the cap is the fan-out function's whole.
    const alone = await fanOutMany(w.ports, [eventOf('evt-big')], 5);
    expect(alone).toEqual([{ ok: false }]);
  });

  it('reports an event whose buffer write failed', async () => {
    const w = fanoutWorld([subscription('sub_batch', { batching: { maxItems: 10, intervalSeconds: 60 } })]);
    w.batches.failBuffers = 1;
    const outcomes = await fanOutMany(w.ports, [eventOf('evt-1')]);
    expect(outcomes[0]!.ok).toBe(false);
  });

  it('fanOut (the fan-out function’s unit) throws what failed, so Lambda retries the event', async () => {
    const w = fanoutWorld([subscription('sub_1')]);
    w.queue.failEnqueues = 1;
    await expect(fanOut(w.ports, eventOf('evt-1'))).rejects.toThrow('SQS refused');
    await expect(fanOut(w.ports, eventOf('evt-1'))).resolves.toEqual({ jobs: 1, buffered: 0 });
  });

  it('reads the tenant’s index version once per request through the per-container cache', async () => {
    const w = fanoutWorld([subscription('sub_1')]);
    const cached = { ...w.ports, subscriptions: cachedSubscriptionIndex(w.index) };
    await fanOutMany(cached, Array.from({ length: 10 }, (_, i) => eventOf(`evt-${i}`)));
    await fanOutMany(cached, Array.from({ length: 10 }, (_, i) => eventOf(`evt-b${i}`)));
    expect(w.index.versionReads).toBe(2);
    expect(w.index.queries).toEqual(patternKeysFor('order.created').map((p) => `${TENANT}#${p}`));
  });
});

/** A publish world: stored events, a bus that records each entry with its marker, the fan-out ports. */
function publishWorld(options: { refuse?: (event: CloudEvent) => string | undefined; entries?: SubscriptionIndexEntry[] } = {}) {
  const tenant: Tenant = { id: TENANT, name: 'acme', createdAt: NOW.toISOString() };
  const stored = new Map<string, StoredEvent>();
  const bus: { id: string; fannedOut: boolean }[] = [];
  const publisher: EventPublisher = {
    publish: async (event, fannedOut = false) => {
      const reason = options.refuse?.(event);
      if (reason) throw new Error(reason);
      bus.push({ id: event.id, fannedOut });
    },
    publishMany: async (events, fannedOut = []): Promise<PublishOutcome[]> =>
      events.map((event, i) => {
        const reason = options.refuse?.(event);
        if (reason) return { ok: false, reason };
        bus.push({ id: event.id, fannedOut: fannedOut[i] === true });
        return { ok: true };
      }),
  };
  const f = fanoutWorld(options.entries ?? [subscription('sub_1')]);
  const observed: { id: string; ok: boolean }[] = [];
  const ports: PublishPorts = {
    tenants: { putTenant: async () => undefined, getTenant: async (id) => (id === tenant.id ? tenant : undefined) },
    events: {
      putEventIfAbsent: async (event, _days, _sweepAt, publishedAt) => {
        const existing = stored.get(event.id);
        if (existing) return existing;
        stored.set(event.id, { ...event, ...(publishedAt ? { publishedAt } : {}) });
        return undefined;
      },
      markEventPublished: async (_t, id, at) => void stored.set(id, { ...stored.get(id)!, publishedAt: at }),
      markEventUnpublished: async (_t, id, fannedOutAt) => {
        const { publishedAt: _p, ...event } = stored.get(id)!;
        stored.set(id, { ...event, ...(fannedOutAt ? { fannedOutAt } : {}) });
      },
      getEvent: async (_t, id) => stored.get(id),
      findEvents: async () => [],
    },
    publisher,
    clock: () => NOW,
    catalogue,
    config: { eventSource: 'herald.test', eventRetentionDays: 7, sweepAfterSeconds: 60 },
    fanout: { subscriptions: f.index, queue: f.queue, batches: f.batches, observe: (event, outcome) => void observed.push({ id: event.id, ok: outcome.ok }) },
  };
  const input = (id: string) => ({ tenantId: TENANT, type: 'order.created', subject: 'order-1', data: exampleOf('order.created'), id });
  return { ports, stored, bus, queue: f.queue, input, observed };
}

describe('publishing with fan-out at publish', () => {
  it('a batch: stored, fanned out in one enqueue, every bus copy marked; the stored events carry no marker', async () => {
    const w = publishWorld();
    const items = await publishBatch(w.ports, Array.from({ length: 10 }, (_, i) => w.input(`evt-${i}`)), parse);

    expect(items.map((i) => i.status)).toEqual(Array(10).fill(202));
    expect(w.queue.calls).toHaveLength(1);
    expect(w.queue.sendMessageBatches).toBe(1);
    expect(w.bus).toEqual(Array.from({ length: 10 }, (_, i) => ({ id: `evt-${i}`, fannedOut: true })));
    for (const event of w.stored.values()) expect(event).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
    for (const job of w.queue.jobs) expect(job.event).not.toHaveProperty(FANNED_OUT_ATTRIBUTE);
  });

  it('a batch whose enqueue fails: every event still accepted, on the bus unmarked, for the fan-out function', async () => {
    const w = publishWorld();
    w.queue.failEnqueues = 1;
    const items = await publishBatch(w.ports, [w.input('evt-1'), w.input('evt-2')], parse);

    expect(items.map((i) => i.status)).toEqual([202, 202]);
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: false }, { id: 'evt-2', fannedOut: false }]);
    expect([...w.stored.values()].every((e) => e.publishedAt)).toBe(true);
    // The API is told, to log each one left to the fan-out function.
    expect(w.observed).toEqual([{ id: 'evt-1', ok: false }, { id: 'evt-2', ok: false }]);
  });

  it('a request past INLINE_FANOUT_MAX_JOBS: the events that fit are fanned out and marked, the rest left unmarked to the fan-out function', async () => {
    const w = publishWorld({ entries: Array.from({ length: 11 }, (_, i) => subscription(`sub_${i}`)) });
    const items = await publishBatch(w.ports, Array.from({ length: 100 }, (_, i) => w.input(`evt-${i}`)), parse);

    expect(items.every((i) => i.status === 202)).toBe(true);
    const fit = Math.floor(INLINE_FANOUT_MAX_JOBS / 11);
    expect(w.queue.jobs).toHaveLength(fit * 11);
    expect(w.bus.filter((b) => b.fannedOut).map((b) => b.id)).toEqual(Array.from({ length: fit }, (_, i) => `evt-${i}`));
    expect(w.bus.filter((b) => !b.fannedOut)).toHaveLength(100 - fit);
    expect(w.observed.filter((o) => !o.ok)).toHaveLength(100 - fit);
  });

  it('a single event: fanned out, marked on the bus; without fan-out ports, unmarked as before', async () => {
    const w = publishWorld();
    await expect(publishEvent(w.ports, parse(w.input('evt-1')))).resolves.toEqual({ id: 'evt-1', duplicate: false });
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(['evt-1']);
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: true }]);

    const { fanout: _f, ...withoutFanout } = w.ports;
    await publishEvent(withoutFanout, parse(w.input('evt-2')));
    expect(w.bus.at(-1)).toEqual({ id: 'evt-2', fannedOut: false });
    expect(w.queue.jobs).toHaveLength(1);
  });

  it('a single event whose enqueue fails is accepted and left, unmarked, to the fan-out function', async () => {
    const w = publishWorld();
    w.queue.failEnqueues = 1;
    await expect(publishEvent(w.ports, parse(w.input('evt-1')))).resolves.toEqual({ id: 'evt-1', duplicate: false });
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: false }]);
  });

  it('a bus refusal after the fan-out: 503 and unmarked as documented, the fan-out recorded; the retry only publishes, marked', async () => {
    let refusing = true;
    const w = publishWorld({ refuse: () => (refusing ? 'ThrottlingException' : undefined) });
    await expect(publishEvent(w.ports, parse(w.input('evt-1')))).rejects.toMatchObject({ status: 503 });
    expect(w.stored.get('evt-1')!.publishedAt).toBeUndefined();
    expect(w.stored.get('evt-1')!.fannedOutAt).toBe(NOW.toISOString());
    expect(w.queue.jobs).toHaveLength(1);

    refusing = false;
    await expect(publishEvent(w.ports, parse(w.input('evt-1')))).resolves.toEqual({ id: 'evt-1', duplicate: true });
    expect(w.stored.get('evt-1')!.publishedAt).toBe(NOW.toISOString());
    expect(w.queue.jobs).toHaveLength(1);
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: true }]);
  });

  it('a batch: an entry the bus refuses keeps its fan-out; its retry publishes it marked, fanning out nothing again', async () => {
    let refusing = true;
    const w = publishWorld({ refuse: (e) => (refusing && e.id === 'evt-2' ? 'InternalFailure' : undefined) });
    const items = await publishBatch(w.ports, [w.input('evt-1'), w.input('evt-2')], parse);
    expect(items.map((i) => i.status)).toEqual([202, 503]);
    expect(w.stored.get('evt-2')).toMatchObject({ fannedOutAt: NOW.toISOString() });
    expect(w.stored.get('evt-2')!.publishedAt).toBeUndefined();

    refusing = false;
    const again = await publishBatch(w.ports, [w.input('evt-2'), w.input('evt-3')], parse);
    expect(again.map((i) => i.status)).toEqual([200, 202]);
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: true }, { id: 'evt-2', fannedOut: true }, { id: 'evt-3', fannedOut: true }]);
    for (const job of w.queue.jobs) expect(job.event).not.toHaveProperty('fannedOutAt');
  });

  it('a kept event that was never fanned out (its process died, or its fan-out failed) is fanned out by its retry', async () => {
    let refusing = true;
    const w = publishWorld({ refuse: () => (refusing ? 'ThrottlingException' : undefined) });
    w.queue.failEnqueues = 1;
    await expect(publishEvent(w.ports, parse(w.input('evt-1')))).rejects.toMatchObject({ status: 503 });
    expect(w.stored.get('evt-1')!.fannedOutAt).toBeUndefined();

    refusing = false;
    await publishEvent(w.ports, parse(w.input('evt-1')));
    expect(w.queue.jobs.map((j) => j.event.id)).toEqual(['evt-1']);
    expect(w.bus).toEqual([{ id: 'evt-1', fannedOut: true }]);
  });

  it('a repeat of an accepted id fans out nothing', async () => {
    const w = publishWorld();
    await publishEvent(w.ports, parse(w.input('evt-1')));
    await publishEvent(w.ports, parse(w.input('evt-1')));
    await publishBatch(w.ports, [w.input('evt-1')], parse);
    expect(w.queue.jobs).toHaveLength(1);
  });
});

describe('the marked bus copy', () => {
  const capture = () => {
    const sent: PutEventsRequestEntry[] = [];
    const publisher = new EventBridgePublisher('herald', async (command: PutEventsCommand) => {
      sent.push(...(command.input.Entries ?? []));
      return { FailedEntryCount: 0, Entries: (command.input.Entries ?? []).map(() => ({ EventId: randomUUID() })) };
    });
    return { sent, publisher };
  };

  it('carries the attribute in the detail only when fanned out, and leaves the event object as it was', async () => {
    const { sent, publisher } = capture();
    const event = eventOf('evt-1');
    const before = structuredClone(event);
    await publisher.publish(event, true);
    await publisher.publish(event);
    await publisher.publishMany([eventOf('evt-2'), eventOf('evt-3')], [false, true]);

    const details = sent.map((e) => JSON.parse(e.Detail!) as Record<string, unknown>);
    expect(details.map((d) => d[FANNED_OUT_ATTRIBUTE])).toEqual([true, undefined, undefined, true]);
    expect(event).toEqual(before);
  });

  it('is what the fan-out rule skips: the rule matches an unmarked Herald event and not a marked one', async () => {
    const { sent, publisher } = capture();
    await publisher.publishMany([eventOf('evt-1'), eventOf('evt-2')], [true, false]);
    const busEvents = sent.map((e) => ({ version: '0', id: 'x', 'detail-type': e.DetailType, source: e.Source, account: '0', time: NOW.toISOString(), region: 'us-east-1', resources: [], detail: JSON.parse(e.Detail!) }));
    expect(busEvents.map((e) => matchesEventPattern(FANOUT_RULE_PATTERN as unknown as Record<string, unknown>, e))).toEqual([false, true]);
    // The marker is a lowercase alphanumeric CloudEvents extension attribute name.
    expect(FANNED_OUT_ATTRIBUTE).toMatch(/^[a-z0-9]{1,20}$/);
    expect(FANOUT_RULE_PATTERN.source).toEqual([HERALD_EVENT_SOURCE]);
  });
});
