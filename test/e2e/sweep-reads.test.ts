/**
 * What the sweeper reads for a rarely publishing tenant, through the real handlers on the local
 * runtime (dynalite): a sweep window lists the event shards it holds, so checking a window that
 * holds one event queries that one shard of the tenant's events (0.5 RRU, where all 16 cost 8),
 * and the window's saved progress comes with the list (no read per window); its subscriptions are
 * looked up under the one pattern key the tenant uses; the sweeper's cursors and index look-ups
 * read eventually consistent (half the units of a consistent read). The guarantee holds:
 * an event whose delivery message was lost is still found in its shard and its delivery
 * re-enqueued as the same delivery.
 */
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventsByTimePartition, eventShardOf } from '../../lambdas/adapters/table-keys.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_sweep_reads_000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
/** Delivery messages of these subscriptions to swallow once each: lost in transit. */
const lose = new Set<string>();
/** Read requests while `recording`: operation, the partition it names (key or `:pk`), and its index. */
let recording = false;
const reads: { op: string; partition: string; index?: string; consistent?: true }[] = [];

beforeAll(async () => {
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    sweepIntervalMs: 0,
    sweepAfterSeconds: 1,
    wrapDeliver: (deliver) => async (event, context) => {
      const kept = event.Records.filter((record: SQSRecord) => {
        const sid = (JSON.parse(record.body) as { subscriptionId: string }).subscriptionId;
        return !lose.delete(sid);
      });
      if (kept.length === 0) return { batchItemFailures: [] };
      return deliver({ Records: kept }, context);
    },
  });
  const { dynamo } = await import('../../lambdas/adapters/clients.ts');
  dynamo().middlewareStack.add(
    (next, context) => (args) => {
      const op = String(context.commandName).replace(/Command$/, '');
      const input = args.input as { Key?: Record<string, unknown>; IndexName?: string; ExpressionAttributeValues?: Record<string, unknown>; ConsistentRead?: boolean };
      if (recording && (op === 'GetItem' || op === 'Query')) {
        const partition = String(input.Key ? Object.values(input.Key)[0] : input.ExpressionAttributeValues?.[':pk']);
        reads.push({ op, partition, ...(input.IndexName ? { index: input.IndexName } : {}), ...(input.ConsistentRead ? { consistent: true as const } : {}) });
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordReads' },
  );
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

async function tenantWithSubscription(path: string) {
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name: path })).body as { id: string; apiKey: string };
  const sub = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: path, eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}${path}` } });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  return { tenantId: tenant.id, subscriptionId: sub.body.id as string };
}

/** Sweeps until a run checks nothing more, recording the reads of the runs that checked something. */
async function sweepRecorded() {
  reads.length = 0;
  recording = true;
  let checked = 0;
  let enqueued = 0;
  try {
    for (let run = 0; run < 5; run++) {
      const report = await herald.sweep();
      checked += report.eventsChecked;
      enqueued += report.deliveriesEnqueued;
      if (report.eventsChecked === 0) break;
    }
  } finally {
    recording = false;
  }
  return { checked, enqueued };
}

it("checks a rare tenant's event by querying only the event's shard of the tenant, with no read of the window item", async () => {
  const { tenantId } = await tenantWithSubscription('/rare');
  const subject = 'order-rare-1';
  expect((await api('POST', '/v1/events', ADMIN, { tenantId, type: 'order.created', subject, data: exampleOf('order.created') })).status).toBe(202);
  await receiver.waitFor('/rare', 1);
  await new Promise((r) => setTimeout(r, 1500));
  const { checked } = await sweepRecorded();
  expect(checked).toBeGreaterThanOrEqual(1);
  const ofTenant = reads.filter((read) => read.partition.startsWith(`EVENTS#${tenantId}#`));
  expect(ofTenant).toEqual([{ op: 'Query', partition: eventsByTimePartition(tenantId, eventShardOf(subject)), index: 'gsi2' }]);
  // The cursors (SWEEP / CURSOR#…, PENDINGCURSOR#…) and the index look-ups, eventually consistent.
  expect(reads.filter((read) => read.partition === 'SWEEP').length).toBeGreaterThan(0);
  expect(reads.filter((read) => read.consistent && (read.partition === 'SWEEP' || read.partition.startsWith('SUBIDX#')))).toEqual([]);
  expect(reads.filter((read) => read.op === 'GetItem' && read.partition.startsWith('SWEEPWIN#'))).toEqual([]);
  // Its subscriptions: the one pattern key the tenant's index head lists, not the type's three.
  expect(reads.filter((read) => read.partition.startsWith(`SUBIDX#${tenantId}#`)).map((read) => read.partition)).toEqual([`SUBIDX#${tenantId}#order.created`]);
});

it("still finds an event whose delivery was lost in transit, in the shard its window lists, and re-enqueues the same delivery", async () => {
  const { tenantId, subscriptionId } = await tenantWithSubscription('/rare-lost');
  lose.add(subscriptionId);
  const subject = 'order-rare-lost';
  expect((await api('POST', '/v1/events', ADMIN, { tenantId, type: 'order.created', subject, data: exampleOf('order.created') })).status).toBe(202);
  await eventually(async () => (lose.has(subscriptionId) ? undefined : true));
  await new Promise((r) => setTimeout(r, 1500));
  expect(receiver.on('/rare-lost')).toHaveLength(0);
  const { enqueued } = await sweepRecorded();
  expect(enqueued).toBe(1);
  expect(reads.filter((read) => read.partition.startsWith(`EVENTS#${tenantId}#`)).map((read) => read.partition)).toEqual([eventsByTimePartition(tenantId, eventShardOf(subject))]);
  await receiver.waitFor('/rare-lost', 1);
});
