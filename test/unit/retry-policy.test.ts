/**
 * Retry schedules: the delays follow the policy within ±20 % jitter, never exceed the policy's
 * caps, a Retry-After is honoured but capped, and a delivery's whole life never passes
 * `maxAgeSeconds` — as examples and as fast-check properties over arbitrary policies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  JITTER,
  MAX_AGE_BOUND_ATTEMPTS,
  MAX_ATTEMPTS,
  MAX_POLICY_AGE_SECONDS,
  RETRY_PRESETS,
  baseDelaySeconds,
  maxAttemptsOf,
  maxDelayOf,
  policyEndsAt,
  resolveRetryPolicy,
  retryDelayFor,
  type ResolvedRetryPolicy,
} from '../../lambdas/core/retry-policy.ts';
import { retryPolicySchema } from '../../lambdas/core/retry-policy-schema.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

/** Runs a policy to its end: every attempt fails and takes `durationsMs[i]`; returns the gaps. */
function simulate(policy: ResolvedRetryPolicy, randoms: number[], durationsMs: number[] = []): { delays: number[]; attempts: number; lastAttemptAt: number } {
  const delays: number[] = [];
  let now = T0;
  let attempt = 1;
  for (;;) {
    now += durationsMs[attempt - 1] ?? 0;
    const delay = retryDelayFor(policy, { attempt, firstAttemptAt: T0, now, random: randoms[(attempt - 1) % randoms.length] ?? 0.5 });
    if (delay === undefined) return { delays, attempts: attempt, lastAttemptAt: now };
    delays.push(delay);
    now += delay * 1000;
    attempt += 1;
    if (attempt > 10_000) throw new Error('policy never ends');
  }
}

const schedulePolicy = fc.record(
  {
    schedule: fc.array(fc.integer({ min: 0, max: 2 * 86_400 }), { maxLength: MAX_ATTEMPTS - 1 }),
    maxAttempts: fc.integer({ min: 1, max: MAX_ATTEMPTS }),
    maxAgeSeconds: fc.integer({ min: 1, max: MAX_POLICY_AGE_SECONDS }),
  },
  { requiredKeys: ['schedule'] },
);

const exponentialPolicy = fc
  .record({
    initialSeconds: fc.integer({ min: 1, max: 3600 }),
    factor: fc.double({ min: 1, max: 10, noNaN: true }),
    maxExtra: fc.integer({ min: 0, max: 86_400 }),
    maxAttempts: fc.integer({ min: 1, max: MAX_ATTEMPTS }),
    maxAgeSeconds: fc.integer({ min: 1, max: MAX_POLICY_AGE_SECONDS }),
    bound: fc.constantFrom('attempts', 'age', 'both'),
  })
  .map(({ initialSeconds, factor, maxExtra, maxAttempts, maxAgeSeconds, bound }) => {
    const maxSeconds = initialSeconds + maxExtra;
    // Bounded by age alone, validation refuses policies that would pass MAX_AGE_BOUND_ATTEMPTS.
    const age = bound === 'age' ? Math.min(maxAgeSeconds, maxSeconds * 100) : maxAgeSeconds;
    return {
      strategy: 'exponential' as const,
      initialSeconds,
      factor,
      maxSeconds,
      ...(bound !== 'age' ? { maxAttempts } : {}),
      ...(bound !== 'attempts' ? { maxAgeSeconds: age } : {}),
    };
  })
  .filter((policy) => retryPolicySchema.safeParse(policy).success);

const anyPolicy: fc.Arbitrary<ResolvedRetryPolicy> = fc.oneof(schedulePolicy, exponentialPolicy);
const randoms = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 });

describe('schedule properties (fast-check)', () => {
  it('every generated policy passes its own validation', () => {
    fc.assert(fc.property(anyPolicy, (policy) => retryPolicySchema.safeParse(policy).success));
  });

  it('each delay is the policy’s delay within ±20 % jitter, never above the cap', () => {
    fc.assert(
      fc.property(anyPolicy, randoms, (policy, rs) => {
        const { delays } = simulate(policy, rs);
        delays.forEach((delay, i) => {
          const base = baseDelaySeconds(policy, i + 1);
          // Whole seconds inside the band, or the base itself when the band holds no whole second.
          const [low, high] = [Math.ceil(base * (1 - JITTER)), Math.floor(base * (1 + JITTER))];
          if (low <= high) {
            expect(delay).toBeGreaterThanOrEqual(Math.min(low, 'schedule' in policy ? low : policy.maxSeconds));
            expect(delay).toBeLessThanOrEqual(high);
          } else expect(delay).toBe(Math.min(Math.round(base), 'schedule' in policy ? Math.round(base) : policy.maxSeconds));
          expect(delay).toBeLessThanOrEqual('schedule' in policy ? Math.round(base * (1 + JITTER)) : policy.maxSeconds);
        });
      }),
    );
  });

  it('never makes more attempts than maxAttempts, nor more than the schedule has steps', () => {
    fc.assert(
      fc.property(anyPolicy, randoms, (policy, rs) => {
        const { attempts } = simulate(policy, rs);
        if (policy.maxAttempts !== undefined) expect(attempts).toBeLessThanOrEqual(policy.maxAttempts);
        if ('schedule' in policy) expect(attempts).toBeLessThanOrEqual(policy.schedule.length + 1);
        else if (policy.maxAttempts === undefined) expect(attempts).toBeLessThanOrEqual(MAX_AGE_BOUND_ATTEMPTS);
        expect(attempts).toBeLessThanOrEqual(maxAttemptsOf(policy));
      }),
    );
  });

  it('the last attempt never falls past maxAgeSeconds, however long the attempts take', () => {
    fc.assert(
      fc.property(anyPolicy, randoms, fc.array(fc.integer({ min: 0, max: 90_000 }), { maxLength: 100 }), (policy, rs, durations) => {
        const { delays, lastAttemptAt } = simulate(policy, rs, durations);
        if (policy.maxAgeSeconds === undefined) return;
        const scheduledSpan = delays.reduce((sum, d) => sum + d, 0);
        expect(scheduledSpan).toBeLessThanOrEqual(policy.maxAgeSeconds);
        // The start of the last attempt is within the age; its own duration may run past it.
        const lastStart = lastAttemptAt - (durations[delays.length] ?? 0);
        expect(lastStart - T0).toBeLessThanOrEqual(policy.maxAgeSeconds * 1000);
      }),
    );
  });

  it('a Retry-After is honoured but never waits longer than the policy’s longest gap', () => {
    fc.assert(
      fc.property(anyPolicy, fc.integer({ min: -10, max: 10 * 86_400 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (policy, retryAfter, random) => {
        const delay = retryDelayFor(policy, { attempt: 1, firstAttemptAt: T0, now: T0, random, retryAfterSeconds: retryAfter });
        if (delay === undefined) return;
        expect(delay).toBe(Math.min(Math.max(retryAfter, 0), maxDelayOf(policy)));
      }),
    );
  });

  it('is deterministic for a given random draw', () => {
    fc.assert(
      fc.property(anyPolicy, randoms, (policy, rs) => {
        expect(simulate(policy, rs)).toEqual(simulate(policy, rs));
      }),
    );
  });

  it('policyEndsAt, which bounds waits that are no attempts, is never before the policy’s own last attempt', () => {
    fc.assert(
      fc.property(anyPolicy, randoms, (policy, rs) => {
        const end = policyEndsAt(policy, T0);
        expect(end).toBeGreaterThanOrEqual(simulate(policy, rs).lastAttemptAt);
        if (policy.maxAgeSeconds !== undefined) expect(end).toBeLessThanOrEqual(T0 + policy.maxAgeSeconds * 1000);
      }),
    );
  });
});

describe('policyEndsAt', () => {
  it('is maxAgeSeconds after the first attempt, or the gaps at their jitter’s high end', () => {
    expect(policyEndsAt(RETRY_PRESETS['production-hub'].policy, T0)).toBe(T0 + (3600 + 6 * 3600) * 1.2 * 1000);
    expect(policyEndsAt(RETRY_PRESETS.fulfillmenttools.policy, T0)).toBe(T0 + 7 * 86_400 * 1000);
    expect(policyEndsAt({ schedule: [1, 2, 3, 5, 5, 5, 5, 5, 10, 10] }, T0)).toBe(T0 + (2 + 3 + 4 + 6 * 5 + 12 * 2) * 1000);
  });
});

describe('presets reproduce the provider documents', () => {
  const noJitter = [0.5];

  it('default: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(simulate(RETRY_PRESETS.default.policy, noJitter)).toMatchObject({ delays: [5, 300, 1800, 7200, 18_000, 36_000, 36_000], attempts: 8 });
    expect(resolveRetryPolicy(undefined)).toBe(RETRY_PRESETS.default.policy);
  });

  it('omisell: retries 2 min, 30 min, 3 h after the first failure, then stops; 3 s timeout', () => {
    expect(simulate(RETRY_PRESETS.omisell.policy, noJitter)).toMatchObject({ delays: [120, 1800, 10_800], attempts: 4 });
    expect(RETRY_PRESETS.omisell.timeoutSeconds).toBe(3);
  });

  it('production-hub: 3 attempts within 24 h', () => {
    const run = simulate(RETRY_PRESETS['production-hub'].policy, noJitter);
    expect(run.attempts).toBe(3);
    expect(run.delays.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(86_400);
  });

  it('fulfillmenttools: exponential from 20 s capped at 600 s, for 7 days', () => {
    const run = simulate(RETRY_PRESETS.fulfillmenttools.policy, noJitter);
    expect(run.delays.slice(0, 7)).toEqual([20, 40, 80, 160, 320, 600, 600]);
    const span = run.delays.reduce((a, b) => a + b, 0);
    expect(span).toBeLessThanOrEqual(7 * 86_400);
    expect(span).toBeGreaterThan(7 * 86_400 - 600);
    expect(RETRY_PRESETS.fulfillmenttools.timeoutSeconds).toBe(10);
  });

  it('gains: a fixed retry gap and a 90 s request lifespan', () => {
    expect(simulate(RETRY_PRESETS.gains.policy, noJitter).delays).toEqual([600, 600, 600]);
    expect(RETRY_PRESETS.gains.timeoutSeconds).toBe(90);
  });

  it('printprice: controlled backoff within 24 h', () => {
    const run = simulate(RETRY_PRESETS.printprice.policy, noJitter);
    expect(run.attempts).toBeLessThanOrEqual(12);
    expect(run.delays[0]).toBe(30);
    expect(Math.max(...run.delays)).toBeLessThanOrEqual(3600);
  });

  it('every preset is a valid policy and a valid request body', () => {
    for (const [name, preset] of Object.entries(RETRY_PRESETS)) {
      expect(retryPolicySchema.safeParse(preset.policy).success, name).toBe(true);
      expect(retryPolicySchema.safeParse({ preset: name }).success, name).toBe(true);
    }
  });
});

describe('validation', () => {
  const problems = (policy: unknown) => {
    const result = retryPolicySchema.safeParse(policy);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it.each([
    [{ schedule: [-1] }, 'schedule.0'],
    [{ schedule: [1.5] }, 'schedule.0'],
    [{ schedule: Array(100).fill(1) }, 'schedule'],
    [{ schedule: [1], maxAttempts: 101 }, 'maxAttempts'],
    [{ schedule: [1], maxAgeSeconds: MAX_POLICY_AGE_SECONDS + 1 }, 'maxAgeSeconds'],
    [{ strategy: 'exponential', initialSeconds: 10, maxSeconds: 5, maxAttempts: 3 }, 'maxSeconds'],
    [{ strategy: 'exponential', initialSeconds: 10, maxSeconds: 50 }, 'maxAttempts'],
    [{ strategy: 'exponential', initialSeconds: 0, maxSeconds: 50, maxAttempts: 2 }, 'initialSeconds'],
    [{ strategy: 'exponential', initialSeconds: 1, factor: 0.5, maxSeconds: 50, maxAttempts: 2 }, 'factor'],
    [{ preset: 'nope' }, 'preset'],
    [{ strategy: 'exponential', initialSeconds: 1, maxSeconds: 1, maxAgeSeconds: 86_400 }, 'maxAgeSeconds'],
    [{ strategy: 'exponential', initialSeconds: 5, factor: 1, maxSeconds: 600, maxAgeSeconds: 86_400 }, 'maxAgeSeconds'],
    [{ schedule: [1], extra: true }, 'extra'],
    ['fast', ''],
  ])('refuses %j naming %s', (policy, field) => {
    const found = problems(policy);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((p) => p.startsWith(`${field}:`) || p.includes(field))).toBe(true);
  });

  it('accepts an empty schedule: one attempt, no retries', () => {
    expect(problems({ schedule: [] })).toEqual([]);
    expect(simulate({ schedule: [] }, [0.5]).attempts).toBe(1);
  });
});
