/**
 * The worst a tenant's filters can cost fan-out, within the input limits: the largest patterns
 * `validateEventPattern` accepts (every operator kind, 10 operators with 3 wildcards at EventBridge's complexity ceiling, 4096
 * characters), matched against the heaviest events the limits allow (200 KB of data in one field:
 * three 65,536-character strings, or 10,000 short strings). The events match none of the
 * conditions (a match ends the search early), except anything-but, which matches by nature. CPU
 * time is measured with process.cpuUsage, per event and per subscription filter. Used by bench/run.ts.
 */
import { readFileSync } from 'node:fs';
import { matchesEventPattern, PATTERN_LIMITS, validateEventPattern, type EventPattern } from '../lambdas/core/event-pattern.ts';
import { INPUT_LIMITS } from '../lambdas/core/input-limits.ts';
import { MAX_DATA_BYTES } from '../lambdas/core/envelope.ts';

/** Fills a pattern up to the limits with conditions of one family (plus the five wildcards). */
function worstPattern(family: string): EventPattern {
  const wildcards = Array.from({ length: PATTERN_LIMITS.wildcards }, (_, i) => ({ wildcard: `*a${i}*b${i}*` }));
  const others = Array.from({ length: PATTERN_LIMITS.operators - PATTERN_LIMITS.wildcards }, (_, i): Record<string, unknown> => {
    switch (family) {
      case 'ignore-case':
        return i % 3 === 0 ? { 'equals-ignore-case': `A${i}`.repeat(8) } : i % 3 === 1 ? { prefix: { 'equals-ignore-case': `aAB${i}` } } : { suffix: { 'equals-ignore-case': `AaB${i}` } };
      case 'anything-but':
        return { 'anything-but': { prefix: `a${i}` } };
      case 'cidr':
        return { cidr: `10.${i}.0.0/16` };
      case 'numeric':
        return { numeric: ['>', i, '<=', i + 0.5] };
      default:
        return { prefix: `aaaab${i}` };
    }
  });
  const conditions = [...wildcards, ...others];
  // Pad with exact values up to the size limit: they are not counted, but each is compared.
  const pattern = { data: { field: [...conditions] as unknown[] } };
  for (let i = 0; JSON.stringify(pattern).length < PATTERN_LIMITS.characters - 12; i++) pattern.data.field.push(`v${i}`);
  pattern.data.field.pop();
  const problems = validateEventPattern(pattern);
  if (problems.length > 0) throw new Error(`bench pattern ${family} is not valid: ${JSON.stringify(problems)}`);
  return pattern;
}

function worstEvents() {
  const longString = 'a'.repeat(INPUT_LIMITS.stringLength);
  const few = Math.floor(MAX_DATA_BYTES / (INPUT_LIMITS.stringLength + 3));
  const many = Math.min(INPUT_LIMITS.arrayItems, Math.floor(MAX_DATA_BYTES / 22));
  return {
    [`${few} strings of ${INPUT_LIMITS.stringLength} characters`]: { data: { field: Array.from({ length: few }, () => longString) } },
    [`${many} strings of 19 characters`]: { data: { field: Array.from({ length: many }, (_, i) => `aaaa${String(i).padStart(15, 'a')}`) } },
    [`${many} numbers`]: { data: { field: Array.from({ length: many }, (_, i) => i + 0.25) } },
  };
}

export interface FilterCost {
  pattern: string;
  event: string;
  cpuMsPerMatch: number;
}

/** CPU per match for every (worst pattern, worst event) pair; the slowest first. */
export function worstFilterCosts(repeats = 30): FilterCost[] {
  const results: FilterCost[] = [];
  for (const family of ['prefix', 'ignore-case', 'anything-but', 'cidr', 'numeric']) {
    const pattern = worstPattern(family);
    for (const [name, event] of Object.entries(worstEvents())) {
      for (let i = 0; i < 10; i++) matchesEventPattern(pattern, event); // compile and warm up
      const start = process.cpuUsage();
      for (let i = 0; i < repeats; i++) matchesEventPattern(pattern, event);
      const used = process.cpuUsage(start);
      results.push({ pattern: family, event: name, cpuMsPerMatch: +((used.user + used.system) / 1000 / repeats).toFixed(2) });
    }
  }
  return results.sort((a, b) => b.cpuMsPerMatch - a.cpuMsPerMatch);
}

export { worstPattern, worstEvents };

type Call = (method: string, path: string, key: string, body?: unknown) => Promise<any>;

function percentile(sorted: number[], p: number): number {
  return +(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0).toFixed(1);
}

/**
 * Tenant B's API latency (GET /v1/subscriptions, p50/p99) on its own, then while tenant A
 * publishes the heaviest events to subscriptions carrying the worst filter. Locally the api and
 * fan-out functions share one process, so this is the worst case; deployed they are separate
 * Lambda functions and A's matching cannot delay B's answers at all.
 */
export async function apiLatencyUnderHostileFanout(options: { call: Call; admin: string; settle: () => Promise<void>; subscriptions: number; events: number; filtered: boolean }) {
  const { call, admin } = options;
  const a = await call('POST', '/v1/tenants', admin, { name: 'hostile filters' });
  const b = await call('POST', '/v1/tenants', admin, { name: 'neighbour' });
  const pattern = worstPattern('ignore-case');
  for (let i = 0; i < options.subscriptions; i++) {
    const sub = await call('POST', '/v1/subscriptions', a.apiKey, {
      name: `worst ${i}`,
      eventTypes: ['order.created'],
      destination: { type: 'webhook', url: 'http://127.0.0.1:9999/never-matches' },
      // Without the filter every heavy event is delivered: the baseline compares the same
      // publishing with the worst filter's matching taken out, not its deliveries.
      filter: options.filtered ? pattern : { data: { orderId: ['never'] } },
    });
    if (!sub.id) throw new Error(`bench: worst filter refused: ${JSON.stringify(sub)}`);
  }
  // The heaviest field the data limit leaves room for beside an ordinary order.
  const field = (Object.values(worstEvents())[1]!.data.field as string[]).slice(0, 9000);
  const order = JSON.parse(readFileSync(new URL('../catalogue/order.created/v1.json', import.meta.url), 'utf8')).example;
  const measure = async (rounds: number) => {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await call('GET', '/v1/subscriptions?limit=10', b.apiKey);
      times.push(performance.now() - t0);
    }
    return times.sort((x, y) => x - y);
  };
  const quiet = await measure(200);
  let publishing = true;
  const cpu = process.cpuUsage();
  const publisher = (async () => {
    for (let i = 0; i < options.events && publishing; i++) {
      const published = await call('POST', '/v1/events', admin, { tenantId: a.id, type: 'order.created', subject: `o-${i}`, data: { ...order, field } });
      if (!published.id) throw new Error(`bench: heavy event refused: ${JSON.stringify(published).slice(0, 300)}`);
    }
  })();
  const busy = await measure(200);
  publishing = false;
  await publisher;
  await options.settle();
  const used = process.cpuUsage(cpu);
  return {
    filter: options.filtered ? 'worst (ignore-case family)' : 'one exact value',
    hostileSubscriptions: options.subscriptions,
    events: options.events,
    quietMs: { p50: percentile(quiet, 50), p99: percentile(quiet, 99) },
    duringHostileFanoutMs: { p50: percentile(busy, 50), p99: percentile(busy, 99) },
    processCpuSeconds: +((used.user + used.system) / 1e6).toFixed(2),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(worstFilterCosts());
