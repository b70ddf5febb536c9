import * as z from 'zod';
import {
  JITTER,
  MAX_AGE_BOUND_ATTEMPTS,
  MAX_ATTEMPTS,
  MAX_POLICY_AGE_SECONDS,
  RETRY_PRESETS,
  type ExponentialPolicy,
  type PresetName,
  type RetryPolicy,
  type SchedulePolicy,
} from './retry-policy.ts';
import { documentedAs } from './documented-shape.ts';

/** How the API checks a subscription's `retryPolicy` (the policy itself: retry-policy.ts). */
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

const presetNames = Object.keys(RETRY_PRESETS) as [PresetName, ...PresetName[]];

export const presetPolicySchema = z.object({ preset: z.enum(presetNames) }).strict();

const presetList = Object.entries(RETRY_PRESETS)
  .map(([name, preset]) => `\`${name}\`: ${preset.reproduces}`)
  .join('; ');

/** What the API documents a retry policy as: the three shapes, each named. */
const documentedRetryPolicy = z.union([
  presetPolicySchema.meta({ id: 'RetryPolicyPreset', description: `A named preset. ${presetList}.` }),
  schedulePolicySchema.meta({
    id: 'RetryPolicySchedule',
    description: 'Retries after the listed delays (seconds after each failure; the first attempt is immediate), optionally ended earlier by maxAttempts or maxAgeSeconds',
  }),
  exponentialPolicySchema.meta({
    id: 'RetryPolicyExponential',
    description: `Delays from initialSeconds growing by factor (default 2) up to maxSeconds, with ±${JITTER * 100}% jitter; ends at maxAttempts or maxAgeSeconds (at least one)`,
  }),
]).meta({ id: 'RetryPolicy', description: 'When failed attempts are retried: a preset, a schedule of delays, or exponential backoff. Default: the `default` preset.' });


/**
 * The three shapes are told apart by their keys (`preset`, `strategy`, else a `schedule`), so a
 * mistake is reported against the field that is wrong, not as "matches none of three shapes".
 */
export const retryPolicySchema = documentedAs(z.unknown().transform((value, ctx): RetryPolicy => {
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
}), documentedRetryPolicy);

// The schemas and the plain types of retry-policy.ts describe the same shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _shapes: [Same<z.infer<typeof schedulePolicySchema>, SchedulePolicy>, Same<z.infer<typeof exponentialPolicySchema>, ExponentialPolicy>] = [true, true];
void _shapes;
