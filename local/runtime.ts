import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  EventBridgeEvent,
  LambdaFunctionURLEvent,
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { CONSOLE_SECURITY_HEADERS, consoleContentSecurityPolicy, deliverBatchSize, ENV, FANOUT_RULE_PATTERN, ORDERED_BATCH_SIZE, SLOW_LANE_BATCH_SIZE, SWEEP_INTERVAL_MINUTES, TIMEOUTS } from '../lambdas/shared/herald-config.ts';
import type { SweepReport } from '../lambdas/core/sweeper.ts';
import { bearerToken, hashApiKey } from '../lambdas/core/api-keys.ts';
import { LocalApiGateway } from './api-gateway.ts';
import { ensureTable, resolveLocalhostNames, SLOW_LANE_QUEUE, startDynamo, startSqs } from './emulators.ts';
import { LocalEventBus } from './event-bus.ts';
import { LocalFunctionUrl } from './function-url.ts';
import { lambdaContext, type LambdaHandler } from './lambda-context.ts';
import { asFunction } from './invocations.ts';
import { SqsPoller } from './sqs-poller.ts';
import { buildApiReference, buildConsole, type ApiReferenceFiles, type ConsoleFiles } from '../console/build.ts';

/**
 * The embedded Herald: emulators, the local bus with the stack's fan-out rule, local event
 * source mappings and a local API Gateway, all driving the real Lambda handlers. Handlers find
 * the emulators only through the standard AWS_ENDPOINT_URL_* variables.
 */
export interface HeraldLocalOptions {
  port?: number;
  host?: string;
  adminKey?: string;
  dataDir?: string;
  allowPrivateTargets?: boolean;
  /** The `environment` attribute of the events Herald builds. @default HERALD_ENVIRONMENT, else none */
  environment?: string;
  /** Visibility timeout of the delivery queue; only crashed batches wait for it. */
  visibilityTimeoutSeconds?: number;
  pollerConcurrency?: number;
  /**
   * Pollers of the slow lane, one record per invocation: `herald:slowLaneConcurrency` (deployed
   * default 10 of the delivery queue's 100). @default 2 (a function process of its own:
   * HERALD_SLOW_LANE_CONCURRENCY, local/functions-main.ts)
   */
  slowLaneConcurrency?: number;
  /** `herald:tenantMaxInFlight`: the most deliveries of one tenant in progress at once. @default HERALD_TENANT_MAX_IN_FLIGHT, else no cap */
  tenantMaxInFlight?: number;
  /**
   * The delivery queue's batching window (ms), as the stack's `herald:deliveryBatchWindowSeconds`
   * sets it when deployed. Default 0 locally: each delivery is picked up at once.
   */
  batchWindowMs?: number;
  /** Extra catalogue folders beside the repository's catalogue/ (tests, operators trying types). */
  extraCatalogueDirs?: string[];
  /**
   * Local buses standing in for customers' EventBridge buses, `name` or `name@account` (default:
   * `customer-bus` in 111111111111 and `other-customer-bus` in 222222222222). What they receive is
   * listed at GET /local/buses/{name}/events.
   */
  customerBuses?: string[];
  /** Keep authorizer answers this long per key, as the stack's API Gateway does (300). Default 0. */
  authorizerCacheSeconds?: number;
  /**
   * How long the deliver function keeps a subscription it read (HERALD_SUBSCRIPTION_CACHE_SECONDS,
   * 10 deployed). Default 0 locally, so a change applies to the next batch, as the authorizer
   * cache is off; the bench sets the deployed 10.
   */
  subscriptionCacheSeconds?: number;
  /** How often the sweeper runs (ms; 0: only when `sweep()` is called). Default 60 s, as deployed. */
  sweepIntervalMs?: number;
  /** The sweeper's grace period (HERALD_SWEEP_AFTER_SECONDS). Default 60 s locally. */
  sweepAfterSeconds?: number;
  /** A sweep window's length (HERALD_SWEEP_WINDOW_SECONDS). Default a tenth of the grace. */
  sweepWindowSeconds?: number;
  /** Observes how long each api and fan-out invocation took (ms): the bench's cost model. */
  onInvocation?: (fn: 'api' | 'fanout', ms: number) => void;
  /**
   * Port of the self-test receiver (`herald smoke` delivers to it; deployed, a function URL when
   * `herald:selfTestReceiver` is set). Default 0: any free port, see `selfTestUrl`.
   */
  selfTestPort?: number;
  /** Fault injection for tests: wraps the deliver function as the event source mapping sees it. */
  wrapDeliver?: (handler: LambdaHandler<SQSEvent, SQSBatchResponse>) => LambdaHandler<SQSEvent, SQSBatchResponse>;
}

export interface HeraldLocal {
  url: string;
  port: number;
  adminKey: string;
  adminKeyGenerated: boolean;
  /** The self-test receiver, as its function URL would be deployed: `herald smoke --receiver <this>`. */
  selfTestUrl: string;
  bus: LocalEventBus;
  sqs: SQSClient;
  queues: { delivery: string; deadLetter: string; slowLane: string };
  /** Resolves when nothing is in flight on the bus and no delivery batch is running. */
  settle(): Promise<void>;
  /** Changes the delivery queue's batching window from now on (ms; see `batchWindowMs`). */
  setBatchWindowMs(ms: number): void;
  /** Runs the reconciliation sweeper once now (it also runs every `sweepIntervalMs`). */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

export const LOCAL_TABLE = 'herald-local';
export const LOCAL_BUS = 'herald-local';

/** The emulators half: DynamoDB, SQS and the local buses. Functions may run in another process. */
export interface LocalEmulators {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  busEndpoint: string;
  bus: LocalEventBus;
  queues: { delivery: string; deadLetter: string; ordered: string; slowLane: string };
  /** Stops and starts the SQS emulator on the same port: queues come back empty (fauxqs is memory only). */
  restartSqs(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmulators(
  options: Pick<HeraldLocalOptions, 'dataDir' | 'visibilityTimeoutSeconds' | 'customerBuses'> = {},
): Promise<LocalEmulators> {
  const dynamo = await startDynamo(options.dataDir);
  await ensureTable(dynamo.endpoint, LOCAL_TABLE);
  let sqsEmulator = await startSqs({ visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
  const sqsPort = Number(new URL(sqsEmulator.endpoint).port);
  const bus = new LocalEventBus();
  const busEndpoint = await bus.listen(0);
  for (const entry of options.customerBuses ?? DEFAULT_CUSTOMER_BUSES) {
    const [name, account] = entry.split('@') as [string, string | undefined];
    bus.createBus(name);
    if (account) busAccounts.set(name, account);
  }
  return {
    dynamoEndpoint: dynamo.endpoint,
    sqsEndpoint: sqsEmulator.endpoint,
    busEndpoint,
    bus,
    queues: { delivery: sqsEmulator.deliveryQueue.url, deadLetter: sqsEmulator.deadLetterQueue.url, ordered: sqsEmulator.orderedQueue.url, slowLane: sqsEmulator.slowLane.url },
    async restartSqs() {
      await sqsEmulator.stop();
      sqsEmulator = await startSqs({ visibilityTimeoutSeconds: options.visibilityTimeoutSeconds, port: sqsPort });
    },
    async stop() {
      await bus.stop();
      await sqsEmulator.stop();
      await dynamo.stop();
    },
  };
}

/** The environment the functions need to find the emulators (and their own settings). */
export function functionEnvironment(emulators: Pick<LocalEmulators, 'dynamoEndpoint' | 'sqsEndpoint' | 'busEndpoint' | 'queues'>, options: HeraldLocalOptions & { adminKey: string }): Record<string, string> {
  return {
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: emulators.busEndpoint,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_DEV: process.env.POWERTOOLS_DEV ?? 'true',
    [ENV.tableName]: LOCAL_TABLE,
    [ENV.eventBusName]: LOCAL_BUS,
    [ENV.deliveryQueueUrl]: emulators.queues.delivery,
    [ENV.orderedQueueUrl]: emulators.queues.ordered,
    [ENV.slowLaneQueueUrl]: emulators.queues.slowLane,
    [ENV.deadLetterQueueUrl]: emulators.queues.deadLetter,
    [ENV.adminKeyHash]: hashApiKey(options.adminKey),
    [ENV.allowPrivateTargets]: options.allowPrivateTargets === false ? '0' : '1',
    // Herald's local account: its buses, and any bus named in it, are the operator's own.
    [ENV.operatorAccount]: LOCAL_ACCOUNT,
    [ENV.environment]: options.environment ?? process.env[ENV.environment] ?? '',
    [ENV.tenantMaxInFlight]: options.tenantMaxInFlight !== undefined ? String(options.tenantMaxInFlight) : (process.env[ENV.tenantMaxInFlight] ?? ''),
    [ENV.sweepAfterSeconds]: String(options.sweepAfterSeconds ?? process.env[ENV.sweepAfterSeconds] ?? 60),
    [ENV.sweepWindowSeconds]: options.sweepWindowSeconds !== undefined ? String(options.sweepWindowSeconds) : (process.env[ENV.sweepWindowSeconds] ?? ''),
    [ENV.subscriptionCacheSeconds]: String(options.subscriptionCacheSeconds ?? process.env[ENV.subscriptionCacheSeconds] ?? 0),
    [ENV.catalogueDir]: [fileURLToPath(new URL('../catalogue', import.meta.url)), ...(options.extraCatalogueDirs ?? [])].join(delimiter),
  };
}

/** The functions half: the local API Gateway, the SQS event source mapping and the sweeper. */
export interface LocalFunctions {
  url: string;
  port: number;
  selfTestUrl: string;
  sqs: SQSClient;
  invokeFanout(event: EventBridgeEvent<string, unknown>): Promise<unknown>;
  sweep(): Promise<SweepReport>;
  /** Changes the delivery queue's batching window from now on (ms; see `batchWindowMs`). */
  setBatchWindowMs(ms: number): void;
  /** Waits until no delivery batch is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the functions against the emulators named in process.env (set by the caller, or by the
 * parent process). `bus` is given when the buses live in this process (inspection routes).
 */
export async function startFunctions(options: HeraldLocalOptions & { bus?: LocalEventBus } = {}): Promise<LocalFunctions> {
  delete process.env.AWS_PROFILE;
  resolveLocalhostNames();
  // Imported only now: handlers read their environment once, at cold start, as in Lambda.
  const timed = <E, R>(name: 'api' | 'fanout', handler: LambdaHandler<E, R>): LambdaHandler<E, R> => {
    const observe = options.onInvocation;
    if (!observe) return handler;
    return async (event, context) => {
      const t0 = performance.now();
      try {
        return await handler(event, context);
      } finally {
        observe(name, performance.now() - t0);
      }
    };
  };
  // Each invocation runs as its function (local/invocations.ts), as it would in its own Lambda.
  const api = timed('api', asFunction((await import('../lambdas/api/handler.ts')).handler as unknown as LambdaHandler<APIGatewayProxyEvent, APIGatewayProxyResult>));
  const authorizer = asFunction((await import('../lambdas/authorizer/handler.ts')).handler as unknown as LambdaHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>);
  const fanout = timed('fanout', asFunction((await import('../lambdas/fanout/handler.ts')).handler as unknown as LambdaHandler<EventBridgeEvent<string, unknown>, unknown>));
  const deliver = asFunction((await import('../lambdas/deliver/handler.ts')).handler as unknown as LambdaHandler<SQSEvent, SQSBatchResponse>);
  const sweeper = asFunction((await import('../lambdas/sweeper/handler.ts')).handler as unknown as LambdaHandler<ScheduledEvent, SweepReport>);
  const selfTest = asFunction((await import('../lambdas/self-test/handler.ts')).handler as unknown as LambdaHandler<LambdaFunctionURLEvent, APIGatewayProxyResult>);
  const invokeFanout = (event: EventBridgeEvent<string, unknown>) => fanout(event, lambdaContext('herald-fanout', 30_000));

  const queueUrl = process.env[ENV.deliveryQueueUrl]!;
  const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const poller = new SqsPoller({
    sqs,
    queueUrl,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:herald-deliveries',
    functionName: 'herald-deliver',
    handler: options.wrapDeliver ? options.wrapDeliver(deliver) : deliver,
    batchSize: deliverBatchSize((options.batchWindowMs ?? 0) / 1000),
    concurrency: options.pollerConcurrency ?? 4,
    timeoutMs: TIMEOUTS.deliverFunctionTimeoutSeconds * 1000,
    batchWindowMs: options.batchWindowMs ?? 0,
  });
  poller.start();
  // The FIFO queue's event source mapping (ordered subscriptions).
  const orderedPoller = new SqsPoller({
    sqs,
    queueUrl: process.env[ENV.orderedQueueUrl]!,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:herald-ordered.fifo',
    functionName: 'herald-deliver',
    handler: options.wrapDeliver ? options.wrapDeliver(deliver) : deliver,
    batchSize: ORDERED_BATCH_SIZE,
    concurrency: 2,
    timeoutMs: TIMEOUTS.deliverFunctionTimeoutSeconds * 1000,
  });
  orderedPoller.start();
  // The slow lane's event source mapping: one record per invocation, a small concurrency.
  const slowLanePoller = new SqsPoller({
    sqs,
    queueUrl: process.env[ENV.slowLaneQueueUrl]!,
    queueArn: `arn:aws:sqs:us-east-1:000000000000:${SLOW_LANE_QUEUE}`,
    functionName: 'herald-deliver',
    handler: options.wrapDeliver ? options.wrapDeliver(deliver) : deliver,
    batchSize: SLOW_LANE_BATCH_SIZE,
    concurrency: options.slowLaneConcurrency ?? 2,
    timeoutMs: TIMEOUTS.deliverFunctionTimeoutSeconds * 1000,
  });
  slowLanePoller.start();

  // The stack's every-minute schedule; runs never overlap.
  let sweeping: Promise<SweepReport> | undefined;
  const runSweep = (): Promise<SweepReport> =>
    (sweeping ??= sweeper(scheduledEvent(), lambdaContext('herald-sweeper', 55_000)).finally(() => {
      sweeping = undefined;
    }));
  const sweepEvery = options.sweepIntervalMs ?? SWEEP_INTERVAL_MINUTES * 60_000;
  const sweepTimer =
    sweepEvery > 0
      ? setInterval(() => {
          runSweep().catch((error: Error) => console.error(`[local sweeper] ${error.message}`));
        }, sweepEvery)
      : undefined;
  sweepTimer?.unref();

  // The admin key guards the /local routes: the caller's (startHeraldLocal) or, in a function
  // process of its own, the hash its parent put in the environment, as the authorizer reads it.
  const adminKeyHash = options.adminKey ? hashApiKey(options.adminKey) : process.env[ENV.adminKeyHash];
  const gateway = new LocalApiGateway({ authorizer, api, extra: localRoutes(options.bus, invokeFanout, adminKeyHash), authorizerCacheSeconds: options.authorizerCacheSeconds });
  const port = await gateway.listen(options.port ?? 3000, options.host ?? '127.0.0.1');
  const selfTestUrl = new LocalFunctionUrl('herald-self-test', selfTest, 10_000);
  const selfTestPort = await selfTestUrl.listen(options.selfTestPort ?? 0, options.host ?? '127.0.0.1');
  let stopped = false;
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    selfTestUrl: `http://${urlHost(options.host)}:${selfTestPort}`,
    sqs,
    invokeFanout,
    sweep: runSweep,
    setBatchWindowMs(ms: number) {
      poller.setBatchWindowMs(ms, deliverBatchSize(ms / 1000));
    },
    async idle() {
      while (poller.busy + orderedPoller.busy + slowLanePoller.busy > 0) await new Promise((r) => setTimeout(r, 20));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (sweepTimer) clearInterval(sweepTimer);
      await sweeping?.catch(() => undefined);
      await gateway.stop();
      await selfTestUrl.stop();
      await poller.stop();
      await orderedPoller.stop();
      await slowLanePoller.stop();
      sqs.destroy();
    },
  };
}

/** Both halves in this process: what `npm start` and most tests use. */
export async function startHeraldLocal(options: HeraldLocalOptions = {}): Promise<HeraldLocal> {
  const adminKeyGenerated = !options.adminKey;
  const adminKey = options.adminKey ?? `hk_admin_${randomBytes(32).toString('base64url')}`;
  const emulators = await startEmulators(options);
  Object.assign(process.env, functionEnvironment(emulators, { ...options, adminKey }));
  const functions = await startFunctions({ ...options, adminKey, bus: emulators.bus });
  emulators.bus.addRule({
    name: 'fanout',
    busName: LOCAL_BUS,
    pattern: FANOUT_RULE_PATTERN as unknown as Record<string, unknown>,
    target: (event) => functions.invokeFanout(event as unknown as EventBridgeEvent<string, unknown>),
  });
  let stopped = false;
  return {
    url: functions.url,
    port: functions.port,
    adminKey,
    adminKeyGenerated,
    selfTestUrl: functions.selfTestUrl,
    bus: emulators.bus,
    sqs: functions.sqs,
    queues: emulators.queues,
    async settle() {
      await emulators.bus.drain();
    },
    sweep: functions.sweep,
    setBatchWindowMs: (ms) => functions.setBatchWindowMs(ms),
    async stop() {
      if (stopped) return;
      stopped = true;
      await functions.stop();
      await emulators.stop();
    },
  };
}

let consoleFiles: Promise<ConsoleFiles> | undefined;
let referenceFiles: ApiReferenceFiles | undefined;

/**
 * The OpenAPI document, imported on first use: the API's modules set up their logger when first
 * loaded, and a test that sets POWERTOOLS_LOG_LEVEL before starting Herald must come first.
 */
async function openApiJson(): Promise<string> {
  const [{ openApiDocument }, { loadCatalogue }] = await Promise.all([import('../lambdas/api/openapi.ts'), import('../lambdas/adapters/catalogue-files.ts')]);
  return JSON.stringify(openApiDocument(loadCatalogue(process.env[ENV.catalogueDir]!)));
}
const FILE_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript',
  css: 'text/css',
  json: 'application/json',
};

/** Whether the request carries `Authorization: Bearer <admin key>` (SHA-256 hashes compared in constant time). */
export function isAdminRequest(req: IncomingMessage, adminKeyHash: string | undefined): boolean {
  const token = bearerToken(req.headers.authorization);
  if (!token || !adminKeyHash || !/^[0-9a-f]{64}$/.test(adminKeyHash)) return false;
  return timingSafeEqual(Buffer.from(hashApiKey(token), 'hex'), Buffer.from(adminKeyHash, 'hex'));
}

function problem(res: ServerResponse, status: number, title: string, detail: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
  return true;
}

/**
 * Local-only routes (never deployed):
 *   GET  /console/                         the tenant console (console/), bundled on first request; public
 *   GET  /docs/                            the API reference (Swagger UI over the OpenAPI document); public
 * and, with the admin key only (`Authorization: Bearer <admin key>`; anything else gets 401):
 *   GET  /local/buses                      → {items: [{name, arn, events}]}: what each local bus received,
 *   GET  /local/buses/{name}/events        → {items: [EventBridge events, oldest first]}
 *   POST /local/invoke/fanout              the fan-out rule's target when the buses run in another process
 * The gateway has already refused foreign Host headers and cross-site browser requests.
 */
function localRoutes(
  bus: LocalEventBus | undefined,
  invokeFanout: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>,
  adminKeyHash: string | undefined,
) {
  return async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://local');
    const consoleFile = /^\/console\/?(index\.html|app\.js|console\.css)?$/.exec(url.pathname);
    if (req.method === 'GET' && consoleFile) {
      if (url.pathname === '/console') {
        res.writeHead(301, { location: '/console/' }).end();
        return true;
      }
      const name = (consoleFile[1] ?? 'index.html') as keyof ConsoleFiles;
      consoleFiles ??= buildConsole();
      const types: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript', 'console.css': 'text/css' };
      // The deployed console's headers (CloudFront), so the browser tests run under the same CSP;
      // here the API is the console's own origin. No HSTS: this is plain HTTP.
      res
        .writeHead(200, { 'content-type': types[name]!, 'cache-control': 'no-store', 'content-security-policy': consoleContentSecurityPolicy(), ...CONSOLE_SECURITY_HEADERS })
        .end((await consoleFiles)[name]);
      return true;
    }
    const referenceFile = /^\/docs\/?(index\.html|reference\.js|swagger-ui\.css|swagger-ui-bundle\.js|openapi\.json)?$/.exec(url.pathname);
    if (req.method === 'GET' && referenceFile) {
      if (url.pathname === '/docs') {
        res.writeHead(301, { location: '/docs/' }).end();
        return true;
      }
      const name = referenceFile[1] ?? 'index.html';
      referenceFiles ??= buildApiReference();
      // The document of this API's own catalogue, as GET /v1/openapi.json serves it.
      const content = name === 'openapi.json' ? await openApiJson() : referenceFiles[name as keyof ApiReferenceFiles];
      res
        .writeHead(200, { 'content-type': FILE_TYPES[name.split('.').pop()!]!, 'cache-control': 'no-store', 'content-security-policy': consoleContentSecurityPolicy(), ...CONSOLE_SECURITY_HEADERS })
        .end(content);
      return true;
    }
    if (url.pathname !== '/local' && !url.pathname.startsWith('/local/')) return false;
    // Never served to a tenant key (the buses hold every tenant's events) nor without a key.
    if (!isAdminRequest(req, adminKeyHash)) {
      return problem(res, 401, 'Unauthorized', 'the local routes need the admin key (Authorization: Bearer <admin key>)', { 'www-authenticate': 'Bearer' });
    }
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (url.pathname === '/local/invoke/fanout') {
      if (req.method !== 'POST') return problem(res, 405, 'Method not allowed', 'POST an EventBridge event to /local/invoke/fanout', { allow: 'POST' });
      let event: unknown;
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        return problem(res, 400, 'Bad request', 'the body must be a JSON EventBridge event');
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof (event as { detail?: unknown }).detail !== 'object' || (event as { detail?: unknown }).detail === null) {
        return problem(res, 400, 'Bad request', 'the body must be an EventBridge event: a JSON object with a detail object');
      }
      try {
        send(200, await invokeFanout(event as EventBridgeEvent<string, unknown>));
      } catch (error) {
        // The function failed (as a Lambda invocation error): the bus retries it.
        problem(res, 500, 'Function error', (error as Error).message);
      }
      return true;
    }
    if (!bus) return problem(res, 404, 'Not found', `no local route ${url.pathname} in this process (the buses run elsewhere)`);
    if (req.method !== 'GET') return problem(res, 405, 'Method not allowed', 'local inspection routes are read-only', { allow: 'GET' });
    if (url.pathname === '/local/buses') {
      send(200, { items: bus.busNames().map((name) => ({ name, arn: localBusArn(name), events: bus.received.get(name)?.length ?? 0 })) });
      return true;
    }
    const match = /^\/local\/buses\/([^/]+)\/events$/.exec(url.pathname);
    let name: string | undefined;
    try {
      name = match ? decodeURIComponent(match[1]!) : undefined;
    } catch {
      name = undefined;
    }
    if (name && bus.busNames().includes(name)) {
      send(200, { items: bus.received.get(name) ?? [] });
      return true;
    }
    return problem(res, 404, 'Not found', `no local route ${url.pathname}`);
  };
}

/** Where a client on this machine reaches a server bound to `host`. */
function urlHost(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '::' || host === '[::]' || host === 'localhost' || host.startsWith('127.')) return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Local stand-ins for customers' buses live in customers' accounts, not Herald's: a tenant reaches
 * one only once the admin binds that account (or bus) to it, as deployed. `name@account` sets the
 * account; a bus without one is in LOCAL_CUSTOMER_ACCOUNT.
 */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_CUSTOMER_ACCOUNT = '111111111111';
const DEFAULT_CUSTOMER_BUSES = [`customer-bus@${LOCAL_CUSTOMER_ACCOUNT}`, 'other-customer-bus@222222222222'];
const busAccounts = new Map<string, string>([[LOCAL_BUS, LOCAL_ACCOUNT]]);

export function localBusArn(name: string, account = busAccounts.get(name) ?? LOCAL_CUSTOMER_ACCOUNT): string {
  return `arn:aws:events:${process.env.AWS_REGION ?? 'us-east-1'}:${account}:event-bus/${name}`;
}

function scheduledEvent(): ScheduledEvent {
  return {
    version: '0',
    id: randomBytes(16).toString('hex'),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: process.env.AWS_REGION ?? 'us-east-1',
    resources: ['arn:aws:events:us-east-1:000000000000:rule/herald-local-sweep'],
    detail: {},
  };
}
