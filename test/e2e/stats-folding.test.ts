/**
 * Statistics as deltas folded by the sweeper (core/stats.ts, adapters/stats-store.ts), against the
 * emulated table: a batch's counters are readable at once from its delta, read the same after the
 * sweeper folds them into the blocks, and are never counted twice: not by a second fold, and not
 * when a fold wrote its blocks but did not get to record how far it got (a crash), whose repeat
 * adds nothing. Deltas are written with a clock half an hour back, so their minutes are due. Each
 * minute's first batch goes straight to the blocks (core/stats.ts statsWriteFor): counted once too.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { dynamo } from '../../lambdas/adapters/clients.ts';
import { DynamoStatsStore } from '../../lambdas/adapters/stats-store.ts';
import { statsBlockSortKey, statsDueKey, statsFoldedKey, statsPartition } from '../../lambdas/adapters/table-keys.ts';
import { aggregateObservations, blockKey, DEFAULT_AUTO_PAUSE, minuteKey, type AttemptObservation } from '../../lambdas/core/stats.ts';
import { ENV } from '../../lambdas/shared/herald-config.ts';
import { apiClient } from '../support/api-client.ts';

const ADMIN = 'hk_admin_e2e_stats_folding_000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let table: string;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0 });
  api = apiClient(herald.url);
  table = process.env[ENV.tableName]!;
});

afterAll(async () => {
  await herald?.stop();
});

type Window = { events: number; attempts: number; succeeded: number; failed: number; retries: number; statusCodes: Record<string, number> };
type Stats = { lastAttemptAt: string | null; lastSuccessAt: string | null; windows: { '1h': Window; '24h': Window } };

it('counts a batch once: read from its delta at once, from the blocks after a fold, and after a fold repeated past a crash', async () => {
  const tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'folding' })).body as { id: string; apiKey: string };
  const ids: string[] = [];
  for (const name of ['a', 'b']) {
    const created = await api('POST', '/v1/subscriptions', tenant.apiKey, { name, eventTypes: ['order.created'], destination: { type: 'webhook', url: `https://receiver.example.com/${name}` } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids.push(created.body.id as string);
  }
  const [a, b] = ids as [string, string];
  // Minute boundaries 30 minutes back: the first batch's attempts fall in two ten-minute blocks.
  const base = Math.floor((Date.now() - 30 * 60_000) / 600_000) * 600_000 - 60_000;
  const observe = (subscriptionId: string, at: number, outcome: 'succeeded' | 'retry', attempt = 1): AttemptObservation => ({
    tenantId: tenant.id,
    subscriptionId,
    at,
    attempt,
    outcome,
    durationMs: 40,
    statusCode: outcome === 'succeeded' ? 200 : 500,
    ...(outcome === 'retry' ? { error: 'http_status' as const } : {}),
    endpointFailure: outcome !== 'succeeded',
    autoPause: DEFAULT_AUTO_PAUSE,
  });
  const store = new DynamoStatsStore(table);
  // Each minute's first batch for the tenant goes straight to the blocks; the next, of two subscriptions, is a delta.
  await store.addStats(aggregateObservations([observe(a, base + 500, 'succeeded')]), new Date(base + 61_500));
  await store.addStats(
    aggregateObservations([observe(a, base + 1_000, 'succeeded'), observe(a, base + 2_000, 'succeeded'), observe(a, base + 61_000, 'retry'), observe(b, base + 3_000, 'succeeded')]),
    new Date(base + 62_000),
  );
  await store.addStats(aggregateObservations([observe(b, base + 121_000, 'succeeded')]), new Date(base + 122_000));
  await store.addStats(aggregateObservations([observe(a, base + 125_000, 'succeeded', 2), observe(b, base + 126_000, 'retry')]), new Date(base + 127_000));
  const expected = {
    [a]: { events: 4, attempts: 5, succeeded: 4, failed: 1, retries: 1, statusCodes: { '200': 4, '500': 1 }, lastAttemptAt: base + 125_000, lastSuccessAt: base + 125_000 },
    [b]: { events: 3, attempts: 3, succeeded: 2, failed: 1, retries: 0, statusCodes: { '200': 2, '500': 1 }, lastAttemptAt: base + 126_000, lastSuccessAt: base + 121_000 },
  };
  const expectCounted = async (when: string) => {
    for (const id of [a, b]) {
      const stats = (await api<Stats>('GET', `/v1/subscriptions/${id}/stats`, tenant.apiKey)).body;
      const { lastAttemptAt, lastSuccessAt, ...counts } = expected[id]!;
      for (const window of ['1h', '24h'] as const) expect(stats.windows[window], `${when}: ${id} ${window}`).toMatchObject(counts);
      expect([stats.lastAttemptAt, stats.lastSuccessAt], `${when}: ${id}`).toEqual([new Date(lastAttemptAt).toISOString(), new Date(lastSuccessAt).toISOString()]);
    }
  };

  await expectCounted('from the deltas');
  expect(await store.foldDue(new Date())).toBe(2);
  await expectCounted('folded');
  // The blocks hold the counts now: subscription a's first block its three successes (and the minute's).
  const block = (await dynamo().send(new GetCommand({ TableName: table, Key: { pk: statsPartition(tenant.id, a), sk: statsBlockSortKey(blockKey(minuteKey(base))) } }))).Item!;
  expect([block.c_succeeded, block[`M${minuteKey(base).slice(-1)}_c_succeeded`]]).toEqual([3, 3]);

  expect(await store.foldDue(new Date())).toBe(0);
  await expectCounted('after a second sweep');

  // A fold that wrote its blocks and stopped before recording `through`: its entry still listed.
  await dynamo().send(new DeleteCommand({ TableName: table, Key: statsFoldedKey(tenant.id) }));
  await expectCounted('blocks folded, through not recorded');
  const writtenIn = minuteKey(base + 62_000);
  await dynamo().send(new PutCommand({ TableName: table, Item: statsDueKey(new Date(base + 180_000).toISOString(), tenant.id, writtenIn) }));
  expect(await store.foldDue(new Date())).toBe(1);
  await expectCounted('the fold repeated');
  expect((await dynamo().send(new GetCommand({ TableName: table, Key: statsFoldedKey(tenant.id) }))).Item?.through).toBe(writtenIn);
}, 60_000);
