/**
 * The bench's cost arithmetic (bench/cost-model.ts): counts and prices in, dollars out. Pure
 * arithmetic on hand-checkable numbers; no bench run.
 */
import { describe, expect, it } from 'vitest';
import {
  apiDestinationsPerMillion,
  attemptsWithin,
  authorizerInvocations,
  costLines,
  floorPerMillion,
  idleMonthly,
  perMillion,
  recomputeFromReport,
  total,
  xrayTracesPerRequest,
  type Prices,
  type Usage,
} from '../../bench/cost-model.ts';
import prices from '../../bench/prices.json' with { type: 'json' };

const p = prices as unknown as Prices;

const usage: Usage = {
  apiRequests: 1000,
  functions: {
    api: { invocations: 1000, billedMs: 10_000, memoryMb: 512 },
    deliver: { invocations: 100, billedMs: 20_000, memoryMb: 512 },
  },
  sqsBilledRequests: 300,
  eventbridgeBilledEvents: 1000,
  dynamodbWriteUnits: 4000,
  dynamodbReadUnits: 2000,
  storedBytes: 2 ** 30 / 1000, // 1 GB per million events
  retentionDays: 30,
  logBytes: 2 ** 30 / 1000,
  logRetentionDays: 30,
  xrayTraces: 100,
  kmsRequests: 0,
};

describe('costLines', () => {
  const lines = perMillion(costLines(usage, p), 1000);
  it('prices each line from its count', () => {
    expect(lines.apiGateway).toBeCloseTo(3.5);
    expect(lines['lambda.api.requests']).toBeCloseTo(0.2);
    // 10 ms at 0.5 GB per event: 5,000 GB-s per million.
    expect(lines['lambda.api.duration']).toBeCloseTo(5000 * 0.0000133334);
    expect(lines['lambda.deliver.requests']).toBeCloseTo(0.02);
    expect(lines.sqs).toBeCloseTo(0.12);
    expect(lines.eventbridge).toBeCloseTo(1);
    expect(lines['dynamodb.writes']).toBeCloseTo(2.5);
    expect(lines['dynamodb.reads']).toBeCloseTo(0.25);
    expect(lines['dynamodb.storage']).toBeCloseTo(0.25);
    expect(lines['dynamodb.pitr']).toBeCloseTo(0.2);
    expect(lines['cloudwatch.logsIngestion']).toBeCloseTo(0.5);
    expect(lines['cloudwatch.logsStorage']).toBeCloseTo(0.03);
    expect(lines.xray).toBeCloseTo(0.5);
  });

  it('agrees with the longhand recomputation from per-event counts', () => {
    const recomputed = recomputeFromReport(
      {
        apiRequests: 1,
        functions: { api: { invocations: 1, billedMsPerInvocation: 10, memoryMb: 512 }, deliver: { invocations: 0.1, billedMsPerInvocation: 200, memoryMb: 512 } },
        sqsBilledRequests: 0.3,
        eventbridgeBilledEvents: 1,
        dynamodbWriteUnits: 4,
        dynamodbReadUnits: 2,
        storedBytes: 2 ** 30 / 1e6,
        retentionDays: 30,
        logBytes: 2 ** 30 / 1e6,
        logRetentionDays: 30,
        xrayTraces: 0.1,
        kmsRequests: 0,
      },
      p,
    );
    expect(recomputed.perMillionEvents).toBeCloseTo(total(lines), 6);
  });
});

describe('modelled parts', () => {
  it('samples one request a second, then 5 %', () => {
    expect(xrayTracesPerRequest(1, p)).toBe(1);
    expect(xrayTracesPerRequest(10, p)).toBeCloseTo((1 + 0.05 * 9) / 10);
  });

  it('caches the authorizer per key for its TTL', () => {
    // 8,640 five-minute windows in 30 days: a busy key costs that many, a quiet one a call per request.
    expect(authorizerInvocations([1_000_000, 10], 300)).toBe(8640 + 10);
  });

  it('counts the attempts a schedule fits in a time', () => {
    const schedule = [5, 300, 1800, 7200, 18000, 36000, 36000];
    // 0, 5, 305, 2105, 9305, 27305, 63305 s; the next (99305 s) is past 24 h.
    expect(attemptsWithin(86400, (n) => (n > schedule.length ? undefined : schedule[n - 1]))).toBe(7);
    // 20 s doubling to 600 s: 0, 20, 60, 140, 300, 620, then every 600 s.
    const exp = (n: number) => Math.min(20 * 2 ** (n - 1), 600);
    expect(attemptsWithin(86400, exp)).toBe(6 + Math.floor((86400 - 620) / 600));
  });
});

describe('floor and anchors', () => {
  it('prices the minimal shape', () => {
    const floor = floorPerMillion(
      { subscriptionsPerEvent: 1, eventsPerApiRequest: 10, batch: 10, fanoutMs: 0, deliverMs: 0, memoryMb: 512, eventBytes: 0, deliveryBytes: 0, retentionDays: 30 },
      p,
    );
    // EventBridge 1 + API 0.35 + fan-out 0.2 + deliver 0.02 + SQS 0.12 + DynamoDB 2 × 0.625.
    expect(total(floor)).toBeCloseTo(1 + 0.35 + 0.2 + 0.02 + 0.12 + 1.25);
  });

  it('prices EventBridge API destinations per delivery', () => {
    expect(apiDestinationsPerMillion(10, p)).toBeCloseTo(3);
  });

  it('itemises the idle month', () => {
    const idle = idleMonthly(
      {
        alarms: 16,
        dashboards: 1,
        customMetrics: [{ name: 'a', publishedWhenIdle: true }, { name: 'b', publishedWhenIdle: false }],
        apiMethodsWithDetailedMetrics: 2,
        apiMetricsPerMethod: 7,
        kmsKeys: 1,
        kmsRotationEnabled: 1,
        sqsEventSourceMappings: [],
        pollersPerMapping: 5,
        receivesPerPollerPerMinute: 3,
        scheduledInvocationsPerMonth: 0,
        scheduled: { billedMs: 0, memoryMb: 256, readUnits: 0, sqsRequests: 0, logBytes: 0 },
        kmsCallerRoles: 0,
      },
      p,
    );
    expect(idle.total).toBeCloseTo(1.6 + 3 + 0.6 + 4.2 + 1);
  });
});
