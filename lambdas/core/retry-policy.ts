import * as z from 'zod';

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

const delaySeconds = z.number().int('must be a whole number of seconds').min(0, 'must not be negative').max(MAX_POLICY_AGE_SECONDS);
const maxAttempts = z.number().int().min(1).max(MAX_ATTEMPTS, `at most ${MAX_ATTEMPTS} attempts`);
const maxAgeSeconds = z.number().int().min(1).max(MAX_POLICY_AGE_SECONDS, 'must fit in SQS retention (14 days, 1209600 s)');

export const schedulePolicySchema = z
  .object({
    schedule: z.array(delaySeconds).max(MAX_ATTEMPTS - 1, `at most ${MAX_ATTEMPTS - 1} retries`),
    maxAttempts: maxAttempts.optional(),
    maxAgeSeconds: maxAgeSeconds.optional(),
  })
  .strict();

export const exponentialPolicySchema = z
  .object({
    strategy: z.literal('exponential'),
    initialSeconds: delaySeconds.refine((v) => v >= 1, 'must be at least 1'),
    factor: z.number().min(1).max(10).optional(),
    maxSeconds: delaySeconds.refine((v) => v >= 1, 'must be at least 1'),
    maxAttempts: maxAttempts.optional(),
    maxAgeSeconds: maxAgeSeconds.optional(),
  })
  .strict()
  .refine((p) => p.maxSeconds >= p.initialSeconds, { path: ['maxSeconds'], message: 'must be at least initialSeconds' })
  .refine((p) => p.maxAttempts !== undefined || p.maxAgeSeconds !== undefined, {
    path: ['maxAttempts'],
    message: 'an exponential policy needs maxAttempts or maxAgeSeconds to end',
  })
  .refine((p) => p.maxAttempts !== undefined || worstCaseAttempts(p) <= MAX_AGE_BOUND_ATTEMPTS, {
    path: ['maxAgeSeconds'],
    message: `bounded by age alone, the policy would make more than ${MAX_AGE_BOUND_ATTEMPTS} attempts: raise initialSeconds, factor or maxSeconds, shorten maxAgeSeconds, or set maxAttempts`,
  });

/** Attempts an age-bounded exponential policy makes when jitter always draws the shortest gap. */
function worstCaseAttempts(p: { initialSeconds: number; factor?: number; maxSeconds: number; maxAgeSeconds?: number }): number {
  if (p.maxAgeSeconds === undefined) return 1;
  let attempts = 1;
  let elapsed = 0;
  while (attempts <= MAX_AGE_BOUND_ATTEMPTS) {
    const base = Math.min(p.initialSeconds * (p.factor ?? 2) ** Math.min(attempts - 1, 64), p.maxSeconds);
    elapsed += Math.max(1, Math.round(base * (1 - JITTER)));
    if (elapsed > p.maxAgeSeconds) break;
    attempts += 1;
  }
  return attempts;
}

export type SchedulePolicy = z.infer<typeof schedulePolicySchema>;
export type ExponentialPolicy = z.infer<typeof exponentialPolicySchema>;
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
const presetNames = Object.keys(RETRY_PRESETS) as [PresetName, ...PresetName[]];

export const presetPolicySchema = z.object({ preset: z.enum(presetNames) }).strict();

export type RetryPolicy = z.infer<typeof presetPolicySchema> | ExponentialPolicy | SchedulePolicy;

/**
 * The three shapes are told apart by their keys (`preset`, `strategy`, else a `schedule`), so a
 * mistake is reported against the field that is wrong, not as "matches none of three shapes".
 */
export const retryPolicySchema = z.unknown().transform((value, ctx): RetryPolicy => {
  const shape = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (!shape) {
    ctx.addIssue({ code: 'custom', message: 'must be an object: {preset}, {schedule, …} or {strategy: "exponential", …}' });
    return z.NEVER;
  }
  const schema = 'preset' in shape ? presetPolicySchema : 'strategy' in shape ? exponentialPolicySchema : schedulePolicySchema;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  return z.NEVER;
});

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
