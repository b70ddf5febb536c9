/**
 * `npm run bench`: Herald's delivery path measured on the local runtime (about six minutes;
 * `-- --quick` runs the request-count scenarios alone, smaller). Prints a table and writes
 * bench/results.json with the machine, the date and every figure:
 *   - AWS requests per delivery, by service and operation (an AWS SDK middleware counts every
 *     call the real handlers make), for 1,000 events × 1 subscription and 100 events × 10
 *     subscriptions, every delivery succeeding on its first attempt, and again with one retry
 *     each; counting lasts until the sweeper has checked every event;
 *   - DynamoDB capacity units as billed, indexes included (bench/dynamo-units.ts);
 *   - cost per million deliveries from those counts and bench/prices.json (us-east-1 list
 *     prices), and the idle cost per month;
 *   - publish → receiver latency p50/p99 at a steady rate, with the stack's default 1 s batching
 *     window and without it;
 *   - worker efficiency: the deliver handler against a bare undici POST loop (bench/measures.ts);
 *   - fan-out of one event to 1,000 subscriptions among 10,000 others;
 *   - the cold start proxy: each bundle's size and the median init time of fresh processes;
 *   - the worst filter cost per event within the input limits, and a tenant's API latency while
 *     another tenant's worst filters fan out (bench/hostile-filters.ts).
 * Every figure is reported beside its goal from issue #8; none is asserted (no timed tests).
 */
import './local-env.ts';
import { writeFileSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { FUNCTIONS } from '../lib/herald-config.ts';
import { dynamo, eventBridge, sqs } from '../lambdas/adapters/clients.ts';
import { startHeraldLocal } from '../local/runtime.ts';
import { countCapacityUnits, WRITE_OPS, type UnitTotals } from './dynamo-units.ts';
import { coldStarts, fanoutAtScale, fastReceiver, workerEfficiency } from './measures.ts';
import { apiLatencyUnderHostileFanout, worstFilterCosts } from './hostile-filters.ts';

type Counts = Map<string, number>;
const counts: Counts = new Map();
let counting = true;

function countCalls(client: { middlewareStack: { add: (mw: any, opts: any) => void } }, label: string) {
  client.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      if (!counting) return next(args);
      const out = await next(args);
      const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      // The local poller long-polls for 1 s (tests settle fast); Lambda's pollers wait 20 s, so
      // their empty receives are a fixed idle cost (see IDLE_POLLING), not a per-delivery one.
      const empty = op === 'ReceiveMessage' && !(out.output?.Messages?.length > 0);
      const key = `${label}:${op}${empty ? '(empty, not counted)' : ''}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return out;
    },
    { step: 'initialize', name: `herald-bench-count-${label}` },
  );
}

const prices = JSON.parse(readFileSync(new URL('./prices.json', import.meta.url), 'utf8'));
const ADMIN = 'hk_admin_bench_000000000000000000000000000000000000';
const receiverTimes = new Map<string, number>();
const failedOnce = new Set<string>();
let received = 0;
let succeeded = 0;
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received++;
    // A path ending in /retry fails each delivery's first attempt (one retry each).
    const webhookId = String(req.headers['webhook-id'] ?? '');
    if (req.url?.endsWith('/retry') && !failedOnce.has(webhookId)) {
      failedOnce.add(webhookId);
      res.statusCode = 503;
      res.end('try again');
      return;
    }
    succeeded++;
    try {
      const id = JSON.parse(body).id as string;
      if (!receiverTimes.has(id)) receiverTimes.set(id, performance.now());
    } catch {
      /* not an event */
    }
    res.end('ok');
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

/** The sweeper's grace period in the bench: short, so each event's sweep is counted in its scenario. */
const SWEEP_AFTER_SECONDS = 3;
const deliverRuns = { invocations: 0, ms: 0 };
const perEventRuns = { api: { invocations: 0, ms: 0 }, fanout: { invocations: 0, ms: 0 } };
const herald = await startHeraldLocal({
  port: 0,
  adminKey: ADMIN,
  pollerConcurrency: 8,
  sweepIntervalMs: 0,
  sweepAfterSeconds: SWEEP_AFTER_SECONDS,
  onInvocation: (fn, ms) => {
    if (!counting) return;
    perEventRuns[fn].invocations++;
    perEventRuns[fn].ms += ms;
  },
  // Measures the deliver function as the event source mapping invokes it.
  wrapDeliver: (handler) => async (event, context) => {
    const t0 = performance.now();
    try {
      return await handler(event, context);
    } finally {
      if (counting) {
        deliverRuns.invocations++;
        deliverRuns.ms += performance.now() - t0;
      }
    }
  },
});
const capacity: UnitTotals = { writeUnits: 0, writeUnitsIndexes: 0, readUnits: 0, byKind: new Map() };
countCalls(dynamo() as never, 'DynamoDB');
countCapacityUnits(dynamo() as never, capacity, () => counting);
countCalls(sqs() as never, 'SQS');
countCalls(eventBridge() as never, 'EventBridge');
countCalls(herald.sqs as never, 'SQS(event source mapping)');

async function call(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${herald.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  return (await res.json()) as any;
}

const example = JSON.parse(readFileSync(new URL('../catalogue/order.created/v1.json', import.meta.url), 'utf8')).example;

/**
 * `events` published at `ratePerSecond` to a tenant with `subscriptions` webhook subscriptions,
 * every delivery succeeding on its first attempt (or, with `retryEach`, on its second, one second
 * later). Counting runs from the first publish until every delivery has arrived and the sweeper
 * has checked every event (its grace period is SWEEP_AFTER_SECONDS here), so the sweeper's
 * per-event work is part of the figures.
 */
async function scenario(name: string, events: number, subscriptions: number, ratePerSecond: number, retryEach = false) {
  counting = false;
  const tenant = await call('POST', '/v1/tenants', ADMIN, { name });
  for (let i = 0; i < subscriptions; i++) {
    await call('POST', '/v1/subscriptions', tenant.apiKey, {
      name: `s${i}`,
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: `${receiverUrl}/${name}/${i}${retryEach ? '/retry' : ''}` },
      ...(retryEach ? { retryPolicy: { schedule: [1] } } : {}),
    });
  }
  await herald.settle();
  counts.clear();
  Object.assign(capacity, { writeUnits: 0, writeUnitsIndexes: 0, readUnits: 0 });
  capacity.byKind!.clear();
  deliverRuns.invocations = 0;
  deliverRuns.ms = 0;
  for (const run of Object.values(perEventRuns)) Object.assign(run, { invocations: 0, ms: 0 });
  received = 0;
  succeeded = 0;
  counting = true;
  const publishedAt = new Map<string, number>();
  const started = performance.now();
  const gap = 1000 / ratePerSecond;
  for (let i = 0; i < events; i++) {
    const due = started + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `${name}-${i}`;
    publishedAt.set(id, performance.now());
    void call('POST', '/v1/events', ADMIN, { tenantId: tenant.id, id, type: 'order.created', subject: `order-${i}`, data: example });
  }
  const expected = events * subscriptions;
  const deadline = Date.now() + 180_000;
  while (succeeded < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const seconds = +((performance.now() - started) / 1000).toFixed(1);
  await herald.settle();
  // The sweeper's check of each event, once its grace period has passed.
  await new Promise((r) => setTimeout(r, (SWEEP_AFTER_SECONDS + 1) * 1000));
  const sweeps = [];
  for (let i = 0; i < 5; i++) {
    const report = await herald.sweep();
    sweeps.push(report);
    if (report.eventsChecked === 0) break;
  }
  await herald.settle();
  counting = false;
  const latencies = [...publishedAt].map(([id, t]) => (receiverTimes.get(id) ?? Number.NaN) - t).filter(Number.isFinite).sort((a, b) => a - b);
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN);
  const perDelivery = Object.fromEntries([...counts].sort().map(([k, v]) => [k, +(v / expected).toFixed(3)]));
  return {
    name,
    events,
    subscriptions,
    ratePerSecond,
    retryEach,
    delivered: succeeded,
    requestsReceived: received,
    expected,
    seconds,
    latencyMs: retryEach ? undefined : { p50: pct(50), p99: pct(99) },
    requestsPerDelivery: perDelivery,
    dynamodbUnitsPerDelivery: {
      write: +(capacity.writeUnits / expected).toFixed(3),
      writeInIndexes: +(capacity.writeUnitsIndexes / expected).toFixed(3),
      read: +(capacity.readUnits / expected).toFixed(3),
      writeByKind: Object.fromEntries([...capacity.byKind!].sort().map(([k, v]) => [k, +(v / expected).toFixed(3)])),
    },
    sweeperEventsChecked: sweeps.reduce((a, r) => a + r.eventsChecked, 0),
    deliverFunction: { invocationsPerDelivery: +(deliverRuns.invocations / expected).toFixed(3), msPerInvocation: +(deliverRuns.ms / Math.max(1, deliverRuns.invocations)).toFixed(1) },
    apiFunction: { invocationsPerEvent: +(perEventRuns.api.invocations / events).toFixed(3), msPerInvocation: +(perEventRuns.api.ms / Math.max(1, perEventRuns.api.invocations)).toFixed(1) },
    fanoutFunction: { invocationsPerEvent: +(perEventRuns.fanout.invocations / events).toFixed(3), msPerInvocation: +(perEventRuns.fanout.ms / Math.max(1, perEventRuns.fanout.invocations)).toFixed(1) },
  };
}

/**
 * Cost per million deliveries from the measured request counts, DynamoDB capacity units, and
 * each function's measured invocations and wall time (api and fan-out per event, deliver per
 * batch: an upper bound for billed duration, since locally it includes the emulators' time),
 * with bench/prices.json. The sweeper runs once a minute whatever the traffic (fixedMonthlyUsd).
 */
const MEMORY_GB = 0.5;
function costPerMillion(result: Awaited<ReturnType<typeof scenario>>) {
  const r = result.requestsPerDelivery as Record<string, number>;
  const sum = (prefix: string) => Object.entries(r).filter(([k]) => k.startsWith(prefix) && !k.includes('not counted')).reduce((a, [, v]) => a + v, 0);
  const perEvent = 1 / result.subscriptions;
  const { apiFunction: api, fanoutFunction: fanout, deliverFunction: deliver } = result;
  const invocations = perEvent * (api.invocationsPerEvent + fanout.invocationsPerEvent) + deliver.invocationsPerDelivery;
  const seconds =
    (perEvent * (api.invocationsPerEvent * api.msPerInvocation + fanout.invocationsPerEvent * fanout.msPerInvocation) + deliver.invocationsPerDelivery * deliver.msPerInvocation) / 1000;
  const gbSeconds = MEMORY_GB * seconds;
  const units = result.dynamodbUnitsPerDelivery;
  const parts = {
    dynamodb: units.write * prices.dynamodb.perMillionWriteRequestUnits + units.read * prices.dynamodb.perMillionReadRequestUnits,
    sqs: sum('SQS') * prices.sqs.perMillionRequests,
    eventbridge: (r['EventBridge:PutEvents'] ?? 0) * prices.eventbridge.perMillionCustomEvents,
    lambdaRequests: invocations * prices.lambda.perMillionRequests,
    lambdaDuration: gbSeconds * 1_000_000 * prices.lambda.arm64GbSecond,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return {
    perMillionUsd: +total.toFixed(2),
    parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, +v.toFixed(3)])),
    assumptions: `${MEMORY_GB * 1024} MB functions, billed for their measured local wall time; DynamoDB units measured (table and indexes)`,
  };
}

/**
 * What the stack costs a month with no traffic at all (list prices): Lambda's pollers on the two
 * delivery queues (at least 5 each, 20 s long polls), and the sweeper once a minute (one
 * invocation, per shard a cursor read and a list query, one queue-depth read).
 */
const IDLE_POLLING = { queues: 2, pollersPerQueue: 5, receivesPerPollerPerMinute: 3 };
function fixedMonthlyUsd() {
  const minutes = 30 * 24 * 60;
  const receives = IDLE_POLLING.queues * IDLE_POLLING.pollersPerQueue * IDLE_POLLING.receivesPerPollerPerMinute * minutes;
  const sweeper = { invocations: minutes, readUnits: minutes * 8 * 2 * 0.5, sqs: minutes, gbSeconds: minutes * 0.25 * 0.2 };
  const usd =
    ((receives + sweeper.sqs) / 1e6) * prices.sqs.perMillionRequests +
    (sweeper.invocations / 1e6) * prices.lambda.perMillionRequests +
    sweeper.gbSeconds * prices.lambda.arm64GbSecond +
    (sweeper.readUnits / 1e6) * prices.dynamodb.perMillionReadRequestUnits;
  return { usd: +usd.toFixed(2), assumptions: `${IDLE_POLLING.pollersPerQueue} pollers × ${IDLE_POLLING.queues} queues × ${IDLE_POLLING.receivesPerPollerPerMinute} empty receives/min; sweeper 1/min, 200 ms at 256 MB` };
}

function sumOf(result: Awaited<ReturnType<typeof scenario>>, prefix: string) {
  return +Object.entries(result.requestsPerDelivery as Record<string, number>).filter(([k]) => k.startsWith(prefix) && !k.includes('not counted')).reduce((a, [, v]) => a + v, 0).toFixed(3);
}
function writesOf(result: Awaited<ReturnType<typeof scenario>>) {
  const r = result.requestsPerDelivery as Record<string, number>;
  return +WRITE_OPS.reduce((a, op) => a + (r[`DynamoDB:${op}`] ?? 0), 0).toFixed(3);
}

async function bundleSizes() {
  const sizes: Record<string, number> = {};
  for (const [name, fn] of Object.entries(FUNCTIONS)) {
    const out = await build({ entryPoints: [fn.entry], bundle: true, minify: true, platform: 'node', format: 'esm', target: 'node22', write: false, metafile: true, external: ['@aws-sdk/*'], logLevel: 'silent' });
    sizes[name] = out.outputFiles.reduce((a, f) => a + f.contents.length, 0);
  }
  return sizes;
}

/** `npm run bench -- --hostile`: the filter-cost figures alone (issue #17), in about a minute. */
async function hostileFilterFigures() {
  const perMatch = worstFilterCosts();
  const latency = (filtered: boolean, subscriptions: number) =>
    apiLatencyUnderHostileFanout({ call, admin: ADMIN, settle: () => herald.settle(), subscriptions, events: 60, filtered });
  return {
    worstCpuMsPerMatch: perMatch[0],
    perMatch,
    apiLatency: [await latency(false, 1), await latency(true, 1), await latency(false, 20), await latency(true, 20)],
  };
}
if (process.argv.includes('--hostile')) {
  counting = false;
  const figures = await hostileFilterFigures();
  console.table(figures.perMatch);
  console.log(JSON.stringify({ ...figures, perMatch: undefined }, null, 1));
  await herald.stop();
  process.exit(0);
}

/** `npm run bench -- --quick`: the request-count scenarios only, smaller (for working on the path). */
const quick = process.argv.includes('--quick');
if (quick) {
  herald.setBatchWindowMs(Number(process.env.BENCH_WINDOW_MS ?? 1000));
  for (const s of [await scenario('one', 200, 1, 50), await scenario('ten', 20, 10, 10), await scenario('one-retry', 50, 1, 50, true)]) {
    console.log(s.name, s.delivered, '/', s.expected, s.latencyMs, JSON.stringify(s.requestsPerDelivery), s.dynamodbUnitsPerDelivery, s.deliverFunction, s.apiFunction, s.fanoutFunction, costPerMillion(s));
  }
  await herald.stop();
  process.exit(0);
}
// As deployed: the event source mapping waits up to 1 s to fill a batch (herald:deliveryBatchWindowSeconds).
herald.setBatchWindowMs(1000);
const one = await scenario('one', 1000, 1, 25);
const ten = await scenario('ten', 100, 10, 10);
const oneRetry = await scenario('one-retry', 200, 1, 50, true);
const tenRetry = await scenario('ten-retry', 20, 10, 10, true);
// Latency-first: no batching window (herald:deliveryBatchWindowSeconds = 0).
herald.setBatchWindowMs(0);
const oneFast = await scenario('one-no-window', 1000, 1, 25);
const tenFast = await scenario('ten-no-window', 100, 10, 10);

// Worker efficiency: the real deliver handler, called as the event source mapping calls it.
const fast = await fastReceiver();
const workerTenant = await call('POST', '/v1/tenants', ADMIN, { name: 'worker' });
const workerSub = await call('POST', '/v1/subscriptions', workerTenant.apiKey, { name: 'w', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${fast.url}/worker` } });
const { handler: deliver } = await import('../lambdas/deliver/handler.ts');
counting = false;
const worker = await workerEfficiency({
  deliver: deliver as never,
  tenantId: workerTenant.id,
  subscriptionId: workerSub.id,
  receiverUrl: fast.url,
  deliveries: 2000,
  batchesInFlight: 4,
});

// Fan-out to 1,000 subscriptions among 10,000 others.
counts.clear();
counting = true;
const fanout = await fanoutAtScale({
  tableName: process.env.TABLE_NAME!,
  queueUrl: herald.queues.delivery,
  receiverUrl: fast.url,
  matching: 1000,
  others: 10_000,
  count: (prefix) => [...counts].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0),
  reset: () => counts.clear(),
});
counting = false;
const hostile = await hostileFilterFigures();
await herald.stop();
receiver.close();
fast.close();
const bundles = await bundleSizes();
const cold = await coldStarts(20);

const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: +(totalmem() / 2 ** 30).toFixed(1), node: process.version },
  date: new Date().toISOString(),
  scenarios: [one, ten, oneRetry, tenRetry, oneFast, tenFast].map((s) => ({ ...s, cost: costPerMillion(s) })),
  bundleBytes: bundles,
  workerEfficiency: worker,
  fanout,
  coldStart: cold,
  fixedMonthlyCost: fixedMonthlyUsd(),
  hostileFilters: hostile,
  goals: {
    costPerMillion1Sub: { goal: 1.5, measured: costPerMillion(one).perMillionUsd },
    costPerMillion10Subs: { goal: 0.9, measured: costPerMillion(ten).perMillionUsd },
    sqsRequestsPerDelivery: { goal: 0.35, measured1Sub: sumOf(one, 'SQS'), measured10Subs: sumOf(ten, 'SQS') },
    dynamodbWriteUnitsPerDelivery: { goal: 1, measured1Sub: one.dynamodbUnitsPerDelivery.write, measured10Subs: ten.dynamodbUnitsPerDelivery.write, writeRequests1Sub: writesOf(one), writeRequests10Subs: writesOf(ten) },
    fanout1000SqsRequests: { goal: 101, measured: fanout.sqsRequests },
    bundleBytesMax: { goal: 250_000, measured: Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, v.bundleBytes])) },
    initMsMedianMax: { goal: 80, measured: Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, v.initMsMedian])) },
    workerEfficiencyRatio: { goal: 0.5, measured: worker.throughputRatio },
    publishToReceiveP99Ms: {
      goal: 250,
      measured1Sub: one.latencyMs?.p99,
      measured10Subs: ten.latencyMs?.p99,
      noWindow1Sub: oneFast.latencyMs?.p99,
      noWindow10Subs: tenFast.latencyMs?.p99,
    },
    worstFilterCpuMsPerEvent: { goal: 'a few ms', measured: hostile.worstCpuMsPerMatch },
    costPerMillionNoWindow: { measured1Sub: costPerMillion(oneFast).perMillionUsd, measured10Subs: costPerMillion(tenFast).perMillionUsd },
  },
  prices,
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

console.log(`\nHerald bench — ${results.date} — ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node}\n`);
for (const s of results.scenarios) {
  console.log(`${s.events} events × ${s.subscriptions} subscription(s) at ${s.ratePerSecond}/s${s.retryEach ? ', one retry each' : ''}: ${s.delivered}/${s.expected} delivered in ${s.seconds} s${s.latencyMs ? `; latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms` : ''}`);
  console.table(s.requestsPerDelivery);
  console.log('  DynamoDB units per delivery', s.dynamodbUnitsPerDelivery);
  console.log(`  ≈ $${s.cost.perMillionUsd} per million deliveries`, s.cost.parts);
}
console.table(bundles);
console.log('worker efficiency', worker);
console.log('fan-out', fanout);
console.table(cold);
console.table(hostile.perMatch);
console.log('API latency beside the worst filters', hostile.apiLatency);
console.log('goals', JSON.stringify(results.goals, null, 1));
console.log('written bench/results.json');
process.exit(0);
