import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FANOUT_RULE_PATTERN } from '../lambdas/shared/herald-config.ts';
import { deliveryKey } from '../lambdas/adapters/table-keys.ts';
import { deliveryIdFor } from '../lambdas/core/ids.ts';
import { functionEnvironment, LOCAL_BUS, LOCAL_TABLE, startEmulators } from './runtime.ts';

/**
 * The stack's fan-out rule on the local bus, invoking a function process like EventBridge invokes
 * a Lambda: retried with backoff while the process is down.
 */
export function routeFanoutToProcess(bus: Awaited<ReturnType<typeof startEmulators>>['bus'], url: string, adminKey: string): void {
  bus.addRule({
    name: 'fanout',
    busName: LOCAL_BUS,
    pattern: FANOUT_RULE_PATTERN as unknown as Record<string, unknown>,
    maxAttempts: 30,
    target: async (event) => {
      const res = await fetch(`${url}/local/invoke/fanout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new Error(`fan-out answered ${res.status}`);
    },
  });
}

/**
 * The fault-injection soak: Herald's functions in a child process, the emulators in this one,
 * receivers that fail in every way an endpoint can, the function process killed mid-run and the
 * SQS emulator restarted (losing every message in it). At the end it checks that nothing was
 * lost: every (event, subscription) pair succeeded or is a dead letter with a reason, and after a
 * redrive against healthy receivers, everything is delivered.
 */
export interface SoakOptions {
  events: number;
  subscriptions?: number;
  /** SIGKILLs of the function process, spread over the publishing phase. */
  kills?: number;
  /** Restarts of the SQS emulator (all its messages lost), spread over the publishing phase. */
  sqsRestarts?: number;
  /** Parallel publishers. */
  publishers?: number;
  /** Give up waiting for the system to settle after this long (the run then fails). */
  deadlineMs?: number;
  seed?: number;
  /**
   * The sweeper's grace period: long enough that a backlog is not mistaken for loss (each
   * mistaken re-enqueue is a duplicate that adds to the backlog). Default 30 s.
   */
  sweepAfterSeconds?: number;
  /** Concurrent delivery batches in the function process (Lambda would scale out further). Default 16. */
  pollerConcurrency?: number;
  log?: (line: string) => void;
}

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakResult {
  events: number;
  subscriptions: number;
  expectedDeliveries: number;
  requestsReceived: number;
  succeeded: number;
  deadLettersBeforeRedrive: number;
  deadLettersAfterRedrive: number;
  lost: number;
  duplicates: number;
  maxDeliveryDelayMs: number;
  kills: number;
  sqsRestarts: number;
  durationMs: number;
  invariants: Invariant[];
  ok: boolean;
}

const ADMIN = 'hk_admin_soak_0000000000000000000000000000000000';
const ORDER_EXAMPLE = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../catalogue/order.created/v1.json', import.meta.url)), 'utf8')) as { example: Record<string, unknown> }
).example;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator (mulberry32): the same seed makes the same faults. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Receipt {
  deliveryId: string;
  eventId: string;
  path: string;
  status: number | 'hang' | 'reset';
  at: number;
}

/** Receivers answering at random: 200, slow 200, 500, 429 + Retry-After, hang past the timeout, reset. */
class ChaosReceiver {
  readonly receipts: Receipt[] = [];
  healthy = false;
  private server?: Server;
  constructor(private readonly random: () => number) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let eventId = '';
    try {
      eventId = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string }).id ?? '');
    } catch {
      // recorded with an empty id: a malformed body would fail the invariants
    }
    const receipt: Receipt = { deliveryId: String(req.headers['webhook-id'] ?? ''), eventId, path: req.url ?? '', status: 200, at: Date.now() };
    this.receipts.push(receipt);
    const roll = this.healthy ? 0 : this.random();
    if (roll < 0.55) return void res.writeHead(200).end('ok');
    if (roll < 0.65) {
      await sleep(300 + this.random() * 500);
      return void res.writeHead(200).end('ok, slowly');
    }
    if (roll < 0.77) {
      receipt.status = 500;
      return void res.writeHead(500).end('internal error');
    }
    if (roll < 0.85) {
      receipt.status = 429;
      return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
    }
    if (roll < 0.92) {
      receipt.status = 'hang';
      await sleep(3000); // past the subscription's 2 s timeout
      return void res.destroy();
    }
    receipt.status = 'reset';
    req.socket.destroy();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const subscriptionsWanted = options.subscriptions ?? 3;
  const random = seeded(options.seed ?? 20261125);
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-soak-'));
  const emulators = await startEmulators({ dataDir, visibilityTimeoutSeconds: 8 });
  const receiver = new ChaosReceiver(random);
  const receiverUrl = await receiver.start();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    ...functionEnvironment(emulators, { adminKey: ADMIN, sweepAfterSeconds: options.sweepAfterSeconds ?? 30 }),
    PORT: String(port),
    HERALD_SWEEP_INTERVAL_MS: '2000',
    HERALD_POLLER_CONCURRENCY: String(options.pollerConcurrency ?? 16),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
  };

  let child: ChildProcess | undefined;
  const startChild = async (): Promise<void> => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./functions-main.ts', import.meta.url))], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the function process did not start within 30 s')), 30_000);
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Herald functions ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`the function process exited (${code}) before it was ready`)));
    });
    proc.stdout!.resume();
  };
  const killChild = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };

  routeFanoutToProcess(emulators.bus, url, ADMIN);

  const call = async (method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status >= 500 && attempt < 60) throw new Error(`HTTP ${res.status}`);
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      } catch (error) {
        // The function process is down (killed on purpose): retry, as a platform client would.
        if (attempt >= 60) throw error;
        await sleep(250);
      }
    }
  };

  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  );
  const records = async (ids: string[]): Promise<Map<string, { status: string; reason?: string }>> => {
    const found = new Map<string, { status: string; reason?: string }>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => deliveryKey(id));
      while (keys && keys.length > 0) {
        const out = await dynamo.send(
          new BatchGetCommand({ RequestItems: { [LOCAL_TABLE]: { Keys: keys, ProjectionExpression: 'id, #s, reason', ExpressionAttributeNames: { '#s': 'status' } } } }),
        );
        for (const item of out.Responses?.[LOCAL_TABLE] ?? []) found.set(String(item.id), { status: String(item.status), reason: item.reason as string | undefined });
        keys = out.UnprocessedKeys?.[LOCAL_TABLE]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  };

  let kills = 0;
  let sqsRestarts = 0;
  try {
    await startChild();
    const tenant = (await call('POST', '/v1/tenants', ADMIN, { name: 'soak' })).body as { id: string; apiKey: string };
    const subscriptions: { id: string; path: string }[] = [];
    for (let i = 0; i < subscriptionsWanted; i++) {
      const res = await call('POST', '/v1/subscriptions', tenant.apiKey, {
        name: `soak ${i}`,
        eventTypes: ['order.created'],
        destination: { type: 'webhook', url: `${receiverUrl}/s${i}`, timeoutSeconds: 2 },
        retryPolicy: { schedule: [1, 2, 3, 5] },
        autoPause: { enabled: false },
      });
      if (res.status !== 201) throw new Error(`could not subscribe: ${JSON.stringify(res.body)}`);
      subscriptions.push({ id: res.body.id, path: `/s${i}` });
    }

    // Publish, with the faults spread over the run.
    const acceptedAt = new Map<string, number>();
    const eventTimes = new Map<string, string>();
    const kills_at = Array.from({ length: options.kills ?? 2 }, (_, i) => Math.floor((options.events * (i + 1)) / ((options.kills ?? 2) + 2)));
    const restart_at = Array.from({ length: options.sqsRestarts ?? 1 }, (_, i) => Math.floor((options.events * (2 * i + 3)) / (2 * ((options.sqsRestarts ?? 1) + 2))));
    let next = 0;
    let faults: Promise<void> = Promise.resolve();
    const publisher = async () => {
      for (;;) {
        const n = next++;
        if (n >= options.events) return;
        if (kills_at.includes(n)) {
          faults = faults.then(async () => {
            log(`soak: SIGKILL the function process (event ${n})`);
            await killChild();
            kills++;
            await sleep(500);
            await startChild();
          });
        }
        if (restart_at.includes(n)) {
          faults = faults.then(async () => {
            log(`soak: restart the SQS emulator, losing its messages (event ${n})`);
            await emulators.restartSqs();
            sqsRestarts++;
          });
        }
        const id = `soak-${n}`;
        // Sent with the event: its delivery ids are made from its time (core/ids.ts deliveryIdFor).
        const time = eventTimes.get(id) ?? new Date().toISOString();
        eventTimes.set(id, time);
        const res = await call('POST', '/v1/events', ADMIN, {
          tenantId: tenant.id,
          id,
          time,
          type: 'order.created',
          subject: `order-${n % 500}`,
          data: { ...ORDER_EXAMPLE, orderId: `order-${n}`, updatedAt: new Date().toISOString() },
        });
        if (res.status !== 202) throw new Error(`publish ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
        if (!acceptedAt.has(id)) acceptedAt.set(id, Date.now());
        if (n % 500 === 0) log(`soak: published ${n}/${options.events}`);
      }
    };
    await Promise.all(Array.from({ length: options.publishers ?? 8 }, publisher));
    await faults;
    log(`soak: all ${options.events} events accepted after ${Math.round((Date.now() - started) / 1000)} s; waiting for every delivery to settle`);

    const expected = new Map<string, { eventId: string; subscription: string }>();
    for (const eventId of acceptedAt.keys()) {
      for (const sub of subscriptions) expected.set(deliveryIdFor(tenant.id, eventId, sub.id, eventTimes.get(eventId)!), { eventId, subscription: sub.path });
    }
    const ids = [...expected.keys()];
    const deadline = started + (options.deadlineMs ?? 280_000);
    const settle = async (done: (status: string) => boolean): Promise<Map<string, { status: string; reason?: string }>> => {
      for (;;) {
        const state = await records(ids);
        const open = ids.filter((id) => !done(state.get(id)?.status ?? 'missing')).length;
        if (open === 0 || Date.now() > deadline) return state;
        log(`soak: ${open} deliveries not settled yet`);
        await sleep(2000);
      }
    };
    const settled = await settle((s) => s === 'succeeded' || s === 'failed');
    const failed = ids.filter((id) => settled.get(id)?.status === 'failed');
    const lost = ids.filter((id) => !['succeeded', 'failed'].includes(settled.get(id)?.status ?? 'missing'));
    const withoutReason = failed.filter((id) => !settled.get(id)?.reason);

    // Receipts: first success per delivery, duplicates, ids.
    const firstSuccess = new Map<string, number>();
    let duplicates = 0;
    let wrongIds = 0;
    for (const r of receiver.receipts) {
      const want = expected.get(r.deliveryId);
      if (!want || want.eventId !== r.eventId || want.subscription !== r.path) wrongIds++;
      if (r.status !== 200) continue;
      if (firstSuccess.has(r.deliveryId)) duplicates++;
      else firstSuccess.set(r.deliveryId, r.at);
    }
    let maxDelay = 0;
    for (const [id, at] of firstSuccess) maxDelay = Math.max(maxDelay, at - acceptedAt.get(expected.get(id)!.eventId)!);
    const succeededBefore = ids.length - failed.length - lost.length;

    // Healthy receivers, then redrive the dead letters: everything must arrive.
    receiver.healthy = true;
    const redriven = await call('POST', '/v1/dead-letters/redrive', tenant.apiKey, {});
    log(`soak: ${failed.length} dead letters; redrive moved ${redriven.body?.count}`);
    const after = await settle((s) => s === 'succeeded');
    const notDelivered = ids.filter((id) => after.get(id)?.status !== 'succeeded');

    const invariants: Invariant[] = [
      { name: 'no delivery lost: every (event, subscription) pair succeeded or is a dead letter', ok: lost.length === 0, detail: `${lost.length} without a final state` },
      { name: 'every dead letter carries its reason', ok: withoutReason.length === 0, detail: `${withoutReason.length} without a reason` },
      { name: 'every request (duplicates included) carries its delivery’s webhook-id', ok: wrongIds === 0, detail: `${wrongIds} requests with an unexpected webhook-id` },
      { name: 'after a redrive against healthy receivers, everything is delivered', ok: notDelivered.length === 0, detail: `${notDelivered.length} not delivered` },
      { name: 'no dead letters remain after the redrive', ok: notDelivered.length === 0 && redriven.status === 202, detail: `redrive answered ${redriven.status}` },
    ];
    return {
      events: options.events,
      subscriptions: subscriptions.length,
      expectedDeliveries: ids.length,
      requestsReceived: receiver.receipts.length,
      succeeded: succeededBefore,
      deadLettersBeforeRedrive: failed.length,
      deadLettersAfterRedrive: notDelivered.length,
      lost: lost.length,
      duplicates,
      maxDeliveryDelayMs: maxDelay,
      kills,
      sqsRestarts,
      durationMs: Date.now() - started,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
  } finally {
    await killChild();
    dynamo.destroy();
    await receiver.stop();
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
