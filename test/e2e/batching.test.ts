/**
 * Batched notifications (GAINS' Payload Max Items and Payload Interval): events of one type per
 * notification, oldest first, up to maxItems, notifications at least intervalSeconds apart; a
 * JSONata transform reshapes the batch; resend by subject pulls one record out on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver, type Received } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_batching_000000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'batching' })).body;
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

async function subscribe(path: string, eventTypes: string[], prefix: string, extra: Record<string, unknown>) {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes,
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function publish(type: string, subject: string) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type, subject, data: exampleOf(type) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const bodies = (requests: Received[]) => requests.map((r) => JSON.parse(r.body));

describe('batching', () => {
  it('sends 35 events with maxItems 15 as 15 + 15 + 5, in order, at least intervalSeconds apart', async () => {
    await subscribe('/b35', ['order.created'], 'b35:', { batching: { maxItems: 15, intervalSeconds: 2 } });
    const ids: string[] = [];
    for (let i = 0; i < 35; i++) ids.push(await publish('order.created', `b35:${String(i).padStart(2, '0')}`));
    const requests = await receiver.waitFor('/b35', 3, 30_000);
    const notes = bodies(requests);
    expect(notes.map((n) => n.batchsize)).toEqual([15, 15, 5]);
    expect(notes.flatMap((n) => n.items.map((i: { id: string }) => i.id))).toEqual(ids);
    for (const note of notes) {
      expect(note).toMatchObject({ specversion: '1.0', type: 'order.created', tenantid: tenant.id, datacontenttype: 'application/json' });
      expect(note.data).toHaveLength(note.batchsize);
      expect(note.data[0]).toEqual(exampleOf('order.created'));
    }
    // Each notification is one delivery: its own webhook-id, signed like any other.
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(3);
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.at - requests[i - 1]!.at).toBeGreaterThanOrEqual(2000 - 50);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.on('/b35')).toHaveLength(3);
    const delivery = (await api('GET', `/v1/deliveries/${requests[0]!.headers['webhook-id']}`, tenant.apiKey)).body;
    expect(delivery).toMatchObject({ status: 'succeeded', eventType: 'order.created' });
    expect(delivery.eventIds).toEqual(ids.slice(0, 15));
  });

  it('batches the GAINS example per type in FIFO order (10 POs, 12 TOs, 2 WOs, 10 POs, 50 SKU-locations)', async () => {
    const types = { PO: 'purchase_order.submitted', TO: 'transfer_order.submitted', WO: 'work_order.submitted', SKUL: 'sku_location.inventory_policy_changed' };
    await subscribe('/gains', Object.values(types), 'gains:', { batching: { maxItems: 15, intervalSeconds: 1 } });
    const stream: [keyof typeof types, number][] = [['PO', 10], ['TO', 12], ['WO', 2], ['PO', 10], ['SKUL', 50]];
    const published: { type: string; id: string }[] = [];
    let n = 0;
    for (const [kind, count] of stream) {
      for (let i = 0; i < count; i++) published.push({ type: types[kind], id: await publish(types[kind], `gains:${n++}`) });
    }
    const requests = await receiver.waitFor('/gains', 8, 40_000);
    const notes = bodies(requests);
    expect(notes.map((note) => [note.type, note.batchsize])).toEqual([
      [types.PO, 15],
      [types.TO, 12],
      [types.WO, 2],
      [types.PO, 5],
      [types.SKUL, 15],
      [types.SKUL, 15],
      [types.SKUL, 15],
      [types.SKUL, 5],
    ]);
    // Within each type, records keep their arrival order; later records in later payloads.
    for (const type of Object.values(types)) {
      const sent = notes.filter((note) => note.type === type).flatMap((note) => note.items.map((i: { id: string }) => i.id));
      expect(sent).toEqual(published.filter((p) => p.type === type).map((p) => p.id));
    }
  });

  it('reshapes a batch with a JSONata transform for a third-party API ({DataType, Data})', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'gains-style',
      eventTypes: ['purchase_order.submitted'],
      filter: { subject: [{ prefix: 'shape:' }] },
      destination: { type: 'http', url: `${receiver.url}/shaped`, transform: '{"DataType": $substringBefore(type, "."), "Data": data}' },
      batching: { maxItems: 3, intervalSeconds: 0 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    for (let i = 0; i < 3; i++) await publish('purchase_order.submitted', `shape:${i}`);
    const requests = await receiver.waitFor('/shaped', 1, 15_000);
    const all = await eventually(async () => {
      const got = receiver.on('/shaped').map((r) => JSON.parse(r.body));
      return got.reduce((a, b) => a + b.Data.length, 0) === 3 ? got : undefined;
    });
    expect(requests.length).toBeGreaterThanOrEqual(1);
    for (const body of all) {
      expect(Object.keys(body).sort()).toEqual(['Data', 'DataType']);
      expect(body.DataType).toBe('purchase_order');
      expect(body.Data[0]).toEqual(exampleOf('purchase_order.submitted'));
    }
  });

  it('resend by subject pulls one record out into its own notification', async () => {
    const sub = await subscribe('/pull', ['order.created'], 'pull:', { batching: { maxItems: 5, intervalSeconds: 0 } });
    for (const s of ['A', 'B', 'C']) await publish('order.created', `pull:${s}`);
    await eventually(async () => (bodies(receiver.on('/pull')).reduce((a, n) => a + n.batchsize, 0) === 3 ? true : undefined));
    const before = receiver.on('/pull').length;
    const res = await api('POST', `/v1/subscriptions/${sub}/resend`, tenant.apiKey, { subject: 'pull:B' });
    expect(res.body.count).toBe(1);
    const requests = await receiver.waitFor('/pull', before + 1);
    const note = JSON.parse(requests.at(-1)!.body);
    expect(note).toMatchObject({ batchsize: 1, items: [{ subject: 'pull:B' }] });
  });

  it('refuses a bad batching setting with the field named', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiver.url}/bad` },
      batching: { maxItems: 1001, intervalSeconds: 5 },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('batching.maxItems');
  });
});
