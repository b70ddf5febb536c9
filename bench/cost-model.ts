/**
 * The bench's cost arithmetic, free of I/O so it can be unit-tested: measured usage and
 * bench/prices.json in, dollars out, one line per thing AWS bills.
 *   - `costLines`: the all-in model the bench reports (totals of one scenario → dollars per line);
 *   - `recomputeFromReport`: an independent recomputation from the per-unit figures the bench
 *     writes to results.json (the audit: the two must agree within 10 %);
 *   - `floorPerMillion`: the cheapest this shape could be on the same services, same prices;
 *   - `idleMonthly`: what the synthesized stack costs a month with little or no traffic;
 *   - `xrayTracesPerRequest`, `authorizerInvocations`, `attemptsWithin`: the modelled parts.
 */

export type FunctionName = 'api' | 'authorizer' | 'fanout' | 'deliver' | 'sweeper';

export interface Prices {
  lambda: { arm64GbSecond: number; perMillionRequests: number };
  apiGateway: { restPerMillionRequests: number };
  sqs: { perMillionRequests: number; chunkBytes: number };
  eventbridge: { perMillionCustomEvents: number; apiDestinationsPerMillionInvocations: number; chunkBytes: number };
  dynamodb: { perMillionWriteRequestUnits: number; perMillionReadRequestUnits: number; storagePerGbMonth: number; pitrPerGbMonth: number };
  cloudwatch: { logsIngestionPerGb: number; logsStoragePerGbMonth: number; customMetricPerMonth: number; standardAlarmPerMonth: number; dashboardPerMonth: number };
  xray: { perMillionTracesRecorded: number; defaultSamplingReservoirPerSecond: number; defaultSamplingRate: number };
  kms: { perKeyMonth: number; perRotatedKeyMonth: number; maxBilledRotations: number; perTenThousandRequests: number };
}

export interface FunctionUsage {
  invocations: number;
  /** Billed milliseconds in all (measured local wall time plus any modelled wait). */
  billedMs: number;
  memoryMb: number;
}

/** Everything one scenario used, as totals (not per event). */
export interface Usage {
  apiRequests: number;
  functions: Partial<Record<FunctionName, FunctionUsage>>;
  /** SQS requests as billed: one per 64 KB chunk of each request's payload. */
  sqsBilledRequests: number;
  /** EventBridge custom events as billed: one per 64 KB chunk of each entry. */
  eventbridgeBilledEvents: number;
  dynamodbWriteUnits: number;
  dynamodbReadUnits: number;
  /** Bytes the table keeps (items, index entries and DynamoDB's 100-byte overheads), each for `retentionDays`. */
  storedBytes: number;
  retentionDays: number;
  /** CloudWatch Logs bytes ingested (function output, platform lines, API access logs), kept `logRetentionDays`. */
  logBytes: number;
  logRetentionDays: number;
  xrayTraces: number;
  kmsRequests: number;
}

export type Lines = Record<string, number>;

const GB = 2 ** 30;
const MONTH_DAYS = 30;

/** Dollars per line for one scenario's totals. Storage lines are the cost of keeping what was written for its retention. */
export function costLines(u: Usage, p: Prices): Lines {
  const lines: Lines = {
    apiGateway: (u.apiRequests / 1e6) * p.apiGateway.restPerMillionRequests,
  };
  for (const [name, f] of Object.entries(u.functions) as [FunctionName, FunctionUsage][]) {
    lines[`lambda.${name}.requests`] = (f.invocations / 1e6) * p.lambda.perMillionRequests;
    lines[`lambda.${name}.duration`] = (f.memoryMb / 1024) * (f.billedMs / 1000) * p.lambda.arm64GbSecond;
  }
  lines.sqs = (u.sqsBilledRequests / 1e6) * p.sqs.perMillionRequests;
  lines.eventbridge = (u.eventbridgeBilledEvents / 1e6) * p.eventbridge.perMillionCustomEvents;
  lines['dynamodb.writes'] = (u.dynamodbWriteUnits / 1e6) * p.dynamodb.perMillionWriteRequestUnits;
  lines['dynamodb.reads'] = (u.dynamodbReadUnits / 1e6) * p.dynamodb.perMillionReadRequestUnits;
  const gbMonths = (u.storedBytes / GB) * (u.retentionDays / MONTH_DAYS);
  lines['dynamodb.storage'] = gbMonths * p.dynamodb.storagePerGbMonth;
  lines['dynamodb.pitr'] = gbMonths * p.dynamodb.pitrPerGbMonth;
  lines['cloudwatch.logsIngestion'] = (u.logBytes / GB) * p.cloudwatch.logsIngestionPerGb;
  lines['cloudwatch.logsStorage'] = (u.logBytes / GB) * (u.logRetentionDays / MONTH_DAYS) * p.cloudwatch.logsStoragePerGbMonth;
  lines.xray = (u.xrayTraces / 1e6) * p.xray.perMillionTracesRecorded;
  lines.kms = (u.kmsRequests / 1e4) * p.kms.perTenThousandRequests;
  return lines;
}

export const total = (lines: Lines) => Object.values(lines).reduce((a, b) => a + b, 0);

/** Lines scaled to one million of `units` (events, deliveries, failed attempts). */
export function perMillion(lines: Lines, units: number): Lines {
  return Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, units > 0 ? (v / units) * 1e6 : 0]));
}

/**
 * The figures results.json carries per event (rounded as written), for the recomputation. Each is
 * a count, never dollars: the recomputation prices them itself.
 */
export type ReportedPerEvent = Omit<Usage, 'functions'> & {
  functions: Partial<Record<FunctionName, { invocations: number; billedMsPerInvocation: number; memoryMb: number }>>;
};

/**
 * The audit: $ per million events recomputed line by line from the per-event counts the bench
 * reports, written out longhand (no shared code with `costLines`).
 */
export function recomputeFromReport(r: ReportedPerEvent, p: Prices): { perMillionEvents: number; lines: Lines } {
  const M = 1e6;
  const lines: Lines = {};
  lines.apiGateway = r.apiRequests * p.apiGateway.restPerMillionRequests;
  let lambdaRequests = 0;
  let gbSeconds = 0;
  for (const f of Object.values(r.functions)) {
    if (!f) continue;
    lambdaRequests += f.invocations;
    gbSeconds += f.invocations * f.billedMsPerInvocation * (f.memoryMb / 1024) / 1000;
  }
  lines.lambdaRequests = lambdaRequests * p.lambda.perMillionRequests;
  lines.lambdaDuration = gbSeconds * M * p.lambda.arm64GbSecond;
  lines.sqs = r.sqsBilledRequests * p.sqs.perMillionRequests;
  lines.eventbridge = r.eventbridgeBilledEvents * p.eventbridge.perMillionCustomEvents;
  lines.dynamodb = r.dynamodbWriteUnits * p.dynamodb.perMillionWriteRequestUnits + r.dynamodbReadUnits * p.dynamodb.perMillionReadRequestUnits;
  const gbMonthsPerMillion = ((r.storedBytes * M) / 1024 ** 3) * (r.retentionDays / 30);
  lines.storageAndPitr = gbMonthsPerMillion * (p.dynamodb.storagePerGbMonth + p.dynamodb.pitrPerGbMonth);
  const logGbPerMillion = (r.logBytes * M) / 1024 ** 3;
  lines.logs = logGbPerMillion * (p.cloudwatch.logsIngestionPerGb + p.cloudwatch.logsStoragePerGbMonth * (r.logRetentionDays / 30));
  lines.xray = r.xrayTraces * p.xray.perMillionTracesRecorded;
  lines.kms = r.kmsRequests * 100 * p.kms.perTenThousandRequests;
  return { perMillionEvents: Object.values(lines).reduce((a, b) => a + b, 0), lines };
}

/**
 * X-Ray traces recorded per request under the default sampling rule (the first request each
 * second, then 5 % of the rest) at a steady `requestsPerSecond`. Downstream functions (fan-out via
 * EventBridge, deliver via SQS) carry the API request's trace header and add segments to the same
 * trace, so only root requests count.
 */
export function xrayTracesPerRequest(requestsPerSecond: number, p: Prices, rule?: { fixedRate: number; reservoirPerSecond: number }): number {
  if (requestsPerSecond <= 0) return 0;
  const fixedRate = rule?.fixedRate ?? p.xray.defaultSamplingRate;
  const reservoir = Math.min(requestsPerSecond, rule?.reservoirPerSecond ?? p.xray.defaultSamplingReservoirPerSecond);
  return (reservoir + fixedRate * (requestsPerSecond - reservoir)) / requestsPerSecond;
}

/**
 * The REST authorizer's invocations in a month: API Gateway caches its answer per identity
 * source (the Authorization header) for `ttlSeconds`, so a key used steadily costs at most one
 * invocation per TTL window, and a key used less often one per request.
 */
export function authorizerInvocations(requestsPerKeyPerMonth: number[], ttlSeconds: number): number {
  const windows = (MONTH_DAYS * 86400) / ttlSeconds;
  return requestsPerKeyPerMonth.reduce((a, r) => a + Math.min(r, windows), 0);
}

/**
 * Attempts a retry policy schedules within `seconds` of the first, every attempt failing, with
 * the policy's base delays (jitter averages out) and `attemptMs` per attempt.
 */
export function attemptsWithin(seconds: number, delayAfter: (attempt: number) => number | undefined, attemptMs = 0): number {
  let t = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    t += attemptMs / 1000;
    const delay = delayAfter(attempts);
    if (delay === undefined || t + delay > seconds || attempts >= 100_000) return attempts;
    t += delay;
  }
}

/** The floor's shape: what a minimal design on the same services would pay per event. */
export interface FloorShape {
  subscriptionsPerEvent: number;
  /** Events per API request (a batch publish). */
  eventsPerApiRequest: number;
  /** Messages per SQS send, receive and delete, and deliveries per deliver invocation (unless `deliverBatch`). */
  batch: number;
  /** Deliveries per deliver invocation, when not `batch` (the delivery queue's batches exceed SQS's 10 a request). */
  deliverBatch?: number;
  /** Billed ms of one fan-out invocation and one deliver invocation (batch of `batch`). */
  fanoutMs: number;
  deliverMs: number;
  memoryMb: number;
  /** Bytes kept per event and per delivery record (with DynamoDB's overhead). */
  eventBytes: number;
  deliveryBytes: number;
  retentionDays: number;
}

/** $ per million events for the floor shape. */
export function floorPerMillion(s: FloorShape, p: Prices): Lines {
  const d = s.subscriptionsPerEvent;
  const gbs = (ms: number) => (s.memoryMb / 1024) * (ms / 1000) * p.lambda.arm64GbSecond * 1e6;
  const gbMonths = (((s.eventBytes + d * s.deliveryBytes) * 1e6) / GB) * (s.retentionDays / MONTH_DAYS);
  return {
    eventbridge: p.eventbridge.perMillionCustomEvents,
    apiGateway: p.apiGateway.restPerMillionRequests / s.eventsPerApiRequest,
    'lambda.fanout': p.lambda.perMillionRequests + gbs(s.fanoutMs),
    'lambda.deliver': (d / (s.deliverBatch ?? s.batch)) * (p.lambda.perMillionRequests + gbs(s.deliverMs)),
    // Send, receive and delete, each in batches.
    sqs: ((3 * d) / s.batch) * p.sqs.perMillionRequests,
    // One stored event, one delivery record per subscription.
    dynamodb: (1 + d) * p.dynamodb.perMillionWriteRequestUnits,
    storage: gbMonths * (p.dynamodb.storagePerGbMonth + p.dynamodb.pitrPerGbMonth),
  };
}

/** EventBridge API destinations for the same traffic: one event in, one invocation per delivery. */
export function apiDestinationsPerMillion(subscriptionsPerEvent: number, p: Prices): number {
  return p.eventbridge.perMillionCustomEvents + subscriptionsPerEvent * p.eventbridge.apiDestinationsPerMillionInvocations;
}

export interface IdleInventory {
  /** The stack's X-Ray sampling rule, if it has one (else the account's default rule). */
  samplingRule?: { fixedRate: number; reservoirPerSecond: number };
  /** Alarm metrics: CloudWatch bills a standard alarm per metric it evaluates (a metric-math alarm, each metric in its expression). */
  alarms: number;
  dashboards: number;
  customMetrics: { name: string; publishedWhenIdle: boolean }[];
  apiMethodsWithDetailedMetrics: number;
  apiMetricsPerMethod: number;
  kmsKeys: number;
  kmsRotationEnabled: number;
  sqsEventSourceMappings: { fifo: boolean }[];
  /** Pollers per mapping and empty receives each makes a minute (20 s long polls). */
  pollersPerMapping: number;
  receivesPerPollerPerMinute: number;
  /** Scheduled invocations a month (the sweeper) and what each costs, measured. */
  scheduledInvocationsPerMonth: number;
  scheduled: { billedMs: number; memoryMb: number; readUnits: number; sqsRequests: number; logBytes: number };
  /** Table-key cache misses: DynamoDB calls KMS about once per 5 minutes per caller role. */
  kmsCallerRoles: number;
}

/** The stack's monthly cost with (almost) no traffic, itemised. */
export function idleMonthly(inv: IdleInventory, p: Prices & { sqs: { fifoPerMillionRequests?: number } }): { total: number; lines: Lines } {
  const minutes = MONTH_DAYS * 24 * 60;
  const receives = (fifo: boolean) => inv.sqsEventSourceMappings.filter((m) => m.fifo === fifo).length * inv.pollersPerMapping * inv.receivesPerPollerPerMinute * minutes;
  const gbs = (ms: number, mb: number) => (mb / 1024) * (ms / 1000) * p.lambda.arm64GbSecond;
  const s = inv.scheduled;
  const n = inv.scheduledInvocationsPerMonth;
  const lines: Lines = {
    alarms: inv.alarms * p.cloudwatch.standardAlarmPerMonth,
    dashboards: inv.dashboards * p.cloudwatch.dashboardPerMonth,
    customMetricsIdle: inv.customMetrics.filter((m) => m.publishedWhenIdle).length * p.cloudwatch.customMetricPerMonth,
    customMetricsWithTraffic: inv.customMetrics.filter((m) => !m.publishedWhenIdle).length * p.cloudwatch.customMetricPerMonth,
    apiGatewayMethodMetrics: inv.apiMethodsWithDetailedMetrics * inv.apiMetricsPerMethod * p.cloudwatch.customMetricPerMonth,
    kmsKeys: inv.kmsKeys * p.kms.perKeyMonth,
    kmsRequests: ((inv.kmsCallerRoles * minutes) / 5 / 1e4) * p.kms.perTenThousandRequests,
    sqsPollers: (receives(false) / 1e6) * p.sqs.perMillionRequests + (receives(true) / 1e6) * (p.sqs.fifoPerMillionRequests ?? p.sqs.perMillionRequests),
    scheduledLambda: (n / 1e6) * p.lambda.perMillionRequests + n * gbs(s.billedMs, s.memoryMb),
    scheduledDynamodb: ((n * s.readUnits) / 1e6) * p.dynamodb.perMillionReadRequestUnits,
    scheduledSqs: ((n * s.sqsRequests) / 1e6) * p.sqs.perMillionRequests,
    scheduledLogs: ((n * s.logBytes) / GB) * (p.cloudwatch.logsIngestionPerGb + p.cloudwatch.logsStoragePerGbMonth),
    scheduledXray: ((n * xrayTracesPerRequest(1 / 60, p, inv.samplingRule)) / 1e6) * p.xray.perMillionTracesRecorded,
  };
  return { total: total(lines), lines };
}

/** Rotated backing keys billed after one and two years (later rotations are free). */
export function kmsRotationAfterYears(inv: Pick<IdleInventory, 'kmsRotationEnabled'>, years: number, p: Prices): number {
  return inv.kmsRotationEnabled * Math.min(years, p.kms.maxBilledRotations) * p.kms.perRotatedKeyMonth;
}

export const round = (v: number, digits = 3) => +v.toFixed(digits);
export const roundLines = (lines: Lines, digits = 3) => Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, round(v, digits)]));
