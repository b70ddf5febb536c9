/**
 * Ordered groups held out of flight (lambdas/core/order-hold.ts), through the real handlers and
 * the emulators: a receiver fails the first event of a subject for a while; once its message was
 * received REENQUEUE_AFTER_RECEIVES times (the compressed stand-in for a wait longer than five
 * minutes: the same rule holds the group) the group is held in the table, the subject's later
 * events are kept behind its head (their messages deleted, their records pending) and the
 * sweeper sends the head again when due. Another subject flows meanwhile. After recovery every
 * event of the subject arrives once, in publish order, and the hold is gone. Then the store
 * itself on dynalite: the due list, the arrival order, the conditions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoOrderHoldStore } from '../../lambdas/adapters/order-hold-store.ts';
import { shardOf } from '../../lambdas/adapters/table-keys.ts';
import { REENQUEUE_AFTER_RECEIVES } from '../../lambdas/core/delivery-plan.ts';
import { orderingGroupFor } from '../../lambdas/core/ids.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { OrderHold } from '../../lambdas/core/order-hold.ts';
import { LOCAL_TABLE, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';

const ADMIN = 'hk_admin_e2e_orderholds_00000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let server: Server;
let receiverUrl: string;

interface Hit {
  subject: string;
  seq: number;
  status: number;
  at: number;
}
const hits: Hit[] = [];
/** The receiver fails `hold:A` seq 0 until this is set. */
let recovered = false;

beforeAll(async () => {
  // The sweeper every half second: it sends a held head when due, as it does every minute deployed.
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 500 });
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'ordered-holds' })).body;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const event = JSON.parse(body);
      const status = event.subject === 'hold:A' && event.data.seq === 0 && !recovered ? 503 : 200;
      hits.push({ subject: event.subject, seq: event.data.seq, status, at: Date.now() });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await herald?.stop();
  server?.close();
});

async function publish(subject: string, seq: number) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject, data: { ...exampleOf('order.created'), seq } });
  expect(res.status).toBe(202);
}

describe('an ordered subject whose first event keeps failing', () => {
  it('is held out of flight, its later events wait behind it, another subject flows, and after recovery all arrive in order', async () => {
    const created = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'held',
      eventTypes: ['order.created'],
      filter: { subject: [{ prefix: 'hold:' }] },
      ordering: 'subject',
      // Immediate retries: the message is received again at once, until the receive count holds the group.
      retryPolicy: { schedule: Array.from({ length: 99 }, () => 0) },
      destination: { type: 'webhook', url: `${receiverUrl}/held` },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const group = orderingGroupFor(created.body.id, 'hold:A');
    const holds = new DynamoOrderHoldStore(LOCAL_TABLE);

    await publish('hold:A', 0);
    // Held once its message was received often enough.
    const hold = await eventually(() => holds.read(tenant.id, group), 60_000);
    const failedBeforeHold = hits.filter((h) => h.subject === 'hold:A').length;
    expect(failedBeforeHold).toBeGreaterThanOrEqual(REENQUEUE_AFTER_RECEIVES);
    expect(hold.attemptsMade).toBeGreaterThanOrEqual(REENQUEUE_AFTER_RECEIVES);

    for (const seq of [1, 2, 3]) await publish('hold:A', seq);
    for (const seq of [0, 1, 2]) await publish('hold:B', seq);
    // The later events are kept behind the head, in publish order, their records pending.
    const kept = await eventually(async () => {
      const entries = await holds.entries(tenant.id, group, undefined, 10);
      return entries.length === 4 ? entries : undefined;
    }, 20_000);
    expect(kept.map((e) => e.job.event.data)).toMatchObject([{ seq: 0 }, { seq: 1 }, { seq: 2 }, { seq: 3 }]);
    // Ordered by the FIFO queue's sequence numbers, as the event source mapping hands them over.
    expect(kept.every((e) => e.entry.startsWith('S'))).toBe(true);
    for (const { job } of kept.slice(1)) {
      const record = await api('GET', `/v1/deliveries/${job.deliveryId}`, tenant.apiKey);
      expect(record.body).toMatchObject({ status: 'pending' });
      expect(record.body.nextAttemptAt).toEqual(expect.any(String));
    }
    // The other subject flows while A is held.
    await eventually(async () => (hits.filter((h) => h.subject === 'hold:B' && h.status === 200).length === 3 ? true : undefined), 20_000);
    expect(hits.some((h) => h.subject === 'hold:A' && h.seq > 0)).toBe(false);
    // The sweeper sends the head again while held: more attempts come, each from a new message.
    await eventually(async () => (hits.filter((h) => h.subject === 'hold:A').length >= failedBeforeHold + 3 ? true : undefined), 20_000);

    recovered = true;
    await eventually(async () => (hits.some((h) => h.subject === 'hold:A' && h.seq === 3 && h.status === 200) ? true : undefined), 20_000);
    await eventually(async () => ((await holds.read(tenant.id, group)) === undefined ? true : undefined), 10_000);
    await herald.settle();

    const a = hits.filter((h) => h.subject === 'hold:A');
    // Every attempt in publish order; each later event once, after the first one's success.
    const firstOk = a.findIndex((h) => h.status === 200);
    expect(a.slice(0, firstOk).every((h) => h.seq === 0 && h.status === 503)).toBe(true);
    expect(a.slice(firstOk).map((h) => [h.seq, h.status])).toEqual([
      [0, 200],
      [1, 200],
      [2, 200],
      [3, 200],
    ]);
    expect(hits.filter((h) => h.subject === 'hold:B').map((h) => h.seq)).toEqual([0, 1, 2]);
    // B was delivered while A was still failing.
    expect(Math.max(...hits.filter((h) => h.subject === 'hold:B').map((h) => h.at))).toBeLessThan(a[firstOk]!.at);
    const letters = await api('GET', `/v1/dead-letters?subscriptionId=${created.body.id}`, tenant.apiKey);
    expect(letters.body.items).toEqual([]);
    expect(await holds.entries(tenant.id, group, undefined, 10)).toEqual([]);
  }, 120_000);
});

describe('the hold store on dynalite', () => {
  const job = (n: number): DeliveryJob =>
    ({
      v: 1,
      deliveryId: `dlv_STORE${String(n).padStart(21, '0')}`,
      tenantId: 'ten_STORE',
      subscriptionId: 'sub_STORE',
      event: { specversion: '1.0', id: `evt_${n}`, source: 'urn:x', type: 'order.created', time: '2099-12-01T12:00:00Z', subject: 's', datacontenttype: 'application/json', tenantid: 'ten_STORE', data: { n } },
      attemptOffset: 0,
      createdAt: '2099-12-01T12:00:00Z',
      orderingGroup: 'sub_STORE:g',
    }) as DeliveryJob;

  // Due times far ahead: the runtime's sweeper (every 500 ms) must not take this hold for a real one.
  it('keeps jobs in sequence order, lists due heads by time, and moves, claims and releases only as read', async () => {
    const holds = new DynamoOrderHoldStore(LOCAL_TABLE);
    const group = `sub_STORE:g${Date.now()}`;
    // Sequence numbers of different lengths: padded, string order is arrival order.
    const first = await holds.keep('ten_STORE', group, { sequenceNumber: '99', messageId: 'm1', at: 0 }, job(1));
    await holds.keep('ten_STORE', group, { sequenceNumber: '18446744073709551616', messageId: 'm3', at: 0 }, job(3));
    await holds.keep('ten_STORE', group, { sequenceNumber: '100', messageId: 'm2', at: 0 }, job(2));
    expect((await holds.entries('ten_STORE', group, undefined, 10)).map((e) => e.job.event.id)).toEqual(['evt_1', 'evt_2', 'evt_3']);
    expect((await holds.entries('ten_STORE', group, first, 1)).map((e) => e.job.event.id)).toEqual(['evt_2']);

    const head: OrderHold = { tenantId: 'ten_STORE', group, head: first, deliveryId: job(1).deliveryId, dueAt: '2099-12-01T12:10:00.000Z', attemptsMade: 3 };
    expect(await holds.createHead(head)).toBe(true);
    expect(await holds.createHead({ ...head, head: 'other' })).toBe(false);
    expect(await holds.read('ten_STORE', group)).toEqual(head);
    const shardHeads = async (now: string) => {
      const due: OrderHold[] = [];
      for (let shard = 0; shard < 8; shard++) due.push(...(await holds.dueHeads(shard, now, 100)).holds);
      return due.filter((h) => h.group === group);
    };
    expect(await shardHeads('2099-12-01T12:09:59.999Z')).toEqual([]);
    expect(await shardHeads('2099-12-01T12:10:00.000Z')).toEqual([head]);

    expect(await holds.claimSend(head, '2099-12-01T12:10:01.000Z')).toBe(true);
    // Another run read it before that claim: refused.
    expect(await holds.claimSend(head, '2099-12-01T12:10:02.000Z')).toBe(false);
    const sent = (await holds.read('ten_STORE', group))!;
    expect(sent.sentAt).toBe('2099-12-01T12:10:01.000Z');

    const later = { ...head, dueAt: '2099-12-01T12:20:00.000Z', attemptsMade: 4 };
    expect(await holds.moveHead(later, 'other')).toBe(false);
    expect(await holds.moveHead(later, first)).toBe(true);
    expect(await holds.read('ten_STORE', group)).toEqual(later);
    // The due list moved with it.
    expect(await shardHeads('2099-12-01T12:15:00.000Z')).toEqual([]);
    expect(await shardHeads('2099-12-01T12:20:00.000Z')).toEqual([later]);

    // A second hold in the same shard, due earlier: pages of one, in due order, the cursor DynamoDB's own.
    let other = 0;
    while (shardOf(`ten_STORE#${group}-${other}`) !== shardOf(`ten_STORE#${group}`)) other++;
    const earlier: OrderHold = { ...head, group: `${group}-${other}`, dueAt: '2099-12-01T12:05:00.000Z' };
    expect(await holds.createHead(earlier)).toBe(true);
    const shard = shardOf(`ten_STORE#${group}`);
    const firstPage = await holds.dueHeads(shard, '2099-12-01T12:30:00.000Z', 1);
    expect(firstPage.holds.map((h) => h.group)).toEqual([earlier.group]);
    const secondPage = await holds.dueHeads(shard, '2099-12-01T12:30:00.000Z', 1, firstPage.next);
    expect(secondPage.holds.map((h) => h.group)).toEqual([group]);
    expect(await holds.release('ten_STORE', earlier.group, first)).toBe(true);

    expect(await holds.release('ten_STORE', group, 'other')).toBe(false);
    expect(await holds.release('ten_STORE', group, first)).toBe(true);
    expect(await holds.read('ten_STORE', group)).toBeUndefined();
    expect(await shardHeads('2099-12-01T13:00:00.000Z')).toEqual([]);
    await holds.drop('ten_STORE', group, first);
    expect(await holds.entry('ten_STORE', group, first)).toBeUndefined();
    expect((await holds.entries('ten_STORE', group, undefined, 10)).map((e) => e.job.event.id)).toEqual(['evt_2', 'evt_3']);
  });
});
