/**
 * The event layout on the real stores (dynalite): an event is one item in its own partition with
 * one index copy (gsi2, its subject's shard of the tenant's events by time) and no sweep key; the
 * API lists a sweep window once per container, not per event; resend reads merge the 16 shards by
 * time (or read the subject's one shard, filtered); the sweeper reads a window's events across
 * the shards in pages and resumes where it stopped; an event stored under 0.1's key is still read.
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoEventStore as EventStore } from '../../lambdas/adapters/event-store.ts';
import type { DynamoSweepStore as SweepStore } from '../../lambdas/adapters/sweep-store.ts';
import * as keys from '../../lambdas/adapters/table-keys.ts';
import { SHARDS_LISTED_PER_WINDOW } from '../../lambdas/adapters/event-store.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';
import type { startDynamo } from '../../local/emulators.ts';
import { startLocalTable } from '../support/local-table.ts';

const TABLE = 'event-layout';
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let events: EventStore;
let sweeps: SweepStore;
let client: () => import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient;
const sent: string[] = [];

beforeAll(async () => {
  dynamo = await startLocalTable(TABLE);
  const { DynamoEventStore } = await import('../../lambdas/adapters/event-store.ts');
  const { DynamoSweepStore } = await import('../../lambdas/adapters/sweep-store.ts');
  ({ dynamo: client } = await import('../../lambdas/adapters/clients.ts'));
  client().middlewareStack.add((next, context) => (args) => {
    sent.push(String(context.commandName).replace(/Command$/, ''));
    return next(args);
  }, { step: 'initialize', name: 'countRequests' });
  // The default grace (600 s): windows of a minute.
  events = new DynamoEventStore(TABLE);
  sweeps = new DynamoSweepStore(TABLE);
});

afterAll(async () => {
  await dynamo?.stop();
});

const event = (tenantId: string, id: string, subject: string, time: string): CloudEvent => ({
  specversion: '1.0',
  id,
  source: 'urn:test',
  type: 'order.created',
  time,
  subject,
  datacontenttype: 'application/json',
  tenantid: tenantId,
  data: { n: id },
});

const at = (second: number) => new Date(Date.parse('2026-12-01T10:00:00.000Z') + second * 1000).toISOString();
const raw = async (key: Record<string, string>) => (await client().send(new GetCommand({ TableName: TABLE, Key: key }))).Item;

describe('publishing an event', () => {
  it('writes one item in its own partition with one index entry and no sweep key, and lists its window once per container', async () => {
    const T = 'ten_PUT';
    sent.length = 0;
    for (let i = 0; i < 20; i++) {
      expect(await events.putEventIfAbsent(event(T, `e${i}`, `order/${i}`, at(i)), 30, at(601 + i), at(i))).toBeUndefined();
    }
    // 20 events in one window and due time: 20 puts; window writes: the first lists the window with
    // its shard, the second shard one more, the third lists all 16 (SHARDS_LISTED_PER_WINDOW): 3.
    expect(new Set(Array.from({ length: 20 }, (_, i) => keys.eventShardOf(`order/${i}`))).size).toBeGreaterThan(SHARDS_LISTED_PER_WINDOW);
    expect(sent.filter((name) => name === 'PutItem')).toHaveLength(20);
    expect(sent.filter((name) => name === 'UpdateItem')).toHaveLength(SHARDS_LISTED_PER_WINDOW + 1);
    const item = (await raw(keys.eventKey(T, 'e3')))!;
    expect(item).toMatchObject({ pk: `EVT#${T}#e3`, sk: '#EVT', gsi2pk: `EVENTS#${T}#${keys.eventShardOf('order/3')}`, gsi2sk: `${at(3)}#e3`, publishedAt: at(3) });
    expect(Object.keys(item).filter((name) => /^gsi[134]/.test(name))).toEqual([]);
    // The window: an item of the sweeper's list partition, no index key.
    const window = (await raw(keys.sweepWindowKey(T, at(0), at(60), at(660))))!;
    expect(window).toMatchObject(keys.sweepWindowKey(T, at(0), at(60), at(660)));
    expect(Object.keys(window).filter((name) => /^gsi/.test(name))).toEqual([]);
    expect(keys.sweepWindowShards(window, at(660))).toEqual(Array.from({ length: keys.EVENT_SHARDS }, (_, shard) => shard));
    // The id is the idempotency key: a repeat returns the kept event.
    expect(await events.putEventIfAbsent(event(T, 'e3', 'other', at(30)), 30, at(630), at(30))).toMatchObject({ id: 'e3', subject: 'order/3', publishedAt: at(3) });
  });

  it("lists a window's shard with the window: events of one shard cost one window write per container, a new shard one more", async () => {
    const T = 'ten_ONESHARD';
    const subject = 'order/same';
    sent.length = 0;
    for (let i = 0; i < 10; i++) await events.putEventIfAbsent(event(T, `s${i}`, subject, at(i)), 30, at(601 + i), at(i));
    expect(sent.filter((name) => name === 'UpdateItem')).toHaveLength(1);
    const windowKey = keys.sweepWindowKey(T, at(0), at(60), at(660));
    expect(keys.sweepWindowShards((await raw(windowKey))!, at(660))).toEqual([keys.eventShardOf(subject)]);
    // Another container lists the same window again, and adds a shard of its own: the set is the union.
    const other = new (await import('../../lambdas/adapters/event-store.ts')).DynamoEventStore(TABLE);
    const otherSubject = Array.from({ length: 50 }, (_, i) => `order/${i}`).find((s) => keys.eventShardOf(s) !== keys.eventShardOf(subject))!;
    sent.length = 0;
    await other.putEventIfAbsent(event(T, 's10', subject, at(10)), 30, at(611), at(10));
    await other.putEventIfAbsent(event(T, 's11', otherSubject, at(11)), 30, at(612), at(11));
    await other.putEventIfAbsent(event(T, 's12', otherSubject, at(12)), 30, at(613), at(12));
    expect(sent.filter((name) => name === 'UpdateItem')).toHaveLength(2);
    expect(keys.sweepWindowShards((await raw(windowKey))!, at(660))).toEqual([keys.eventShardOf(subject), keys.eventShardOf(otherSubject)].sort((a, b) => a - b));
  });

  it('reads, marks and unmarks an event stored under 0.1 key, and never creates one by marking', async () => {
    const T = 'ten_LEGACY';
    await client().send(new PutCommand({ TableName: TABLE, Item: { ...keys.legacyEventKey(T, 'old'), ...event(T, 'old', 'order/1', at(0)) } }));
    expect(await events.getEvent(T, 'old')).toMatchObject({ id: 'old', subject: 'order/1' });
    await events.markEventPublished(T, 'old', at(5));
    expect(await events.getEvent(T, 'old')).toMatchObject({ publishedAt: at(5) });
    await events.markEventUnpublished(T, 'old');
    expect((await events.getEvent(T, 'old'))?.publishedAt).toBeUndefined();
    await events.markEventPublished(T, 'nowhere', at(5));
    expect(await raw(keys.eventKey(T, 'nowhere'))).toBeUndefined();
    expect(await events.getEvent(T, 'nowhere')).toBeUndefined();
  });
});

describe('resend reads', () => {
  const T = 'ten_RESEND';
  beforeAll(async () => {
    // 96 events over 48 subjects (two each, on all 16 shards), one a second; some written with an offset.
    for (let i = 0; i < 96; i++) {
      const time = i % 5 === 0 ? at(i).replace('T10:', 'T11:').replace('Z', '+01:00') : at(i);
      await events.putEventIfAbsent(event(T, `e${String(i).padStart(2, '0')}`, `order/${i % 48}`, time), 30);
    }
  });

  it('by time: every shard, merged oldest first, within the range (any offset) and the limit', async () => {
    const all = await events.findEvents(T, { limit: 100 });
    expect(all.map((e) => e.id)).toEqual(Array.from({ length: 96 }, (_, i) => `e${String(i).padStart(2, '0')}`));
    expect(new Set(all.map((e) => keys.eventShardOf(e.subject))).size).toBe(16);
    const range = await events.findEvents(T, { from: at(10).replace('T10:', 'T12:').replace('Z', '+02:00'), to: at(19), limit: 100 });
    expect(range.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${10 + i}`));
    const first = await events.findEvents(T, { from: at(10), limit: 7 });
    expect(first.map((e) => e.id)).toEqual(Array.from({ length: 7 }, (_, i) => `e${10 + i}`));
  });

  it('by subject: its one shard, filtered, in the range', async () => {
    expect((await events.findEvents(T, { subject: 'order/5', limit: 100 })).map((e) => e.id)).toEqual(['e05', 'e53']);
    expect((await events.findEvents(T, { subject: 'order/5', from: at(6), limit: 100 })).map((e) => e.id)).toEqual(['e53']);
    expect(await events.findEvents(T, { subject: 'order/none', limit: 100 })).toEqual([]);
  });

  it('by subject refuses, naming from, a range holding more than it may read in the shard, and serves a narrower one', async () => {
    const { DynamoEventStore } = await import('../../lambdas/adapters/event-store.ts');
    const small = new DynamoEventStore(TABLE, { subjectScanLimit: 4 });
    // order/5's shard holds e05 and e53 and the other subjects that share it.
    const shard = keys.eventShardOf('order/5');
    const inShard = Array.from({ length: 96 }, (_, i) => i).filter((i) => keys.eventShardOf(`order/${i % 48}`) === shard);
    expect(inShard.length).toBeGreaterThan(4);
    const refused = small.findEvents(T, { subject: 'order/5', limit: 100 });
    await expect(refused).rejects.toMatchObject({ status: 400, errors: [expect.objectContaining({ path: 'from' })] });
    // A range holding exactly as many of the shard's events as may be read is served; one more is refused.
    const fromE53 = inShard.filter((i) => i >= 53).length;
    const exact = new DynamoEventStore(TABLE, { subjectScanLimit: fromE53 });
    expect((await exact.findEvents(T, { subject: 'order/5', from: at(53), limit: 100 })).map((e) => e.id)).toEqual(['e53']);
    expect(fromE53).toBe(3);
    const under = new DynamoEventStore(TABLE, { subjectScanLimit: fromE53 - 1 });
    await expect(under.findEvents(T, { subject: 'order/5', from: at(53), limit: 100 })).rejects.toMatchObject({ status: 400 });
  });
});

describe('the sweeper reading a window', () => {
  it('lists the window, reads its events across the shards in pages, and resumes from a saved position', async () => {
    const T = 'ten_SWEEP';
    // Stored at their time, due ten minutes later: all due at the end of that minute.
    for (let i = 0; i < 30; i++) await events.putEventIfAbsent(event(T, `w${String(i).padStart(2, '0')}`, `order/${i}`, at(i)), 30, at(601 + i), at(i));
    // One outside the window (the next minute) is not part of it.
    await events.putEventIfAbsent(event(T, 'next', 'order/1', at(60)), 30, at(661), at(60));
    const shard = keys.shardOf(`${T}#${at(0)}`);
    const listed = (await sweeps.dueEvents(shard, '', at(700), 100)).filter((entry) => entry.tenantId === T);
    expect(listed).toEqual([expect.objectContaining({ tenantId: T, eventId: '', dueAt: at(660), recheck: false, window: { from: at(0), to: at(60) } })]);
    const entry = listed[0]!;
    const seen: string[] = [];
    let position = '';
    for (let page = 0; page < 20; page++) {
      const { events: read, next } = await sweeps.windowEvents(entry, position, 7);
      expect(read.length).toBeLessThanOrEqual(7);
      seen.push(...read.map((e) => e.event.id));
      if (!next) break;
      position = next;
    }
    expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `w${String(i).padStart(2, '0')}`));
    // An event's position resumes just after it.
    const { events: firstPage } = await sweeps.windowEvents(entry, '', 3);
    const { events: after } = await sweeps.windowEvents(entry, firstPage[1]!.position, 1);
    expect(after[0]!.event.id).toBe(firstPage[2]!.event.id);
    expect(await sweeps.windowProgress(entry)).toBe('');
    await sweeps.saveWindowProgress(entry, firstPage[1]!.position);
    expect(await sweeps.windowProgress(entry)).toBe(firstPage[1]!.position);
    // Listing the window again (another container) keeps the progress.
    const other = new (await import('../../lambdas/adapters/event-store.ts')).DynamoEventStore(TABLE);
    await other.putEventIfAbsent(event(T, 'w99', 'order/9', at(59)), 30, at(659), at(59));
    expect(await sweeps.windowProgress(entry)).toBe(firstPage[1]!.position);
  });
});

describe('the sweeper reading only the shards a window lists', () => {
  const queriesOf = async (work: () => Promise<unknown>) => {
    sent.length = 0;
    await work();
    return sent.filter((name) => name === 'Query').length;
  };

  it('a window holding one event is one query (0.5 RRU, was 16), and its progress comes with the list (no read per window)', async () => {
    const T = 'ten_RARE';
    await events.putEventIfAbsent(event(T, 'only', 'order/rare', at(5)), 30, at(605), at(5));
    const listed = (await sweeps.dueEvents(keys.shardOf(`${T}#${at(0)}`), '', at(700), 100)).filter((entry) => entry.tenantId === T);
    expect(listed).toEqual([expect.objectContaining({ window: { from: at(0), to: at(60) }, shards: [keys.eventShardOf('order/rare')], progress: '' })]);
    let read: string[] = [];
    expect(await queriesOf(async () => (read = (await sweeps.windowEvents(listed[0]!, '', 100)).events.map((e) => e.event.id)))).toBe(1);
    expect(read).toEqual(['only']);
  });

  it('pages through the listed shards in order and resumes inside them; a saved position comes with the list; a third shard lists them all', async () => {
    const T = 'ten_FEWSHARDS';
    const subjects = Array.from({ length: 100 }, (_, i) => `order/${i}`);
    const bySubjectShard = new Map<number, string>();
    for (const s of subjects) if (!bySubjectShard.has(keys.eventShardOf(s)) && bySubjectShard.size < 3) bySubjectShard.set(keys.eventShardOf(s), s);
    const [a, b, c] = [...bySubjectShard.values()];
    for (let i = 0; i < 12; i++) await events.putEventIfAbsent(event(T, `f${String(i).padStart(2, '0')}`, i % 2 ? a! : b!, at(i)), 30, at(601 + i), at(i));
    const shard = keys.shardOf(`${T}#${at(0)}`);
    const [entry] = (await sweeps.dueEvents(shard, '', at(700), 100)).filter((e) => e.tenantId === T);
    expect(entry!.shards).toEqual([keys.eventShardOf(a!), keys.eventShardOf(b!)].sort((x, y) => x - y));
    const seen: string[] = [];
    let position = '';
    let queries = 0;
    for (let page = 0; page < 20; page++) {
      let next: string | undefined;
      queries += await queriesOf(async () => {
        const out = await sweeps.windowEvents(entry!, position, 5);
        seen.push(...out.events.map((e) => e.event.id));
        next = out.next;
      });
      if (!next) break;
      position = next;
    }
    expect(seen.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}`));
    // Three pages of at most two shards each: never a query of a shard the window does not hold.
    expect(queries).toBeLessThanOrEqual(6);
    await sweeps.saveWindowProgress(entry!, position);
    const [again] = (await sweeps.dueEvents(shard, '', at(700), 100)).filter((e) => e.tenantId === T);
    expect(again!.progress).toBe(position);
    // A third shard: the container lists all 16 in one write, and the window is read whole.
    sent.length = 0;
    await events.putEventIfAbsent(event(T, 'f12', c!, at(12)), 30, at(613), at(12));
    await events.putEventIfAbsent(event(T, 'f13', subjects.find((s) => !bySubjectShard.has(keys.eventShardOf(s)))!, at(13)), 30, at(614), at(13));
    expect(sent.filter((name) => name === 'UpdateItem')).toHaveLength(1);
    const [whole] = (await sweeps.dueEvents(shard, '', at(700), 100)).filter((e) => e.tenantId === T);
    expect(whole!.shards).toHaveLength(keys.EVENT_SHARDS);
  });

  it('a window the version before also wrote (during a deploy) is read in all 16 shards, whichever wrote first', async () => {
    const before = (T: string) => client().send(new UpdateCommand({ TableName: TABLE, Key: keys.sweepWindowKey(T, at(0), at(60), at(660)), UpdateExpression: 'SET #ttl = :ttl', ExpressionAttributeNames: { '#ttl': keys.TTL }, ExpressionAttributeValues: { ':ttl': keys.sweepWindowExpiresAt(at(660)) } }));
    const listedShards = async (T: string) => (await sweeps.dueEvents(keys.shardOf(`${T}#${at(0)}`), '', at(700), 100)).find((e) => e.tenantId === T)!.shards;
    // The version before first: this version adds nothing to it, and it stays a window of every shard.
    await before('ten_DEPLOY1');
    await events.putEventIfAbsent(event('ten_DEPLOY1', 'd1', 'order/1', at(1)), 30, at(601), at(1));
    expect(await listedShards('ten_DEPLOY1')).toBeUndefined();
    // This version first, the version before after it: the mark is gone, every shard again.
    await events.putEventIfAbsent(event('ten_DEPLOY2', 'd2', 'order/1', at(1)), 30, at(601), at(1));
    expect(await listedShards('ten_DEPLOY2')).toEqual([keys.eventShardOf('order/1')]);
    await before('ten_DEPLOY2');
    expect(await listedShards('ten_DEPLOY2')).toBeUndefined();
    await new (await import('../../lambdas/adapters/event-store.ts')).DynamoEventStore(TABLE).putEventIfAbsent(event('ten_DEPLOY2', 'd3', 'order/2', at(2)), 30, at(602), at(2));
    expect(await listedShards('ten_DEPLOY2')).toBeUndefined();
  });

  it('a window without the attribute (written before it existed) still reads all 16 shards and finds every event', async () => {
    const T = 'ten_OLDWINDOW';
    const subjects = Array.from({ length: 48 }, (_, i) => `order/${i}`);
    // The events without listing (no sweepAt), then the window as the earlier version wrote it: ttl only.
    for (const [i, subject] of subjects.entries()) await events.putEventIfAbsent(event(T, `o${String(i).padStart(2, '0')}`, subject, at(i % 60)), 30);
    await client().send(new PutCommand({ TableName: TABLE, Item: { ...keys.sweepWindowKey(T, at(0), at(60), at(660)), [keys.TTL]: 1 } }));
    const [entry] = (await sweeps.dueEvents(keys.shardOf(`${T}#${at(0)}`), '', at(700), 100)).filter((e) => e.tenantId === T);
    expect(entry!.shards).toBeUndefined();
    let read: string[] = [];
    expect(await queriesOf(async () => (read = (await sweeps.windowEvents(entry!, '', 100)).events.map((e) => e.event.id)))).toBe(keys.EVENT_SHARDS);
    expect(read.sort()).toEqual(subjects.map((_, i) => `o${String(i).padStart(2, '0')}`));
  });
});

describe('the sweep list', () => {
  it('walks windows (the table) and rechecks (gsi3) of a shard in one order under one cursor', async () => {
    const T = 'ten_WALK';
    // Windows of five minutes, due one after another; rechecks of events in the same list shard between them.
    const windows = [0, 1, 2, 3, 4].map((minute) => ({ from: at(minute * 60), to: at(minute * 60 + 60), dueAt: at(1000 + minute * 60) }));
    const shard = keys.shardOf(`${T}#${windows[0]!.from}`);
    const sameShard = windows.filter((w) => keys.shardOf(`${T}#${w.from}`) === shard);
    for (const w of sameShard) {
      await client().send(new PutCommand({ TableName: TABLE, Item: keys.sweepWindowKey(T, w.from, w.to, w.dueAt) }));
    }
    const eventIds = Array.from({ length: 200 }, (_, i) => `r${i}`).filter((id) => keys.shardOf(`${T}#${id}`) === shard).slice(0, 3);
    for (const [i, eventId] of eventIds.entries()) {
      await sweeps.recheckLater({ tenantId: T, eventId, dueAt: '', key: '', recheck: false }, at(1000 + i * 60 + 30));
    }
    const walked: string[] = [];
    let cursor = '';
    for (let page = 0; page < 50; page++) {
      const entries = await sweeps.dueEvents(shard, cursor, at(2000), 2);
      if (entries.length === 0) break;
      // Other tests' tenants share the shard: the cursor passes them, the walk notes only this one's.
      walked.push(...entries.filter((entry) => entry.tenantId === T).map((entry) => (entry.window ? `window ${entry.window.from}` : `recheck ${entry.eventId}`)));
      cursor = entries.at(-1)!.key;
    }
    const expected = [
      ...sameShard.map((w) => ({ at: w.dueAt, name: `window ${w.from}` })),
      ...eventIds.map((id, i) => ({ at: at(1000 + i * 60 + 30), name: `recheck ${id}` })),
    ]
      .sort((a, b) => (a.at < b.at ? -1 : 1))
      .map((e) => e.name);
    expect(walked).toEqual(expected);
    expect(walked.filter((name) => name.startsWith('recheck'))).toHaveLength(3);
  });
});
