import type { ErrorClass } from './delivery.ts';
import { degradationOf } from './degrade.ts';

/**
 * Per-subscription delivery statistics, kept as counters per time bucket (minutes for the last
 * hour, hours for the last 7 days) and a health record (last attempt, last success, last error,
 * consecutive failures). The deliver function adds one batch's attempts at a time, so a batch
 * costs one counter write per bucket it touches, never a read of the attempt log.
 */

/** What one attempt (or one held delivery) contributes. */
export interface AttemptObservation {
  tenantId: string;
  subscriptionId: string;
  /** When the attempt finished (ms since epoch). */
  at: number;
  /** 1 for a delivery's first attempt. */
  attempt: number;
  outcome: 'succeeded' | 'retry' | 'failed' | 'held';
  durationMs: number;
  statusCode?: number;
  error?: ErrorClass;
  errorMessage?: string;
  /** Whether this failure says something about the endpoint (not a paused or deleted subscription). */
  endpointFailure: boolean;
  autoPause?: AutoPausePolicy;
}

export interface AutoPausePolicy {
  enabled: boolean;
  afterFailures: number;
  afterHours: number;
}

/** Svix disables an endpoint after 5 days of failures; Herald pauses (and holds) sooner by default. */
export const DEFAULT_AUTO_PAUSE: AutoPausePolicy = { enabled: true, afterFailures: 100, afterHours: 24 };

/** Response-time histogram bucket upper bounds, in ms; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 90_000] as const;

export interface Counters {
  /** Deliveries that made their first attempt: the events this subscription received. */
  events: number;
  attempts: number;
  succeeded: number;
  /** Failed attempts (each retry that failed counts). */
  failed: number;
  /** Attempts after the first. */
  retries: number;
  deadLettered: number;
  /** Deliveries held because the subscription was paused. */
  held: number;
  errors: Record<string, number>;
  statusCodes: Record<string, number>;
  /** Histogram: bucket upper bound in ms (or "inf") → attempts. */
  latency: Record<string, number>;
}

export function emptyCounters(): Counters {
  return { events: 0, attempts: 0, succeeded: 0, failed: 0, retries: 0, deadLettered: 0, held: 0, errors: {}, statusCodes: {}, latency: {} };
}

export function latencyBucket(ms: number): string {
  const bound = LATENCY_BOUNDS_MS.find((b) => ms <= b);
  return bound === undefined ? 'inf' : String(bound);
}

export function addObservation(counters: Counters, o: AttemptObservation): void {
  if (o.outcome === 'held') {
    counters.held++;
    return;
  }
  counters.attempts++;
  if (o.attempt === 1) counters.events++;
  else counters.retries++;
  if (o.outcome === 'succeeded') counters.succeeded++;
  else counters.failed++;
  if (o.outcome === 'failed') counters.deadLettered++;
  if (o.error) counters.errors[o.error] = (counters.errors[o.error] ?? 0) + 1;
  if (o.statusCode !== undefined) counters.statusCodes[String(o.statusCode)] = (counters.statusCodes[String(o.statusCode)] ?? 0) + 1;
  if (o.statusCode !== undefined || !o.error || o.error === 'timeout') {
    // Only attempts that reached the endpoint (or timed out on it) say how fast it answers.
    const bucket = latencyBucket(o.durationMs);
    counters.latency[bucket] = (counters.latency[bucket] ?? 0) + 1;
  }
}

export function mergeCounters(into: Counters, from: Counters): Counters {
  for (const key of ['events', 'attempts', 'succeeded', 'failed', 'retries', 'deadLettered', 'held'] as const) into[key] += from[key];
  for (const key of ['errors', 'statusCodes', 'latency'] as const) {
    for (const [k, v] of Object.entries(from[key])) into[key][k] = (into[key][k] ?? 0) + v;
  }
  return into;
}

/** Flat attribute names for a DynamoDB ADD (nested map paths can't be created by ADD). */
export function toCounterFields(counters: Counters): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const key of ['events', 'attempts', 'succeeded', 'failed', 'retries', 'deadLettered', 'held'] as const) {
    if (counters[key]) fields[`c_${key}`] = counters[key];
  }
  for (const [k, v] of Object.entries(counters.errors)) fields[`e_${k}`] = v;
  for (const [k, v] of Object.entries(counters.statusCodes)) fields[`s_${k}`] = v;
  for (const [k, v] of Object.entries(counters.latency)) fields[`l_${k}`] = v;
  return fields;
}

export function fromCounterFields(item: Record<string, unknown>): Counters {
  const counters = emptyCounters();
  for (const [name, value] of Object.entries(item)) {
    if (typeof value !== 'number') continue;
    const [prefix, key] = [name.slice(0, 2), name.slice(2)];
    if (prefix === 'c_' && key in counters) (counters as unknown as Record<string, number>)[key] = value;
    else if (prefix === 'e_') counters.errors[key] = value;
    else if (prefix === 's_') counters.statusCodes[key] = value;
    else if (prefix === 'l_') counters.latency[key] = value;
  }
  return counters;
}

export const minuteKey = (ms: number) => new Date(ms).toISOString().slice(0, 16);
export const hourKey = (ms: number) => new Date(ms).toISOString().slice(0, 13);

/** How a batch changes a subscription's health record; applied atomically by the store. */
export interface HealthUpdate {
  lastAttemptAt?: string;
  lastSuccessAt?: string;
  lastError?: { at: string; error: string; statusCode?: number; message?: string };
  /** A success in the batch: the run of failures restarts at the failures after it. */
  reset?: { failures: number; failingSince?: string };
  /** No success in the batch: these failures extend the current run. */
  addFailures?: { count: number; firstAt: string };
}

export interface StatsIncrement {
  tenantId: string;
  subscriptionId: string;
  minutes: Record<string, Counters>;
  hours: Record<string, Counters>;
  health: HealthUpdate;
  autoPause: AutoPausePolicy;
}

/** Groups one batch's observations by subscription and bucket, in finishing order. */
export function aggregateObservations(observations: AttemptObservation[]): StatsIncrement[] {
  const bySubscription = new Map<string, AttemptObservation[]>();
  for (const o of observations) {
    const key = `${o.tenantId}\u0000${o.subscriptionId}`;
    bySubscription.set(key, [...(bySubscription.get(key) ?? []), o]);
  }
  return [...bySubscription.values()].map((list) => {
    const sorted = [...list].sort((a, b) => a.at - b.at);
    const minutes: Record<string, Counters> = {};
    const hours: Record<string, Counters> = {};
    for (const o of sorted) {
      addObservation((minutes[minuteKey(o.at)] ??= emptyCounters()), o);
      addObservation((hours[hourKey(o.at)] ??= emptyCounters()), o);
    }
    const attempts = sorted.filter((o) => o.outcome !== 'held');
    const health: HealthUpdate = {};
    const last = attempts.at(-1);
    if (last) health.lastAttemptAt = new Date(last.at).toISOString();
    const lastSuccessIndex = attempts.findLastIndex((o) => o.outcome === 'succeeded');
    if (lastSuccessIndex >= 0) health.lastSuccessAt = new Date(attempts[lastSuccessIndex]!.at).toISOString();
    const failures = attempts.filter((o) => o.outcome !== 'succeeded');
    const lastFailure = failures.at(-1);
    if (lastFailure) {
      health.lastError = {
        at: new Date(lastFailure.at).toISOString(),
        error: lastFailure.error ?? 'http_status',
        ...(lastFailure.statusCode !== undefined ? { statusCode: lastFailure.statusCode } : {}),
        ...(lastFailure.errorMessage ? { message: lastFailure.errorMessage.slice(0, 300) } : {}),
      };
    }
    const counted = attempts.slice(lastSuccessIndex + 1).filter((o) => o.endpointFailure);
    if (lastSuccessIndex >= 0) {
      health.reset = { failures: counted.length, ...(counted[0] ? { failingSince: new Date(counted[0].at).toISOString() } : {}) };
    } else if (counted.length > 0) {
      health.addFailures = { count: counted.length, firstAt: new Date(counted[0]!.at).toISOString() };
    }
    const first = sorted[0]!;
    return {
      tenantId: first.tenantId,
      subscriptionId: first.subscriptionId,
      minutes,
      hours,
      health,
      autoPause: sorted.findLast((o) => o.autoPause)?.autoPause ?? DEFAULT_AUTO_PAUSE,
    };
  });
}

export interface HealthState {
  consecutiveFailures: number;
  failingSince?: string;
  lastAttemptAt?: string;
  lastSuccessAt?: string;
  lastError?: HealthUpdate['lastError'];
  /** When a degraded subscription's last trial attempt was claimed (core/degrade.ts). */
  probeAt?: string;
}

/** Whether a run of failures has gone on long enough, and for long enough, to pause. */
export function shouldAutoPause(health: HealthState, policy: AutoPausePolicy, now: number): boolean {
  if (!policy.enabled || health.consecutiveFailures < policy.afterFailures || !health.failingSince) return false;
  return now - Date.parse(health.failingSince) >= policy.afterHours * 3_600_000;
}

export interface WindowStats {
  from: string;
  to: string;
  events: number;
  attempts: number;
  succeeded: number;
  failed: number;
  retries: number;
  deadLettered: number;
  held: number;
  /** Successful attempts / attempts; null when nothing was attempted. */
  successRate: number | null;
  /** Upper bounds of the histogram buckets holding the 50th and 95th percentile (ms). */
  responseTimeMs: { p50: number | null; p95: number | null };
  errors: Record<string, number>;
  statusCodes: Record<string, number>;
}

export interface SubscriptionStats {
  subscriptionId: string;
  generatedAt: string;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: HealthUpdate['lastError'] | null;
  consecutiveFailures: number;
  failingSince: string | null;
  /** The endpoint keeps failing, so its retries get less of the shared capacity (core/degrade.ts). */
  degraded: boolean;
  degradedReason: string | null;
  windows: { '1h': WindowStats; '24h': WindowStats; '7d': WindowStats };
  /** One point per hour over the last 24 h, oldest first, for charts. */
  hourly: { hour: string; attempts: number; succeeded: number; failed: number; p50: number | null }[];
}

export function percentile(latency: Record<string, number>, q: number): number | null {
  const total = Object.values(latency).reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const bound of [...LATENCY_BOUNDS_MS.map(String), 'inf']) {
    seen += latency[bound] ?? 0;
    if (seen >= q * total) return bound === 'inf' ? LATENCY_BOUNDS_MS.at(-1)! : Number(bound);
  }
  return LATENCY_BOUNDS_MS.at(-1)!;
}

function windowStats(counters: Counters, from: number, to: number): WindowStats {
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    events: counters.events,
    attempts: counters.attempts,
    succeeded: counters.succeeded,
    failed: counters.failed,
    retries: counters.retries,
    deadLettered: counters.deadLettered,
    held: counters.held,
    successRate: counters.attempts === 0 ? null : Math.round((counters.succeeded / counters.attempts) * 10_000) / 10_000,
    responseTimeMs: { p50: percentile(counters.latency, 0.5), p95: percentile(counters.latency, 0.95) },
    errors: counters.errors,
    statusCodes: counters.statusCodes,
  };
}

/** The range of bucket keys the stats read covers: minutes for 1 h, hours for 7 days. */
export function statsRange(now: number) {
  return { minutesFrom: minuteKey(now - 59 * 60_000), hoursFrom: hourKey(now - (7 * 24 - 1) * 3_600_000) };
}

/**
 * The windows: the last hour from minute buckets (exact to the minute), the last 24 h and 7 days
 * from hour buckets (the current hour included, so they span up to one hour more).
 */
export function summarizeStats(
  subscriptionId: string,
  buckets: { minutes: Record<string, Counters>; hours: Record<string, Counters> },
  health: HealthState | undefined,
  now: number,
): SubscriptionStats {
  const sum = (entries: [string, Counters][], fromKey: string) =>
    entries.filter(([k]) => k >= fromKey).reduce((acc, [, c]) => mergeCounters(acc, c), emptyCounters());
  const minutes = Object.entries(buckets.minutes);
  const hours = Object.entries(buckets.hours);
  const hourStart = (ms: number) => Date.parse(`${hourKey(ms)}:00:00Z`);
  const degradation = degradationOf(health, now);
  const hourly = Array.from({ length: 24 }, (_, i) => {
    const key = hourKey(now - (23 - i) * 3_600_000);
    const c = buckets.hours[key] ?? emptyCounters();
    return { hour: `${key}:00:00Z`, attempts: c.attempts, succeeded: c.succeeded, failed: c.failed, p50: percentile(c.latency, 0.5) };
  });
  return {
    subscriptionId,
    generatedAt: new Date(now).toISOString(),
    lastAttemptAt: health?.lastAttemptAt ?? null,
    lastSuccessAt: health?.lastSuccessAt ?? null,
    lastError: health?.lastError ?? null,
    consecutiveFailures: health?.consecutiveFailures ?? 0,
    failingSince: health?.failingSince ?? null,
    degraded: degradation.degraded,
    degradedReason: degradation.reason,
    windows: {
      '1h': windowStats(sum(minutes, minuteKey(now - 59 * 60_000)), Date.parse(`${minuteKey(now - 59 * 60_000)}:00Z`), now),
      '24h': windowStats(sum(hours, hourKey(now - 23 * 3_600_000)), hourStart(now - 23 * 3_600_000), now),
      '7d': windowStats(sum(hours, hourKey(now - (7 * 24 - 1) * 3_600_000)), hourStart(now - (7 * 24 - 1) * 3_600_000), now),
    },
    hourly,
  };
}

/**
 * Counting that does not depend on how deliveries fall into batches. A deliver invocation writes
 * one delta per tenant (its batch's counters for every subscription of that tenant it touched);
 * the sweeper folds each minute's deltas into the subscriptions' ten-minute blocks, one write per
 * subscription and block, and marks each block with the minute it folded (`foldMarker`), so a
 * fold is applied once and a read adds exactly the deltas no block holds yet. At 10 subscriptions
 * a batch touches all of them: a block write per subscription and batch cost 0.4 write units a
 * delivery, a delta costs one unit a batch.
 */
export interface SubscriptionDelta {
  /** Minute key → counters. */
  minutes: Record<string, Counters>;
  lastAttemptAt?: string;
  lastSuccessAt?: string;
}

/** One tenant's part of a batch: subscription id → what it adds. */
export type StatsDelta = Record<string, SubscriptionDelta>;

/**
 * How a batch's counters for one tenant are written: straight to the subscriptions' blocks (a
 * write each) or as a delta (one write; the minute's fold then costs its list entry, a write per
 * subscription and block, the tenant's `through` and the entry's delete, whatever the number of
 * deltas). A delta pays for a tenant whose batches touch several subscriptions, many batches a
 * minute (at 10 subscriptions and 10 batches a minute: the first batch 10, nine deltas 9, the
 * fold 13, instead of 100 writes). So a tenant's part that touches one subscription, or its first
 * in this container's minute, goes straight to the blocks: a tenant delivering rarely never pays
 * for a fold.
 */
export function statsWriteFor(subscriptions: number, writtenThisMinute: boolean): 'blocks' | 'delta' {
  return subscriptions > 1 && writtenThisMinute ? 'delta' : 'blocks';
}

/** A batch's increments as one delta per tenant. */
export function deltasByTenant(increments: StatsIncrement[]): Map<string, StatsDelta> {
  const byTenant = new Map<string, StatsDelta>();
  for (const increment of increments) {
    const delta = byTenant.get(increment.tenantId) ?? {};
    const { lastAttemptAt, lastSuccessAt } = increment.health;
    delta[increment.subscriptionId] = { minutes: increment.minutes, ...(lastAttemptAt ? { lastAttemptAt } : {}), ...(lastSuccessAt ? { lastSuccessAt } : {}) };
    byTenant.set(increment.tenantId, delta);
  }
  return byTenant;
}

/** The ten-minute block of a minute key or a timestamp: `2026-11-25T08:47` → `2026-11-25T08:4`. */
export const blockKey = (minuteOrTime: string) => minuteOrTime.slice(0, 15);

/**
 * The attribute a block carries once the deltas written in `writtenIn` (a minute key) are folded
 * into it. A block receives the folds of its own ten minutes and of the few minutes after
 * (attempts that finished late in a long batch): the hour and minute name them apart.
 */
export const foldMarker = (writtenIn: string) => `F${writtenIn.slice(11, 16)}`;

/** What folding one minute's deltas writes to one subscription's block. */
export interface BlockFold {
  subscriptionId: string;
  block: string;
  /** Flat counter fields: the block's totals and its minutes' (`M<digit>_<field>`). */
  fields: Record<string, number>;
  lastAttemptAt?: string;
  lastSuccessAt?: string;
}

/** Sums deltas (one minute's, of one tenant) into one fold per subscription and block, a delta at a time. */
export class BlockFolds {
  private readonly folds = new Map<string, BlockFold>();

  add(delta: StatsDelta): void {
    const later = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));
    for (const [subscriptionId, { minutes, lastAttemptAt, lastSuccessAt }] of Object.entries(delta)) {
      for (const [minute, counters] of Object.entries(minutes)) {
        const block = blockKey(minute);
        const key = `${subscriptionId}\u0000${block}`;
        const fold = this.folds.get(key) ?? { subscriptionId, block, fields: {} };
        for (const [field, value] of Object.entries(toCounterFields(counters))) {
          const perMinute = `M${minute.slice(-1)}_${field}`;
          fold.fields[perMinute] = (fold.fields[perMinute] ?? 0) + value;
          fold.fields[field] = (fold.fields[field] ?? 0) + value;
        }
        this.folds.set(key, fold);
      }
      // Each time goes to the block it falls in (a block's read takes its newest).
      for (const [name, at] of [['lastAttemptAt', lastAttemptAt], ['lastSuccessAt', lastSuccessAt]] as const) {
        const fold = at && this.folds.get(`${subscriptionId}\u0000${blockKey(at)}`);
        if (fold) fold[name] = later(fold[name], at);
      }
    }
  }

  list(): BlockFold[] {
    return [...this.folds.values()];
  }
}

export function blockFolds(deltas: StatsDelta[]): BlockFold[] {
  const folds = new BlockFolds();
  for (const delta of deltas) folds.add(delta);
  return folds.list();
}

/**
 * Adds to a subscription's buckets what its unfolded deltas hold: each delta minute (`writtenIn`)
 * counts unless the block its counters belong to already carries that minute's fold marker.
 */
export function addUnfolded(
  buckets: { minutes: Record<string, Counters>; hours: Record<string, Counters>; lastAttemptAt?: string; lastSuccessAt?: string },
  deltas: { writtenIn: string; delta: SubscriptionDelta }[],
  foldedInto: (block: string, marker: string) => boolean,
  range: { minutesFrom: string; hoursFrom: string },
): void {
  for (const { writtenIn, delta } of deltas) {
    const marker = foldMarker(writtenIn);
    for (const [minute, counters] of Object.entries(delta.minutes)) {
      if (foldedInto(blockKey(minute), marker)) continue;
      if (minute >= range.minutesFrom) buckets.minutes[minute] = mergeCounters(buckets.minutes[minute] ?? emptyCounters(), counters);
      const hour = minute.slice(0, 13);
      if (hour >= range.hoursFrom) buckets.hours[hour] = mergeCounters(buckets.hours[hour] ?? emptyCounters(), counters);
    }
    for (const name of ['lastAttemptAt', 'lastSuccessAt'] as const) {
      const at = delta[name];
      if (at && !foldedInto(blockKey(at), marker) && (!buckets[name] || at > buckets[name]!)) buckets[name] = at;
    }
  }
}
