import { startHeraldLocal } from './runtime.ts';

/** `npm start`: Herald on this machine, no cloud and no Docker. */
const port = Number(process.env.PORT ?? 3000);
const herald = await startHeraldLocal({
  port: Number.isInteger(port) && port >= 0 ? port : 3000,
  adminKey: process.env.HERALD_ADMIN_KEY || undefined,
  dataDir: process.env.HERALD_DATA_DIR || undefined,
  allowPrivateTargets: process.env.HERALD_ALLOW_PRIVATE_TARGETS !== '0',
});

if (herald.adminKeyGenerated) console.log(`Admin key (generated; set HERALD_ADMIN_KEY to choose one): ${herald.adminKey}`);
console.log(`Herald local API ready at ${herald.url}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal} received, stopping`);
  // The contract promises a clean stop within 5 s; never hang past it.
  setTimeout(() => process.exit(0), 4500).unref();
  await herald.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
