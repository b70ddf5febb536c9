/**
 * Degrade, don't spread (lambdas/core/degrade.ts): a subscription whose endpoint keeps failing is
 * judged degraded from its health record, its retries then wait at least a minute, the judgement
 * shows in its statistics, and the deliver path reads the record at most once per batch.
 */
import { describe, expect, it } from 'vitest';
import { DEGRADE_AFTER, DEGRADED_MIN_RETRY_SECONDS, degradationOf, degradedLookup, paceRetry } from '../../lambdas/core/degrade.ts';
import { summarizeStats } from '../../lambdas/core/stats.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const since = (seconds: number) => new Date(T0 - seconds * 1000).toISOString();

describe('degradationOf', () => {
  it('is degraded after enough consecutive failures over long enough, with a reason that says what Herald does', () => {
    const d = degradationOf({ consecutiveFailures: DEGRADE_AFTER.failures, failingSince: since(DEGRADE_AFTER.seconds) }, T0);
    expect(d.degraded).toBe(true);
    expect(d.reason).toContain(`${DEGRADE_AFTER.failures} consecutive failed attempts`);
    expect(d.reason).toContain(`at least ${DEGRADED_MIN_RETRY_SECONDS} s`);
  });

  it('is not degraded by a short burst, a few failures, or a healthy record', () => {
    expect(degradationOf({ consecutiveFailures: 500, failingSince: since(DEGRADE_AFTER.seconds - 1) }, T0)).toEqual({ degraded: false, reason: null });
    expect(degradationOf({ consecutiveFailures: DEGRADE_AFTER.failures - 1, failingSince: since(3600) }, T0).degraded).toBe(false);
    expect(degradationOf({ consecutiveFailures: 0 }, T0).degraded).toBe(false);
    expect(degradationOf(undefined, T0).degraded).toBe(false);
  });
});

describe('paceRetry', () => {
  it('raises a degraded subscription’s retry delay to the minimum, and leaves everything else alone', () => {
    expect(paceRetry({ kind: 'retry', delaySeconds: 5 }, true)).toEqual({ kind: 'retry', delaySeconds: DEGRADED_MIN_RETRY_SECONDS });
    expect(paceRetry({ kind: 'retry', delaySeconds: 600 }, true)).toEqual({ kind: 'retry', delaySeconds: 600 });
    expect(paceRetry({ kind: 'retry', delaySeconds: 5 }, false)).toEqual({ kind: 'retry', delaySeconds: 5 });
    expect(paceRetry({ kind: 'failed', reason: 'x' }, true)).toEqual({ kind: 'failed', reason: 'x' });
    // A policy of seconds-apart retries moves to its own longest gap, not past it.
    expect(paceRetry({ kind: 'retry', delaySeconds: 1 }, true, 5)).toEqual({ kind: 'retry', delaySeconds: 5 });
    expect(paceRetry({ kind: 'retry', delaySeconds: 1 }, true, 3600)).toEqual({ kind: 'retry', delaySeconds: DEGRADED_MIN_RETRY_SECONDS });
  });
});

describe('degradedLookup', () => {
  it('reads each subscription’s health once per batch, and a failed read degrades nothing', async () => {
    const reads: string[] = [];
    const lookup = degradedLookup(async (t, s) => {
      reads.push(`${t}/${s}`);
      if (s === 'sub_broken') throw new Error('throttled');
      return { consecutiveFailures: 50, failingSince: since(600) };
    }, () => T0);
    expect(await Promise.all([lookup('ten_a', 'sub_1'), lookup('ten_a', 'sub_1'), lookup('ten_a', 'sub_2')])).toEqual([true, true, true]);
    expect(await lookup('ten_a', 'sub_broken')).toBe(false);
    expect(reads).toEqual(['ten_a/sub_1', 'ten_a/sub_2', 'ten_a/sub_broken']);
  });
});

describe('statistics', () => {
  it('show whether a subscription is degraded, and why', () => {
    const buckets = { minutes: {}, hours: {} };
    const failing = summarizeStats('sub_1', buckets, { consecutiveFailures: 40, failingSince: since(300) }, T0);
    expect(failing.degraded).toBe(true);
    expect(failing.degradedReason).toMatch(/^endpoint failing: 40 consecutive failed attempts since/);
    const healthy = summarizeStats('sub_1', buckets, { consecutiveFailures: 0 }, T0);
    expect({ degraded: healthy.degraded, degradedReason: healthy.degradedReason }).toEqual({ degraded: false, degradedReason: null });
  });
});
