/**
 * The sweeper's list walk (core/sweeper.ts) against an in-memory list: every due event is
 * checked once and the cursor moves past it; one the sweeper had to act on is listed again; a
 * run that reaches its deadline saves how far it got; a backlog stops the walk at the first
 * published event. Pending deliveries are found by walking each shard's pending list from a
 * cursor (their entries are keyed once, not by next attempt): however many wait legitimately,
 * an overdue one is reached within a pass, and only overdue ones are re-enqueued. While the slow
 * lane has a backlog, a slow subscription's deliveries are left to it (core/slow-lane.ts). A held
 * ordered group's pending deliveries are the hold's: the walk leaves them, and the group's head
 * is sent when due (core/order-hold.ts).
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import { deliveryIdFor, legacyDeliveryIdFor } from '../../lambdas/core/ids.ts';
import type { Delivery } from '../../lambdas/core/delivery.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';
import type { StoredEvent, SweepEntry } from '../../lambdas/core/ports.ts';
import { sweep, type SweepPorts } from '../../lambdas/core/sweeper.ts';
import { InMemoryOrderHoldStore, InMemorySlowMarkStore } from '../support/in-memory-ports.ts';

const T = 'ten_1';
const SUB = 'sub_1';
const EVENT_TIME = '2026-01-01T00:00:00.000Z';

function event(id: string, published = true): StoredEvent {
  return {
    specversion: '1.0',
    id,
    source: 'urn:test',
    type: 'order.created',
    time: EVENT_TIME,
    subject: id,
    datacontenttype: 'application/json',
    tenantid: T,
    data: {},
    ...(published ? { publishedAt: '2026-01-01T00:00:00.000Z' } : {}),
  };
}

/**
 * A one-shard world: the list (sorted keys), the cursor, events, delivery records. Events are
 * listed one by one (as 0.1 listed them), or `windowed`: in one window of their tenant, as the
 * API lists them now, read in pages with the window's saved progress.
 */
function world(options: { events: StoredEvent[]; delivered: string[]; deliveredBy01?: string[]; backlog?: number; clockStep?: number; pending?: Delivery[]; windowed?: boolean }) {
  let time = Date.parse('2026-01-01T01:00:00.000Z');
  const entries = new Map<string, SweepEntry>();
  const windows = new Map<string, string[]>();
  const progress = new Map<string, string>();
  if (options.windowed) {
    const window = { from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:01:00.000Z' };
    const key = `2026-01-01T00:10:00.000Z#${T}#*${window.from}/${window.to}`;
    entries.set(key, { dueAt: '2026-01-01T00:10:00.000Z', tenantId: T, eventId: '', key, recheck: false, window });
    windows.set(key, options.events.map((e) => e.id));
  } else {
    for (const e of options.events) {
      const key = `2026-01-01T00:10:00.000Z#${T}#${e.id}`;
      entries.set(key, { dueAt: '2026-01-01T00:10:00.000Z', tenantId: T, eventId: e.id, key, recheck: false });
    }
  }
  let cursor = '';
  let pendingCursor = '';
  const pending = new Map((options.pending ?? []).map((d) => [d.id, d]));
  const pendingWrites: string[] = [];
  const events = new Map(options.events.map((e) => [e.id, e]));
  const existing = new Set(options.delivered.map((id) => deliveryIdFor(T, id, SUB, EVENT_TIME)));
  // Fanned out by 0.1: the delivery has 0.1's id.
  for (const id of options.deliveredBy01 ?? []) existing.add(legacyDeliveryIdFor(T, id, SUB));
  const lookups: string[][] = [];
  /** The consistency of each subscription index look-up. */
  const indexReads: ('consistent' | 'eventual')[] = [];
  const enqueued: DeliveryJob[] = [];
  const published: string[] = [];
  const rechecks: string[] = [];
  const ports: SweepPorts = {
    sweep: {
      sweptUpTo: async () => cursor,
      dueEvents: async (_shard, after, now, limit) =>
        [...entries.values()].filter((e) => e.key > after && e.key <= `${now}#~`).sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, limit),
      advance: async (_shard, from, to) => {
        if (cursor !== from) return false;
        cursor = to;
        return true;
      },
      recheckLater: async (entry, dueAt) => {
        rechecks.push(entry.eventId);
        const key = `${dueAt}#${T}#${entry.eventId}`;
        entries.set(key, { ...entry, dueAt, key, recheck: true });
      },
      clearRecheck: async (entry) => void entries.delete(entry.key),
      windowEvents: async (entry, after, limit) => {
        const ids = windows.get(entry.key)!;
        const from = after ? Number(after) : 0;
        const page = ids.slice(from, from + limit).map((id, i) => ({ event: events.get(id)!, position: String(from + i + 1) }));
        return { events: page, ...(from + limit < ids.length ? { next: String(from + limit) } : {}) };
      },
      windowProgress: async (entry) => progress.get(entry.key) ?? '',
      saveWindowProgress: async (entry, position) => void progress.set(entry.key, position),
      existingDeliveries: async (ids) => {
        lookups.push(ids);
        return new Set(ids.filter((id) => existing.has(id)));
      },
      pendingCursor: async () => pendingCursor,
      movePendingCursor: async (_shard, from, to) => {
        if (pendingCursor !== from) return false;
        pendingWrites.push(to);
        pendingCursor = to;
        return true;
      },
      pendingPage: async (_shard, after, limit) => {
        const ids = [...pending.keys()].filter((id) => id > after).sort();
        const page = ids.slice(0, limit);
        return { deliveries: page.map((id) => pending.get(id)!), ...(ids.length > limit ? { last: page.at(-1)! } : {}) };
      },
      claimPending: async (delivery, to) => {
        const record = pending.get(delivery.id)!;
        if (record.nextAttemptAt !== delivery.nextAttemptAt) return false;
        pending.set(delivery.id, { ...record, nextAttemptAt: to });
        return true;
      },
      overdueBatchChecks: async () => [],
      heldSubscriptions: async () => [],
      markUnrecoverable: async () => undefined,
    },
    subscriptions: {
      findSubscriptionsByPatterns: async (_t: string, _p: string[], read: { consistent?: boolean } = {}) => {
        indexReads.push(read.consistent === false ? 'eventual' : 'consistent');
        return [{ subscriptionId: SUB, status: 'active', createdAt: '2025-01-01T00:00:00.000Z' }];
      },
    } as unknown as SweepPorts['subscriptions'],
    events: {
      getEvent: async (_t, id) => events.get(id),
      markEventPublished: async (_t, id, at) => void events.set(id, { ...events.get(id)!, publishedAt: at }),
    },
    publisher: { publish: async (e, fannedOut) => void published.push(fannedOut ? `${e.id} (marked)` : e.id) },
    deliveries: { listHeld: async () => ({ items: [] }), endHold: async () => false } as unknown as SweepPorts['deliveries'],
    queue: {
      enqueue: async (jobs: DeliveryJob[]) => {
        enqueued.push(...jobs);
        for (const j of jobs) existing.add(j.deliveryId);
      },
      backlog: async () => options.backlog ?? 0,
    } as unknown as SweepPorts['queue'],
    clock: () => {
      time += options.clockStep ?? 0;
      return new Date(time);
    },
    config: { sweepAfterSeconds: 60, shards: 1, pageSize: 3 },
  };
  return { ports, enqueued, published, rechecks, cursor: () => cursor, entries, pending, pendingCursor: () => pendingCursor, pendingWrites, progress, lookups, indexReads };
}

describe('the sweeper list walk', () => {
  it('checks each due event once, moves the cursor past it, and writes nothing for events that need nothing', async () => {
    const w = world({ events: ['e1', 'e2', 'e3', 'e4', 'e5'].map((id) => event(id)), delivered: ['e1', 'e2', 'e3', 'e4', 'e5'] });
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsChecked: 5, eventsCleared: 5, deliveriesEnqueued: 0 });
    expect(w.cursor()).toContain('#e5');
    expect(w.rechecks).toEqual([]);
    // A second run finds nothing new.
    expect((await sweep(w.ports)).eventsChecked).toBe(0);
  });

  it('publishes an event the API fanned out before the bus refused it marked, without its storage fields: the fan-out function passes it by', async () => {
    const refused: StoredEvent = { ...event('e1', false), fannedOutAt: '2026-01-01T00:00:00.000Z' };
    const w = world({ events: [refused, event('e2', false)], delivered: ['e1'] });
    let sent: CloudEvent | undefined;
    const publish = w.ports.publisher.publish;
    w.ports.publisher = { publish: async (e, fannedOut) => ((sent ??= e), publish(e, fannedOut)) };
    const report = await sweep(w.ports);
    expect(report.eventsPublished).toBe(2);
    expect(w.published).toEqual(['e1 (marked)', 'e2']);
    expect(sent).not.toHaveProperty('fannedOutAt');
    expect(sent).not.toHaveProperty('publishedAt');
  });

  it('enqueues missing deliveries with their deterministic ids, publishes unpublished events, and lists both again', async () => {
    const w = world({ events: [event('e1'), event('e2', false), event('e3')], delivered: ['e1'] });
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsPublished: 1, deliveriesEnqueued: 1 });
    // The index once per tenant and type per run, eventually consistent (half the units): the
    // events are past their grace period, and the missing delivery was still found.
    expect(w.indexReads).toEqual(['eventual']);
    expect(w.published).toEqual(['e2']);
    expect(w.enqueued.map((j) => j.deliveryId)).toEqual([deliveryIdFor(T, 'e3', SUB, EVENT_TIME)]);
    expect(w.rechecks.sort()).toEqual(['e2', 'e3']);
    // Once due, a recheck whose deliveries all exist leaves the list.
    w.ports.clock = () => new Date('2026-01-01T02:00:00.000Z');
    await w.ports.queue.enqueue([{ deliveryId: deliveryIdFor(T, 'e2', SUB, EVENT_TIME) } as DeliveryJob]);
    const again = await sweep(w.ports);
    expect(again.eventsCleared).toBe(2);
    expect([...w.entries.values()].filter((e) => e.recheck)).toEqual([]);
  });

  it("looks a tenant's subscriptions up once per run, whichever shards hold its entries", async () => {
    const w = world({ events: [event('e1'), event('e2')], delivered: ['e1', 'e2'] });
    // e1 listed in shard 0, e2 in shard 1 (windows fall in shards by their start, not by tenant).
    const shardOf = new Map([
      ['e1', 0],
      ['e2', 1],
    ]);
    const cursors = new Map<number, string>();
    const list = w.ports.sweep;
    w.ports.sweep = {
      ...list,
      sweptUpTo: async (shard) => cursors.get(shard) ?? '',
      advance: async (shard, _from, to) => (cursors.set(shard, to), true),
      dueEvents: async (shard, after, now, limit) => (await list.dueEvents(shard, after, now, limit)).filter((entry) => shardOf.get(entry.eventId) === shard),
    };
    w.ports.config = { ...w.ports.config, shards: 2 };
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsChecked: 2, eventsCleared: 2 });
    expect(w.indexReads).toEqual(['eventual']);
  });

  it("finds a delivery 0.1 fanned out under 0.1's id, and looks there only for what is missing", async () => {
    const w = world({ events: [event('e1'), event('e2'), event('e3')], delivered: ['e1'], deliveredBy01: ['e2'] });
    const report = await sweep(w.ports);
    // e2 was delivered by 0.1: not sent again (a new webhook-id would defeat receivers' deduplication).
    expect(report).toMatchObject({ eventsChecked: 3, deliveriesEnqueued: 1 });
    expect(w.enqueued.map((j) => j.deliveryId)).toEqual([deliveryIdFor(T, 'e3', SUB, EVENT_TIME)]);
    // e1's delivery was found under its own id: one lookup; e2 and e3 a second, under 0.1's.
    expect(w.lookups.map((ids) => ids.join()).sort()).toEqual(
      [
        deliveryIdFor(T, 'e1', SUB, EVENT_TIME),
        deliveryIdFor(T, 'e2', SUB, EVENT_TIME),
        legacyDeliveryIdFor(T, 'e2', SUB),
        deliveryIdFor(T, 'e3', SUB, EVENT_TIME),
        legacyDeliveryIdFor(T, 'e3', SUB),
      ].sort(),
    );
  });

  it('saves how far it got when the deadline comes', async () => {
    const w = world({ events: Array.from({ length: 40 }, (_, i) => event(`e${String(i).padStart(2, '0')}`)), delivered: [], clockStep: 10 });
    w.ports.config = { ...w.ports.config, deadline: Date.parse('2026-01-01T01:00:00.000Z') + 100 };
    const first = await sweep(w.ports);
    expect(first.eventsChecked).toBeGreaterThan(0);
    expect(first.eventsChecked).toBeLessThan(40);
    const reached = w.cursor();
    expect(reached).not.toBe('');
    // The next run goes on from there; nothing is skipped.
    w.ports.config = { ...w.ports.config, deadline: undefined };
    const second = await sweep(w.ports);
    expect(w.cursor() > reached).toBe(true);
    expect(new Set(w.enqueued.map((j) => j.event.id)).size).toBe(40);
    expect(first.eventsChecked + second.eventsChecked).toBeGreaterThanOrEqual(40);
  });

  it('with the queue backlogged, stops at the first published event and leaves it for later', async () => {
    const w = world({ events: [event('e1', false), event('e2'), event('e3')], delivered: [], backlog: 10_000 });
    const report = await sweep(w.ports);
    expect(report.eventsPublished).toBe(1);
    expect(report.deliveriesEnqueued).toBe(0);
    expect(w.cursor()).toContain('#e1');
  });
});

describe('the sweeper list walk over windows (one list entry for many events)', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `e${String(i).padStart(2, '0')}`);

  it('checks every event of a window once, the cursor passes the window, and a second run finds nothing', async () => {
    const w = world({ events: ids(7).map((id) => event(id)), delivered: ids(7), windowed: true });
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsChecked: 7, eventsCleared: 7, deliveriesEnqueued: 0 });
    expect(w.cursor()).toContain('#*2026-01-01T00:00:00.000Z/');
    expect(w.rechecks).toEqual([]);
    expect(w.progress.size).toBe(0);
    expect((await sweep(w.ports)).eventsChecked).toBe(0);
  });

  it('publishes an event of the window that never reached the bus, enqueues missing deliveries, and lists each again on its own', async () => {
    const w = world({ events: [event('e1'), event('e2', false), event('e3')], delivered: ['e1'], windowed: true });
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsPublished: 1, deliveriesEnqueued: 1 });
    expect(w.published).toEqual(['e2']);
    expect(w.enqueued.map((j) => j.deliveryId)).toEqual([deliveryIdFor(T, 'e3', SUB, EVENT_TIME)]);
    expect(w.rechecks.sort()).toEqual(['e2', 'e3']);
    // The rechecks are ordinary entries: once due, they leave the list when all deliveries exist.
    w.ports.clock = () => new Date('2026-01-01T02:00:00.000Z');
    await w.ports.queue.enqueue([{ deliveryId: deliveryIdFor(T, 'e2', SUB, EVENT_TIME) } as DeliveryJob]);
    expect((await sweep(w.ports)).eventsCleared).toBe(2);
    expect([...w.entries.values()].filter((e) => e.recheck)).toEqual([]);
  });

  it('a run that reaches its deadline inside a window saves where it stopped; the next goes on from there', async () => {
    const w = world({ events: ids(40).map((id) => event(id)), delivered: [], clockStep: 10, windowed: true });
    w.ports.config = { ...w.ports.config, deadline: Date.parse('2026-01-01T01:00:00.000Z') + 100 };
    const first = await sweep(w.ports);
    expect(first.deliveriesEnqueued).toBeGreaterThan(0);
    expect(first.deliveriesEnqueued).toBeLessThan(40);
    // The cursor stays before the window; the window remembers how far it was read.
    expect(w.cursor()).toBe('');
    expect(Number([...w.progress.values()][0])).toBe(first.deliveriesEnqueued);
    w.ports.config = { ...w.ports.config, deadline: undefined };
    const second = await sweep(w.ports);
    expect(w.enqueued.map((j) => j.event.id)).toEqual(ids(40));
    expect(first.deliveriesEnqueued + second.deliveriesEnqueued).toBe(40);
    expect(w.cursor()).toContain('#*');
  });

  it('with the queue backlogged, stops inside the window at the first published event and keeps its place', async () => {
    const w = world({ events: [event('e1', false), event('e2'), event('e3')], delivered: [], backlog: 10_000, windowed: true });
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ eventsPublished: 1, deliveriesEnqueued: 0 });
    expect(w.cursor()).toBe('');
    expect([...w.progress.values()]).toEqual(['1']);
    // Caught up: the window goes on after e1 and e1 is not published twice.
    w.ports.queue.backlog = async () => 0;
    const next = await sweep(w.ports);
    expect(next.deliveriesEnqueued).toBe(2);
    expect(w.published).toEqual(['e1']);
  });

  it('a window whose list entry carries its progress goes on from there without asking for it', async () => {
    const w = world({ events: ids(5).map((id) => event(id)), delivered: [], windowed: true });
    const [key, entry] = [...w.entries][0]!;
    w.entries.set(key, { ...entry, progress: '2' });
    let asked = 0;
    w.ports.sweep.windowProgress = async () => {
      asked++;
      return '';
    };
    const report = await sweep(w.ports);
    expect(asked).toBe(0);
    expect(w.enqueued.map((j) => j.event.id)).toEqual(ids(5).slice(2));
    expect(report.deliveriesEnqueued).toBe(3);
  });
});

describe('the pending walk', () => {
  const NOW = Date.parse('2026-01-01T01:00:00.000Z');
  const pendingDelivery = (n: number, nextAttemptAt: number): Delivery => ({
    id: `dlv_${String(n).padStart(3, '0')}`,
    tenantId: T,
    subscriptionId: SUB,
    eventId: `e${n}`,
    eventType: 'order.created',
    subject: `e${n}`,
    status: 'pending',
    attempts: [],
    attemptCount: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    nextAttemptAt: new Date(nextAttemptAt).toISOString(),
  });

  it('reaches an overdue delivery behind many that wait in time, re-enqueues only it, and starts over at the end', async () => {
    // 25 deliveries waiting for a retry an hour away, and one whose message was lost (due 10 min ago), last in the list.
    const waiting = Array.from({ length: 25 }, (_, i) => pendingDelivery(i, NOW + 3600_000));
    const lost = pendingDelivery(99, NOW - 600_000);
    const events = [...waiting, lost].map((d) => event(d.eventId));
    const w = world({ events, delivered: events.map((e) => e.id), pending: [...waiting, lost] });
    w.ports.config = { ...w.ports.config, pendingPages: 4 };
    // Pages of 3, 4 a run: the first run reads 12, stops mid-list and saves where.
    const first = await sweep(w.ports);
    expect(first.pendingRequeued).toBe(0);
    expect(w.pendingCursor()).toBe('dlv_011');
    await sweep(w.ports);
    expect(w.pendingCursor()).toBe('dlv_023');
    const third = await sweep(w.ports);
    expect(third.pendingRequeued).toBe(1);
    expect(w.enqueued.map((j) => [j.deliveryId, j.attemptOffset])).toEqual([['dlv_099', 3]]);
    // Claimed: its next attempt moved past the grace period, so the next pass leaves it alone.
    expect(Date.parse(w.pending.get('dlv_099')!.nextAttemptAt!)).toBeGreaterThan(NOW);
    // The end of the list: the walk starts over.
    expect(w.pendingCursor()).toBe('');
    for (let run = 0; run < 3; run++) await sweep(w.ports);
    expect(w.enqueued).toHaveLength(1);
  });

  it('a short list is read whole every run, with no cursor write', async () => {
    const lost = pendingDelivery(1, NOW - 600_000);
    const w = world({ events: [event(lost.eventId)], delivered: [lost.eventId], pending: [pendingDelivery(0, NOW + 60_000), lost] });
    expect((await sweep(w.ports)).pendingRequeued).toBe(1);
    expect(w.pendingWrites).toEqual([]);
  });

  it('leaves a held ordered group’s deliveries to the hold, and sends the hold’s head once when due', async () => {
    const group = 'sub_1:g';
    const head = { ...pendingDelivery(1, NOW - 600_000), orderingGroup: group };
    const behind = { ...pendingDelivery(2, NOW - 600_000), orderingGroup: group };
    const elsewhere = { ...pendingDelivery(3, NOW - 600_000), orderingGroup: 'sub_1:other' };
    const w = world({ events: [head, behind, elsewhere].map((d) => event(d.eventId)), delivered: ['e1', 'e2', 'e3'], pending: [head, behind, elsewhere] });
    const holds = new InMemoryOrderHoldStore();
    const kept: DeliveryJob = { v: 1, deliveryId: head.id, tenantId: T, subscriptionId: SUB, event: event('e1'), attemptOffset: 0, createdAt: head.createdAt, orderingGroup: group };
    const entry = await holds.keep(T, group, { sequenceNumber: '1', messageId: 'm1', at: 0 }, kept);
    await holds.createHead({ tenantId: T, group, head: entry, deliveryId: head.id, dueAt: new Date(NOW - 30_000).toISOString(), attemptsMade: 3, firstAttemptAt: head.createdAt });
    w.ports.holds = holds;
    const report = await sweep(w.ports);
    // Only the delivery outside any hold is re-enqueued; the head goes to its group with its attempts, due.
    expect(report.pendingRequeued).toBe(1);
    expect(report.holdHeadsSent).toBe(1);
    expect(w.enqueued.map((j) => [j.deliveryId, j.attemptOffset, j.notBefore])).toEqual([
      [elsewhere.id, 3, undefined],
      [head.id, 3, new Date(NOW - 30_000).toISOString()],
    ]);
    // Sent and marked: the next run leaves it until its grace period has passed.
    expect((await sweep(w.ports)).holdHeadsSent).toBe(0);
  });

  it('leaves pending deliveries alone while the queue is backlogged', async () => {
    const lost = pendingDelivery(1, NOW - 600_000);
    const w = world({ events: [event(lost.eventId)], delivered: [lost.eventId], pending: [lost], backlog: 10_000 });
    expect((await sweep(w.ports)).pendingRequeued).toBe(0);
  });
});

describe('a slow subscription’s deliveries and the slow lane’s backlog', () => {
  const NOW = Date.parse('2026-01-01T01:00:00.000Z');
  const lostPending: Delivery = {
    id: 'dlv_001',
    tenantId: T,
    subscriptionId: SUB,
    eventId: 'p1',
    eventType: 'order.created',
    subject: 'p1',
    status: 'pending',
    attempts: [],
    attemptCount: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    nextAttemptAt: new Date(NOW - 600_000).toISOString(),
  };
  const slowWorld = (slowLaneBacklog: number, marked: boolean) => {
    const w = world({ events: [event('e1'), event('p1')], delivered: ['p1'], pending: [lostPending] });
    const marks = new InMemorySlowMarkStore();
    if (marked) marks.marks.set(`${T}#${SUB}`, { markedAt: NOW - 60_000 });
    w.ports.slowMarks = marks;
    (w.ports.queue as { slowLaneBacklog?: () => Promise<number> }).slowLaneBacklog = async () => slowLaneBacklog;
    return { w, marks };
  };

  it('are left to the slow lane while it is backlogged: no duplicate per grace period, the event listed again', async () => {
    const { w } = slowWorld(3, true);
    const report = await sweep(w.ports);
    expect(report).toMatchObject({ deliveriesEnqueued: 0, pendingRequeued: 0, deferredForBacklog: 0 });
    expect(w.enqueued).toEqual([]);
    expect(w.rechecks).toEqual(['e1']);
  });

  it('are recovered as any other when the slow lane is not behind, or the subscription is no longer marked', async () => {
    for (const [backlog, marked] of [[0, true], [3, false]] as const) {
      const { w, marks } = slowWorld(backlog, marked);
      const report = await sweep(w.ports);
      expect(report).toMatchObject({ deliveriesEnqueued: 1, pendingRequeued: 1 });
      // The mark is read only when the slow lane is behind.
      expect(marks.reads).toBe(backlog > 0 ? 1 : 0);
    }
  });
});
