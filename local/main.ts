import { createServer } from 'node:net';
import { delimiter } from 'node:path';
import { startHeraldLocal, type HeraldLocal } from './runtime.ts';

/**
 * `npm start`: Herald on this machine, no cloud and no Docker.
 *
 * Startup errors are one line on stderr and exit code 1, never a stack trace. SIGINT, SIGTERM and
 * SIGHUP stop it within 5 s.
 *
 * npm runs a script through `sh -c` and forwards SIGINT/SIGTERM to that shell only; dash dies of
 * SIGTERM without passing it on (orphaning this process on the port) and sits on SIGINT until its
 * child exits. So `npm start` is `exec node …` (npm's child is this process), and, when npm
 * started it, this process also stops when its parent goes away, whatever killed it.
 */
function fail(message: string): never {
  console.error(`Herald could not start: ${message}`);
  process.exit(1);
}

function argument(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1] ?? fail(`--${name} needs a value`);
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

const portText = (argument('port') ?? process.env.PORT ?? '').trim() || '3000';
const port = Number(portText);
if (!/^\d{1,5}$/.test(portText) || port > 65535) fail(`PORT must be a port number from 0 to 65535, not ${JSON.stringify(portText)}`);
const host = (argument('host') ?? process.env.HERALD_HOST ?? '').trim() || '127.0.0.1';
const selfTestPortText = (process.env.HERALD_SELF_TEST_PORT ?? '').trim() || '0';
const selfTestPort = Number(selfTestPortText);
if (!/^\d{1,5}$/.test(selfTestPortText) || selfTestPort > 65535) fail(`HERALD_SELF_TEST_PORT must be a port number from 0 to 65535, not ${JSON.stringify(selfTestPortText)}`);

function startError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'EADDRINUSE') return `port ${port} is already in use (set PORT to choose another)`;
  if (code === 'EACCES') return `no permission to listen on port ${port} (set PORT to choose another)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot listen on ${host}: not an address of this machine (HERALD_HOST)`;
  return String(message ?? error).split('\n')[0]!;
}

/** Fails fast, before any emulator starts, when the port cannot be had. */
async function checkPort(): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

let herald: HeraldLocal | undefined;
let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${reason}, stopping`);
  // The contract promises a clean stop within 5 s; never hang past it.
  setTimeout(() => process.exit(0), 4500).unref();
  await herald?.stop().catch((error: Error) => console.error(`[local] stop: ${error.message}`));
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(`${signal} received`));

// Started by an npm script: stop when the parent (npm, or its `sh -c`) is gone, even SIGKILLed.
const parent = process.ppid;
if (process.env.npm_lifecycle_event && parent > 1) {
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process exited');
  }, 250).unref();
}

try {
  await checkPort();
  herald = await startHeraldLocal({
    port,
    host,
    adminKey: process.env.HERALD_ADMIN_KEY || undefined,
    dataDir: process.env.HERALD_DATA_DIR || undefined,
    allowPrivateTargets: process.env.HERALD_ALLOW_PRIVATE_TARGETS !== '0',
    // Documented as extra folders after catalogue/: the runtime writes the functions' own
    // HERALD_CATALOGUE_DIR, so the operator's is passed on here rather than overwritten.
    extraCatalogueDirs: (process.env.HERALD_CATALOGUE_DIR ?? '').split(delimiter).filter(Boolean),
    selfTestPort,
  });
} catch (error) {
  fail(startError(error));
}
if (herald.adminKeyGenerated) console.log(`Admin key (generated; set HERALD_ADMIN_KEY to choose one): ${herald.adminKey}`);
console.log(`Herald local API ready at ${herald.url}`);
console.log(`Self-test receiver (herald smoke --receiver) at ${herald.selfTestUrl}`);
