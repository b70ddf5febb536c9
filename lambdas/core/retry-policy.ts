/**
 * Per-subscription retry policies. A policy is an explicit schedule of delays, an exponential
 * curve, or a named preset; `maxAttempts` and `maxAgeSeconds` bound it. Delays are the gaps
 * after a failed attempt: `schedule[0]` follows the first attempt, `schedule[1]` the second, ….
 */

/** SQS keeps a message at most 14 days: no policy may outlive the queue that carries it. */
export const MAX_POLICY_AGE_SECONDS = 14 * 24 * 3600;
export const MAX_ATTEMPTS = 100;
export const JITTER = 0.2;
/**
 * An exponential policy bounded by age alone (fulfillmenttools: 20 s doubling to 600 s, for
 * 7 days ≈ 1,000 attempts) may go past MAX_ATTEMPTS, but its steady gap must keep it near this.
 */
export const MAX_AGE_BOUND_ATTEMPTS = 1440;

/** Shapes checked by retry-policy-schema.ts (kept apart: the delivery path needs no zod). */
export interface SchedulePolicy {
  schedule: number[];
  maxAttempts?: number;
  maxAgeSeconds?: number;
}
export interface ExponentialPolicy {
  strategy: 'exponential';
  initialSeconds: number;
  factor?: number;
  maxSeconds: number;
  maxAttempts?: number;
  maxAgeSeconds?: number;
}
export type ResolvedRetryPolicy = SchedulePolicy | ExponentialPolicy;

export interface RetryPreset {
  policy: ResolvedRetryPolicy;
  /** Per-attempt timeout the provider promises its receivers, when it names one. */
  timeoutSeconds?: number;
  reproduces: string;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

export const RETRY_PRESETS = {
  default: {
    policy: { schedule: [5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR] },
    reproduces: 'Herald default: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts, about 27.5 h)',
  },
  omisell: {
    policy: { schedule: [120, 1800, 3 * HOUR] },
    timeoutSeconds: 3,
    reproduces: 'Omisell push: answer within 3 s; retries 2 min, 30 min, 3 h after each failure, then stop',
  },
  'production-hub': {
    policy: { schedule: [HOUR, 6 * HOUR], maxAttempts: 3, maxAgeSeconds: DAY },
    reproduces: 'Production Hub & OMS: 3 attempts within 24 h, then marked failed',
  },
  fulfillmenttools: {
    policy: { strategy: 'exponential', initialSeconds: 20, factor: 2, maxSeconds: 600, maxAgeSeconds: 7 * DAY },
    timeoutSeconds: 10,
    reproduces: 'fulfillmenttools eventing: 10 s timeout; exponential from 20 s up to 600 s, retried for 7 days',
  },
  gains: {
    policy: { schedule: [600, 600, 600] },
    timeoutSeconds: 90,
    reproduces: 'GAINS: 90 s request lifespan; "Retry Attempts" with a fixed "Retry Gap" (here 3 retries, 10 min apart; set your own with schedule)',
  },
  printprice: {
    policy: { strategy: 'exponential', initialSeconds: 30, factor: 2, maxSeconds: HOUR, maxAttempts: 12, maxAgeSeconds: DAY },
    reproduces: 'PrintPrice: retries with controlled backoff (30 s doubling to 1 h, 12 attempts within 24 h)',
  },
} as const satisfies Record<string, RetryPreset>;

export type PresetName = keyof typeof RETRY_PRESETS;
export type RetryPolicy = { preset: PresetName } | ExponentialPolicy | SchedulePolicy;

export function resolveRetryPolicy(policy: RetryPolicy | undefined): ResolvedRetryPolicy {
  if (!policy) return RETRY_PRESETS.default.policy;
  if ('preset' in policy) return RETRY_PRESETS[policy.preset].policy;
  return policy;
}

export function maxAttemptsOf(policy: ResolvedRetryPolicy): number {
  if ('schedule' in policy) return Math.min(policy.maxAttempts ?? policy.schedule.length + 1, policy.schedule.length + 1);
  // Bounded by age alone: the age ends it (fulfillmenttools-style), the count only guards runaway.
  return policy.maxAttempts ?? Number.MAX_SAFE_INTEGER;
}

/** The policy's delay after failed attempt `attempt` (1-based), before jitter. */
export function baseDelaySeconds(policy: ResolvedRetryPolicy, attempt: number): number {
  if ('schedule' in policy) return policy.schedule[Math.min(attempt, policy.schedule.length) - 1] ?? 0;
  const factor = policy.factor ?? 2;
  const raw = policy.initialSeconds * factor ** Math.min(attempt - 1, 64);
  return Math.min(raw, policy.maxSeconds);
}

export interface RetryContext {
  /** Attempts made so far, including the one that just failed (≥ 1). */
  attempt: number;
  firstAttemptAt: number;
  now: number;
  /** A number in [0, 1); Math.random in production, fixed in tests. */
  random: number;
  /** A receiver's Retry-After, in seconds; honoured but capped by the policy. */
  retryAfterSeconds?: number;
}

/**
 * Seconds until the next attempt, or undefined when the policy is exhausted (attempts used up,
 * or the next attempt would fall past `maxAgeSeconds`). Jitter of ±20 % spreads retries of many
 * deliveries that failed together, and never pushes a delay beyond the policy's own cap.
 */
/**
 * Whole seconds (SQS visibility has no finer grain) inside base ±20 %: rounding never leaves the
 * band (3 s never becomes 2 s); a band holding no whole second gives the base, rounded.
 */
export function jittered(base: number, random: number): number {
  const low = Math.ceil(base * (1 - JITTER));
  const high = Math.floor(base * (1 + JITTER));
  if (low > high) return Math.round(base);
  return Math.min(high, Math.max(low, Math.round(base * (1 - JITTER + 2 * JITTER * random))));
}

export function retryDelayFor(policy: ResolvedRetryPolicy, ctx: RetryContext): number | undefined {
  if (ctx.attempt >= maxAttemptsOf(policy)) return undefined;
  const base = baseDelaySeconds(policy, ctx.attempt);
  const cap = 'schedule' in policy ? Math.max(base, 0) : policy.maxSeconds;
  let delay = jittered(base, ctx.random);
  if (!('schedule' in policy)) delay = Math.min(delay, cap);
  if (ctx.retryAfterSeconds !== undefined) delay = Math.min(Math.max(ctx.retryAfterSeconds, 0), maxDelayOf(policy));
  if (policy.maxAgeSeconds !== undefined) {
    const deadline = ctx.firstAttemptAt + policy.maxAgeSeconds * 1000;
    if (ctx.now + delay * 1000 > deadline) return undefined;
  }
  return delay;
}

/** The longest gap the policy itself would ever wait; a Retry-After never waits longer. */
export function maxDelayOf(policy: ResolvedRetryPolicy): number {
  if ('schedule' in policy) return Math.max(0, ...policy.schedule);
  return policy.maxSeconds;
}

/**
 * When a delivery whose every attempt failed would have been given up by its policy, at the
 * latest (ms): `maxAgeSeconds` after its first attempt, or, for a policy bounded by attempts,
 * after all its gaps at their jitter's high end (a policy bounded by neither, which the schema
 * refuses, by MAX_POLICY_AGE_SECONDS). It bounds waits that are no attempts (behind a degraded
 * subscription's probe, core/degrade.ts), which spend none of the attempts a policy counts.
 */
export function policyEndsAt(policy: ResolvedRetryPolicy, firstAttemptAt: number): number {
  const attempts = maxAttemptsOf(policy);
  const bound = policy.maxAgeSeconds ?? (attempts === Number.MAX_SAFE_INTEGER ? MAX_POLICY_AGE_SECONDS : Number.POSITIVE_INFINITY);
  let seconds = 0;
  for (let attempt = 1; attempt < attempts && seconds < bound; attempt++) {
    seconds += Math.ceil(baseDelaySeconds(policy, attempt) * (1 + JITTER));
  }
  return firstAttemptAt + Math.min(seconds, bound) * 1000;
}
