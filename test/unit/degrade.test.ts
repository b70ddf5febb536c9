/**
 * Degrade, don't spread (lambdas/core/degrade.ts): a subscription whose endpoint keeps failing is
 * judged degraded from its health record, its retries then wait at least a minute, the judgement
 * shows in its statistics, and the deliver path reads the record at most once per batch. While it
 * is degraded, one delivery per probe interval wins the trial attempt (one conditional write,
 * none for a loss already visible in the read), and the losers' waits are long and spread.
 */
import { describe, expect, it } from 'vitest';
import { BatchProbeGate, DEGRADE_AFTER, DEGRADED_MIN_RETRY_SECONDS, degradationOf, paceRetry, PROBE_WAIT, probeIntervalOf, probeWaitSeconds } from '../../lambdas/core/degrade.ts';
import { summarizeStats } from '../../lambdas/core/stats.ts';
import { InMemoryStatsStore } from '../support/in-memory-ports.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const since = (seconds: number) => new Date(T0 - seconds * 1000).toISOString();

describe('degradationOf', () => {
  it('is degraded after enough consecutive failures over long enough, with a reason that says what Herald does', () => {
    const d = degradationOf({ consecutiveFailures: DEGRADE_AFTER.failures, failingSince: since(DEGRADE_AFTER.seconds) }, T0);
    expect(d.degraded).toBe(true);
    expect(d.reason).toContain(`${DEGRADE_AFTER.failures} consecutive failed attempts`);
    expect(d.reason).toContain(`its deliveries wait behind one trial attempt every ${DEGRADED_MIN_RETRY_SECONDS} s`);
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
    // A compressed probe interval (the deliver function's setting) compresses the floor with it.
    expect(paceRetry({ kind: 'retry', delaySeconds: 1 }, true, 3600, 2)).toEqual({ kind: 'retry', delaySeconds: 2 });
  });
});

describe('probe interval and waits', () => {
  it('one trial attempt a minute, or at the policy’s own longest gap if shorter, never under a second', () => {
    expect(probeIntervalOf(36_000)).toBe(DEGRADED_MIN_RETRY_SECONDS);
    expect(probeIntervalOf(10)).toBe(10);
    expect(probeIntervalOf(0)).toBe(1);
    expect(probeIntervalOf(36_000, 2)).toBe(2);
  });

  it('a loser waits 5 to 15 minutes, spread evenly, at most SQS’s longest delay; a compressed interval compresses it', () => {
    expect(probeWaitSeconds(0)).toBe(PROBE_WAIT.minIntervals * DEGRADED_MIN_RETRY_SECONDS);
    expect(probeWaitSeconds(0.5)).toBe(600);
    expect(probeWaitSeconds(0.999_999)).toBe(900);
    expect(probeWaitSeconds(0, 1)).toBe(5);
    expect(probeWaitSeconds(0.999_999, 1)).toBe(15);
    expect(probeWaitSeconds(0.999_999, 900)).toBe(900);
  });
});

describe('BatchProbeGate', () => {
  const failing = () => ({ consecutiveFailures: 50, failingSince: since(600) });

  it('reads each subscription’s health once per batch, and a failed read degrades nothing', async () => {
    const reads: string[] = [];
    const store = {
      readHealth: async (t: string, s: string) => {
        reads.push(`${t}/${s}`);
        if (s === 'sub_broken') throw new Error('throttled');
        return failing();
      },
      claimProbe: async () => true,
    };
    const gate = new BatchProbeGate(store, () => T0);
    expect(await Promise.all([gate.degraded('ten_a', 'sub_1'), gate.degraded('ten_a', 'sub_1'), gate.degraded('ten_a', 'sub_2')])).toEqual([true, true, true]);
    expect(await gate.degraded('ten_a', 'sub_broken')).toBe(false);
    expect(reads).toEqual(['ten_a/sub_1', 'ten_a/sub_2', 'ten_a/sub_broken']);
  });

  it('one probe per interval: the batch’s first ask claims it in one write, the rest lose without one', async () => {
    const store = new InMemoryStatsStore();
    store.health.set('ten_a#sub_1', failing());
    let now = T0;
    const batch = () => new BatchProbeGate(store, () => now);
    const first = batch();
    expect(await first.probe('ten_a', 'sub_1', 60)).toBe(true);
    expect(await first.probe('ten_a', 'sub_1', 60)).toBe(false);
    expect(store.claims).toBe(1);
    expect(store.health.get('ten_a#sub_1')!.probeAt).toBe(new Date(T0).toISOString());
    // Another batch within the interval sees the claim in its read: no write.
    now = T0 + 59_000;
    expect(await batch().probe('ten_a', 'sub_1', 60)).toBe(false);
    expect(store.claims).toBe(1);
    // The next interval's first ask wins.
    now = T0 + 60_000;
    expect(await batch().probe('ten_a', 'sub_1', 60)).toBe(true);
    expect(store.claims).toBe(2);
  });

  it('of two batches that read the same open window, the conditional write lets one win', async () => {
    const store = new InMemoryStatsStore();
    store.health.set('ten_a#sub_1', failing());
    const a = new BatchProbeGate(store, () => T0);
    const b = new BatchProbeGate(store, () => T0 + 10);
    await Promise.all([a.degraded('ten_a', 'sub_1'), b.degraded('ten_a', 'sub_1')]);
    expect([await a.probe('ten_a', 'sub_1', 60), await b.probe('ten_a', 'sub_1', 60)]).toEqual([true, false]);
    expect(store.lostClaims).toBe(1);
  });

  it('a failed claim write lets the delivery go: the gate never strands one', async () => {
    const gate = new BatchProbeGate({ readHealth: async () => failing(), claimProbe: async () => Promise.reject(new Error('throttled')) }, () => T0);
    expect(await gate.probe('ten_a', 'sub_1', 60)).toBe(true);
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
