/**
 * The console's words for numbers (console/format.ts): retry policies and their schedules in
 * plain language, health from stats, durations and relative times, masked header values.
 */
import { describe, expect, it } from 'vitest';
import type { Stats, Subscription } from '../../console/api.ts';
import { duration, healthOf, maskValue, relativeTime, retryPolicyInWords, retrySchedule } from '../../console/format.ts';

const sub = (status: 'active' | 'paused' = 'active') => ({ id: 'sub_x', name: 'x', eventTypes: ['order.created'], destination: { type: 'webhook', url: 'https://x' }, status, createdAt: '' }) as unknown as Subscription;
const stats = (day: { attempts?: number; successRate?: number | null }, failing?: { consecutiveFailures: number; failingSince: string }) =>
  ({ subscriptionId: 'sub_x', hourly: [], windows: { '24h': day }, ...failing }) as unknown as Stats;

describe('retry policies in words', () => {
  it('says the default, a preset and a custom schedule with their waits and limits', () => {
    expect(retryPolicyInWords(undefined)).toBe('Herald default: first attempt at once, retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; 8 attempts at most, then the delivery is dead-lettered');
    expect(retryPolicyInWords({ preset: 'omisell' })).toBe('Preset “omisell”: first attempt at once, retries after 2 min, 30 min, 3 h; 4 attempts at most, then the delivery is dead-lettered');
    expect(retryPolicyInWords({ schedule: [], maxAttempts: 1 })).toBe('Custom: first attempt at once, no retries; 1 attempt at most, then the delivery is dead-lettered');
  });

  it('shows an exponential policy bounded by age as the first waits and the age', () => {
    const fulfillment = retrySchedule({ preset: 'fulfillmenttools' });
    expect(fulfillment.gaps.slice(0, 6)).toEqual(['20 s', '40 s', '1.3 min', '2.7 min', '5.3 min', '10 min']);
    expect(fulfillment.more).toBe(true);
    expect(fulfillment.attempts).toBe('until 7 days have passed');
  });
});

describe('health', () => {
  it('is paused, failing, degraded, no traffic or healthy, in that order of precedence', () => {
    expect(healthOf(sub('paused'), stats({ attempts: 5, successRate: 1 }))).toBe('paused');
    expect(healthOf(sub(), undefined)).toBe('unknown');
    expect(healthOf(sub(), stats({ attempts: 5, successRate: 0.2 }, { consecutiveFailures: 3, failingSince: '2026-12-01T00:00:00Z' }))).toBe('failing');
    expect(healthOf(sub(), stats({ attempts: 0 }))).toBe('no traffic');
    expect(healthOf(sub(), stats({ attempts: 100, successRate: 0.9 }))).toBe('degraded');
    expect(healthOf(sub(), stats({ attempts: 100, successRate: 0.99 }))).toBe('healthy');
  });
});

describe('numbers and secrets', () => {
  it('durations and relative times', () => {
    expect([duration(5), duration(90), duration(7200), duration(3 * 86_400)]).toEqual(['5 s', '1.5 min', '2 h', '3 days']);
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(relativeTime('2026-12-01T11:59:50Z', now)).toBe('just now');
    expect(relativeTime('2026-12-01T11:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-12-01T14:00:00Z', now)).toBe('in 2 h');
  });

  it('masks header values, short ones entirely', () => {
    expect(maskValue('secret-shop-token')).toBe('se••••en');
    expect(maskValue('abcd')).toBe('••••');
  });
});
