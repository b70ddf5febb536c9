/**
 * Delivery statistics and endpoint health as pure logic: aggregation of a batch's attempts into
 * time buckets, the health run of failures, the auto-pause threshold, percentiles from the
 * histogram, and Herald's operational events matching their catalogue schemas.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCatalogueEntries } from '../../lambdas/adapters/catalogue-files.ts';
import { Catalogue } from '../../lambdas/core/catalogue.ts';
import { autoPausePolicyOf } from '../../lambdas/core/health.ts';
import { dataSchemaUri } from '../../lambdas/core/envelope.ts';
import { isOperationalEvent, operationalEvent } from '../../lambdas/core/operational-events.ts';
import {
  addUnfolded,
  aggregateObservations,
  blockFolds,
  deltasByTenant,
  emptyCounters,
  foldMarker,
  fromCounterFields,
  latencyBucket,
  mergeCounters,
  percentile,
  shouldAutoPause,
  statsWriteFor,
  summarizeStats,
  toCounterFields,
  DEFAULT_AUTO_PAUSE,
  type AttemptObservation,
  type BlockFold,
} from '../../lambdas/core/stats.ts';

const T0 = Date.parse('2026-11-25T10:15:30Z');
const obs = (over: Partial<AttemptObservation>): AttemptObservation => ({
  tenantId: 'ten_1',
  subscriptionId: 'sub_1',
  at: T0,
  attempt: 1,
  outcome: 'succeeded',
  durationMs: 40,
  statusCode: 200,
  endpointFailure: false,
  ...over,
});
const failure = (over: Partial<AttemptObservation> = {}) => obs({ outcome: 'retry', statusCode: 500, error: 'http_status', endpointFailure: true, ...over });

describe('aggregateObservations', () => {
  it('counts events, attempts, retries, failures and dead letters per minute and hour bucket', () => {
    const [inc] = aggregateObservations([
      obs({}),
      failure({ at: T0 + 1000 }),
      obs({ attempt: 2, at: T0 + 2000, durationMs: 700 }),
      obs({ outcome: 'failed', attempt: 3, statusCode: 503, error: 'http_status', endpointFailure: true, at: T0 + 61_000 }),
      obs({ outcome: 'held', at: T0 + 3000, statusCode: undefined, durationMs: 0 }),
    ]);
    expect(Object.keys(inc!.minutes)).toEqual(['2026-11-25T10:15', '2026-11-25T10:16']);
    expect(Object.keys(inc!.hours)).toEqual(['2026-11-25T10']);
    expect(inc!.hours['2026-11-25T10']).toMatchObject({
      events: 2, attempts: 4, succeeded: 2, failed: 2, retries: 2, deadLettered: 1, held: 1,
      errors: { http_status: 2 }, statusCodes: { '200': 2, '500': 1, '503': 1 }, latency: { '50': 3, '1000': 1 },
    });
  });

  it('groups by subscription', () => {
    const increments = aggregateObservations([obs({}), obs({ subscriptionId: 'sub_2' }), obs({ tenantId: 'ten_2' })]);
    expect(increments.map((i) => `${i.tenantId}/${i.subscriptionId}`)).toEqual(['ten_1/sub_1', 'ten_1/sub_2', 'ten_2/sub_1']);
  });

  it('extends the run of failures when the batch has no success', () => {
    const [inc] = aggregateObservations([failure({ at: T0 + 5 }), failure({ at: T0 })]);
    expect(inc!.health.addFailures).toEqual({ count: 2, firstAt: new Date(T0).toISOString() });
    expect(inc!.health.reset).toBeUndefined();
    expect(inc!.health.lastError).toMatchObject({ error: 'http_status', statusCode: 500 });
  });

  it('restarts the run at the failures after the batch’s last success', () => {
    const [inc] = aggregateObservations([failure({ at: T0 }), obs({ at: T0 + 10 }), failure({ at: T0 + 20 })]);
    expect(inc!.health.reset).toEqual({ failures: 1, failingSince: new Date(T0 + 20).toISOString() });
    expect(inc!.health.lastSuccessAt).toBe(new Date(T0 + 10).toISOString());
    const [clean] = aggregateObservations([failure({ at: T0 }), obs({ at: T0 + 10 })]);
    expect(clean!.health.reset).toEqual({ failures: 0 });
  });

  it('does not count held deliveries or a paused subscription against the endpoint', () => {
    const [inc] = aggregateObservations([obs({ outcome: 'held', statusCode: undefined })]);
    expect(inc!.health).toEqual({});
  });

  it('never loses a count: the buckets of any batch sum to its attempts (property)', () => {
    const observation = fc.record({
      at: fc.integer({ min: T0, max: T0 + 3 * 3_600_000 }),
      attempt: fc.integer({ min: 1, max: 5 }),
      outcome: fc.constantFrom('succeeded', 'retry', 'failed', 'held') as fc.Arbitrary<AttemptObservation['outcome']>,
      durationMs: fc.integer({ min: 0, max: 100_000 }),
      subscriptionId: fc.constantFrom('a', 'b'),
    });
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 40 }), (list) => {
        const increments = aggregateObservations(list.map((o) => obs({ ...o, endpointFailure: o.outcome !== 'succeeded' })));
        const total = increments.flatMap((i) => Object.values(i.hours)).reduce((acc, c) => mergeCounters(acc, c), emptyCounters());
        const minutes = increments.flatMap((i) => Object.values(i.minutes)).reduce((acc, c) => mergeCounters(acc, c), emptyCounters());
        expect(total.attempts + total.held).toBe(list.length);
        expect(minutes).toEqual(total);
        expect(total.succeeded + total.failed).toBe(total.attempts);
        expect(fromCounterFields(toCounterFields(total))).toEqual(total);
      }),
    );
  });
});

describe('auto-pause', () => {
  const policy = { enabled: true, afterFailures: 3, afterHours: 2 };
  it('needs both the number of failures and the time span', () => {
    const since = new Date(T0).toISOString();
    expect(shouldAutoPause({ consecutiveFailures: 3, failingSince: since }, policy, T0 + 2 * 3_600_000)).toBe(true);
    expect(shouldAutoPause({ consecutiveFailures: 2, failingSince: since }, policy, T0 + 9 * 3_600_000)).toBe(false);
    expect(shouldAutoPause({ consecutiveFailures: 50, failingSince: since }, policy, T0 + 3_600_000)).toBe(false);
    expect(shouldAutoPause({ consecutiveFailures: 50, failingSince: since }, { ...policy, enabled: false }, T0 + 9 * 3_600_000)).toBe(false);
  });

  it('defaults to 100 failures over 24 h, each setting overridable', () => {
    expect(autoPausePolicyOf({})).toEqual(DEFAULT_AUTO_PAUSE);
    expect(autoPausePolicyOf({ autoPause: { afterFailures: 5 } })).toEqual({ enabled: true, afterFailures: 5, afterHours: 24 });
  });
});

describe('percentiles and windows', () => {
  it('reads p50/p95 as histogram bucket bounds', () => {
    expect(latencyBucket(0)).toBe('10');
    expect(latencyBucket(100_000)).toBe('inf');
    expect(percentile({}, 0.5)).toBeNull();
    expect(percentile({ '50': 90, '1000': 10 }, 0.5)).toBe(50);
    expect(percentile({ '50': 90, '1000': 10 }, 0.95)).toBe(1000);
    expect(percentile({ inf: 1 }, 0.5)).toBe(90_000);
  });

  it('sums minute buckets for the last hour and hour buckets for 24 h and 7 days', () => {
    const c = (attempts: number) => ({ ...emptyCounters(), attempts, succeeded: attempts });
    const now = Date.parse('2026-11-25T10:30:00Z');
    const stats = summarizeStats(
      'sub_1',
      {
        minutes: { '2026-11-25T09:30': c(1), '2026-11-25T09:31': c(2), '2026-11-25T10:30': c(4) },
        hours: { '2026-11-18T10': c(8), '2026-11-18T11': c(16), '2026-11-24T11': c(32), '2026-11-25T10': c(64) },
      },
      { consecutiveFailures: 0 },
      now,
    );
    expect(stats.windows['1h'].attempts).toBe(6);
    expect(stats.windows['24h'].attempts).toBe(96);
    expect(stats.windows['7d'].attempts).toBe(112);
    expect(stats.windows['7d'].successRate).toBe(1);
    expect(stats.hourly.at(-1)).toMatchObject({ hour: '2026-11-25T10:00:00Z', attempts: 64 });
    expect(stats.hourly[0]).toMatchObject({ hour: '2026-11-24T11:00:00Z', attempts: 32 });
  });
});

describe('operational events', () => {
  const catalogue = new Catalogue(readCatalogueEntries(fileURLToPath(new URL('../../catalogue', import.meta.url))));
  it.each([
    ['subscription.paused', { subscriptionId: 'sub_1', name: 'n', reason: 'endpoint failing', pausedAt: '2026-11-25T10:00:00Z', consecutiveFailures: 3 }],
    ['subscription.resumed', { subscriptionId: 'sub_1', name: 'n', resumedAt: '2026-11-25T10:00:00Z', releasedDeliveries: 2, discardedDeliveries: 0 }],
    ['delivery.dead_lettered', { deliveryId: 'dlv_1', subscriptionId: 'sub_1', eventId: 'evt_1', eventType: 'order.created', subject: 'o-1', reason: 'r', attempts: 3 }],
  ] as const)('%s as Herald emits it passes its catalogue schema', (type, data) => {
    const event = operationalEvent('ten_1', type, 'sub_1', data, 'urn:herald:platform', new Date(T0));
    expect(catalogue.validate(event.type, event.data, 1)).toEqual([]);
    expect(event.dataschema).toBe(dataSchemaUri(type, 1));
  });

  it('are never announced about themselves (no dead-letter loops)', () => {
    expect(isOperationalEvent('delivery.dead_lettered')).toBe(true);
    expect(isOperationalEvent('herald.ping')).toBe(true);
    expect(isOperationalEvent('order.created')).toBe(false);
  });
});

describe('statistics deltas and their fold', () => {
  const observation = (tenantId: string, subscriptionId: string, at: string, outcome: 'succeeded' | 'retry' = 'succeeded'): AttemptObservation => ({
    tenantId,
    subscriptionId,
    at: Date.parse(at),
    attempt: 1,
    outcome,
    durationMs: 30,
    statusCode: outcome === 'succeeded' ? 200 : 503,
    ...(outcome === 'retry' ? { error: 'http_status' as const } : {}),
    endpointFailure: outcome === 'retry',
  });

  it('writes a delta only for a tenant part of several subscriptions, after its first batch of the minute', () => {
    expect(statsWriteFor(10, true)).toBe('delta');
    expect(statsWriteFor(10, false)).toBe('blocks');
    expect(statsWriteFor(1, true)).toBe('blocks');
  });

  it('makes one delta per tenant holding every subscription the batch touched', () => {
    const deltas = deltasByTenant(
      aggregateObservations([observation('t1', 'a', '2026-12-02T10:21:05Z'), observation('t1', 'b', '2026-12-02T10:21:06Z'), observation('t2', 'c', '2026-12-02T10:21:07Z', 'retry')]),
    );
    expect([...deltas.keys()]).toEqual(['t1', 't2']);
    expect(Object.keys(deltas.get('t1')!)).toEqual(['a', 'b']);
    expect(deltas.get('t1')!.a).toMatchObject({ lastAttemptAt: '2026-12-02T10:21:05.000Z', lastSuccessAt: '2026-12-02T10:21:05.000Z', minutes: { '2026-12-02T10:21': { succeeded: 1 } } });
    expect(deltas.get('t2')!.c!.lastSuccessAt).toBeUndefined();
  });

  it('folds deltas into one write per subscription and block, with each minute and the latest times', () => {
    const first = deltasByTenant(aggregateObservations([observation('t', 'a', '2026-12-02T10:19:50Z'), observation('t', 'a', '2026-12-02T10:20:01Z', 'retry')])).get('t')!;
    const second = deltasByTenant(aggregateObservations([observation('t', 'a', '2026-12-02T10:20:30Z'), observation('t', 'b', '2026-12-02T10:20:31Z')])).get('t')!;
    const folds = blockFolds([first, second]);
    expect(folds.map((f) => [f.subscriptionId, f.block])).toEqual([
      ['a', '2026-12-02T10:1'],
      ['a', '2026-12-02T10:2'],
      ['b', '2026-12-02T10:2'],
    ]);
    const [early, late] = folds as [BlockFold, BlockFold];
    // A delta carries its batch's latest times only: the first batch's last attempt fell in the later block.
    expect(early).toMatchObject({ fields: { c_succeeded: 1, M9_c_succeeded: 1 }, lastSuccessAt: '2026-12-02T10:19:50.000Z' });
    expect(early.lastAttemptAt).toBeUndefined();
    expect(late).toMatchObject({ fields: { c_attempts: 2, c_succeeded: 1, c_failed: 1, M0_c_attempts: 2, s_503: 1, s_200: 1 }, lastAttemptAt: '2026-12-02T10:20:30.000Z', lastSuccessAt: '2026-12-02T10:20:30.000Z' });
  });

  it('adds unfolded deltas unless their block carries the fold marker of the minute they were written in', () => {
    const delta = deltasByTenant(aggregateObservations([observation('t', 'a', '2026-12-02T10:19:50Z'), observation('t', 'a', '2026-12-02T10:20:05Z')])).get('t')!.a!;
    const range = { minutesFrom: '2026-12-02T09:21', hoursFrom: '2026-11-25T11' };
    const folded = new Set(['2026-12-02T10:1 F10:20']);
    const buckets = { minutes: {}, hours: {} } as Parameters<typeof addUnfolded>[0];
    addUnfolded(buckets, [{ writtenIn: '2026-12-02T10:20', delta }], (block, marker) => folded.has(`${block} ${marker}`), range);
    expect(Object.keys(buckets.minutes)).toEqual(['2026-12-02T10:20']);
    expect(buckets.hours['2026-12-02T10']!.succeeded).toBe(1);
    expect([buckets.lastAttemptAt, buckets.lastSuccessAt]).toEqual(['2026-12-02T10:20:05.000Z', '2026-12-02T10:20:05.000Z']);
    expect(foldMarker('2026-12-02T10:20')).toBe('F10:20');
  });
});
