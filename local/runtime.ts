import { randomBytes } from 'node:crypto';
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
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { DELIVER_BATCH_SIZE, ENV, FANOUT_RULE_PATTERN, SWEEP_INTERVAL_MINUTES, TIMEOUTS } from '../lib/herald-config.ts';
import type { SweepReport } from '../lambdas/core/sweeper.ts';
import { hashApiKey } from '../lambdas/core/api-keys.ts';
import { LocalApiGateway } from './api-gateway.ts';
import { ensureTable, startDynamo, startSqs } from './emulators.ts';
import { LocalEventBus } from './event-bus.ts';
import { lambdaContext, type LambdaHandler } from './lambda-context.ts';
import { SqsPoller } from './sqs-poller.ts';

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
  /** Visibility timeout of the delivery queue; only crashed batches wait for it. */
  visibilityTimeoutSeconds?: number;
  pollerConcurrency?: number;
  /** Extra catalogue folders beside the repository's catalogue/ (tests, operators trying types). */
  extraCatalogueDirs?: string[];
  /**
   * Extra local buses standing in for customers' EventBridge buses (default: `customer-bus`).
   * What they receive is listed at GET /local/buses/{name}/events.
   */
  customerBuses?: string[];
  /** How often the sweeper runs (ms; 0: only when `sweep()` is called). Default 60 s, as deployed. */
  sweepIntervalMs?: number;
  /** The sweeper's grace period (HERALD_SWEEP_AFTER_SECONDS). Default 60 s locally. */
  sweepAfterSeconds?: number;
  /** Fault injection for tests: wraps the deliver function as the event source mapping sees it. */
  wrapDeliver?: (handler: LambdaHandler<SQSEvent, SQSBatchResponse>) => LambdaHandler<SQSEvent, SQSBatchResponse>;
}

export interface HeraldLocal {
  url: string;
  port: number;
  adminKey: string;
  adminKeyGenerated: boolean;
  bus: LocalEventBus;
  sqs: SQSClient;
  queues: { delivery: string; deadLetter: string };
  /** Resolves when nothing is in flight on the bus and no delivery batch is running. */
  settle(): Promise<void>;
  /** Runs the reconciliation sweeper once now (it also runs every `sweepIntervalMs`). */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

export const LOCAL_TABLE = 'herald-local';
export const LOCAL_BUS = 'herald-local';

export async function startHeraldLocal(options: HeraldLocalOptions = {}): Promise<HeraldLocal> {
  const adminKeyGenerated = !options.adminKey;
  const adminKey = options.adminKey ?? `hk_admin_${randomBytes(32).toString('base64url')}`;

  const dynamo = await startDynamo(options.dataDir);
  await ensureTable(dynamo.endpoint, LOCAL_TABLE);
  const sqsEmulator = await startSqs({ visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
  const bus = new LocalEventBus();
  const busEndpoint = await bus.listen(0);
  for (const name of options.customerBuses ?? ['customer-bus']) bus.createBus(name);

  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsEmulator.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: busEndpoint,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_DEV: process.env.POWERTOOLS_DEV ?? 'true',
    [ENV.tableName]: LOCAL_TABLE,
    [ENV.eventBusName]: LOCAL_BUS,
    [ENV.deliveryQueueUrl]: sqsEmulator.deliveryQueue.url,
    [ENV.deadLetterQueueUrl]: sqsEmulator.deadLetterQueue.url,
    [ENV.adminKeyHash]: hashApiKey(adminKey),
    [ENV.allowPrivateTargets]: options.allowPrivateTargets === false ? '0' : '1',
    HERALD_SWEEP_AFTER_SECONDS: String(options.sweepAfterSeconds ?? process.env.HERALD_SWEEP_AFTER_SECONDS ?? 60),
    [ENV.catalogueDir]: [fileURLToPath(new URL('../catalogue', import.meta.url)), ...(options.extraCatalogueDirs ?? [])].join(delimiter),
  });
  delete process.env.AWS_PROFILE;

  // Imported only now: handlers read their environment once, at cold start, as in Lambda.
  const api = (await import('../lambdas/api/handler.ts')).handler as unknown as LambdaHandler<APIGatewayProxyEvent, APIGatewayProxyResult>;
  const authorizer = (await import('../lambdas/authorizer/handler.ts')).handler as unknown as LambdaHandler<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>;
  const fanout = (await import('../lambdas/fanout/handler.ts')).handler as unknown as LambdaHandler<EventBridgeEvent<string, unknown>, unknown>;
  const deliver = (await import('../lambdas/deliver/handler.ts')).handler as unknown as LambdaHandler<SQSEvent, SQSBatchResponse>;
  const sweeper = (await import('../lambdas/sweeper/handler.ts')).handler as unknown as LambdaHandler<ScheduledEvent, SweepReport>;

  bus.addRule({
    name: 'fanout',
    busName: LOCAL_BUS,
    pattern: FANOUT_RULE_PATTERN as unknown as Record<string, unknown>,
    target: (event) => fanout(event as unknown as EventBridgeEvent<string, unknown>, lambdaContext('herald-fanout', 30_000)),
  });

  const sqs = new SQSClient({ endpoint: sqsEmulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const poller = new SqsPoller({
    sqs,
    queueUrl: sqsEmulator.deliveryQueue.url,
    queueArn: sqsEmulator.deliveryQueue.arn,
    functionName: 'herald-deliver',
    handler: options.wrapDeliver ? options.wrapDeliver(deliver) : deliver,
    batchSize: DELIVER_BATCH_SIZE,
    concurrency: options.pollerConcurrency ?? 4,
    timeoutMs: TIMEOUTS.deliverFunctionTimeoutSeconds * 1000,
  });
  poller.start();

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

  const gateway = new LocalApiGateway({ authorizer, api, extra: localInspection(bus) });
  const port = await gateway.listen(options.port ?? 3000, options.host ?? '127.0.0.1');

  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    adminKey,
    adminKeyGenerated,
    bus,
    sqs,
    queues: { delivery: sqsEmulator.deliveryQueue.url, deadLetter: sqsEmulator.deadLetterQueue.url },
    async settle() {
      await bus.drain();
    },
    sweep: runSweep,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (sweepTimer) clearInterval(sweepTimer);
      await sweeping?.catch(() => undefined);
      await gateway.stop();
      await poller.stop();
      await bus.stop();
      sqs.destroy();
      await sqsEmulator.stop();
      await dynamo.stop();
    },
  };
}

/**
 * Local-only inspection routes (never deployed): what each local bus received, so a developer
 * can see `eventbridge` deliveries land on a stand-in customer bus.
 *   GET /local/buses                      → {items: [{name, arn, events}]}
 *   GET /local/buses/{name}/events        → {items: [EventBridge events, oldest first]}
 */
function localInspection(bus: LocalEventBus) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (!url.pathname.startsWith('/local/')) return false;
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') {
      send(405, { type: 'about:blank', title: 'Method not allowed', status: 405, detail: 'local inspection routes are read-only' }, 'application/problem+json');
      return true;
    }
    if (url.pathname === '/local/buses') {
      send(200, { items: bus.busNames().map((name) => ({ name, arn: localBusArn(name), events: bus.received.get(name)?.length ?? 0 })) });
      return true;
    }
    const match = /^\/local\/buses\/([^/]+)\/events$/.exec(url.pathname);
    const name = match ? decodeURIComponent(match[1]!) : undefined;
    if (name && bus.busNames().includes(name)) {
      send(200, { items: bus.received.get(name) ?? [] });
      return true;
    }
    send(404, { type: 'about:blank', title: 'Not found', status: 404, detail: `no local route ${url.pathname}` }, 'application/problem+json');
    return true;
  };
}

export function localBusArn(name: string): string {
  return `arn:aws:events:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:event-bus/${name}`;
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
