import { readFileSync } from 'node:fs';

/**
 * SQS fair queues for the local SQS emulator (fauxqs 1.x has none): a standard queue whose
 * messages carry a `MessageGroupId` keeps quiet tenants' dwell time low while one tenant (one
 * group) has a backlog, as a deployed standard queue does since July 2025. Herald's standard
 * delivery queue sends every job with its tenant as group (lambdas/adapters/sqs-queue.ts), so
 * without this the local runtime hands out the dead endpoint's or the flood's backlog first and
 * measures a noisy-neighbour effect the deployed stack does not have.
 *
 * What AWS documents ("How Amazon SQS fair queues work", SQS Developer Guide), and what is kept:
 * - the tenant is the message group; a message without one is a tenant of its own (here: never
 *   noisy, as one message alone cannot pass the thresholds below);
 * - a tenant is noisy when it holds more than 10 % of the queue's in-flight messages and at least
 *   30 of its own (concurrency share), or more than 10 % of the consumers' recent processing time
 *   (receive to delete, visibility expiry or release; "recent" here: the last 60 s);
 * - while any tenant is noisy, a receive returns quiet tenants' messages first (oldest first);
 *   noisy tenants' messages come only when no quiet one is waiting, from the noisy tenant with
 *   the fewest messages in flight first; nothing is dropped or throttled;
 * - noisiness is judged afresh at every receive, so a tenant is quiet again as soon as its shares
 *   fall (AWS also ends it when the backlog is drained or after 5 minutes without sends: both
 *   follow here, since a tenant with nothing waiting is never passed over).
 * AWS's detection is approximate ("thresholds are approximate and detection may not activate at
 * the exact values"); this one is exact, so local figures are a best case for the ordering, not
 * for SQS's own latency.
 *
 * fauxqs also drops `MessageGroupId` on standard queues (fixed upstream in 2.x, which needs Node
 * 22.5); the send patch below keeps it, so ReceiveMessage reports it as SQS does.
 *
 * The seam: fauxqs 1.x exports only its server, so this patches, at run time and once per
 * process, the prototypes of its own queue and router classes (dist/sqs/*.js, imported by file
 * URL beside its entry point, i.e. the very module instances the server uses). node_modules is
 * never edited; FIFO queues are left exactly as fauxqs runs them.
 */
export const FAIR_QUEUE_RULES = {
  /** A tenant above this share of the queue's in-flight messages ... */
  concurrencyShare: 0.1,
  /** ... and with at least this many of its own in flight is noisy. */
  minInFlight: 30,
  /** A tenant above this share of recent processing time is noisy. */
  processingTimeShare: 0.1,
  /** "Recent" processing time. */
  windowMs: 60_000,
} as const;

/** What fair ordering needs to know of one tenant (message group). */
export interface GroupLoad {
  inFlight: number;
  /** Processing time within the window (ms): in flight now, or ended within it. */
  processingMs: number;
}

/** The noisy groups, judged as AWS documents it (FAIR_QUEUE_RULES). */
export function noisyGroups(loads: ReadonlyMap<string, GroupLoad>, totalInFlight: number, totalProcessingMs: number): Set<string> {
  const noisy = new Set<string>();
  for (const [group, load] of loads) {
    const byConcurrency = load.inFlight >= FAIR_QUEUE_RULES.minInFlight && load.inFlight > FAIR_QUEUE_RULES.concurrencyShare * totalInFlight;
    const byTime = totalProcessingMs > 0 && load.processingMs > FAIR_QUEUE_RULES.processingTimeShare * totalProcessingMs;
    if (byConcurrency || byTime) noisy.add(group);
  }
  return noisy;
}

/**
 * Which waiting messages one receive returns, as positions in `waiting` (oldest first; `groupOf`
 * undefined: no group): quiet tenants' oldest first, then noisy tenants',
 * one at a time from whichever has the fewest in flight (counting what this receive already took).
 */
export function fairPick<T>(waiting: readonly T[], groupOf: (message: T) => string | undefined, noisy: ReadonlySet<string>, inFlight: ReadonlyMap<string, number>, count: number): number[] {
  const picked: number[] = [];
  const waitingNoisy = new Map<string, number[]>();
  for (let i = 0; i < waiting.length && picked.length < count; i++) {
    const group = groupOf(waiting[i]!);
    if (group === undefined || !noisy.has(group)) picked.push(i);
    else {
      const list = waitingNoisy.get(group) ?? [];
      // A group never gives more than a whole receive.
      if (list.length < count) list.push(i);
      waitingNoisy.set(group, list);
    }
  }
  const taken = new Map<string, number>();
  while (picked.length < count) {
    let best: string | undefined;
    let bestLoad = Infinity;
    for (const [group, list] of waitingNoisy) {
      if ((taken.get(group) ?? 0) >= list.length) continue;
      const load = (inFlight.get(group) ?? 0) + (taken.get(group) ?? 0);
      if (load < bestLoad) [best, bestLoad] = [group, load];
    }
    if (best === undefined) break;
    const n = taken.get(best) ?? 0;
    picked.push(waitingNoisy.get(best)![n]!);
    taken.set(best, n + 1);
  }
  return picked;
}

// fauxqs 1.x internals this patch relies on (dist/sqs/sqsStore.js, dist/sqs/sqsRouter.js).
interface FauxMessage {
  body: string;
  messageGroupId?: string;
}
interface FauxInflightEntry {
  message: FauxMessage;
}
interface FauxQueue {
  messages: FauxMessage[];
  inflightMessages: Map<string, FauxInflightEntry>;
  isFifo(): boolean;
  processTimers(): void;
  dequeue(maxCount: number, visibilityTimeoutOverride?: number, dlqResolver?: unknown): unknown[];
}
type CreateMessage = (body: string, attributes?: unknown, delaySeconds?: number, groupId?: string, dedupId?: string) => FauxMessage;
interface FauxStoreModule {
  SqsQueue: { prototype: FauxQueue };
  SqsStore: { createMessage: CreateMessage };
}
interface FauxRequest {
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}
interface FauxRouterModule {
  SqsRouter: { prototype: { handle(request: FauxRequest, reply: unknown): Promise<unknown> } };
}
type SendEntry = { MessageBody?: unknown; MessageGroupId?: unknown };

/** Receives of one group that ended within the window: oldest first from `head`, and their sum. */
interface EndedReceives {
  at: number[];
  ms: number[];
  head: number;
  sumMs: number;
}

/**
 * The in-flight set of one standard queue, recording each receive's start and end per group.
 * Kept incrementally: every waiting consumer's long poll wakes on each send and receives, so
 * judging the groups must cost little more than a look at what is in flight now.
 */
class TrackedInFlight extends Map<string, FauxInflightEntry> {
  private readonly started = new Map<string, { group: string; at: number }>();
  private readonly ended = new Map<string, EndedReceives>();
  private readonly groupsInFlight = new Map<string, number>();

  override set(handle: string, entry: FauxInflightEntry): this {
    // Map's constructor calls set before the fields exist; the queue's map starts empty anyway.
    if (this.started) {
      const group = entry.message.messageGroupId ?? UNGROUPED;
      this.started.set(handle, { group, at: Date.now() });
      this.groupsInFlight.set(group, (this.groupsInFlight.get(group) ?? 0) + 1);
    }
    return super.set(handle, entry);
  }

  override delete(handle: string): boolean {
    const start = this.started.get(handle);
    if (start) {
      this.started.delete(handle);
      this.groupsInFlight.set(start.group, this.groupsInFlight.get(start.group)! - 1);
      let ended = this.ended.get(start.group);
      if (!ended) this.ended.set(start.group, (ended = { at: [], ms: [], head: 0, sumMs: 0 }));
      const at = Date.now();
      const ms = Math.min(at - start.at, FAIR_QUEUE_RULES.windowMs);
      ended.at.push(at);
      ended.ms.push(ms);
      ended.sumMs += ms;
    }
    return super.delete(handle);
  }

  override clear(): void {
    this.started.clear();
    this.groupsInFlight.clear();
    super.clear();
  }

  /** Each group's load now, and the queue's totals (the ungrouped count in the totals only). */
  loads(now: number): { loads: Map<string, GroupLoad>; totalInFlight: number; totalProcessingMs: number } {
    const { windowMs } = FAIR_QUEUE_RULES;
    const loads = new Map<string, GroupLoad>();
    const load = (group: string) => {
      let l = loads.get(group);
      if (!l) loads.set(group, (l = { inFlight: this.groupsInFlight.get(group) ?? 0, processingMs: 0 }));
      return l;
    };
    let totalProcessingMs = 0;
    for (const [group, ended] of this.ended) {
      while (ended.head < ended.at.length && ended.at[ended.head]! < now - windowMs) ended.sumMs -= ended.ms[ended.head++]!;
      if (ended.head === ended.at.length) {
        this.ended.delete(group);
        continue;
      }
      if (ended.head > 1024) {
        ended.at.splice(0, ended.head);
        ended.ms.splice(0, ended.head);
        ended.head = 0;
      }
      load(group).processingMs += ended.sumMs;
      totalProcessingMs += ended.sumMs;
    }
    for (const { group, at } of this.started.values()) {
      const ms = Math.min(now - at, windowMs);
      load(group).processingMs += ms;
      totalProcessingMs += ms;
    }
    loads.delete(UNGROUPED);
    return { loads, totalInFlight: this.size, totalProcessingMs };
  }
}

/** The key of messages without a group: counted in the totals, never a tenant that can be noisy. */
const UNGROUPED = '\u0000ungrouped';

let installed = false;

/** Patches fauxqs once per process (called by startSqs before it starts the server). */
export async function installFairQueues(): Promise<void> {
  if (installed) return;
  const entry = new URL(import.meta.resolve('fauxqs'));
  const { version } = JSON.parse(readFileSync(new URL('../package.json', entry), 'utf8')) as { version: string };
  if (!version.startsWith('1.')) {
    throw new Error(`local/fair-queues.ts patches fauxqs 1.x internals; found fauxqs ${version}: check dist/sqs/sqsStore.js and sqsRouter.js, then update the patch`);
  }
  const store = (await import(new URL('./sqs/sqsStore.js', entry).href)) as FauxStoreModule;
  const router = (await import(new URL('./sqs/sqsRouter.js', entry).href)) as FauxRouterModule;
  const queueProto = store.SqsQueue.prototype;
  const routerProto = router.SqsRouter.prototype;
  if (typeof queueProto.dequeue !== 'function' || typeof queueProto.processTimers !== 'function' || typeof store.SqsStore.createMessage !== 'function' || typeof routerProto.handle !== 'function') {
    throw new Error(`local/fair-queues.ts: fauxqs ${version} no longer has the members it patches (SqsQueue.dequeue/processTimers, SqsStore.createMessage, SqsRouter.handle)`);
  }

  // Receives: pick fairly, move the picked messages to the front, and let fauxqs receive them
  // as it always does (receipt handles, receive counts, redrive to the DLQ).
  const dequeue = queueProto.dequeue;
  queueProto.dequeue = function (this: FauxQueue, maxCount, visibilityTimeoutOverride, dlqResolver) {
    if (this.isFifo()) return dequeue.call(this, maxCount, visibilityTimeoutOverride, dlqResolver);
    if (!(this.inflightMessages instanceof TrackedInFlight)) this.inflightMessages = new TrackedInFlight(this.inflightMessages);
    this.processTimers();
    const tracked = this.inflightMessages as TrackedInFlight;
    const { loads, totalInFlight, totalProcessingMs } = tracked.loads(Date.now());
    const noisy = noisyGroups(loads, totalInFlight, totalProcessingMs);
    if (noisy.size > 0 && this.messages.length > 0) {
      const count = Math.min(maxCount, 10);
      const inFlight = new Map([...loads].map(([group, load]) => [group, load.inFlight]));
      const picked = fairPick(this.messages, (m) => m.messageGroupId, noisy, inFlight, count);
      if (picked.some((position, i) => position !== i)) {
        const chosen = picked.map((i) => this.messages[i]!);
        for (const i of [...picked].sort((a, b) => b - a)) this.messages.splice(i, 1);
        this.messages.unshift(...chosen);
      }
    }
    return dequeue.call(this, maxCount, visibilityTimeoutOverride, dlqResolver);
  };

  // Sends: fauxqs 1.x builds a standard queue's message without its group. The request being
  // handled is known while its action runs (synchronously, before the router's first await).
  let sending: { entries: SendEntry[]; next: number } | undefined;
  const handle = routerProto.handle;
  routerProto.handle = function (request, reply) {
    const target = String(request.headers['x-amz-target'] ?? '');
    const body = (request.body ?? {}) as { Entries?: unknown };
    if (target === 'AmazonSQS.SendMessage') sending = { entries: [body as SendEntry], next: 0 };
    else if (target === 'AmazonSQS.SendMessageBatch' && Array.isArray(body.Entries)) sending = { entries: body.Entries as SendEntry[], next: 0 };
    try {
      return handle.call(this, request, reply);
    } finally {
      sending = undefined;
    }
  };
  const createMessage = store.SqsStore.createMessage;
  store.SqsStore.createMessage = function (body, attributes, delaySeconds, groupId, dedupId) {
    if (groupId === undefined && sending) {
      // Entries refused before this point (bad characters, too large) made no message: the
      // next entry with this body is the one being built.
      const at = sending.entries.findIndex((entry, i) => i >= sending!.next && entry.MessageBody === body);
      if (at >= 0) {
        sending.next = at + 1;
        const group = sending.entries[at]!.MessageGroupId;
        if (typeof group === 'string' && group !== '') groupId = group;
      }
    }
    return createMessage.call(this, body, attributes, delaySeconds, groupId, dedupId);
  };
  installed = true;
}
