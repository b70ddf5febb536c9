import { startFunctions } from './runtime.ts';

/**
 * The functions half of the local runtime in a process of its own (the emulators run elsewhere,
 * named by the AWS_ENDPOINT_URL_* and queue variables): a test or the soak can SIGKILL it
 * mid-batch and start it again while queues and tables survive. Used by local/soak.ts.
 */
const functions = await startFunctions({
  port: Number(process.env.PORT ?? 0),
  sweepIntervalMs: Number(process.env.HERALD_SWEEP_INTERVAL_MS ?? 60_000),
  pollerConcurrency: Number(process.env.HERALD_POLLER_CONCURRENCY ?? 4),
  slowLaneConcurrency: Number(process.env.HERALD_SLOW_LANE_CONCURRENCY ?? 2),
});
console.log(`Herald functions ready at ${functions.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    setTimeout(() => process.exit(0), 4500).unref();
    void functions.stop().then(() => process.exit(0));
  });
}
