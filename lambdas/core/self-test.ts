import { Webhook } from 'standardwebhooks';

/**
 * The self-test receiver (`herald:selfTestReceiver`): a webhook endpoint `herald smoke` points
 * subscriptions at. The smoke command registers a run (its id and the signing secret it imports
 * into its subscriptions); each delivery to `/hooks/<run>/<behaviour>` is verified as Standard
 * Webhooks, recorded, and answered as the behaviour says; the smoke command reads the run back.
 *
 * Behaviours: `ok` answers 204; `fail-once` answers 500 to the first arrival of each webhook id
 * and 204 afterwards (a retry succeeds; with a one-attempt policy it is a dead letter, and
 * redriving it succeeds).
 */
export const SELF_TEST_BEHAVIOURS = ['ok', 'fail-once'] as const;
export type SelfTestBehaviour = (typeof SELF_TEST_BEHAVIOURS)[number];

/** How long a run and what it received are kept (the table's TTL removes them). */
export const SELF_TEST_RETENTION_SECONDS = 24 * 3600;
/** Deliveries recorded per run at most: the receiver is public, a run is small. */
export const SELF_TEST_MAX_HOOKS = 200;
/** What is kept of a body: enough to see the event, never a large payload. */
const BODY_EXCERPT = 1024;

export const RUN_ID = /^[A-Za-z0-9_-]{8,64}$/;

export interface SelfTestRun {
  runId: string;
  /** The `whsec_` secret the run's subscriptions sign with. */
  secret: string;
  createdAt: string;
}

export interface ReceivedHook {
  runId: string;
  webhookId: string;
  behaviour: SelfTestBehaviour;
  /** The how-many-th arrival of this webhook id (1 first). */
  arrival: number;
  verified: boolean;
  /** Why the signature did not verify. */
  verifyError?: string;
  /** What the receiver answered. */
  status: number;
  type?: string;
  subject?: string;
  bodyExcerpt: string;
  receivedAt: string;
}

export interface SelfTestStore {
  putRun(run: SelfTestRun): Promise<void>;
  getRun(runId: string): Promise<SelfTestRun | undefined>;
  /** Every delivery the run received, oldest first. */
  listHooks(runId: string): Promise<ReceivedHook[]>;
  recordHook(hook: ReceivedHook): Promise<void>;
  deleteRun(runId: string): Promise<void>;
}

export type HookAnswer = { status: 204 | 500 | 401; hook: ReceivedHook } | { status: 404 | 429; detail: string };

/**
 * One delivery to the receiver: verify, decide the answer, record. An unknown run records
 * nothing (the endpoint is public; only registered runs write to the table).
 */
export async function receiveHook(
  store: SelfTestStore,
  request: { runId: string; behaviour: SelfTestBehaviour; headers: Record<string, string | undefined>; body: string; now: Date },
): Promise<HookAnswer> {
  const run = await store.getRun(request.runId);
  if (!run) return { status: 404, detail: `no self-test run ${request.runId}` };
  const earlier = await store.listHooks(request.runId);
  if (earlier.length >= SELF_TEST_MAX_HOOKS) return { status: 429, detail: `run ${request.runId} already received ${SELF_TEST_MAX_HOOKS} deliveries` };
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v ?? '']));
  const webhookId = (headers['webhook-id'] ?? '').slice(0, 128);
  let verified = true;
  let verifyError: string | undefined;
  try {
    new Webhook(run.secret).verify(request.body, headers);
  } catch (error) {
    verified = false;
    verifyError = (error as Error).message.slice(0, 200);
  }
  const arrival = earlier.filter((h) => h.webhookId === webhookId).length + 1;
  const status = !verified ? 401 : request.behaviour === 'fail-once' && arrival === 1 ? 500 : 204;
  let event: { type?: unknown; subject?: unknown } = {};
  try {
    event = JSON.parse(request.body) as typeof event;
  } catch {
    // recorded as received; the smoke command reports what it expected
  }
  const hook: ReceivedHook = {
    runId: request.runId,
    webhookId,
    behaviour: request.behaviour,
    arrival,
    verified,
    ...(verifyError ? { verifyError } : {}),
    status,
    ...(typeof event.type === 'string' ? { type: event.type } : {}),
    ...(typeof event.subject === 'string' ? { subject: event.subject } : {}),
    bodyExcerpt: request.body.slice(0, BODY_EXCERPT),
    receivedAt: request.now.toISOString(),
  };
  await store.recordHook(hook);
  return { status, hook };
}
