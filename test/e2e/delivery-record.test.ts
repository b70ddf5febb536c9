/**
 * A delivery's record through the real handlers (local runtime on dynalite), every write counted
 * by AWS's rules (bench/dynamo-units.ts: item size and index copies): a delivery that succeeds at
 * once is one write of one item ≤ 1 KB with no index key (1 write unit), its record being its
 * subscription's log entry; `GET /v1/deliveries/{id}` reads it by the id alone, a record 0.1 made
 * included, and never another tenant's; the log lists newest first across its 16 partitions at
 * any page size, with the status filter; the dead letters are listed and redriven by id. And it
 * measures a failing delivery's write units per attempt against a long answer (README "Storage
 * layout"): 3 for the first, 2 in the middle, 3 for the exhausting one, every item ≤ 1 KB, the
 * excerpts shown, and the exhausting attempt kept in the history through a redrive.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countCapacityUnits, type UnitTotals } from '../../bench/dynamo-units.ts';
import { attemptKey, deliveryKey, DELIVERY_LOG_SHARDS, deliveryLogShardOf } from '../../lambdas/adapters/table-keys.ts';
import { deliveryIdFor } from '../../lambdas/core/ids.ts';
import { LOCAL_TABLE, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_delivery_record_000000000000000000';
/** DynamoDB's item size, as dynalite (and bench/dynamo-units.ts) computes it. */
const { itemSize } = createRequire(import.meta.url)('dynalite/db/index.js') as { itemSize: (item: Record<string, AttributeValue>) => number };
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let client: () => import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient;
const units: UnitTotals = { writeUnits: 0, writeUnitsIndexes: 0, readUnits: 0, deliveryWrites: [] };
let counting = false;
let closeCounter: (() => void) | undefined;
let tenantA: { id: string; apiKey: string };
let tenantB: { id: string; apiKey: string };

async function subscribe(tenant: { apiKey: string }, path: string, extra: Record<string, unknown> = {}) {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix: `${path}:` }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** Publishes with an explicit time, so the test knows the delivery id fan-out gives. */
async function publish(tenantId: string, path: string, n: number, time: string) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId, id: `${path.slice(1)}-${n}`, time, type: 'order.created', subject: `${path}:${n}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const raw = async (key: Record<string, string>) => (await client().send(new GetCommand({ TableName: LOCAL_TABLE, Key: key, ConsistentRead: true }))).Item;
const writesOf = (deliveryId: string) => units.deliveryWrites!.filter((w) => w.delivery === `DLV#${deliveryId}`);

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0 });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  ({ dynamo: client } = await import('../../lambdas/adapters/clients.ts'));
  closeCounter = countCapacityUnits(client() as never, units, () => counting).close;
  const a = await api('POST', '/v1/tenants', ADMIN, { name: 'record a' });
  const b = await api('POST', '/v1/tenants', ADMIN, { name: 'record b' });
  tenantA = { id: a.body.id, apiKey: a.body.apiKey };
  tenantB = { id: b.body.id, apiKey: b.body.apiKey };
}, 60_000);

afterAll(async () => {
  closeCounter?.();
  await herald?.stop();
  await receiver?.stop();
});

describe('a delivery that succeeds at once', () => {
  it('is one write of one item ≤ 1 KB with no index key: 1 write unit for its record and log entry', async () => {
    const sub = await subscribe(tenantA, '/once');
    await herald.settle();
    const time = '2026-12-01T10:00:00.000Z';
    units.deliveryWrites!.length = 0;
    counting = true;
    const eventId = await publish(tenantA.id, '/once', 1, time);
    const [request] = await receiver.waitFor('/once', 1);
    const id = deliveryIdFor(tenantA.id, eventId, sub, time);
    expect(request!.headers['webhook-id']).toBe(id);
    await eventually(async () => ((await raw(deliveryKey(id)))?.status === 'succeeded' ? true : undefined));
    // The counter reads each item after its write: wait for its account, and for any other write.
    await eventually(async () => (writesOf(id).length > 0 ? true : undefined));
    await herald.settle();
    await new Promise((r) => setTimeout(r, 500));
    counting = false;
    expect(writesOf(id)).toEqual([{ delivery: `DLV#${id}`, attempt: 1, units: 1 }]);
    const item = (await raw(deliveryKey(id)))!;
    expect(item.pk).toBe(`SUBDLV#${sub}#${deliveryLogShardOf(id)}`);
    expect(Object.keys(item).filter((name) => /^gsi/.test(name))).toEqual([]);
    expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThanOrEqual(1024);
  });
});

describe('reading deliveries', () => {
  let sub: string;
  const ids: string[] = [];
  const failed = new Set<string>();

  beforeAll(async () => {
    sub = await subscribe(tenantA, '/log', { retryPolicy: { schedule: [] } });
    await herald.settle();
    for (let n = 0; n < 24; n++) {
      // Every sixth fails (its only attempt): the log mixes statuses.
      if (n % 6 === 0) receiver.script('/log', [{ status: 500, body: 'down' }]);
      const time = new Date(Date.UTC(2026, 11, 1, 11, 0, n)).toISOString();
      const eventId = await publish(tenantA.id, '/log', n, time);
      const id = deliveryIdFor(tenantA.id, eventId, sub, time);
      ids.push(id);
      if (n % 6 === 0) failed.add(id);
      await receiver.waitFor('/log', n + 1);
    }
    await eventually(async () => {
      const statuses = await Promise.all(ids.map(async (id) => (await raw(deliveryKey(id)))?.status));
      return statuses.every((s) => s === 'succeeded' || s === 'failed') ? true : undefined;
    });
  }, 120_000);

  it('GET by id is a key read of the id alone; another tenant gets 404, a malformed id 404, never a 500', async () => {
    const res = await api('GET', `/v1/deliveries/${ids[1]}`, tenantA.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: ids[1], subscriptionId: sub, status: 'succeeded', attempts: [{ number: 1, statusCode: 200 }] });
    const failedOne = await api('GET', `/v1/deliveries/${ids[0]}`, tenantA.apiKey);
    expect(failedOne.body).toMatchObject({ id: ids[0], status: 'failed', attempts: [{ number: 1, statusCode: 500 }] });
    // The failed attempt's excerpt is kept in its ring item and shown whole.
    expect(failedOne.body.attempts[0].responseExcerpt).toBe('down');
    for (const id of ids.slice(0, 3)) expect((await api('GET', `/v1/deliveries/${id}`, tenantB.apiKey)).status).toBe(404);
    expect((await api('GET', `/v1/subscriptions/${sub}/deliveries`, tenantB.apiKey)).status).toBe(404);
    const id = ids[1]!;
    for (const bad of ['dlv_doesnotexist', `${id.slice(0, -1)}`, `${id}0`, id.replace('sub_', 'ten_'), `dlv_8${id.slice(5)}`]) {
      expect((await api('GET', `/v1/deliveries/${bad}`, tenantA.apiKey)).status, bad).toBe(404);
    }
  });

  it('a record 0.1 made (a 26-character id, in its own partition) is still found by id', async () => {
    const id = 'dlv_0PointOneRecord00000000000';
    const at = '2026-11-01T00:00:00.000Z';
    await client().send(
      new PutCommand({
        TableName: LOCAL_TABLE,
        Item: { pk: `DLV#${id}`, sk: '#DLV', id, tenantId: tenantA.id, subscriptionId: sub, eventId: 'old', eventType: 'order.created', subject: '/log:old', status: 'succeeded', createdAt: at, updatedAt: at, attempts: [{ number: 1, at, durationMs: 9, statusCode: 200 }] },
      }),
    );
    expect(deliveryKey(id)).toEqual({ pk: `DLV#${id}`, sk: '#DLV' });
    const res = await api('GET', `/v1/deliveries/${id}`, tenantA.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'succeeded', attempts: [{ number: 1, statusCode: 200 }] });
    expect((await api('GET', `/v1/deliveries/${id}`, tenantB.apiKey)).status).toBe(404);
  });

  async function listAll(limit: number, status?: string) {
    const seen: string[] = [];
    let nextToken: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const query = new URLSearchParams({ limit: String(limit), ...(status ? { status } : {}), ...(nextToken ? { nextToken } : {}) });
      const res = await api('GET', `/v1/subscriptions/${sub}/deliveries?${query}`, tenantA.apiKey);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      seen.push(...res.body.items.map((d: { id: string }) => d.id));
      nextToken = res.body.nextToken;
      if (!nextToken) break;
    }
    return seen;
  }

  it('lists the log newest first across its partitions, every delivery once, at every page size, and filters by status', async () => {
    expect(new Set(ids.map(deliveryLogShardOf)).size).toBeGreaterThan(DELIVERY_LOG_SHARDS / 4);
    const newestFirst = [...ids].reverse();
    for (const limit of [1, 2, 5, 7, 24, 100]) expect(await listAll(limit), `limit ${limit}`).toEqual(newestFirst);
    expect(await listAll(2, 'failed')).toEqual(newestFirst.filter((id) => failed.has(id)));
    expect(await listAll(10, 'succeeded')).toEqual(newestFirst.filter((id) => !failed.has(id)));
    // 0.1's record (above) is found by id, not listed: README "Upgrading".
    expect(await listAll(100)).not.toContain('dlv_0PointOneRecord00000000000');
  });

  it('the dead letters hold the failed ones, and a redrive by id finds and sends the record again', async () => {
    const letters = await api('GET', '/v1/dead-letters?limit=100', tenantA.apiKey);
    expect(letters.status).toBe(200);
    expect(letters.body.items.map((d: { id: string }) => d.id).filter((id: string) => failed.has(id)).sort()).toEqual([...failed].sort());
    const before = receiver.on('/log').length;
    const redriven = await api('POST', '/v1/dead-letters/redrive', tenantA.apiKey, { deliveryId: ids[0] });
    expect(redriven.status, JSON.stringify(redriven.body)).toBe(202);
    expect(redriven.body).toEqual({ count: 1 });
    const [again] = (await receiver.waitFor('/log', before + 1)).slice(before);
    expect(again!.headers['webhook-id']).toBe(ids[0]);
    await eventually(async () => ((await raw(deliveryKey(ids[0]!)))?.status === 'succeeded' ? true : undefined));
    // Another tenant's redrive of it finds nothing.
    expect((await api('POST', '/v1/dead-letters/redrive', tenantB.apiKey, { deliveryId: ids[6] })).status).toBe(404);
  });
});

describe('a delivery that fails', () => {
  it('costs ≤ 3 write units at every attempt number: 3 for the first, 2 in the middle, 3 for the exhausting one; every item ≤ 1 KB', async () => {
    const sub = await subscribe(tenantA, '/dead', { retryPolicy: { schedule: [1, 1] } });
    await herald.settle();
    const answer = 'x'.repeat(2000);
    receiver.otherwise('/dead', { status: 503, body: answer });
    const time = '2026-12-01T12:00:00.000Z';
    units.deliveryWrites!.length = 0;
    counting = true;
    const eventId = await publish(tenantA.id, '/dead', 1, time);
    const id = deliveryIdFor(tenantA.id, eventId, sub, time);
    await receiver.waitFor('/dead', 3);
    await eventually(async () => ((await raw(deliveryKey(id)))?.status === 'failed' ? true : undefined), 20_000);
    await herald.settle();
    await new Promise((r) => setTimeout(r, 1000));
    counting = false;
    const byAttempt = new Map<number, number>();
    for (const w of writesOf(id)) byAttempt.set(w.attempt, (byAttempt.get(w.attempt) ?? 0) + w.units);
    // Reported for the README's arithmetic (first, middle, exhausting).
    console.log(`write units per attempt of a delivery failing 3 times: ${JSON.stringify(Object.fromEntries(byAttempt))}`);
    expect([...byAttempt.keys()].sort()).toEqual([1, 2, 3]);
    // A long answer: its ring item, the excerpt cut to keep it ≤ 1 KB (1), and the summary (1), no
    // index write (3 while ring items held the 1 KB excerpt whole).
    expect(byAttempt.get(2)).toBe(2);
    // Created: + its pending entry (1) (4 before). Exhausted: no ring item (the summary keeps the
    // last attempt, its excerpt cut to fit 1 KB), the summary (1) moving from PENDING# to DEAD#
    // (an index delete and put, 2), and no second write: redrive rebuilds the job from the record
    // and the kept event (7 while the record kept the parked job and a ring item the attempt).
    expect(byAttempt.get(1)).toBe(3);
    expect(byAttempt.get(3)).toBe(3);
    const record = (await raw(deliveryKey(id)))!;
    expect(record).toMatchObject({ status: 'failed', gsi3pk: `DEAD#${tenantA.id}` });
    expect(record).not.toHaveProperty('parkedJob');
    expect(itemSize(marshall(record, { removeUndefinedValues: true }))).toBeLessThanOrEqual(1024);
    for (const n of [1, 2]) expect(itemSize(marshall((await raw(attemptKey(id, n)))!))).toBeLessThanOrEqual(1024);
    expect(await raw(attemptKey(id, 3))).toBeUndefined();

    // The API shows every attempt with its excerpt (a start of the answer, as kept).
    const shown = await api('GET', `/v1/deliveries/${id}`, tenantA.apiKey);
    expect(shown.body.attempts.map((a: { number: number }) => a.number)).toEqual([1, 2, 3]);
    console.log(
      `excerpt bytes kept per attempt: ${shown.body.attempts.map((a: { responseExcerpt: string }) => a.responseExcerpt.length).join(', ')}; ` +
        `item bytes: summary ${itemSize(marshall(record, { removeUndefinedValues: true }))}, ring ${itemSize(marshall((await raw(attemptKey(id, 1)))!))}`,
    );
    for (const a of shown.body.attempts as { responseExcerpt: string; statusCode: number }[]) {
      expect(a.statusCode).toBe(503);
      expect(a.responseExcerpt.length).toBeGreaterThanOrEqual(100);
      expect(answer.startsWith(a.responseExcerpt)).toBe(true);
    }
    // Lists show the latest attempt without its excerpt, as documented.
    const listed = await api('GET', `/v1/dead-letters?subscriptionId=${sub}`, tenantA.apiKey);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0].attempts).toEqual([expect.not.objectContaining({ responseExcerpt: expect.anything() })]);

    // Redriven and delivered: the exhausting attempt keeps its place (and excerpt) in the history.
    const kept = shown.body.attempts[2];
    receiver.otherwise('/dead', { status: 204 });
    const redriven = await api('POST', '/v1/dead-letters/redrive', tenantA.apiKey, { deliveryId: id });
    expect(redriven.body).toEqual({ count: 1 });
    await eventually(async () => ((await raw(deliveryKey(id)))?.status === 'succeeded' ? true : undefined), 20_000);
    const after = await api('GET', `/v1/deliveries/${id}`, tenantA.apiKey);
    expect(after.body.attempts.map((a: { number: number }) => a.number)).toEqual([1, 2, 3, 4]);
    expect(after.body.attempts[2]).toEqual(kept);
  }, 60_000);
});
