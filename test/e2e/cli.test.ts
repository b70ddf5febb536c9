/**
 * The `herald` command line end to end: a local Herald (port 0), a loopback receiver, and the CLI
 * run as a child process (`node --import tsx cli/herald.ts …`) with HERALD_URL / HERALD_KEY, the
 * way an operator or a script runs it.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'hk_admin_e2e_cli_000000000000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let dir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(key: string): NodeJS.ProcessEnv {
  // No profile file of the machine's user may leak in.
  return { ...process.env, HERALD_URL: herald.url, HERALD_KEY: key, HERALD_CONFIG: join(dir, 'none.json'), HERALD_PROFILE: '' };
}

/** Runs the CLI to completion; asynchronous, since Herald answers from this very process. */
function herald_(key: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/herald.ts', ...args], { cwd: ROOT, env: cliEnv(key), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function json<T = any>(key: string, args: string[]): Promise<T> {
  const run = await herald_(key, [...args, '--json']);
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

let tenant: { id: string; apiKey: string };
let sub: { id: string; secret: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('herald CLI', () => {
  it('creates a tenant and a subscription, publishes, and shows the delivery succeeded with stats', async () => {
    tenant = await json(ADMIN, ['tenants', 'create', '--name', 'CLI Retail']);
    expect(tenant.id).toMatch(/^ten_/);
    expect(tenant.apiKey).toMatch(/^hk_/);

    sub = await json(tenant.apiKey, ['subscriptions', 'create', '--name', 'orders', '--event-types', 'order.created', '--url', `${receiver.url}/hooks`]);
    expect(sub.id).toMatch(/^sub_/);
    expect(sub.secret).toMatch(/^whsec_/);

    const human = await herald_(tenant.apiKey, ['subscriptions', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(human.stdout).toContain(sub.id);

    const published = await json(ADMIN, ['publish', '--tenant', tenant.id, '--type', 'order.created', '--subject', 'order-1', '--data', JSON.stringify(exampleOf('order.created'))]);
    expect(published.id).toMatch(/^evt_/);
    await receiver.waitFor('/hooks', 1);

    const delivery = await eventually(async () => {
      const page = await json<{ items: { id: string; status: string; eventId: string }[] }>(tenant.apiKey, ['deliveries', 'list', sub.id]);
      return page.items.find((d) => d.eventId === published.id && d.status === 'succeeded');
    }, 15_000);
    expect(delivery.id).toMatch(/^dlv_/);

    const shown = await herald_(tenant.apiKey, ['deliveries', 'show', delivery.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('succeeded');
    expect(shown.stdout).toMatch(/\n1\s+\S+\s+200\s/); // the attempt table: #1, at, 200

    const stats = await json(tenant.apiKey, ['stats', sub.id]);
    expect(stats.subscriptionId).toBe(sub.id);
    expect(stats.windows['1h'].succeeded).toBeGreaterThanOrEqual(1);
    const statsTable = await herald_(tenant.apiKey, ['stats', sub.id]);
    expect(statsTable.stdout).toMatch(/WINDOW\s+EVENTS/);
  });

  it('publishes a file of events through the batch route', async () => {
    const file = join(dir, 'events.json');
    const event = (n: number) => ({ tenantId: tenant.id, type: 'order.created', subject: `order-b${n}`, data: exampleOf('order.created') });
    writeFileSync(file, JSON.stringify([event(1), event(2), { ...event(3), type: 'order.nope' }]));
    const run = await herald_(ADMIN, ['publish', '--file', file, '--json']);
    expect(run.code, run.stderr).toBe(1); // one event refused
    const { items } = JSON.parse(run.stdout) as { items: { index: number; status: number }[] };
    expect(items.map((i) => i.status)).toEqual([202, 202, 400]);
  });

  it('prints the problem and its field errors and exits 1 when the API refuses', async () => {
    const run = await herald_(tenant.apiKey, ['subscriptions', 'create', '--name', 'bad', '--event-types', 'order.created', '--url', 'not a url']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: 400 /);
    expect(run.stderr).toMatch(/^ {2}destination\.url: /m);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [['frobnicate'], ['subscriptions', 'show'], ['stats', sub.id, '--bogus']]) {
      const run = await herald_(tenant.apiKey, args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('herald --help');
    }
  });

  it('ed25519: create and rotate print the public key (no secret), public-keys lists them, herald receive verifies v1a', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const created = await herald_(tenant.apiKey, ['subscriptions', 'create', '--name', 'ed', '--event-types', 'order.created', '--url', `http://127.0.0.1:${port}/hooks`, '--signature', 'ed25519']);
    expect(created.code, created.stderr).toBe(0);
    const publicKey = /^publicKey: +(whpk_\S+)/m.exec(created.stdout)?.[1];
    expect(publicKey, created.stdout).toBeDefined();
    expect(created.stdout).not.toMatch(/^secret:/m);
    const id = /^id: +(sub_\S+)/m.exec(created.stdout)![1]!;

    const keys = await json<{ items: { publicKey: string }[] }>(tenant.apiKey, ['subscriptions', 'public-keys', id]);
    expect(keys.items.map((k) => k.publicKey)).toEqual([publicKey]);
    const refused = await herald_(tenant.apiKey, ['subscriptions', 'public-keys', sub.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: 409 .*signs with a shared HMAC secret/);

    const receiver = spawn(process.execPath, ['--import', 'tsx', 'cli/herald.ts', 'receive', '--port', String(port), '--public-key', publicKey!], { cwd: ROOT, env: cliEnv(''), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      receiver.stdout.on('data', (c: Buffer) => (stdout += c));
      receiver.stderr.on('data', (c: Buffer) => (stderr += c));
      await eventually(async () => (stderr.includes(`ready at http://127.0.0.1:${port}`) ? true : undefined), 10_000);
      expect(stderr).toContain('verifying v1a ed25519');
      await json(ADMIN, ['publish', '--tenant', tenant.id, '--type', 'order.created', '--subject', 'order-ed', '--data', JSON.stringify(exampleOf('order.created'))]);
      const line = await eventually(async () => stdout.split('\n').find((l) => l.startsWith('✓ POST /hooks  signature verified (v1a)  → 204')), 15_000);
      expect(line).toBeDefined();
      expect(stdout).toContain('"subject":"order-ed"');
    } finally {
      receiver.kill('SIGTERM');
      await new Promise((resolve) => receiver.once('close', resolve));
    }

    const rotated = await herald_(tenant.apiKey, ['subscriptions', 'rotate-secret', id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const next = /^publicKey: +(whpk_\S+)/m.exec(rotated.stdout)?.[1];
    expect(next).toBeDefined();
    expect(next).not.toBe(publicKey);
    expect(rotated.stdout).not.toMatch(/^secret:/m);
    const both = await herald_(tenant.apiKey, ['subscriptions', 'public-keys', id]);
    expect(both.stdout).toMatch(/^PUBLIC KEY\s+CREATED\s+EXPIRES/);
    expect(both.stdout).toContain(next!);
    expect(both.stdout).toContain(publicKey!);
  }, 60_000);

  it('tail follows a subscription: a new delivery is printed within seconds', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/herald.ts', 'tail', sub.id, '--lines', '0'], { cwd: ROOT, env: cliEnv(tenant.apiKey), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      await eventually(async () => (stderr.includes('following') ? true : undefined), 10_000);
      const published = await json(ADMIN, ['publish', '--tenant', tenant.id, '--type', 'order.created', '--subject', 'order-tail', '--data', JSON.stringify(exampleOf('order.created'))]);
      const line = await eventually(async () => stdout.split('\n').find((l) => /dlv_\S+ succeeded .*order\.created order-tail attempt 1 200/.test(l)), 8_000);
      expect(line).toBeDefined();
      expect(published.id).toMatch(/^evt_/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
    }
  });
});
