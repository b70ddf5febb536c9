/**
 * What the deliver function reads of a subscription, through the real handlers on the local
 * runtime (dynalite) with the subscription cache on (HERALD_SUBSCRIPTION_CACHE_SECONDS, here 2 s
 * to keep the test short; 10 s deployed): a busy subscription's deliveries read it once per
 * container and period, eventually consistent, not once per batch consistently (1 read unit per
 * delivery at 10 subscriptions); and what that read serves still takes effect within the period:
 * a pause holds the deliveries after it, a resume releases them, an edit of the destination
 * moves them (a deletion, a secret rotation: test/unit/kept-subscriptions.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKinds } from '../../bench/dynamo-units.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_delivery_reads_00000000000000000000000';
const KEEP_SECONDS = 2;
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
/** Every read while `recording`, labelled as the bench labels it (`GetItem TENANT/SUB`, … ` (consistent)`). */
let recording = false;
const reads: string[] = [];

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0, subscriptionCacheSeconds: KEEP_SECONDS });
  const { dynamo } = await import('../../lambdas/adapters/clients.ts');
  dynamo().middlewareStack.add(
    (next, context) => (args) => {
      if (recording) reads.push(...readKinds(String(context.commandName).replace(/Command$/, ''), args.input));
      return next(args);
    },
    { step: 'initialize', name: 'recordDeliveryReads' },
  );
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  const created = await api('POST', '/v1/tenants', ADMIN, { name: 'delivery reads' });
  tenant = { id: created.body.id, apiKey: created.body.apiKey };
}, 60_000);

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

async function subscribe(path: string) {
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: path, eventTypes: ['order.created'], filter: { subject: [{ prefix: `${path}:` }] }, destination: { type: 'webhook', url: `${receiver.url}${path}` } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function publish(path: string, count: number, from = 0) {
  const events = Array.from({ length: count }, (_, i) => ({ tenantId: tenant.id, type: 'order.created', subject: `${path}:${from + i}`, data: exampleOf('order.created') }));
  const res = await api('POST', '/v1/events/batch', ADMIN, { events });
  expect(res.body.items?.map((item: { status: number }) => item.status), JSON.stringify(res.body)).toEqual(events.map(() => 202));
}

const pause = (sub: string, status: 'paused' | 'active') => api('PATCH', `/v1/subscriptions/${sub}`, tenant.apiKey, { status });
const waitOut = () => new Promise((r) => setTimeout(r, KEEP_SECONDS * 1000 + 200));

describe("a busy subscription's deliveries", () => {
  it('read it once per container and period, eventually consistent, never once per batch', async () => {
    await subscribe('/busy');
    await herald.settle();
    reads.length = 0;
    recording = true;
    // 40 deliveries, over several batches, in well under two periods.
    await publish('/busy', 20);
    await publish('/busy', 20, 20);
    await receiver.waitFor('/busy', 40);
    await herald.settle();
    recording = false;
    const ofSubscription = reads.filter((read) => read.startsWith('GetItem TENANT/SUB'));
    expect(ofSubscription.filter((read) => read.endsWith('(consistent)'))).toEqual([]);
    expect(ofSubscription.length).toBeGreaterThanOrEqual(1);
    expect(ofSubscription.length).toBeLessThanOrEqual(3);
  });
});

describe('a change reaches deliveries within the period', () => {
  it('a pause holds the deliveries after it, a resume releases them', async () => {
    const sub = await subscribe('/pause');
    await publish('/pause', 1);
    await receiver.waitFor('/pause', 1);
    expect((await pause(sub, 'paused')).status).toBe(200);
    await waitOut();
    await publish('/pause', 3, 1);
    await herald.settle();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.on('/pause')).toHaveLength(1);
    const held = await api('GET', `/v1/subscriptions/${sub}/deliveries?status=held`, tenant.apiKey);
    expect(held.body.items).toHaveLength(3);
    // The resume releases them at once, although this container still keeps the paused copy.
    expect((await pause(sub, 'active')).status).toBe(200);
    await receiver.waitFor('/pause', 4);
    // And a delivery that meets the kept paused copy is held, then released by its consistent re-read.
    await publish('/pause', 1, 4);
    await receiver.waitFor('/pause', 5);
  });

  it('an edit of the destination moves the deliveries after it', async () => {
    const sub = await subscribe('/before');
    await publish('/before', 1);
    await receiver.waitFor('/before', 1);
    const edited = await api('PATCH', `/v1/subscriptions/${sub}`, tenant.apiKey, { destination: { type: 'webhook', url: `${receiver.url}/after` } });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    await waitOut();
    await publish('/before', 2, 1);
    await receiver.waitFor('/after', 2);
    expect(receiver.on('/before')).toHaveLength(1);
  });
});
