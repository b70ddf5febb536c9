/**
 * Ordered delivery (`ordering: "subject"`): the events of one subject reach the subscription one
 * at a time, in publish order, through the FIFO queue; a failing event blocks only its own
 * subject until it succeeds (or exhausts its policy, and then the next proceeds).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';

const ADMIN = 'hk_admin_e2e_ordering_000000000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let server: Server;
let receiverUrl: string;

interface Hit {
  path: string;
  subject: string;
  seq: number;
  status: number;
  at: number;
}
const hits: Hit[] = [];
/** Event ids to fail on their first attempt (or always, for ids in `alwaysFail`). */
const failOnce = new Set<string>();
const alwaysFail = new Set<string>();
const failedBefore = new Set<string>();

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'ordering' })).body;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const event = JSON.parse(body);
      const fail = alwaysFail.has(event.id) || (failOnce.has(event.id) && !failedBefore.has(event.id));
      if (fail) failedBefore.add(event.id);
      const status = fail ? 500 : 200;
      hits.push({ path: req.url ?? '', subject: event.subject, seq: event.data.seq, status, at: Date.now() });
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

async function subscribe(path: string, prefix: string, retryPolicy: unknown) {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    ordering: 'subject',
    retryPolicy,
    destination: { type: 'webhook', url: `${receiverUrl}${path}` },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.ordering).toBe('subject');
  return res.body.id as string;
}

/** When each (subject, seq) was accepted: a delivery's wait is measured from here. */
const publishedAt = new Map<string, number>();

async function publish(subject: string, seq: number) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject, data: { ...exampleOf('order.created'), seq } });
  expect(res.status).toBe(202);
  publishedAt.set(`${subject}#${seq}`, Date.now());
  return res.body.id as string;
}

/** A small seeded generator, so the failing events are the same on every run. */
function seeded(seed: number) {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

describe('ordering: "subject"', () => {
  it('delivers 200 events over 20 subjects in publish order per subject; failures delay only their own subject', async () => {
    await subscribe('/ordered', 'ord:', { schedule: [1, 1, 1, 1, 1] });
    const random = seeded(7);
    const failing = new Set(Array.from({ length: 5 }, (_, i) => `ord:S${i}`));
    for (let seq = 0; seq < 10; seq++) {
      for (let s = 0; s < 20; s++) {
        const subject = `ord:S${s}`;
        const id = await publish(subject, seq);
        if (failing.has(subject) && random() < 0.5) failOnce.add(id);
      }
    }
    await eventually(async () => (hits.filter((h) => h.path === '/ordered' && h.status === 200).length >= 200 ? true : undefined), 60_000);
    const bySubject = new Map<string, Hit[]>();
    for (const hit of hits.filter((h) => h.path === '/ordered')) bySubject.set(hit.subject, [...(bySubject.get(hit.subject) ?? []), hit]);
    expect(bySubject.size).toBe(20);
    for (const [subject, list] of bySubject) {
      // Every attempt, failed ones included, comes in publish order: nothing overtakes a failure.
      const seqs = list.map((h) => h.seq);
      expect(seqs, subject).toEqual([...seqs].sort((a, b) => a - b));
      expect(list.filter((h) => h.status === 200).map((h) => h.seq), subject).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    expect([...failing].some((s) => bySubject.get(s)!.some((h) => h.status === 500))).toBe(true);
    // Subjects without failures never waited behind the failing ones: the longest any of their
    // events waited from its publish to its delivery is shorter than the shortest longest wait of
    // a subject that had a retry (at least the 1 s gap). Measured from each event's own publish,
    // so a slow machine slowing every publish does not blur the comparison.
    const longestWait = (subject: string) =>
      Math.max(...bySubject.get(subject)!.filter((h) => h.status === 200).map((h) => h.at - publishedAt.get(`${h.subject}#${h.seq}`)!));
    const healthyWait = Math.max(...[...bySubject.keys()].filter((s) => !failing.has(s)).map(longestWait));
    const failingWithRetries = [...failing].filter((s) => bySubject.get(s)!.some((h) => h.status === 500));
    expect(Math.min(...failingWithRetries.map(longestWait))).toBeGreaterThan(healthyWait);
  }, 90_000);

  it('lets the next event proceed once a failing one exhausts its policy, and says so in the dead letter', async () => {
    const sub = await subscribe('/ordered-dead', 'dead:', { schedule: [1] });
    const first = await publish('dead:X', 0);
    alwaysFail.add(first);
    await publish('dead:X', 1);
    await eventually(async () => (hits.some((h) => h.path === '/ordered-dead' && h.seq === 1 && h.status === 200) ? true : undefined), 20_000);
    const seqs = hits.filter((h) => h.path === '/ordered-dead').map((h) => h.seq);
    expect(seqs).toEqual([0, 0, 1]);
    const letters = await eventually(async () => {
      const res = await api('GET', `/v1/dead-letters?subscriptionId=${sub}`, tenant.apiKey);
      return res.body.items.length === 1 ? res.body.items : undefined;
    });
    expect(letters[0].reason).toMatch(/ordered delivery: the subject's later events proceed without this one/);
  });

  it('refuses an unknown ordering with the field named', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      ordering: 'global',
      destination: { type: 'webhook', url: `${receiverUrl}/bad` },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('ordering');
  });
});
