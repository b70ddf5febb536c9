/**
 * What happens after one attempt: success, a retry after the policy's delay, or a failure with
 * a reason — 410 pauses, Retry-After only on 429/503 and capped by the policy.
 */
import { describe, expect, it } from 'vitest';
import { decideAfterAttempt, describeFailure, isSuccess, parseRetryAfter, type AttemptResult } from '../../lambdas/core/delivery.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const ctx = { attempt: 1, firstAttemptAt: T0, now: T0, random: 0.5 };
const status = (statusCode: number, extra: Partial<AttemptResult> = {}): AttemptResult => ({ statusCode, durationMs: 12, ...extra });

describe('decideAfterAttempt', () => {
  it.each([200, 201, 202, 204, 299])('%i is a success', (code) => {
    expect(decideAfterAttempt(status(code), undefined, ctx)).toEqual({ kind: 'succeeded' });
  });

  it.each([301, 302, 307, 400, 401, 404, 500, 502, 504])('%i is retried on the policy’s schedule', (code) => {
    expect(decideAfterAttempt(status(code), { schedule: [7, 9] }, ctx)).toEqual({ kind: 'retry', delaySeconds: 7 });
  });

  it('a 2xx with a transport error recorded is not a success', () => {
    expect(isSuccess({ statusCode: 200, durationMs: 1, error: 'timeout' })).toBe(false);
  });

  it('410 Gone fails at once and pauses the subscription, whatever the policy', () => {
    const decision = decideAfterAttempt(status(410), { schedule: [1, 1, 1] }, ctx);
    expect(decision).toMatchObject({ kind: 'failed', pauseSubscription: true });
    expect(decision.kind === 'failed' && decision.reason).toMatch(/410 Gone/);
  });

  it('honours Retry-After on 429 and 503, capped by the policy’s longest gap', () => {
    const policy = { schedule: [10, 60] };
    expect(decideAfterAttempt(status(429, { retryAfterSeconds: 30 }), policy, ctx)).toEqual({ kind: 'retry', delaySeconds: 30 });
    expect(decideAfterAttempt(status(503, { retryAfterSeconds: 3600 }), policy, ctx)).toEqual({ kind: 'retry', delaySeconds: 60 });
    expect(decideAfterAttempt(status(503, { retryAfterSeconds: 0 }), policy, ctx)).toEqual({ kind: 'retry', delaySeconds: 0 });
  });

  it('ignores Retry-After on other statuses', () => {
    expect(decideAfterAttempt(status(500, { retryAfterSeconds: 45 }), { schedule: [10, 60] }, ctx)).toEqual({ kind: 'retry', delaySeconds: 10 });
  });

  it('fails with a reason naming the attempts and the last outcome when the policy is exhausted', () => {
    const decision = decideAfterAttempt(status(500), { schedule: [5] }, { ...ctx, attempt: 2 });
    expect(decision).toEqual({ kind: 'failed', reason: 'retry policy exhausted after 2 attempt(s); last: endpoint answered HTTP 500' });
  });

  it('fails when the next attempt would fall past maxAgeSeconds', () => {
    const decision = decideAfterAttempt(status(500), { schedule: [60, 60], maxAgeSeconds: 100 }, { ...ctx, attempt: 2, now: T0 + 61_000 });
    expect(decision.kind).toBe('failed');
  });

  it('describes transport failures by class', () => {
    expect(describeFailure({ durationMs: 1, error: 'timeout', errorMessage: 'no response within 15 s' })).toBe('timeout: no response within 15 s');
    expect(describeFailure({ durationMs: 1, error: 'blocked_destination' })).toBe('blocked_destination');
    expect(describeFailure({ durationMs: 1 })).toBe('endpoint answered HTTP nothing');
  });
});

describe('parseRetryAfter', () => {
  const now = new Date(T0);
  it('reads delta-seconds', () => expect(parseRetryAfter(' 120 ', now)).toBe(120));
  it('reads an HTTP date', () => expect(parseRetryAfter(new Date(T0 + 90_500).toUTCString(), now)).toBe(90));
  it('treats a past date as now', () => expect(parseRetryAfter(new Date(T0 - 60_000).toUTCString(), now)).toBe(0));
  it.each([undefined, '', 'soon', '-5', '1.5'])('ignores %j', (value) => expect(parseRetryAfter(value, now)).toBeUndefined());
});
