/**
 * Words and numbers as the console shows them: durations, relative times, retry policies,
 * destinations, health. Pure functions, so the screens stay about layout.
 */
import { baseDelaySeconds, maxAttemptsOf, resolveRetryPolicy, RETRY_PRESETS, type PresetName, type RetryPolicy } from '#core/retry-policy';
import type { Stats, Subscription } from './api.ts';

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${+(seconds / 60).toFixed(1)} min`;
  if (seconds < 86_400) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86_400).toFixed(1)} days`;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  const words = duration(Math.abs(seconds)).replace(/\.\d+/, '');
  return seconds > 0 ? `${words} ago` : `in ${words}`;
}

export const localTime = (iso: string) => new Date(iso).toLocaleString();

/** The waits between attempts, as many as fit in `shown`, e.g. ['5 s', '5 min', …]. */
export function retrySchedule(policy: RetryPolicy | undefined, shown = 12): { gaps: string[]; more: boolean; attempts: string } {
  const resolved = resolveRetryPolicy(policy);
  const max = maxAttemptsOf(resolved);
  const gaps: string[] = [];
  for (let attempt = 1; attempt < Math.min(max, shown + 1); attempt++) gaps.push(duration(baseDelaySeconds(resolved, attempt)));
  const age = resolved.maxAgeSeconds ? ` within ${duration(resolved.maxAgeSeconds)}` : '';
  const attempts = max === Number.MAX_SAFE_INTEGER ? `until ${duration(resolved.maxAgeSeconds ?? 0)} have passed` : `${max} attempt${max === 1 ? "" : "s"} at most${age}`;
  return { gaps, more: max - 1 > gaps.length, attempts };
}

export function retryPolicyInWords(policy: RetryPolicy | undefined): string {
  const named = policy && 'preset' in policy ? policy.preset : policy ? undefined : 'default';
  const { gaps, more, attempts } = retrySchedule(policy);
  const schedule = gaps.length === 0 ? 'no retries' : `retries after ${gaps.join(', ')}${more ? ', …' : ''}`;
  const preset = named ? `${named === 'default' ? 'Herald default' : `Preset “${named}”`}: ` : 'Custom: ';
  return `${preset}first attempt at once, ${schedule}; ${attempts}, then the delivery is dead-lettered`;
}

export const PRESETS = Object.entries(RETRY_PRESETS).map(([name, preset]) => ({
  name: name as PresetName,
  description: preset.reproduces,
  timeoutSeconds: 'timeoutSeconds' in preset ? preset.timeoutSeconds : undefined,
}));

type AnyDestination = { type: string; url?: string; eventBusArn?: string; method?: string; headers?: Record<string, string> };

export function destinationSummary(destination: Subscription['destination']): string {
  const d = destination as AnyDestination;
  if (d.type === 'eventbridge') return `EventBridge ${d.eventBusArn ?? ''}`;
  if (d.type === 'http') return `HTTP ${d.method ?? 'POST'} ${d.url ?? ''}`;
  return `Webhook ${d.url ?? ''}`;
}

/** Only webhooks are signed (Standard Webhooks): the others have no secret to show or rotate. */
export const isSigned = (subscription: Subscription) => (subscription.destination as AnyDestination).type === 'webhook';

export const maskValue = (value: string) => (value.length <= 4 ? '••••' : `${value.slice(0, 2)}••••${value.slice(-2)}`);

export type Health = 'healthy' | 'failing' | 'degraded' | 'paused' | 'no traffic' | 'unknown';

/** One word for a subscription's state over the last 24 h, from its stats. */
export function healthOf(subscription: Subscription, stats: Stats | undefined): Health {
  if (subscription.status === 'paused') return 'paused';
  if (!stats) return 'unknown';
  const day = stats.windows['24h'];
  if ((stats.consecutiveFailures ?? 0) > 0 && stats.failingSince) return 'failing';
  if (!day?.attempts) return 'no traffic';
  if ((day.successRate ?? 1) < 0.95) return 'degraded';
  return 'healthy';
}

export const percent = (rate: number | null | undefined) => (rate === null || rate === undefined ? '—' : `${Math.round(rate * 1000) / 10} %`);

export function lastErrorText(error: Stats['lastError']): string {
  if (!error) return 'none';
  const e = error as { at?: string; error?: string; statusCode?: number; message?: string; errorMessage?: string };
  const parts = [e.statusCode ? `HTTP ${e.statusCode}` : undefined, e.error, e.message ?? e.errorMessage].filter(Boolean);
  return parts.join(' · ') || JSON.stringify(error);
}
