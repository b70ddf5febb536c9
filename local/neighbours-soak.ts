import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../lambdas/shared/herald-config.ts';
import { deliveryKey } from '../lambdas/adapters/table-keys.ts';
import { deliveryIdFor } from '../lambdas/core/ids.ts';
import { functionEnvironment, LOCAL_TABLE, startEmulators } from './runtime.ts';
import { SLOW_LANE_QUEUE } from './emulators.ts';
import { routeFanoutToProcess } from './soak.ts';

/**
 * The noisy-neighbours soak (`npm run soak -- --neighbours`): ten well-behaved tenants publish at
 * a steady rate while, in the same Herald, one tenant's endpoint is dead (its port refuses
 * connections) under a large retry backlog with an eager retry policy, one tenant floods at
 * several times the others' rate, and one tenant's receiver answers only after 90 s
 * (`slowSeconds`, 90 by default; its subscription's timeout is the answer time + 5 s, at most
 * Herald's 90 s, so at 90 s its attempts time out and retry; smaller values compress it). The same well-behaved load runs once alone (the baseline) and once among the
 * neighbours; the report compares each well-behaved tenant's publish→receive p50/p99 and its cost
 * per delivery, and checks that nothing was lost and nothing of theirs was dead-lettered.
 *
 * Cost per delivery counts the DynamoDB and SQS requests the function process makes (through a
 * counting proxy in front of each emulator), each charged to the tenant whose id its body names
 * (requests naming none, such as receives and deletes, are shared pro rata), priced at us-east-1
 * on-demand rates: $1.25 per million write units, $0.25 per million read units, $0.40 per million
 * SQS requests; writes count one unit, reads half a unit (items here are under 1 KB). Lambda time
 * is left out: locally it is one shared process, not billed milliseconds per invocation.
 */
export interface NeighboursOptions {
  goodTenants?: number;
  /** Events a second each well-behaved tenant publishes. */
  goodRatePerSecond?: number;
  /** How long the well-behaved tenants publish. */
  durationSeconds?: number;
  /** Deliveries queued for the dead endpoint before the steady phase (events × 50 subscriptions). */
  deadBacklog?: number;
  /** The flooding tenant publishes this many times a well-behaved tenant's rate. */
  floodFactor?: number;
  /** The slow receiver's answer time (default 90 s; smaller values compress it). */
  slowSeconds?: number;
  /** `herald:tenantMaxInFlight` for both runs. */
  tenantMaxInFlight?: number;
  pollerConcurrency?: number;
  /** Slow-lane pollers, one record each (`herald:slowLaneConcurrency`; lambdas/core/slow-lane.ts). */
  slowLaneConcurrency?: number;
  log?: (line: string) => void;
}

export interface TenantFigures {
  tenant: string;
  deliveries: number;
  p50Ms: number;
  p99Ms: number;
  costPerMillionUsd: number;
}

export interface RunFigures {
  neighbours: boolean;
  good: TenantFigures[];
  goodP50Ms: number;
  goodP99Ms: number;
  /** Fan-out → receive (dwell time in the delivery queue plus the attempt), well-behaved tenants. */
  goodQueueP50Ms: number;
  goodQueueP99Ms: number;
  goodCostPerMillionUsd: number;
  /** Expected deliveries neither received (or, the dead tenant's, recorded) nor waiting in a queue. */
  lost: number;
  /** The dead tenant's deliveries not attempted yet at the end, each still a job in the delivery queue. */
  deadWaiting: number;
  goodDeadLettered: number;
  peakInFlight: number;
  /** Deliveries to the dead endpoint (all still retrying or dead-lettered at the end). */
  deadBacklog: number;
  floodDelivered: number;
  slowDelivered: number;
  /** The slow receiver's deliveries not received at the end, each retrying (recorded) or waiting in a queue. */
  slowWaiting: number;
  durationMs: number;
}

const ORDER_EXAMPLE = (JSON.parse(readFileSync(fileURLToPath(new URL('../catalogue/order.created/v1.json', import.meta.url)), 'utf8')) as { example: Record<string, unknown> }).example;
const ADMIN = 'hk_admin_neighbours_000000000000000000000000000000';
const DEAD_SUBSCRIPTIONS = 50;
const PRICES = { writeUnit: 1.25e-6, readUnit: 0.25e-6, sqsRequest: 0.4e-6 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Records the first arrival of each delivery (webhook-id) and answers 200, after `delayMs`. */
class Receiver {
  readonly firstAt = new Map<string, number>();
  private readonly server: Server;
  constructor(private readonly delayMs = 0) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }
  async start(): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server)}`;
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req);
    const id = String(req.headers['webhook-id'] ?? '');
    if (!this.firstAt.has(id)) this.firstAt.set(id, Date.now());
    if (this.delayMs > 0) await sleep(this.delayMs);
    res.writeHead(200).end('ok');
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A pass-through proxy counting AWS requests per tenant: the first tenant id its body names, or
 * '' for none. Write and read operations are told apart by the DynamoDB target name.
 */
class CountingProxy {
  readonly dynamo = new Map<string, { writes: number; reads: number }>();
  readonly sqs = new Map<string, number>();
  tenants: string[] = [];
  /** The queue URLs' origin as the function process knows them → the emulator's own (fauxqs matches whole URLs). */
  rewrite?: [string, string];
  private readonly server: Server;
  constructor(
    private readonly target: string,
    private readonly kind: 'dynamo' | 'sqs',
  ) {
    this.server = createServer((req, res) => void this.forward(req, res));
    this.server.keepAliveTimeout = 10_000;
  }
  async start(): Promise<string> {
    return `http://127.0.0.1:${await listen(this.server)}`;
  }
  private count(op: string, body: string): void {
    const tenant = this.tenants.find((t) => body.includes(t)) ?? '';
    if (this.kind === 'sqs') {
      this.sqs.set(tenant, (this.sqs.get(tenant) ?? 0) + 1);
      return;
    }
    const entry = this.dynamo.get(tenant) ?? { writes: 0, reads: 0 };
    const batchItems = (body.match(/"(PutRequest|DeleteRequest)"/g) ?? []).length;
    if (/PutItem|UpdateItem|DeleteItem/.test(op)) entry.writes += 1;
    else if (/BatchWriteItem/.test(op)) entry.writes += Math.max(1, batchItems);
    else if (/GetItem|Query|Scan|BatchGetItem/.test(op)) entry.reads += /"ConsistentRead":true/.test(body) ? 1 : 0.5;
    this.dynamo.set(tenant, entry);
  }
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const body = this.rewrite ? Buffer.from(raw.toString('utf8').split(this.rewrite[0]).join(this.rewrite[1])) : raw;
    this.count(String(req.headers['x-amz-target'] ?? ''), body.toString('utf8'));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v;
    try {
      const out = await fetch(`${this.target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
      const answer = Buffer.from(await out.arrayBuffer());
      const back: Record<string, string> = {};
      out.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'content-encoding') back[k] = v;
      });
      res.writeHead(out.status, back).end(answer);
    } catch {
      res.writeHead(502).end();
    }
  }
  /** Dollars charged to each tenant: its own requests plus a pro-rata share of the unattributed. */
  costs(): Map<string, number> {
    const own = new Map<string, number>();
    let shared = 0;
    const add = (tenant: string, usd: number) => {
      if (tenant === '') shared += usd;
      else own.set(tenant, (own.get(tenant) ?? 0) + usd);
    };
    for (const [t, u] of this.dynamo) add(t, u.writes * PRICES.writeUnit + u.reads * PRICES.readUnit);
    for (const [t, n] of this.sqs) add(t, n * PRICES.sqsRequest);
    const total = [...own.values()].reduce((a, b) => a + b, 0);
    for (const [t, usd] of own) own.set(t, usd + (total > 0 ? (shared * usd) / total : 0));
    return own;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The delivery ids of every job still in the delivery queues or the dead-letter queue (waiting,
 * delayed or in flight), read through the SQS emulator's own inspection route, which does not
 * receive (so changes no receive count or visibility).
 */
async function queuedDeliveryIds(sqsEndpoint: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const origin = `http://127.0.0.1:${new URL(sqsEndpoint).port}`;
  for (const queue of ['herald-deliveries', 'herald-ordered.fifo', SLOW_LANE_QUEUE, 'herald-dead-letters']) {
    const res = await fetch(`${origin}/_fauxqs/queues/${encodeURIComponent(queue)}`);
    if (!res.ok) throw new Error(`the SQS emulator could not list ${queue}: ${res.status}`);
    const { messages } = (await res.json()) as { messages: { ready: { body: string }[]; delayed: { body: string }[]; inflight: { message: { body: string } }[] } };
    for (const body of [...messages.ready.map((m) => m.body), ...messages.delayed.map((m) => m.body), ...messages.inflight.map((e) => e.message.body)]) {
      try {
        const parsed = JSON.parse(body) as { deliveryId?: unknown; job?: { deliveryId?: unknown } };
        const id = parsed.deliveryId ?? parsed.job?.deliveryId;
        if (typeof id === 'string') ids.add(id);
      } catch {
        // not a delivery job: nothing to account for
      }
    }
  }
  return ids;
}

function viaProxy<T extends Record<string, string>>(queues: T, origin: string): T {
  return Object.fromEntries(Object.entries(queues).map(([k, v]) => [k, `${origin}${new URL(v).pathname}`])) as T;
}

export async function runNeighboursOnce(neighbours: boolean, options: NeighboursOptions = {}): Promise<RunFigures> {
  const log = options.log ?? (() => undefined);
  const goodTenants = options.goodTenants ?? 10;
  const rate = options.goodRatePerSecond ?? 1;
  const duration = (options.durationSeconds ?? 60) * 1000;
  const slowMs = (options.slowSeconds ?? 90) * 1000;
  const started = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-neighbours-'));
  const emulators = await startEmulators({ dataDir, visibilityTimeoutSeconds: 30 });
  const dynamoProxy = new CountingProxy(emulators.dynamoEndpoint, 'dynamo');
  const sqsProxy = new CountingProxy(emulators.sqsEndpoint, 'sqs');
  const good = new Receiver();
  const slow = new Receiver(slowMs);
  const goodUrl = await good.start();
  const slowUrl = await slow.start();
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sqsProxyUrl = await sqsProxy.start();
  sqsProxy.rewrite = [sqsProxyUrl, new URL(emulators.queues.delivery).origin];
  const env = {
    ...process.env,
    // The SDK sends SQS requests to the queue URL's host: the URLs name the proxy.
    ...functionEnvironment({ ...emulators, dynamoEndpoint: await dynamoProxy.start(), sqsEndpoint: sqsProxyUrl, queues: viaProxy(emulators.queues, sqsProxyUrl) }, { adminKey: ADMIN, sweepAfterSeconds: 120 }),
    [ENV.tenantMaxInFlight]: String(options.tenantMaxInFlight ?? 20),
    PORT: String(port),
    HERALD_SWEEP_INTERVAL_MS: '10000',
    HERALD_POLLER_CONCURRENCY: String(options.pollerConcurrency ?? 16),
    HERALD_SLOW_LANE_CONCURRENCY: String(options.slowLaneConcurrency ?? 4),
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
  let child: ChildProcess | undefined;
  // Never outlive this process, even when it dies of an error.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const sqs = new SQSClient({ endpoint: emulators.sqsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
  let peakInFlight = 0;
  let sampling = true;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./functions-main.ts', import.meta.url))], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the function process did not start within 30 s')), 30_000);
      child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Herald functions ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.stdout!.resume();
    routeFanoutToProcess(emulators.bus, url, ADMIN);
    const call = async (method: string, path: string, key: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const tenant = async (name: string) => (await call('POST', '/v1/tenants', ADMIN, { name })) as { id: string; apiKey: string };
    const subscribe = async (t: { apiKey: string }, name: string, destination: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      (await call('POST', '/v1/subscriptions', t.apiKey, { name, eventTypes: ['order.created'], destination, ...extra })).id as string;

    const goods: { id: string; sub: string }[] = [];
    for (let i = 0; i < goodTenants; i++) {
      const t = await tenant(`good ${i}`);
      goods.push({ id: t.id, sub: await subscribe(t, 'good', { type: 'webhook', url: `${goodUrl}/g${i}` }) });
    }
    const others: { id: string; subs: string[]; role: 'dead' | 'flood' | 'slow' }[] = [];
    if (neighbours) {
      const dead = await tenant('dead');
      const deadSubs: string[] = [];
      for (let i = 0; i < DEAD_SUBSCRIPTIONS; i++) {
        // An eager policy, as a customer might set it; auto-pause off, so only degradation acts.
        deadSubs.push(await subscribe(dead, `dead ${i}`, { type: 'webhook', url: `${deadUrl}/d${i}`, timeoutSeconds: 5 }, { retryPolicy: { schedule: [1, 2, 3, 5, 5, 5, 5, 5, 10, 10] }, autoPause: { enabled: false } }));
      }
      others.push({ id: dead.id, subs: deadSubs, role: 'dead' });
      const flood = await tenant('flood');
      others.push({ id: flood.id, subs: [await subscribe(flood, 'flood', { type: 'webhook', url: `${goodUrl}/flood` })], role: 'flood' });
      const slowTenant = await tenant('slow');
      others.push({ id: slowTenant.id, subs: [await subscribe(slowTenant, 'slow', { type: 'webhook', url: `${slowUrl}/slow`, timeoutSeconds: Math.min(90, Math.ceil(slowMs / 1000) + 5) })], role: 'slow' });
    }
    const allTenants = [...goods.map((g) => g.id), ...others.map((o) => o.id)];
    dynamoProxy.tenants = allTenants;
    sqsProxy.tenants = allTenants;

    const publishedAt = new Map<string, { tenant: string; at: number; time: string }>();
    let seq = 0;
    const publish = async (tenantId: string) => {
      const id = `evt-${seq++}`;
      const at = Date.now();
      // Sent with the event: its delivery ids are made from its time (core/ids.ts deliveryIdFor).
      const time = new Date(at).toISOString();
      await call('POST', '/v1/events', ADMIN, { tenantId, id, time, type: 'order.created', subject: `o-${seq % 100}`, data: { ...ORDER_EXAMPLE, orderId: id } });
      publishedAt.set(`${tenantId}/${id}`, { tenant: tenantId, at, time });
    };
    const sampler = (async () => {
      while (sampling) {
        try {
          for (const queueUrl of [emulators.queues.delivery, emulators.queues.ordered, emulators.queues.slowLane]) {
            const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
            peakInFlight = Math.max(peakInFlight, Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0));
          }
        } catch {
          // a sample missed: the next one counts
        }
        await sleep(1000);
      }
    })();

    const dead = others.find((o) => o.role === 'dead');
    if (dead) {
      const events = Math.ceil((options.deadBacklog ?? 2000) / DEAD_SUBSCRIPTIONS);
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < events) {
            next++;
            await publish(dead.id);
          }
        }),
      );
      log(`neighbours: ${events * DEAD_SUBSCRIPTIONS} deliveries queued for the dead endpoint`);
    }
    // The steady phase: each tenant publishes on its own timer.
    const steady = async (tenantId: string, perSecond: number) => {
      const interval = 1000 / perSecond;
      const end = Date.now() + duration;
      const inFlight: Promise<void>[] = [];
      for (let at = Date.now(); at < end; at += interval) {
        await sleep(Math.max(0, at - Date.now()));
        inFlight.push(publish(tenantId));
      }
      await Promise.all(inFlight);
    };
    const floodRate = rate * (options.floodFactor ?? 5);
    await Promise.all([
      ...goods.map((g) => steady(g.id, rate)),
      ...others.filter((o) => o.role === 'flood').map((o) => steady(o.id, floodRate)),
      ...others.filter((o) => o.role === 'slow').map((o) => steady(o.id, rate)),
    ]);
    log(`neighbours (${neighbours ? 'with' : 'without'} neighbours): steady phase done; waiting for deliveries`);

    // Everything but the dead tenant's must arrive.
    const expected = new Map<string, { tenant: string; at: number }>();
    for (const [key, p] of publishedAt) {
      const [tenantId, eventId] = key.split('/') as [string, string];
      const g = goods.find((x) => x.id === tenantId);
      const o = others.find((x) => x.id === tenantId);
      for (const sub of g ? [g.sub] : (o?.subs ?? [])) expected.set(deliveryIdFor(tenantId, eventId, sub, p.time), p);
    }
    const deadIds = new Set([...expected].filter(([, p]) => p.tenant === dead?.id).map(([id]) => id));
    // The slow receiver's deliveries drain at its own lane's pace (slow-lane pollers per answer
    // time): those not received yet must be retrying or waiting there, as the dead tenant's are.
    const slowTenant = others.find((o) => o.role === 'slow');
    const slowIds = new Set([...expected].filter(([, p]) => p.tenant === slowTenant?.id).map(([id]) => id));
    const receivedAt = (id: string) => good.firstAt.get(id) ?? slow.firstAt.get(id);
    const waitUntil = Date.now() + 60_000 + slowMs * 4;
    for (;;) {
      const open = [...expected.keys()].filter((id) => !deadIds.has(id) && !slowIds.has(id) && receivedAt(id) === undefined).length;
      if (open === 0 || Date.now() > waitUntil) break;
      log(`neighbours: ${open} deliveries still to arrive`);
      await sleep(2000);
    }
    sampling = false;
    await sampler;
    // The dead tenant's deliveries are retrying, not lost: each must have its record (made at its
    // first attempt, or its first wait behind a degraded subscription's trial attempt) once its
    // turn under the tenant cap has come.
    const recorded = async (id: string) =>
      (await dynamo.send(new BatchGetCommand({ RequestItems: { [LOCAL_TABLE]: { Keys: [deliveryKey(id)] } } }))).Responses?.[LOCAL_TABLE]?.length === 1;
    const deadDeadline = Date.now() + 120_000;
    let unrecorded = [...deadIds];
    while (unrecorded.length > 0 && Date.now() < deadDeadline) {
      const checks = await Promise.all(unrecorded.slice(0, 100).map(recorded));
      unrecorded = unrecorded.filter((_, i) => i >= 100 || !checks[i]);
      if (unrecorded.length > 0) {
        log(`neighbours: ${unrecorded.length} dead-endpoint deliveries not attempted yet`);
        await sleep(2000);
      }
    }

    // The store: every expected delivery has a record (the dead tenant's pending or failed, none missing).
    const statuses = new Map<string, string>();
    /** When fan-out made each delivery (its job's createdAt): splits publish→receive into its two legs. */
    const fannedOutAt = new Map<string, number>();
    const ids = [...expected.keys()];
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => deliveryKey(id));
      while (keys && keys.length > 0) {
        const out = await dynamo.send(new BatchGetCommand({ RequestItems: { [LOCAL_TABLE]: { Keys: keys, ProjectionExpression: 'id, #s, attemptCount, createdAt', ExpressionAttributeNames: { '#s': 'status' } } } }));
        for (const item of out.Responses?.[LOCAL_TABLE] ?? []) {
          statuses.set(String(item.id), String(item.status));
          fannedOutAt.set(String(item.id), Date.parse(String(item.createdAt)));
        }
        keys = out.UnprocessedKeys?.[LOCAL_TABLE]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    // A dead-endpoint delivery with no record yet has not had its first attempt: it must still be
    // a job in the delivery queue (waiting its turn under the tenant cap, in flight or delayed) or
    // a letter in the dead-letter queue; only one in neither place is lost.
    const queued = await queuedDeliveryIds(emulators.sqsEndpoint);
    const deadWaiting = [...deadIds].filter((id) => !statuses.has(id) && queued.has(id)).length;
    const slowWaiting = [...slowIds].filter((id) => receivedAt(id) === undefined && (statuses.has(id) || queued.has(id))).length;
    const lost = ids.filter((id) =>
      deadIds.has(id) ? !statuses.has(id) && !queued.has(id) : slowIds.has(id) ? receivedAt(id) === undefined && !statuses.has(id) && !queued.has(id) : receivedAt(id) === undefined,
    ).length;
    const goodSet = new Set(goods.map((g) => g.id));
    const goodDeadLettered = ids.filter((id) => goodSet.has(expected.get(id)!.tenant) && statuses.get(id) === 'failed').length;

    // Where the requests went: a tenant's own, by role, and those naming no tenant (receives, deletes).
    const roleOf = (t: string) => (t === '' ? 'shared' : goodSet.has(t) ? 'good' : (others.find((o) => o.id === t)?.role ?? 'other'));
    const requests = new Map<string, { dynamoWrites: number; dynamoReads: number; sqs: number }>();
    const requestsOf = (role: string) => requests.get(role) ?? (requests.set(role, { dynamoWrites: 0, dynamoReads: 0, sqs: 0 }), requests.get(role)!);
    for (const [t, u] of dynamoProxy.dynamo) Object.assign(requestsOf(roleOf(t)), { dynamoWrites: requestsOf(roleOf(t)).dynamoWrites + u.writes, dynamoReads: requestsOf(roleOf(t)).dynamoReads + u.reads });
    for (const [t, n] of sqsProxy.sqs) requestsOf(roleOf(t)).sqs += n;
    log(`neighbours (${neighbours ? 'with' : 'without'} neighbours): requests ${JSON.stringify(Object.fromEntries(requests))}`);
    const costs = new Map<string, number>();
    for (const proxy of [dynamoProxy, sqsProxy]) for (const [t, usd] of proxy.costs()) costs.set(t, (costs.get(t) ?? 0) + usd);
    const figures: TenantFigures[] = goods.map((g, i) => {
      const latencies = ids
        .filter((id) => expected.get(id)!.tenant === g.id && receivedAt(id) !== undefined)
        .map((id) => receivedAt(id)! - expected.get(id)!.at)
        .sort((a, b) => a - b);
      return { tenant: `good ${i}`, deliveries: latencies.length, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), costPerMillionUsd: ((costs.get(g.id) ?? 0) / Math.max(1, latencies.length)) * 1e6 };
    });
    const all = ids
      .filter((id) => goodSet.has(expected.get(id)!.tenant) && receivedAt(id) !== undefined)
      .map((id) => receivedAt(id)! - expected.get(id)!.at)
      .sort((a, b) => a - b);
    // Fan-out → first arrival: the queue's dwell time plus the attempt (what fair queues act on).
    const dwell = ids
      .filter((id) => goodSet.has(expected.get(id)!.tenant) && receivedAt(id) !== undefined && Number.isFinite(fannedOutAt.get(id)))
      .map((id) => receivedAt(id)! - fannedOutAt.get(id)!)
      .sort((a, b) => a - b);
    const goodCost = goods.reduce((sum, g) => sum + (costs.get(g.id) ?? 0), 0);
    const flood = others.find((o) => o.role === 'flood');
    return {
      neighbours,
      good: figures,
      goodP50Ms: quantile(all, 0.5),
      goodP99Ms: quantile(all, 0.99),
      goodQueueP50Ms: quantile(dwell, 0.5),
      goodQueueP99Ms: quantile(dwell, 0.99),
      goodCostPerMillionUsd: (goodCost / Math.max(1, all.length)) * 1e6,
      lost,
      deadWaiting,
      goodDeadLettered,
      peakInFlight,
      deadBacklog: deadIds.size,
      floodDelivered: flood ? ids.filter((id) => expected.get(id)!.tenant === flood.id && receivedAt(id) !== undefined).length : 0,
      slowDelivered: [...slowIds].filter((id) => receivedAt(id) !== undefined).length,
      slowWaiting,
      durationMs: Date.now() - started,
    };
  } finally {
    sampling = false;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    sqs.destroy();
    dynamo.destroy();
    await Promise.all([good.stop(), slow.stop(), dynamoProxy.stop(), sqsProxy.stop()]);
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The baseline (well-behaved tenants alone), then the same load among the neighbours, and the verdict. */
export async function runNeighboursSoak(options: NeighboursOptions = {}) {
  const baseline = await runNeighboursOnce(false, options);
  options.log?.(`neighbours: baseline p50 ${baseline.goodP50Ms} ms, p99 ${baseline.goodP99Ms} ms`);
  const noisy = await runNeighboursOnce(true, options);
  const p99Ratio = noisy.goodP99Ms / baseline.goodP99Ms;
  const costRatio = noisy.goodCostPerMillionUsd / baseline.goodCostPerMillionUsd;
  const invariants = [
    {
      name: 'nothing lost (every delivery received; each of the dead and slow tenants’ recorded, or still queued)',
      ok: noisy.lost === 0 && baseline.lost === 0,
      detail: `${baseline.lost} + ${noisy.lost} lost; ${noisy.deadWaiting} of the dead tenant’s ${noisy.deadBacklog} still queued for a first attempt; ${noisy.slowWaiting} of the slow receiver’s still retrying or queued (${noisy.slowDelivered} received)`,
    },
    { name: 'nothing of the well-behaved tenants dead-lettered', ok: noisy.goodDeadLettered === 0 && baseline.goodDeadLettered === 0, detail: `${noisy.goodDeadLettered} dead-lettered` },
    { name: 'well-behaved p99 within 2× of the run without neighbours', ok: p99Ratio <= 2, detail: `${noisy.goodP99Ms} ms vs ${baseline.goodP99Ms} ms (${p99Ratio.toFixed(2)}×)` },
    { name: 'well-behaved cost per delivery within 1.2× of the run without neighbours', ok: costRatio <= 1.2, detail: `$${noisy.goodCostPerMillionUsd.toFixed(2)} vs $${baseline.goodCostPerMillionUsd.toFixed(2)} per million (${costRatio.toFixed(2)}×)` },
    { name: 'peak messages in flight far below SQS’s ~120,000', ok: noisy.peakInFlight < 12_000, detail: `${noisy.peakInFlight} at peak` },
  ];
  return { baseline, noisy, p99Ratio, costRatio, invariants, ok: invariants.every((i) => i.ok) };
}
