import { runSoak } from '../local/soak.ts';

/**
 * `npm run soak`: the fault-injection soak (loopback only, bounded). Options:
 *   --events N             events to publish (default 3000: within 5 minutes on 2 vCPUs), each to 3 subscriptions
 *   --deadline-seconds S   how long to wait for everything to settle (default 290; 10000 events
 *                          take about 9 minutes on 2 vCPUs, so give them 900)
 * Prints the figures and the invariants; exits non-zero if any invariant fails.
 */
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const result = await runSoak({
  events: arg('events', 3000),
  kills: arg('kills', 2),
  sqsRestarts: arg('sqs-restarts', 1),
  deadlineMs: arg('deadline-seconds', 290) * 1000,
  pollerConcurrency: arg('pollers', 16),
  sweepAfterSeconds: arg('sweep-after', 30),
  log: (line) => console.log(line),
});
const { invariants, ...figures } = result;
console.table(figures);
for (const invariant of invariants) console.log(`${invariant.ok ? 'PASS' : 'FAIL'}  ${invariant.name} (${invariant.detail})`);
process.exit(result.ok ? 0 : 1);
