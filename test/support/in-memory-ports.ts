/**
 * In-memory fakes of the delivery path's ports, for unit tests of core services: a delivery
 * store that keeps what the table keeps (a summary per delivery, the last KEPT_ATTEMPTS attempts
 * in a ring of items, a count), a queue on a virtual clock that behaves as SQS does for one
 * consumer (delay, visibility, receive counts, in-flight set), and the fan-out index with its
 * per-tenant version, counting what fan-out reads; subscriptions' health records, with the
 * probe claim a degraded subscription's trial attempts take (core/degrade.ts); the slow lane's marks;
 * ordered groups held out of flight (core/order-hold.ts); a delivery queue that records each
 * `enqueue` call as SQS would be asked (core/fanout.ts), and batching subscriptions' buffers.
 */
import type { SQSRecord } from 'aws-lambda';
import { deliveryFromItems, MIN_KEPT_EXCERPT_BYTES, summaryAttempt } from '../../lambdas/adapters/delivery-items.ts';
import { truncateUtf8 } from '../../lambdas/adapters/item-size.ts';
import { KEPT_ATTEMPTS, type Attempt, type Delivery, type DeliveryStatus } from '../../lambdas/core/delivery.ts';
import { recordFieldsOf, type DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { BufferedEvent } from '../../lambdas/core/batching.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';
import type { AttemptRecord, BatchStore, DeadLetter, DeliveryQueue, DeliveryStore, OrderHoldStore, Page, PageRequest, StatsStore, SubscriptionIndex, SubscriptionIndexEntry } from '../../lambdas/core/ports.ts';
import type { Arrival, HeldJob, OrderHold } from '../../lambdas/core/order-hold.ts';
import type { ProbeStore } from '../../lambdas/core/degrade.ts';
import type { HealthState, StatsIncrement } from '../../lambdas/core/stats.ts';
import type { AdaptiveRate, ThrottleState, ThrottleStore } from '../../lambdas/core/throttle.ts';
import type { SlowMark, SlowMarkStore } from '../../lambdas/core/slow-lane.ts';

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** The attempt with its excerpt cut so the item `itemOf` builds around it is within 1 KB of JSON. */
function withinKilobyte(attempt: Attempt, itemOf: (cut: Attempt) => unknown): Attempt {
  if (attempt.responseExcerpt === undefined) return attempt;
  const room = 1024 - jsonBytes(itemOf({ ...attempt, responseExcerpt: '' }));
  return { ...attempt, responseExcerpt: truncateUtf8(attempt.responseExcerpt, Math.max(MIN_KEPT_EXCERPT_BYTES, room)) };
}

/** A delivery's summary record as stored: no attempts list, the latest attempt as `lastAttempt`. */
type Summary = Omit<Delivery, 'attempts'> & { lastAttempt?: Attempt };

export class InMemoryDeliveryStore implements DeliveryStore {
  /** Summary records by delivery id. */
  readonly summaries = new Map<string, Summary>();
  /** Attempt items by `<delivery id>#<slot>` (slot = attempt number mod KEPT_ATTEMPTS). */
  readonly ring = new Map<string, Attempt>();
  readonly held = new Map<string, DeliveryJob>();
  /** Every item written, in order, with its size (JSON bytes) and the attempt that wrote it. */
  readonly writes: { item: 'summary' | 'attempt'; bytes: number; attempt: number }[] = [];

  async recordAttempt({ delivery, attempt, status }: AttemptRecord): Promise<void> {
    const before = this.summaries.get(delivery.id);
    const { heldAt: _heldAt, ...kept } = before ?? ({} as Summary);
    const summary: Summary = { ...kept, ...delivery, status, lastAttempt: summaryAttempt(attempt, status), attemptCount: attempt.number, updatedAt: attempt.at };
    // As the table keeps them (delivery-store.ts): the exhausting attempt whole in the summary and
    // a retried one in its ring item, each excerpt cut so its item stays within 1 KB.
    if (status === 'failed') summary.lastAttempt = withinKilobyte(attempt, (cut) => ({ ...summary, lastAttempt: cut }));
    this.summaries.set(delivery.id, summary);
    this.writes.push({ item: 'summary', bytes: jsonBytes(summary), attempt: attempt.number });
    // The last attempt (a success, or the one that exhausted the policy) lives in the summary.
    if (status !== 'pending') return;
    const whole = withinKilobyte(attempt, (cut) => cut);
    this.ring.set(`${delivery.id}#${attempt.number % KEPT_ATTEMPTS}`, whole);
    this.writes.push({ item: 'attempt', bytes: jsonBytes(whole), attempt: attempt.number });
  }

  /** The delivery as `GET /v1/deliveries/{id}` reads it: its summary and its ring. */
  async getDelivery(id: string): Promise<Delivery | undefined> {
    const summary = this.summaries.get(id);
    if (!summary) return undefined;
    const ring = [...this.ring.entries()].filter(([key]) => key.startsWith(`${id}#`)).map(([, attempt]) => attempt);
    return deliveryFromItems(summary as unknown as Record<string, unknown>, ring as unknown as Record<string, unknown>[]);
  }

  /** Lists read summaries only: each delivery with its latest attempt; the token is the next offset. */
  private listed(filter: (s: Summary) => boolean, page: PageRequest): Page<Delivery> {
    const items = [...this.summaries.values()].filter(filter).map((s) => deliveryFromItems(s as unknown as Record<string, unknown>));
    const from = Number(page.nextToken ?? 0);
    const to = page.limit === undefined ? items.length : from + page.limit;
    return { items: items.slice(from, to), ...(to < items.length ? { nextToken: String(to) } : {}) };
  }

  async listDeliveries(tenantId: string, subscriptionId: string, page: PageRequest & { status?: DeliveryStatus }): Promise<Page<Delivery>> {
    return this.listed((d) => d.tenantId === tenantId && d.subscriptionId === subscriptionId && (!page.status || d.status === page.status), page);
  }

  async listDeadLetters(tenantId: string, page: PageRequest & { subscriptionId?: string }): Promise<Page<Delivery>> {
    return this.listed((d) => d.tenantId === tenantId && d.status === 'failed' && (!page.subscriptionId || d.subscriptionId === page.subscriptionId), page);
  }

  async markRedriven(deliveryId: string, at: string, retryFrom: number): Promise<boolean> {
    const item = this.summaries.get(deliveryId);
    if (item?.status !== 'failed') return false;
    this.summaries.set(deliveryId, { ...item, status: 'pending', retryFrom, nextAttemptAt: at, firstAttemptAt: at });
    // The exhausting attempt moves to its ring slot before the next attempt overwrites it.
    const last = item.lastAttempt;
    const slot = last && `${deliveryId}#${last.number % KEPT_ATTEMPTS}`;
    if (slot && this.ring.get(slot)?.number !== last.number) this.ring.set(slot, last);
    return true;
  }

  /** Deliveries recorded without an attempt, in order (waits behind a probe, parks). */
  readonly withoutAttempt: { deliveryId: string; at: string; nextAttemptAt?: string; reason?: string }[] = [];

  async recordWithoutAttempt(record: { job: DeliveryJob; at: string; retentionDays: number } & ({ nextAttemptAt: string } | { reason: string })): Promise<boolean> {
    const { job, at } = record;
    const before = this.summaries.get(job.deliveryId);
    if (before && before.status !== 'pending') return false;
    const fromJob = recordFieldsOf(job);
    const { nextAttemptAt: _next, finishedAt: _finished, reason: _reason, ...kept } =
      before ??
      // As the table's store writes a new record.
      ({ ...fromJob.identity, ...fromJob.kept } as Summary);
    const summary: Summary =
      'reason' in record
        ? { ...kept, status: 'failed', updatedAt: at, reason: record.reason, finishedAt: at }
        : { ...kept, status: 'pending', updatedAt: at, nextAttemptAt: record.nextAttemptAt };
    this.summaries.set(job.deliveryId, summary);
    this.withoutAttempt.push({ deliveryId: job.deliveryId, at, ...('reason' in record ? { reason: record.reason } : { nextAttemptAt: record.nextAttemptAt }) });
    this.writes.push({ item: 'summary', bytes: Buffer.byteLength(JSON.stringify(summary)), attempt: summary.attemptCount ?? 0 });
    return true;
  }

  async holdDelivery(job: DeliveryJob, at: string): Promise<void> {
    this.held.set(job.deliveryId, job);
    const item = this.summaries.get(job.deliveryId);
    if (item) this.summaries.set(job.deliveryId, { ...item, status: 'held', heldAt: at });
  }

  async listHeld(tenantId: string, subscriptionId: string, page: PageRequest): Promise<Page<DeliveryJob>> {
    return { items: [...this.held.values()].filter((j) => j.tenantId === tenantId && j.subscriptionId === subscriptionId).slice(0, page.limit) };
  }

  async endHold(deliveryId: string, _at: string, to: 'pending' | 'discarded'): Promise<boolean> {
    if (!this.held.delete(deliveryId)) return false;
    const item = this.summaries.get(deliveryId);
    if (item) this.summaries.set(deliveryId, { ...item, status: to });
    return true;
  }
}

interface Message {
  id: string;
  body: string;
  ordered: boolean;
  visibleAt: number;
  receiveCount: number;
  /** FIFO: the message group; its messages are received one at a time, in sequence order. */
  group?: string;
  seq: number;
}

/**
 * A queue on a virtual clock: `enqueue` with a delay, `changeVisibility` on a receipt, and
 * `next()` receives the earliest visible message, moving the clock to it. A message is in
 * flight from its receive until it is deleted or visible again. With `fifo`, jobs with an
 * ordering group go to a FIFO queue as SQS runs one: no delay, one message group per
 * `orderingGroup`, a group's messages received one at a time in send order (the next only once
 * the one before was deleted), each with its SequenceNumber.
 */
export class SimulatedQueue {
  now: number;
  private readonly messages = new Map<string, Message>();
  private seq = 0;
  readonly sent: { job: DeliveryJob; delaySeconds: number }[] = [];
  readonly parked: DeadLetter[] = [];
  maxReceiveCount = 0;

  constructor(
    start: number,
    private readonly options: { fifo?: boolean } = {},
  ) {
    this.now = start;
  }

  /** The ports the deliver worker uses: `queue` and `deadLetters`. */
  readonly queue = {
    enqueue: async (jobs: DeliveryJob[], delaySeconds = 0) => {
      for (const job of jobs) {
        if (this.options.fifo && job.orderingGroup) this.add(JSON.stringify(job), true, 0, job.orderingGroup);
        else this.add(JSON.stringify(job), false, delaySeconds);
      }
      for (const job of jobs) this.sent.push({ job, delaySeconds });
    },
    changeVisibility: async (handle: string, seconds: number) => {
      const message = this.messages.get(handle);
      if (message) message.visibleAt = this.now + seconds * 1000;
    },
  };

  readonly deadLetters = { park: async (letter: DeadLetter) => void this.parked.push(letter) };

  add(body: string, ordered: boolean, delaySeconds = 0, group?: string): void {
    const seq = ++this.seq;
    const id = `m-${seq}`;
    this.messages.set(id, { id, body, ordered, visibleAt: this.now + delaySeconds * 1000, receiveCount: 0, seq, ...(group ? { group } : {}) });
  }

  get size(): number {
    return this.messages.size;
  }

  /** Messages received and not yet deleted nor visible again: SQS's in-flight count. */
  inFlight(ordered?: boolean): number {
    let count = 0;
    for (const m of this.messages.values()) if (m.receiveCount > 0 && m.visibleAt > this.now && (ordered === undefined || m.ordered === ordered)) count++;
    return count;
  }

  /** Messages of a FIFO group still in the queue (waiting or in flight). */
  inGroup(group: string): number {
    return [...this.messages.values()].filter((m) => m.group === group).length;
  }

  /** The messages that may be received next: standard ones, and the first of each FIFO group. */
  private candidates(): Message[] {
    const firstOfGroup = new Map<string, Message>();
    const out: Message[] = [];
    for (const m of this.messages.values()) {
      if (!m.group) out.push(m);
      else if (!firstOfGroup.has(m.group) || m.seq < firstOfGroup.get(m.group)!.seq) firstOfGroup.set(m.group, m);
    }
    return [...out, ...firstOfGroup.values()];
  }

  /** When the next message becomes receivable (undefined: the queue is empty). */
  nextAt(): number | undefined {
    let at: number | undefined;
    for (const m of this.candidates()) if (at === undefined || m.visibleAt < at) at = m.visibleAt;
    return at === undefined ? undefined : Math.max(this.now, at);
  }

  /** Receives the next message to become visible (moving the clock there), as Lambda's poller would. */
  next(): SQSRecord | undefined {
    let first: Message | undefined;
    for (const m of this.candidates()) if (!first || m.visibleAt < first.visibleAt || (m.visibleAt === first.visibleAt && m.seq < first.seq)) first = m;
    if (!first) return undefined;
    this.now = Math.max(this.now, first.visibleAt);
    first.receiveCount += 1;
    this.maxReceiveCount = Math.max(this.maxReceiveCount, first.receiveCount);
    // In flight until deleted or made visible again; Lambda's default is the queue's visibility.
    first.visibleAt = this.now + 120_000;
    return {
      messageId: first.id,
      receiptHandle: first.id,
      body: first.body,
      attributes: { ApproximateReceiveCount: String(first.receiveCount), ...(first.group ? { SequenceNumber: String(first.seq), MessageGroupId: first.group } : {}) },
      eventSourceARN: first.ordered ? 'arn:aws:sqs:us-east-1:000000000000:herald-ordered.fifo' : 'arn:aws:sqs:us-east-1:000000000000:herald-deliveries',
    } as unknown as SQSRecord;
  }

  delete(handle: string): void {
    this.messages.delete(handle);
  }
}

/** The throttle state item, with the version check the table's conditional write makes. */
export class InMemoryThrottleStore implements ThrottleStore {
  readonly items = new Map<string, { state: ThrottleState; version: number }>();
  writes = 0;

  async read(tenantId: string, subscriptionId: string) {
    const item = this.items.get(`${tenantId}#${subscriptionId}`);
    return item ? { state: structuredClone(item.state), version: item.version } : { state: {}, version: 0 };
  }

  async reserve(tenantId: string, subscriptionId: string, version: number, change: { tat?: number; newLeases: Record<string, number>; lapsedLeases: string[]; adaptive?: AdaptiveRate | null; delayed?: number }) {
    const key = `${tenantId}#${subscriptionId}`;
    const item = this.items.get(key) ?? { state: {}, version: 0 };
    if (item.version !== version) return false;
    this.writes += 1;
    const leases = { ...item.state.leases, ...change.newLeases };
    for (const id of change.lapsedLeases) delete leases[id];
    const state: ThrottleState = { ...item.state, leases, delayed: (item.state.delayed ?? 0) + (change.delayed ?? 0) };
    if (change.tat !== undefined) state.tat = change.tat;
    if (change.adaptive) state.adaptive = change.adaptive;
    else if (change.adaptive === null) delete state.adaptive;
    this.items.set(key, { state, version: version + 1 });
    return true;
  }

  async release(tenantId: string, subscriptionId: string, leaseIds: string[]) {
    const item = this.items.get(`${tenantId}#${subscriptionId}`);
    if (!item) return;
    this.writes += 1;
    for (const id of leaseIds) delete item.state.leases?.[id];
  }
}

/**
 * The fan-out index as the subscription store keeps it: entries by tenant and pattern, and the
 * tenant's version, moved after the entries (`moveVersion: false` is a writer that crashed in
 * between). Counts version reads and per-pattern queries; `failQueries` makes the next queries throw.
 */
export class InMemorySubscriptionIndex implements SubscriptionIndex {
  private readonly entries = new Map<string, Map<string, SubscriptionIndexEntry>>();
  readonly versions = new Map<string, number>();
  versionReads = 0;
  readonly queries: string[] = [];
  failQueries = 0;

  subscribe(tenantId: string, entry: SubscriptionIndexEntry, patterns: string[], { moveVersion = true } = {}): void {
    for (const pattern of patterns) {
      const key = `${tenantId}#${pattern}`;
      this.entries.set(key, (this.entries.get(key) ?? new Map()).set(entry.subscriptionId, structuredClone(entry)));
    }
    if (moveVersion) this.moveVersion(tenantId);
  }

  unsubscribe(tenantId: string, subscriptionId: string, { moveVersion = true } = {}): void {
    for (const [key, bySubscription] of this.entries) if (key.startsWith(`${tenantId}#`)) bySubscription.delete(subscriptionId);
    if (moveVersion) this.moveVersion(tenantId);
  }

  moveVersion(tenantId: string): void {
    this.versions.set(tenantId, (this.versions.get(tenantId) ?? 0) + 1);
  }

  async subscriptionIndexVersion(tenantId: string): Promise<number> {
    this.versionReads += 1;
    return this.versions.get(tenantId) ?? 0;
  }

  async findSubscriptionsByPatterns(tenantId: string, patterns: string[]): Promise<SubscriptionIndexEntry[]> {
    this.queries.push(...patterns.map((p) => `${tenantId}#${p}`));
    if (this.failQueries > 0) {
      this.failQueries -= 1;
      throw new Error('ProvisionedThroughputExceededException');
    }
    return patterns.flatMap((p) => [...(this.entries.get(`${tenantId}#${p}`)?.values() ?? [])].map((e) => structuredClone(e)));
  }
}

/**
 * Subscriptions' health records as the stats store keeps them (the run of failures, and a
 * degraded subscription's `probeAt` with its conditional claim); counters are not kept. Counts
 * reads, claim writes and the claims that lost.
 */
export class InMemoryStatsStore implements StatsStore, ProbeStore {
  readonly health = new Map<string, HealthState>();
  healthReads = 0;
  claims = 0;
  lostClaims = 0;

  async addStats(increments: StatsIncrement[]): Promise<HealthState[]> {
    return increments.map((increment) => {
      const key = `${increment.tenantId}#${increment.subscriptionId}`;
      const state: HealthState = { ...(this.health.get(key) ?? { consecutiveFailures: 0 }) };
      const { reset, addFailures } = increment.health;
      if (reset) {
        state.consecutiveFailures = reset.failures;
        if (reset.failingSince) state.failingSince = reset.failingSince;
        else delete state.failingSince;
      } else if (addFailures) {
        state.consecutiveFailures += addFailures.count;
        state.failingSince ??= addFailures.firstAt;
      }
      this.health.set(key, state);
      return { ...state };
    });
  }

  async readStats(tenantId: string, subscriptionId: string) {
    const health = this.health.get(`${tenantId}#${subscriptionId}`);
    return { minutes: {}, hours: {}, ...(health ? { health: { ...health } } : {}) };
  }

  async readHealth(tenantId: string, subscriptionId: string): Promise<HealthState | undefined> {
    this.healthReads += 1;
    const health = this.health.get(`${tenantId}#${subscriptionId}`);
    return health && { ...health };
  }

  async claimProbe(tenantId: string, subscriptionId: string, at: string, openedAt: string): Promise<boolean> {
    this.claims += 1;
    const health = this.health.get(`${tenantId}#${subscriptionId}`);
    if (!health || (health.probeAt !== undefined && health.probeAt > openedAt)) {
      this.lostClaims += 1;
      return false;
    }
    health.probeAt = at;
    return true;
  }
}

/** Slow marks (core/slow-lane.ts) with the store's conditions: never moved back, cleared only if unchanged. */
export class InMemorySlowMarkStore implements SlowMarkStore {
  readonly marks = new Map<string, SlowMark>();
  reads = 0;
  writes = 0;
  /** Makes every call fail, as an unreachable table would. */
  failing = false;

  async read(tenantId: string, subscriptionId: string): Promise<SlowMark | undefined> {
    this.reads++;
    if (this.failing) throw new Error('table unreachable');
    return this.marks.get(`${tenantId}#${subscriptionId}`);
  }

  async mark(tenantId: string, subscriptionId: string, markedAt: number): Promise<void> {
    this.writes++;
    if (this.failing) throw new Error('table unreachable');
    const key = `${tenantId}#${subscriptionId}`;
    if ((this.marks.get(key)?.markedAt ?? -Infinity) < markedAt) this.marks.set(key, { markedAt });
  }

  async clear(tenantId: string, subscriptionId: string, markedAt: number): Promise<void> {
    this.writes++;
    if (this.failing) throw new Error('table unreachable');
    const key = `${tenantId}#${subscriptionId}`;
    if (this.marks.get(key)?.markedAt === markedAt) this.marks.delete(key);
  }
}

/**
 * Ordered groups held out of flight (core/order-hold.ts) as the table keeps them: a HEAD per
 * group, kept jobs in order-key order, the due list; every write counted (HEAD writes note
 * whether its due-list key moved, which costs the index a delete and a put).
 */
export class InMemoryOrderHoldStore implements OrderHoldStore {
  readonly heads = new Map<string, OrderHold>();
  readonly kept = new Map<string, Map<string, DeliveryJob>>();
  readonly writes: { item: 'head' | 'entry' | 'claim' | 'release' | 'drop'; indexMoved?: boolean }[] = [];
  /** Every group that was ever held. */
  readonly everHeld = new Set<string>();

  private id(tenantId: string, group: string): string {
    return `${tenantId}#${group}`;
  }

  async read(tenantId: string, group: string): Promise<OrderHold | undefined> {
    const hold = this.heads.get(this.id(tenantId, group));
    return hold && { ...hold };
  }

  async keep(tenantId: string, group: string, arrival: Arrival, job: DeliveryJob): Promise<string> {
    const entry = arrival.sequenceNumber ? `S${arrival.sequenceNumber.padStart(40, '0')}` : `T${String(arrival.at).padStart(15, '0')}#${arrival.messageId}`;
    const id = this.id(tenantId, group);
    if (!this.kept.has(id)) this.kept.set(id, new Map());
    this.kept.get(id)!.set(entry, structuredClone(job));
    this.writes.push({ item: 'entry' });
    return entry;
  }

  async createHead(hold: OrderHold): Promise<boolean> {
    const id = this.id(hold.tenantId, hold.group);
    const before = this.heads.get(id);
    if (before && before.head !== hold.head) return false;
    this.heads.set(id, { ...hold });
    this.everHeld.add(hold.group);
    this.writes.push({ item: 'head', indexMoved: before?.dueAt !== hold.dueAt });
    return true;
  }

  async moveHead(hold: OrderHold, from: string): Promise<boolean> {
    const id = this.id(hold.tenantId, hold.group);
    const before = this.heads.get(id);
    if (before?.head !== from) return false;
    this.heads.set(id, { ...hold });
    this.writes.push({ item: 'head', indexMoved: before.dueAt !== hold.dueAt });
    return true;
  }

  async release(tenantId: string, group: string, head: string): Promise<boolean> {
    const id = this.id(tenantId, group);
    if (this.heads.get(id)?.head !== head) return false;
    this.heads.delete(id);
    this.writes.push({ item: 'release' });
    return true;
  }

  async entries(tenantId: string, group: string, after: string | undefined, limit: number): Promise<HeldJob[]> {
    const kept = this.kept.get(this.id(tenantId, group)) ?? new Map<string, DeliveryJob>();
    return [...kept.keys()]
      .sort()
      .filter((entry) => after === undefined || entry > after)
      .slice(0, limit)
      .map((entry) => ({ entry, job: structuredClone(kept.get(entry)!) }));
  }

  async entry(tenantId: string, group: string, entry: string): Promise<DeliveryJob | undefined> {
    const job = this.kept.get(this.id(tenantId, group))?.get(entry);
    return job && structuredClone(job);
  }

  async drop(tenantId: string, group: string, entry: string): Promise<void> {
    this.kept.get(this.id(tenantId, group))?.delete(entry);
    this.writes.push({ item: 'drop' });
  }

  async dueHeads(_shard: number, now: string, limit: number, after?: string): Promise<{ holds: OrderHold[]; next?: string }> {
    const listKey = (hold: OrderHold) => `${hold.dueAt}#${hold.tenantId}#${hold.group}`;
    const due = [...this.heads.values()]
      .filter((hold) => hold.dueAt <= now && (after === undefined || listKey(hold) > after))
      // Byte order, as DynamoDB sorts keys (localeCompare would not).
      .sort((a, b) => (listKey(a) < listKey(b) ? -1 : 1));
    const page = due.slice(0, limit).map((hold) => ({ ...hold }));
    return { holds: page, ...(due.length > limit ? { next: listKey(page.at(-1)!) } : {}) };
  }

  async claimSend(hold: OrderHold, at: string): Promise<boolean> {
    const id = this.id(hold.tenantId, hold.group);
    const now = this.heads.get(id);
    if (!now || now.dueAt !== hold.dueAt || now.head !== hold.head || now.sentAt !== hold.sentAt) return false;
    this.heads.set(id, { ...now, sentAt: at });
    this.writes.push({ item: 'claim' });
    return true;
  }
}

/**
 * The delivery queue as fan-out sees it: each `enqueue` call kept whole (one call packs its jobs
 * 10 to a SendMessageBatch: `sendMessageBatches` counts them as adapters/sqs-queue.ts sends
 * them), flush looks listed; `failEnqueues` makes the next calls throw, as a refused send does.
 */
export class RecordingDeliveryQueue implements DeliveryQueue {
  readonly calls: DeliveryJob[][] = [];
  readonly flushes: { tenantId: string; subscriptionId: string; delaySeconds: number }[] = [];
  failEnqueues = 0;

  async enqueue(jobs: DeliveryJob[]): Promise<void> {
    if (this.failEnqueues > 0) {
      this.failEnqueues -= 1;
      throw new Error('SQS refused 10 delivery job(s) after 5 tries');
    }
    this.calls.push([...jobs]);
  }

  async enqueueFlush(tenantId: string, subscriptionId: string, delaySeconds: number): Promise<void> {
    this.flushes.push({ tenantId, subscriptionId, delaySeconds });
  }

  get jobs(): DeliveryJob[] {
    return this.calls.flat();
  }

  /** SendMessageBatch requests the calls cost: per call, ordered and other jobs apart, 10 a request. */
  get sendMessageBatches(): number {
    return this.calls.reduce((sum, jobs) => {
      const ordered = jobs.filter((j) => j.orderingGroup).length;
      return sum + Math.ceil(ordered / 10) + Math.ceil((jobs.length - ordered) / 10);
    }, 0);
  }
}

/**
 * Batching subscriptions' buffers as the table keeps them: an event once per subscription (a
 * repeat is not counted again), the pending count, the scheduled look and the lease.
 * `failBuffers` makes the next buffer writes throw.
 */
export class InMemoryBatchStore implements BatchStore {
  private readonly buffers = new Map<string, Map<string, CloudEvent>>();
  private readonly states = new Map<string, { pending: number; checkAt?: string; leasedUntil?: number; lastSentAt?: string }>();
  failBuffers = 0;

  private state(tenantId: string, subscriptionId: string) {
    const key = `${tenantId}/${subscriptionId}`;
    let state = this.states.get(key);
    if (!state) this.states.set(key, (state = { pending: 0 }));
    return state;
  }

  private buffer_(tenantId: string, subscriptionId: string): Map<string, CloudEvent> {
    const key = `${tenantId}/${subscriptionId}`;
    let buffer = this.buffers.get(key);
    if (!buffer) this.buffers.set(key, (buffer = new Map()));
    return buffer;
  }

  async buffer(tenantId: string, subscriptionId: string, event: CloudEvent): Promise<{ pending: number; checkAt?: string }> {
    if (this.failBuffers > 0) {
      this.failBuffers -= 1;
      throw new Error('ProvisionedThroughputExceededException');
    }
    const buffer = this.buffer_(tenantId, subscriptionId);
    const key = `${event.time}#${event.id}`;
    const state = this.state(tenantId, subscriptionId);
    if (!buffer.has(key)) {
      buffer.set(key, structuredClone(event));
      state.pending += 1;
    }
    return { pending: state.pending, ...(state.checkAt ? { checkAt: state.checkAt } : {}) };
  }

  async scheduleCheck(tenantId: string, subscriptionId: string, at: string, now: string): Promise<boolean> {
    const state = this.state(tenantId, subscriptionId);
    if (state.checkAt && state.checkAt > now) return false;
    state.checkAt = at;
    return true;
  }

  async lease(tenantId: string, subscriptionId: string, now: Date, forMs: number): Promise<{ lastSentAt?: string } | undefined> {
    const state = this.state(tenantId, subscriptionId);
    if (state.leasedUntil !== undefined && state.leasedUntil > now.getTime()) return undefined;
    state.leasedUntil = now.getTime() + forMs;
    return state.lastSentAt ? { lastSentAt: state.lastSentAt } : {};
  }

  async release(tenantId: string, subscriptionId: string, changes: { sentAt?: string; sent?: number; checkAt?: string | null }): Promise<void> {
    const state = this.state(tenantId, subscriptionId);
    state.leasedUntil = undefined;
    if (changes.sentAt) state.lastSentAt = changes.sentAt;
    if (changes.sent) state.pending = Math.max(0, state.pending - changes.sent);
    if (changes.checkAt === null) delete state.checkAt;
    else if (changes.checkAt) state.checkAt = changes.checkAt;
  }

  async read(tenantId: string, subscriptionId: string, limit: number): Promise<BufferedEvent[]> {
    return [...this.buffer_(tenantId, subscriptionId)].sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, limit).map(([key, event]) => ({ key, event: structuredClone(event) }));
  }

  async remove(tenantId: string, subscriptionId: string, keys: string[]): Promise<void> {
    const buffer = this.buffer_(tenantId, subscriptionId);
    for (const key of keys) buffer.delete(key);
  }

  /** The events waiting in a subscription's buffer, in the buffer's order. */
  waiting(tenantId: string, subscriptionId: string): string[] {
    return [...this.buffer_(tenantId, subscriptionId)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, event]) => event.id);
  }
}
