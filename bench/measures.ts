/**
 * The parts of `npm run bench` that measure one component at a time (run.ts drives them):
 *   - worker efficiency: the deliver handler on SQS batches of 10 against a keep-alive receiver,
 *     beside a bare undici POST loop at the same concurrency;
 *   - fan-out at scale: one event to 1,000 matching subscriptions among 10,000 others;
 *   - cold start proxy: fresh Node processes importing each function's bundle.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import { FUNCTIONS } from '../lambdas/shared/herald-config.ts';
import { DynamoSubscriptionStore } from '../lambdas/adapters/subscription-store.ts';
import { SqsDeliveryQueue } from '../lambdas/adapters/sqs-queue.ts';
import { buildEnvelope } from '../lambdas/core/envelope.ts';
import { fanOut } from '../lambdas/core/fanout.ts';
import { newDeliveryId, newId } from '../lambdas/core/ids.ts';
import type { Subscription } from '../lambdas/core/subscription.ts';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/** A receiver that answers 200 at once and keeps connections alive. */
export async function fastReceiver() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function inParallel(total: number, concurrency: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) await work(i);
    }),
  );
}

function timed(): () => { ms: number; cpuUs: number } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuUs: c.user + c.system };
  };
}

const benchEvent = (tenantId: string, i: number) =>
  buildEnvelope({ tenantId, id: `bench-${i}`, type: 'order.created', subject: `o-${i}`, data: { orderId: `o-${i}`, status: 'CREATED' } }, 'urn:bench', new Date());

/** One delivery job as the event source mapping hands it to the deliver function (first receive). */
export function deliveryRecord(tenantId: string, subscriptionId: string, i: number): SQSRecord {
  return {
    messageId: `m-${i}`,
    receiptHandle: `r-${i}`,
    body: JSON.stringify({ v: 1, deliveryId: newDeliveryId(subscriptionId, new Date()), tenantId, subscriptionId, event: benchEvent(tenantId, i), attemptOffset: 0, createdAt: new Date().toISOString() }),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'bench', ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
    awsRegion: 'us-east-1',
  };
}

/**
 * `deliveries` through the real deliver handler (attempt log and statistics written to the local
 * DynamoDB), `batches` of 10 in flight as the event source mapping would run them, then the same
 * number of POSTs by a bare undici loop with the same number in flight. CPU is the whole process:
 * for Herald it includes the in-process DynamoDB emulator, so the ratio is conservative.
 */
export async function workerEfficiency(options: {
  deliver: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  tenantId: string;
  subscriptionId: string;
  receiverUrl: string;
  deliveries: number;
  batchesInFlight: number;
}) {
  const { deliveries, batchesInFlight } = options;
  const batches = Math.ceil(deliveries / 10);
  const event = (i: number) => benchEvent(options.tenantId, i);
  const record = (i: number) => deliveryRecord(options.tenantId, options.subscriptionId, i);
  const context = { functionName: 'bench-deliver', getRemainingTimeInMillis: () => 100_000, awsRequestId: 'bench' } as unknown as Context;
  // Warm up both paths (connections, JIT) before measuring.
  await options.deliver({ Records: [record(-1)] } as SQSEvent, context);
  let failures = 0;
  const heraldStop = timed();
  await inParallel(batches, batchesInFlight, async (b) => {
    const records = Array.from({ length: Math.min(10, deliveries - b * 10) }, (_, k) => record(b * 10 + k));
    const out = await options.deliver({ Records: records } as SQSEvent, context);
    failures += out.batchItemFailures.length;
  });
  const herald = heraldStop();

  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
  const body = JSON.stringify(event(0));
  const post = async () => {
    const res = await request(`${options.receiverUrl}/bare`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
    await res.body.dump();
  };
  await post();
  const bareStop = timed();
  await inParallel(deliveries, batchesInFlight * 10, post);
  const bare = bareStop();
  await agent.close();

  const heraldPerSecond = deliveries / (herald.ms / 1000);
  const barePerSecond = deliveries / (bare.ms / 1000);
  return {
    deliveries,
    inFlight: batchesInFlight * 10,
    failures,
    herald: { perSecond: Math.round(heraldPerSecond), cpuUsPerDelivery: Math.round(herald.cpuUs / deliveries) },
    bareUndici: { perSecond: Math.round(barePerSecond), cpuUsPerPost: Math.round(bare.cpuUs / deliveries) },
    throughputRatio: +(heraldPerSecond / barePerSecond).toFixed(3),
    cpuRatio: +((bare.cpuUs / deliveries) / (herald.cpuUs / deliveries)).toFixed(3),
  };
}

/**
 * One event to `matching` subscriptions of its tenant and type, with `others` subscriptions in
 * other tenants and to other types in the same table: SQS requests, DynamoDB query pages, time.
 */
export async function fanoutAtScale(options: {
  tableName: string;
  queueUrl: string;
  receiverUrl: string;
  matching: number;
  others: number;
  count: (filter: string) => number;
  reset: () => void;
}) {
  const store = new DynamoSubscriptionStore(options.tableName);
  const tenantId = newId('ten');
  const now = new Date().toISOString();
  const subscription = (tenant: string, type: string): Subscription => ({
    id: newId('sub'),
    tenantId: tenant,
    name: 'bench',
    eventTypes: [type],
    destination: { type: 'webhook', url: `${options.receiverUrl}/fanout` },
    payload: 'full',
    ordering: 'none',
    status: 'active',
    secrets: [{ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: now }],
    createdAt: now,
    updatedAt: now,
  });
  await inParallel(options.matching, 16, async () => store.putSubscription(subscription(tenantId, 'order.created')));
  const otherTenants = Array.from({ length: 20 }, () => newId('ten'));
  await inParallel(options.others, 16, async (i) =>
    store.putSubscription(i % 2 === 0 ? subscription(otherTenants[i % otherTenants.length]!, 'order.created') : subscription(tenantId, 'shipment.delivered')),
  );
  const queue = new SqsDeliveryQueue(options.queueUrl);
  const event = buildEnvelope({ tenantId, id: newId('evt'), type: 'order.created', subject: 'o-1', data: { orderId: 'o-1' } }, 'urn:bench', new Date());
  options.reset();
  const t0 = performance.now();
  const result = await fanOut({ subscriptions: store, queue, clock: () => new Date() }, event);
  const ms = performance.now() - t0;
  return {
    matching: options.matching,
    others: options.others,
    jobs: result.jobs,
    ms: Math.round(ms),
    sqsRequests: options.count('SQS:'),
    dynamodbQueryPages: options.count('DynamoDB:Query'),
  };
}

/**
 * The cold start proxy: each function bundled as the stack bundles it (minified ESM with the
 * AWS SDK clients it uses, tree-shaken), its size, the size it would have leaving the SDK to the
 * Lambda runtime's copy, and the median of `runs` fresh Node processes importing it (module
 * evaluation and the handler's init code: clients, env, caches). Bundling the SDK is the faster
 * start: importing the SDK's un-bundled modules (as from the runtime's copy) measured 146-329 ms
 * against 59-226 ms bundled.
 */
export async function coldStarts(runs: number) {
  const dir = mkdtempSync(join(process.cwd(), 'node_modules', '.herald-cold-'));
  const env = {
    ...process.env,
    TABLE_NAME: 't',
    EVENT_BUS_NAME: 'b',
    DELIVERY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/q',
    DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/d',
    HERALD_ADMIN_KEY_HASH: '0'.repeat(64),
    HERALD_CATALOGUE_DIR: join(process.cwd(), 'catalogue'),
    AWS_REGION: 'us-east-1',
    POWERTOOLS_DEV: 'true',
    // Node 20 here: the SDK warns at load that it will need Node 22 (the Lambda runtime is 22).
    NODE_NO_WARNINGS: '1',
  };
  const results: Record<string, { bundleBytes: number; sdkExternalBytes: number; initMsMedian: number }> = {};
  try {
    for (const [name, fn] of Object.entries(FUNCTIONS)) {
      const common = {
        entryPoints: [fn.entry],
        bundle: true,
        minify: true,
        platform: 'node' as const,
        format: 'esm' as const,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
        logLevel: 'silent' as const,
      };
      const deployed = await build({ ...common, outfile: join(dir, `${name}.mjs`), metafile: true });
      const bundleBytes = Object.values(deployed.metafile!.outputs).reduce((a, o) => a + o.bytes, 0);
      const lean = await build({ ...common, write: false, external: ['@aws-sdk/*'] });
      const sdkExternalBytes = lean.outputFiles.reduce((a, f) => a + f.contents.length, 0);
      const script = join(dir, `${name}-probe.mjs`);
      writeFileSync(script, `const t0 = performance.now(); await import(${JSON.stringify(join(dir, `${name}.mjs`))}); console.log(performance.now() - t0);`);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(Number(execFileSync(process.execPath, [script], { env, encoding: 'utf8' }).trim().split('\n').pop()));
      results[name] = { bundleBytes, sdkExternalBytes, initMsMedian: +median(times).toFixed(1) };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
