import { runSoak } from '../local/soak.ts';
import { runNeighboursSoak } from '../local/neighbours-soak.ts';

/**
 * `npm run soak`: the fault-injection soak (loopback only, bounded). Options:
 *   --events N             events to publish (default 3000: within 5 minutes on 2 vCPUs), each to 3 subscriptions
 *   --deadline-seconds S   how long to wait for everything to settle (default 290; 10000 events
 *                          take about 9 minutes on 2 vCPUs, so give them 900)
 * Prints the figures and the invariants; exits non-zero if any invariant fails.
 *
 * `npm run soak -- --neighbours`: the noisy-neighbours soak (local/neighbours-soak.ts), a baseline
 * then the same load among a dead endpoint's backlog, a flood and a 90 s receiver. Options:
 *   --good-rate R          events a second per well-behaved tenant (default 1)
 *   --duration-seconds S   the steady phase (default 60)
 *   --dead-backlog N       deliveries queued for the dead endpoint first (default 2000: what two
 *                          shared vCPUs carry beside everyone else; 5000 measured 2.34× in the README)
 *   --flood-factor F       the flooding tenant's rate over a well-behaved one's (default 5)
 *   --slow-seconds S       the slow receiver's answer time (default 90, as the issue states it;
 *                          smaller values compress it)
 *   --tenant-cap C         herald:tenantMaxInFlight in both runs (default 20)
 *   --pollers P            local deliver pollers, the event source mapping's concurrency (default 16);
 *                          a tenant cap at or above it bounds nothing
 *   --slow-lane L          slow-lane pollers, one delivery each (herald:slowLaneConcurrency; default 4)
 * The local SQS emulator has SQS fair queues (local/fair-queues.ts). The README's isolation figures
 * come from the defaults (about 8 minutes).
 */
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
if (process.argv.includes('--neighbours')) {
  const result = await runNeighboursSoak({
    goodRatePerSecond: arg('good-rate', 1),
    durationSeconds: arg('duration-seconds', 60),
    deadBacklog: arg('dead-backlog', 2000),
    floodFactor: arg('flood-factor', 5),
    slowSeconds: arg('slow-seconds', 90),
    tenantMaxInFlight: arg('tenant-cap', 20),
    pollerConcurrency: arg('pollers', 16),
    slowLaneConcurrency: arg('slow-lane', 4),
    log: (line) => console.log(line),
  });
  for (const run of [result.baseline, result.noisy]) {
    console.log(run.neighbours ? 'with neighbours' : 'baseline (no neighbours)');
    console.table(run.good.map((g) => ({ ...g, costPerMillionUsd: Number(g.costPerMillionUsd.toFixed(2)) })));
    const { good: _good, ...rest } = run;
    console.log(JSON.stringify(rest));
  }
  for (const invariant of result.invariants) console.log(`${invariant.ok ? 'PASS' : 'FAIL'}  ${invariant.name} (${invariant.detail})`);
  process.exit(result.ok ? 0 : 1);
}
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
