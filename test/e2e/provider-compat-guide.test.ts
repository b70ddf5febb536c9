/**
 * docs/provider-compat.md, provider by provider: each test creates the subscription the guide
 * gives and runs it against a receiver written to that provider's own document (what it checks,
 * what it answers). Shown for each: the body shape, the success rule (a 201 fails where the
 * provider says 200), the timeout, the receiver's authentication check passing, and the retry
 * schedule within Herald's ±20 % jitter. Schedules spanning hours are read from the attempt log
 * (each attempt's recorded `nextAttemptAt`) while the process clock is moved forward to that time
 * (vitest fakes only `Date`: the emulators, the deliver function and the receivers all read it;
 * timers and HTTP timeouts stay real), so a 7-day policy runs in seconds.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';

const ADMIN = 'hk_admin_e2e_provider_compat_guide_00000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
/** Deliver invocations running now: the clock only moves when none is. */
let delivering = 0;

interface Request {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; delayMs?: number };

/** Receivers on loopback: each path answers as its provider's document says a receiver does. */
class Receivers {
  readonly requests: Request[] = [];
  private readonly routes = new Map<string, (request: Request) => Answer>();
  private server?: Server;
  url = '';

  route(path: string, answer: (request: Request) => Answer): void {
    this.routes.set(path, answer);
  }

  on(path: string): Request[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(request);
        const answer = this.routes.get(request.path)?.(request) ?? { status: 404 };
        setTimeout(() => res.writeHead(answer.status).end(), answer.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
const receivers = new Receivers();

/** Waits on the real clock (the tests below move `Date`). */
async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const requestsOn = (path: string, count: number, timeoutMs?: number) => until(() => (receivers.on(path).length >= count ? receivers.on(path) : undefined), timeoutMs);

interface Attempt {
  number: number;
  at: string;
  durationMs: number;
  statusCode?: number;
  error?: string;
  nextAttemptAt?: string;
}
interface Delivery {
  id: string;
  status: string;
  attempts: Attempt[];
  reason?: string;
  createdAt: string;
}

async function delivery(id: string, ready: (d: Delivery) => boolean, timeoutMs?: number): Promise<Delivery> {
  return until(async () => {
    const res = await api('GET', `/v1/deliveries/${id}`, tenant.apiKey);
    return res.status === 200 && ready(res.body) ? (res.body as Delivery) : undefined;
  }, timeoutMs);
}

const deliveryIdOf = (request: Request) => String(request.headers['webhook-id']);

// ---- The guide's subscriptions (docs/provider-compat.md), with this test's URLs and secrets ----

const TOKENS = { productionHub: `ph-${randomBytes(12).toString('hex')}`, fft: `fft-${randomBytes(12).toString('hex')}`, gains: `Basic ${randomBytes(12).toString('base64')}` };
const SECRETS = { productionHub: `phk_${randomBytes(24).toString('hex')}`, omisell: `omi_${randomBytes(24).toString('hex')}`, printprice: `whsec_${randomBytes(32).toString('base64')}` };

const GUIDE = {
  productionHub: (url: string) => ({
    eventTypes: ['print_file.ready'],
    destination: { type: 'webhook', url, headers: { Authorization: `Bearer ${TOKENS.productionHub}` } },
    secret: SECRETS.productionHub,
    successStatus: [200],
    retryPolicy: { preset: 'production-hub' },
  }),
  omisell: (url: string) => ({
    eventTypes: ['order.all'],
    destination: {
      type: 'webhook',
      url,
      timeoutSeconds: 3,
      transform: '{"request_id": id, "push_type": type, "timestamp": $floor($toMillis(time) / 1000), "data": {"order_id": data.orderId, "order_number": data.orderNumber, "status": data.status}}',
      legacySignature: { header: 'Authorization', over: 'body', encoding: 'hex' },
    },
    secret: SECRETS.omisell,
    successStatus: [200],
    retryPolicy: { preset: 'omisell' },
  }),
  fulfillmenttools: (url: string) => ({
    eventTypes: ['pick_job.completed'],
    destination: {
      type: 'webhook',
      url,
      timeoutSeconds: 10,
      headers: { 'X-Authorization': TOKENS.fft },
      transform: '{"event": $uppercase($replace(type, ".", "_")), "eventId": id, "created": time, "payload": data}',
    },
    successStatus: [200],
    retryPolicy: { preset: 'fulfillmenttools' },
  }),
  // A customer's Payload Max Items and Payload Interval: 3 records, 2 s apart.
  gains: (url: string) => ({
    eventTypes: ['purchase_order.submitted', 'transfer_order.submitted', 'work_order.submitted'],
    destination: { type: 'webhook', url, timeoutSeconds: 90, headers: { Authorization: TOKENS.gains }, transform: '{"DataType": $substringBefore(type, "."), "Data": data}' },
    batching: { maxItems: 3, intervalSeconds: 2 },
    retryPolicy: { preset: 'gains' },
  }),
  printprice: (url: string) => ({
    eventTypes: ['order.generated', 'pricing.completed', 'processing.failed'],
    destination: { type: 'webhook', url, transform: '{"event": type, "timestamp": time, "entityId": subject, "environment": environment, "data": data}' },
    secret: SECRETS.printprice,
    retryPolicy: { preset: 'printprice' },
  }),
} as const;
type Provider = keyof typeof GUIDE;

let counter = 0;
/** The guide's subscription for `provider`, seeing only events whose subject starts with its own prefix. */
async function subscribe(provider: Provider, path: string): Promise<{ id: string; prefix: string }> {
  const prefix = `g${++counter}:`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: `${provider} ${path}`, filter: { subject: [{ prefix }] }, ...GUIDE[provider](`${receivers.url}${path}`) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, prefix };
}

async function publish(prefix: string, type: string, subject: string, data: Record<string, unknown> = exampleOf(type)): Promise<string> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type, subject: `${prefix}${subject}`, data });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id;
}

// ---- Receivers, each written to its provider's document ----

/** Production Hub: the token it handed out, and (for receivers that check one) a Standard Webhooks signature keyed by the key it handed out. */
function productionHubReceiver(request: Request): boolean {
  const key = `whsec_${Buffer.from(SECRETS.productionHub, 'utf8').toString('base64')}`;
  if (request.headers.authorization !== `Bearer ${TOKENS.productionHub}`) return false;
  try {
    new Webhook(key).verify(request.body, request.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

/** Omisell: HMAC-SHA256 of the raw body with the seller's secret, hex, in Authorization. */
function omisellReceiver(request: Request): boolean {
  return request.headers.authorization === createHmac('sha256', SECRETS.omisell).update(request.body, 'utf8').digest('hex');
}

const fulfillmenttoolsReceiver = (request: Request) => request.headers['x-authorization'] === TOKENS.fft;
const gainsReceiver = (request: Request) => request.headers.authorization === TOKENS.gains;

/** PrintPrice: shared-secret signature with a timestamp check (the library refuses stale or future timestamps). */
function printpriceReceiver(request: Request): boolean {
  try {
    new Webhook(SECRETS.printprice).verify(request.body, request.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

/** A receiver that answers `ok` when its check passes, 401 when it does not. */
const answering = (check: (r: Request) => boolean, ok: Answer) => (request: Request) => (check(request) ? ok : { status: 401 });

beforeAll(async () => {
  process.env.HERALD_ENVIRONMENT = 'sandbox';
  herald = await startHeraldLocal({
    port: 0,
    adminKey: ADMIN,
    // Moving the clock by hours must not make the sweeper re-enqueue what is only waiting, nor
    // end the visibility of a message the poller is about to delete (SQS's 12 h maximum).
    sweepIntervalMs: 0,
    visibilityTimeoutSeconds: 12 * 3600,
    pollerConcurrency: 8,
    wrapDeliver: (deliver) => async (event, context) => {
      delivering++;
      try {
        return await deliver(event, context);
      } finally {
        delivering--;
      }
    },
  });
  await receivers.start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Provider guide' })).body;
});

afterAll(async () => {
  vi.useRealTimers();
  await receivers.stop();
  await herald?.stop();
  delete process.env.HERALD_ENVIRONMENT;
});

/** An attempt that ran into the timeout: recorded as such, after about that long. */
function expectTimedOut(attempt: Attempt | undefined, seconds: number): void {
  expect(attempt).toMatchObject({ error: 'timeout' });
  expect(attempt!.durationMs).toBeGreaterThanOrEqual(seconds * 1000 - 100);
  expect(attempt!.durationMs).toBeLessThan(seconds * 1000 + 2500);
}

// Body, success, authentication and timeout: real time, providers side by side.
describe.concurrent('each provider on its own terms', () => {
  it('Production Hub: CloudEvent with the print file, token and key checked, only 200 is success, 15 s default timeout', async () => {
    const sub = await subscribe('productionHub', '/ph');
    receivers.route('/ph', answering(productionHubReceiver, { status: 200 }));
    const eventId = await publish(sub.prefix, 'print_file.ready', 'PH-2024-1001-1');
    const [request] = await requestsOn('/ph', 1);
    expect(JSON.parse(request!.body)).toMatchObject({ id: eventId, type: 'print_file.ready', subject: `${sub.prefix}PH-2024-1001-1`, data: exampleOf('print_file.ready') });
    expect(productionHubReceiver(request!)).toBe(true);
    expect(await delivery(deliveryIdOf(request!), (d) => d.status === 'succeeded')).toMatchObject({ attempts: [{ statusCode: 200 }] });

    const slow = await subscribe('productionHub', '/ph-slow');
    receivers.route('/ph-slow', answering(productionHubReceiver, { status: 200, delayMs: 16_000 }));
    await publish(slow.prefix, 'print_file.ready', 'slow');
    const [late] = await requestsOn('/ph-slow', 1);
    expectTimedOut((await delivery(deliveryIdOf(late!), (d) => d.attempts.length === 1, 25_000)).attempts[0], 15);
  }, 40_000);

  it('Omisell: thin notice with request_id, Authorization HMAC verified, 200 within 3 s', async () => {
    const sub = await subscribe('omisell', '/omisell');
    receivers.route('/omisell', answering(omisellReceiver, { status: 200, delayMs: 1500 }));
    const eventId = await publish(sub.prefix, 'order.shipped', 'OM-100234');
    const [request] = await requestsOn('/omisell', 1);
    const body = JSON.parse(request!.body);
    const data = exampleOf('order.shipped');
    expect(body).toEqual({ request_id: eventId, push_type: 'order.shipped', timestamp: expect.any(Number), data: { order_id: data.orderId, order_number: data.orderNumber, status: data.status } });
    expect(omisellReceiver(request!)).toBe(true);
    expect(omisellReceiver({ ...request!, body: request!.body.replace('SHIPPED', 'CANCELLED') })).toBe(false);
    // Answered in 1.5 s: inside the 3 s.
    expect(await delivery(deliveryIdOf(request!), (d) => d.status === 'succeeded')).toMatchObject({ attempts: [{ statusCode: 200 }] });

    const slow = await subscribe('omisell', '/omisell-slow');
    receivers.route('/omisell-slow', answering(omisellReceiver, { status: 200, delayMs: 4000 }));
    await publish(slow.prefix, 'order.shipped', 'slow');
    const [late] = await requestsOn('/omisell-slow', 1);
    expectTimedOut((await delivery(deliveryIdOf(late!), (d) => d.attempts.length === 1)).attempts[0], 3);
  }, 30_000);

  it('fulfillmenttools: event with payload and version, X-Authorization checked, 200 within 10 s', async () => {
    const sub = await subscribe('fulfillmenttools', '/fft');
    receivers.route('/fft', answering(fulfillmenttoolsReceiver, { status: 200 }));
    const eventId = await publish(sub.prefix, 'pick_job.completed', 'pj_441');
    const [request] = await requestsOn('/fft', 1);
    expect(JSON.parse(request!.body)).toEqual({ event: 'PICK_JOB_COMPLETED', eventId, created: expect.any(String), payload: exampleOf('pick_job.completed') });
    expect(JSON.parse(request!.body).payload.version).toBe(7);
    expect(await delivery(deliveryIdOf(request!), (d) => d.status === 'succeeded')).toMatchObject({ attempts: [{ statusCode: 200 }] });

    const slow = await subscribe('fulfillmenttools', '/fft-slow');
    receivers.route('/fft-slow', answering(fulfillmenttoolsReceiver, { status: 200, delayMs: 11_000 }));
    await publish(slow.prefix, 'pick_job.completed', 'slow');
    const [late] = await requestsOn('/fft-slow', 1);
    expectTimedOut((await delivery(deliveryIdOf(late!), (d) => d.attempts.length === 1, 20_000)).attempts[0], 10);
  }, 40_000);

  it('GAINS: {DataType, Data[3]} per notification, Authorization checked, any 2xx, an answer after 16 s still in time (90 s)', async () => {
    const sub = await subscribe('gains', '/gains');
    receivers.route('/gains', answering(gainsReceiver, { status: 202, delayMs: 16_000 }));
    const po = exampleOf('purchase_order.submitted');
    for (const n of [123, 124, 125]) await publish(sub.prefix, 'purchase_order.submitted', `po-${n}`, { ...po, TrackingNumber: n });
    const [request] = await requestsOn('/gains', 1);
    const body = JSON.parse(request!.body);
    expect(Object.keys(body).sort()).toEqual(['Data', 'DataType']);
    expect(body.DataType).toBe('purchase_order');
    expect(body.Data.map((d: { TrackingNumber: number }) => d.TrackingNumber)).toEqual([123, 124, 125]);
    expect(body.Data[0].LineItems).toEqual(po.LineItems);
    expect(gainsReceiver(request!)).toBe(true);
    const done = await delivery(deliveryIdOf(request!), (d) => d.status !== 'pending', 30_000);
    expect(done).toMatchObject({ status: 'succeeded', attempts: [{ statusCode: 202 }] });
    expect(done.attempts[0]!.durationMs).toBeGreaterThanOrEqual(16_000 - 100);
  }, 40_000);

  it('PrintPrice: envelope with event, timestamp, entity id and environment; shared-secret signature with timestamp verified', async () => {
    const sub = await subscribe('printprice', '/printprice');
    receivers.route('/printprice', answering(printpriceReceiver, { status: 201 }));
    await publish(sub.prefix, 'order.generated', 'po_5531');
    const [request] = await requestsOn('/printprice', 1);
    expect(JSON.parse(request!.body)).toEqual({ event: 'order.generated', timestamp: expect.any(String), entityId: `${sub.prefix}po_5531`, environment: 'sandbox', data: exampleOf('order.generated') });
    expect(printpriceReceiver(request!)).toBe(true);
    expect(printpriceReceiver({ ...request!, body: request!.body.replace('sandbox', 'production') })).toBe(false);
    // The document names no success code: any 2xx, here a 201.
    expect(await delivery(deliveryIdOf(request!), (d) => d.status === 'succeeded')).toMatchObject({ attempts: [{ statusCode: 201 }] });

    const slow = await subscribe('printprice', '/printprice-slow');
    receivers.route('/printprice-slow', answering(printpriceReceiver, { status: 200, delayMs: 16_000 }));
    await publish(slow.prefix, 'order.generated', 'slow');
    const [late] = await requestsOn('/printprice-slow', 1);
    expectTimedOut((await delivery(deliveryIdOf(late!), (d) => d.attempts.length === 1, 25_000)).attempts[0], 15);
  }, 40_000);
});

/**
 * Runs a delivery that keeps failing through its whole policy: after each attempt, reads the gap
 * Herald recorded (`nextAttemptAt - at`) and moves the clock to it. Stops when the delivery ends,
 * or after `maxGaps` gaps.
 */
async function scheduleOf(path: string, firstRequest: () => Promise<Request>, maxGaps = Infinity) {
  const id = deliveryIdOf(await firstRequest());
  const gaps: number[] = [];
  const attempts: Attempt[] = [];
  for (;;) {
    const seen = attempts.length;
    const d = await delivery(id, (x) => x.attempts.at(-1)!.number > seen && (x.status !== 'pending' || x.attempts.at(-1)!.nextAttemptAt !== undefined));
    const last = d.attempts.at(-1)!;
    if (attempts.length > 0) expect(Date.parse(last.at)).toBeGreaterThanOrEqual(Date.parse(attempts.at(-1)!.nextAttemptAt!));
    attempts.push(last);
    if (!last.nextAttemptAt) return { delivery: d, gaps, attempts, path };
    gaps.push((Date.parse(last.nextAttemptAt) - Date.parse(last.at)) / 1000);
    if (gaps.length >= maxGaps) return { delivery: d, gaps, attempts, path };
    await quiet();
    vi.setSystemTime(Date.parse(last.nextAttemptAt) + 1000);
    // What the deployed sweeper does every minute: a held ordered group's head (batched
    // notifications are ordered), due now, is sent again (README "Ordered groups held out of flight").
    await herald.sweep();
  }
}

/**
 * No deliver invocation running, and the poller given a moment to delete what they acknowledged:
 * a message still in flight when the clock jumps past its visibility would be delivered twice.
 */
async function quiet(): Promise<void> {
  await until(() => (delivering === 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 100));
}

/** Each gap within ±20 % of the documented one (whole seconds, as SQS counts). */
function expectWithinJitter(gaps: number[], documented: number[]): void {
  expect(gaps).toHaveLength(documented.length);
  gaps.forEach((gap, i) => {
    expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(Math.floor(documented[i]! * 0.8));
    expect(gap, `gap ${i + 1}`).toBeLessThanOrEqual(Math.ceil(documented[i]! * 1.2) + 1);
  });
}

// Retry schedules: one at a time, each moving the process clock forward.
describe('retry schedules, read from the attempt log while the clock moves', () => {
  beforeAll(() => {
    // The slow receivers above have made their point: their retries (which the moving clock
    // brings on) are answered at once, so no invocation holds the clock back for seconds.
    for (const path of ['/ph-slow', '/omisell-slow', '/fft-slow', '/printprice-slow']) receivers.route(path, () => ({ status: 200 }));
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  });

  it('Production Hub: a 201 is a failure; 3 attempts, 1 h and 6 h apart, then failed', async () => {
    const sub = await subscribe('productionHub', '/ph-201');
    receivers.route('/ph-201', answering(productionHubReceiver, { status: 201 }));
    await publish(sub.prefix, 'print_file.ready', 'x');
    const run = await scheduleOf('/ph-201', async () => (await requestsOn('/ph-201', 1))[0]!);
    expectWithinJitter(run.gaps, [3600, 6 * 3600]);
    expect(run.delivery.status).toBe('failed');
    expect(run.attempts.map((a) => [a.statusCode, a.error])).toEqual(Array(3).fill([201, 'http_status']));
    expect(Date.parse(run.attempts.at(-1)!.at) - Date.parse(run.attempts[0]!.at)).toBeLessThan(24 * 3600_000);
    // Each 201 (not a 401) also says the receiver's token and signature check passed at the time.
    expect(receivers.on('/ph-201')).toHaveLength(3);
  });

  it('Omisell: a 201 is a failure; retries 2 min, 30 min, 3 h after each failure, then no more', async () => {
    const sub = await subscribe('omisell', '/omisell-201');
    receivers.route('/omisell-201', answering(omisellReceiver, { status: 201 }));
    await publish(sub.prefix, 'order.shipped', 'x');
    const run = await scheduleOf('/omisell-201', async () => (await requestsOn('/omisell-201', 1))[0]!);
    expectWithinJitter(run.gaps, [120, 1800, 3 * 3600]);
    expect(run.delivery.status).toBe('failed');
    expect(run.attempts).toHaveLength(4);
    // Every retry carries the same request_id: the receiver's duplicate check holds.
    expect(new Set(receivers.on('/omisell-201').map((r) => JSON.parse(r.body).request_id)).size).toBe(1);
    expect(receivers.on('/omisell-201')).toHaveLength(4);
    expect(receivers.on('/omisell-201').every(omisellReceiver)).toBe(true);
  });

  it('fulfillmenttools: a 201 is a failure; 20 s doubling to 600 s, then every 600 s, dropped after 7 days', async () => {
    const sub = await subscribe('fulfillmenttools', '/fft-201');
    receivers.route('/fft-201', answering(fulfillmenttoolsReceiver, { status: 201 }));
    await publish(sub.prefix, 'pick_job.completed', 'x');
    const run = await scheduleOf('/fft-201', async () => (await requestsOn('/fft-201', 1))[0]!, 7);
    expectWithinJitter(run.gaps, [20, 40, 80, 160, 320, 600, 600]);
    expect(run.attempts.every((a) => a.statusCode === 201 && a.error === 'http_status')).toBe(true);
    // Skip to the last 5 minutes of the 7 days: one more attempt, then no retry would land in time.
    const firstAt = Date.parse(run.attempts[0]!.at);
    await quiet();
    vi.setSystemTime(firstAt + 7 * 24 * 3600_000 - 300_000);
    const end = await delivery(run.delivery.id, (d) => d.status !== 'pending');
    expect(end.status).toBe('failed');
    expect(Date.parse(end.attempts.at(-1)!.at) - firstAt).toBeLessThan(7 * 24 * 3600_000);
    expect(end.attempts.at(-1)!.nextAttemptAt).toBeUndefined();
  });

  it('GAINS: a 500 is a failure; 3 retries 10 min apart, then failed', async () => {
    const sub = await subscribe('gains', '/gains-500');
    receivers.route('/gains-500', answering(gainsReceiver, { status: 500 }));
    await publish(sub.prefix, 'transfer_order.submitted', 'x');
    const run = await scheduleOf('/gains-500', async () => (await requestsOn('/gains-500', 1))[0]!);
    expectWithinJitter(run.gaps, [600, 600, 600]);
    expect(run.delivery.status).toBe('failed');
    expect(JSON.parse(receivers.on('/gains-500')[0]!.body).DataType).toBe('transfer_order');
  });

  it('PrintPrice: a 500 is a failure; 30 s doubling to 1 h, 12 attempts, then failed', async () => {
    const sub = await subscribe('printprice', '/printprice-500');
    receivers.route('/printprice-500', answering(printpriceReceiver, { status: 500 }));
    await publish(sub.prefix, 'pricing.completed', 'x');
    const run = await scheduleOf('/printprice-500', async () => (await requestsOn('/printprice-500', 1))[0]!);
    expectWithinJitter(run.gaps, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
    expect(run.delivery.status).toBe('failed');
    expect(run.attempts).toHaveLength(12);
    // Each retry is signed afresh: a 500 (not a 401) says its timestamp passed the receiver's check when it arrived.
    expect(receivers.on('/printprice-500')).toHaveLength(12);
  });
});
