/**
 * `npm start` as an operator runs it: it stops on SIGTERM or SIGINT to the PID that was started
 * (npm's), when npm is killed outright, and on SIGINT to the process group (Ctrl-C), leaving no
 * process on the port; and it refuses to start on a port already taken with one line and a
 * non-zero exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { deployedNodeMajor } from '../support/node-runtime.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'hk_admin_e2e_local_process_00000000000000000000000';
const started: ChildProcess[] = [];
let tree: number[] = [];

afterEach(() => {
  // Whatever a failed test left behind (only processes this file started).
  for (const pid of tree) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  tree = [];
  started.length = 0;
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The PID and every descendant of it (npm → sh → node). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid && ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

function npmStart(port: number): ChildProcess {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HERALD_ADMIN_KEY: ADMIN, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, as a terminal job: SIGINT goes to the group
  });
  started.push(child);
  return child;
}

function waitForLine(child: ChildProcess, text: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before "${text}"; output:\n${out}`));
    });
  });
}

async function startedHerald(): Promise<{ child: ChildProcess; port: number; output: string }> {
  const port = await freePort();
  const child = npmStart(port);
  const output = await waitForLine(child, `Herald local API ready at http://127.0.0.1:${port}`);
  tree = descendants(child.pid!);
  expect(tree.length).toBeGreaterThanOrEqual(2); // npm and at least the node process it runs
  // It is the local runtime, answering on that port, and the admin key opens /local.
  const res = await fetch(`http://127.0.0.1:${port}/local/buses`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return { child, port, output };
}

/** Every process of the tree gone and the port free, within `ms`. */
async function goneWithin(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = tree.filter(alive);
    if (left.length === 0 && (await portFree(port))) return;
    if (Date.now() > deadline) {
      throw new Error(`after ${ms} ms still running: ${left.join(', ') || 'none'}; port ${port} free: ${await portFree(port)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm start stops', () => {
  it('on SIGTERM to the PID that was started, leaving no process on the port', async () => {
    const { child, port } = await startedHerald();
    const t0 = Date.now();
    process.kill(child.pid!, 'SIGTERM');
    await goneWithin(port, 6000);
    expect(Date.now() - t0).toBeLessThan(6000);
  }, 30_000);

  it('on SIGINT to the PID that was started', async () => {
    const { child, port } = await startedHerald();
    process.kill(child.pid!, 'SIGINT');
    await goneWithin(port, 6000);
  }, 30_000);

  it('when npm itself is SIGKILLed (parent gone)', async () => {
    const { child, port } = await startedHerald();
    process.kill(child.pid!, 'SIGKILL');
    await goneWithin(port, 6000);
  }, 30_000);

  it('on SIGINT to the process group (Ctrl-C) within 5 s', async () => {
    const { child, port } = await startedHerald();
    process.kill(-child.pid!, 'SIGINT');
    await goneWithin(port, 5000);
  }, 30_000);
});

describe('npm start runs', () => {
  it('on the Node major the functions deploy on, with no end-of-support warning', async () => {
    const { child, port, output } = await startedHerald();
    const herald = tree.find((pid) => alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('local/main.ts'));
    expect(herald, `no local/main.ts process in ${tree.join(', ')}`).toBeDefined();
    const version = execFileSync(readlinkSync(`/proc/${herald}/exe`), ['--version'], { encoding: 'utf8' }).trim();
    console.log(`npm start runs on Node ${version}`);
    expect(version).toMatch(new RegExp(`^v${deployedNodeMajor()}\\.`));
    // Any process warning counts: the SDK's end-of-support notice, a deprecation, an experimental API.
    expect(output).not.toMatch(/\(node:\d+\) \w*Warning|NodeVersionSupportWarning|EBADENGINE|end[- ]of[- ](life|support)/i);
    process.kill(child.pid!, 'SIGTERM');
    await goneWithin(port, 6000);
  }, 30_000);
});

describe('startup errors', () => {
  it('on a port already taken: one line, exit code 1, no stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      // The command npm start runs, so stderr is only Herald's.
      const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, PORT: String(port), HERALD_ADMIN_KEY: ADMIN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toBe(`Herald could not start: port ${port} is already in use (set PORT to choose another)\n`);
      expect(stdout).toBe('');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 20_000);

  it('on a malformed PORT: one line, exit code 1', async () => {
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], { cwd: ROOT, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'ignore', 'pipe'] });
      started.push(child);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('close', (code) => resolve({ code, stderr }));
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('Herald could not start: PORT must be a port number from 0 to 65535, not "eighty"\n');
  }, 20_000);
});
