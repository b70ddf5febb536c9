/**
 * What happens after one attempt: success, a retry after the policy's delay, or a failure with
 * a reason — 410 pauses, Retry-After only on 429/503 and capped by the policy.
 */
import { describe, expect, it } from 'vitest';
import { decideAfterAttempt, describeFailure, isSuccess, isSuccessStatus, judgeAnswer, parseRetryAfter, type AttemptResult } from '../../lambdas/core/delivery.ts';
import { successStatusSchema } from '../../lambdas/core/subscription.ts';
import { successStatusOf } from '../../lambdas/core/subscription-settings.ts';

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

describe('the success rule (successStatus)', () => {
  it('"2xx" (the default) accepts every 2xx and nothing else', () => {
    expect([199, 200, 204, 299, 300].map((code) => isSuccessStatus(code))).toEqual([false, true, true, true, false]);
    expect([200, 204].map((code) => isSuccessStatus(code, '2xx'))).toEqual([true, true]);
  });

  it('a list accepts exactly its codes', () => {
    expect([200, 201, 202, 302].map((code) => isSuccessStatus(code, [200, 302]))).toEqual([true, false, false, true]);
  });

  it('with [200], a 201 is a failed http_status attempt, retried by the policy', () => {
    const judged = judgeAnswer(status(201, { responseExcerpt: 'created' }), [200]);
    expect(judged).toEqual({ statusCode: 201, durationMs: 12, responseExcerpt: 'created', error: 'http_status' });
    expect(decideAfterAttempt(judged, { schedule: [7, 9] }, { ...ctx, successStatus: [200] })).toEqual({ kind: 'retry', delaySeconds: 7 });
    expect(decideAfterAttempt(status(200), undefined, { ...ctx, successStatus: [200] })).toEqual({ kind: 'succeeded' });
  });

  it('an unfollowed 3xx is a redirect failure unless the rule lists it', () => {
    const answer = status(302, { errorMessage: 'redirect to https://elsewhere.example not followed' });
    expect(judgeAnswer(answer)).toMatchObject({ error: 'redirect', errorMessage: 'redirect to https://elsewhere.example not followed' });
    expect(judgeAnswer(answer, [200, 302])).toEqual({ statusCode: 302, durationMs: 12 });
  });

  it('a non-2xx success keeps no failure detail; failures keep Retry-After for 429/503', () => {
    expect(judgeAnswer(status(503, { retryAfterSeconds: 30 }), [503])).toEqual({ statusCode: 503, durationMs: 12 });
    const judged = judgeAnswer(status(503, { retryAfterSeconds: 30 }), [200]);
    expect(judged).toMatchObject({ error: 'http_status', retryAfterSeconds: 30 });
    expect(decideAfterAttempt(judged, { schedule: [10, 60] }, { ...ctx, successStatus: [200] })).toEqual({ kind: 'retry', delaySeconds: 30 });
  });

  it('410 Gone still pauses the subscription under any rule that does not list it', () => {
    const decision = decideAfterAttempt(judgeAnswer(status(410), [200]), { schedule: [1] }, { ...ctx, successStatus: [200] });
    expect(decision).toMatchObject({ kind: 'failed', pauseSubscription: true });
  });

  it('transport failures pass through unjudged', () => {
    const timeout: AttemptResult = { durationMs: 15_000, error: 'timeout', errorMessage: 'no answer' };
    expect(judgeAnswer(timeout, [200])).toBe(timeout);
    expect(isSuccess({ statusCode: 200, durationMs: 1, error: 'timeout' }, [200])).toBe(false);
  });

  it('applies to webhook and http destinations; an EventBridge destination is judged as 2xx', () => {
    const webhook = { type: 'webhook' as const, url: 'https://example.com/hook' };
    expect(successStatusOf({ destination: webhook })).toBe('2xx');
    expect(successStatusOf({ destination: webhook, successStatus: [200] })).toEqual([200]);
    expect(successStatusOf({ destination: { type: 'http', url: 'https://api.example.com' }, successStatus: [202] })).toEqual([202]);
    expect(successStatusOf({ destination: { type: 'eventbridge', eventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/b' }, successStatus: [200] })).toBe('2xx');
  });

  it('the schema takes "2xx" or 1–20 unique codes in 100–599', () => {
    expect(successStatusSchema.safeParse('2xx').success).toBe(true);
    expect(successStatusSchema.safeParse([200, 202]).success).toBe(true);
    for (const bad of ['200', '3xx', [], [99], [600], [200.5], [200, 200], Array.from({ length: 21 }, (_, i) => 200 + i)]) {
      expect(successStatusSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
