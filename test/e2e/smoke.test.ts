/**
 * `herald smoke` against `npm start`: the local runtime stands in for a deployed stack, its
 * self-test receiver for the function URL. The CLI runs as a child process with the admin key and
 * must pass every step (tenant, signed delivery, retry, dead letter, redrive) and clean up; with
 * a tenant key it fails at the receiver (admin only), and without a receiver it is a usage error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'hk_admin_e2e_smoke_00000000000000000000000000000000';
let server: ChildProcess;
let url: string;
let receiver: string;

beforeAll(async () => {
  // What `npm start` execs (package.json): the port and the receiver's port chosen by the system.
  server = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HERALD_ADMIN_KEY: ADMIN, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${text}`)), 40_000);
    server.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/Self-test receiver .* at \S+/.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    server.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    server.once('exit', (code) => reject(new Error(`exited (${code}):\n${text}`)));
  });
  url = /Herald local API ready at (\S+)/.exec(out)![1]!;
  receiver = /Self-test receiver .* at (\S+)/.exec(out)![1]!;
});

afterAll(() => {
  server?.kill('SIGTERM');
});

function herald(key: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/herald.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, HERALD_URL: url, HERALD_KEY: key, HERALD_CONFIG: '/nonexistent/herald.json', HERALD_PROFILE: '', HERALD_SELF_TEST_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('herald smoke against npm start', () => {
  it('passes every step and cleans up after itself', async () => {
    const run = await herald(ADMIN, ['smoke', '--receiver', receiver, '--json']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; steps: { step: string; ok: boolean; detail: string }[] };
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.step)).toEqual(['receiver', 'tenant', 'subscriptions', 'publish', 'delivery', 'retry', 'dead letter', 'redrive', 'cleanup']);
    expect(result.steps.find((s) => s.step === 'delivery')!.detail).toMatch(/signed, verified, answered 204; Herald: succeeded/);
    expect(result.steps.find((s) => s.step === 'retry')!.detail).toMatch(/500, then 204 on attempt 2/);

    // Cleaned up: the run is forgotten at the receiver, the tenant has no key and no subscription.
    const runId = /run (smoke-[0-9a-f]+) registered/.exec(result.steps[0]!.detail)![1]!;
    const hooks = await fetch(`${receiver}/runs/${runId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await hooks.json()) as { items: unknown[] }).items).toEqual([]);
    const tenantId = result.steps[1]!.detail;
    const keys = await fetch(`${url}/v1/keys?tenantId=${tenantId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await keys.json()) as { items: { revokedAt?: string }[] }).items.every((k) => k.revokedAt)).toBe(true);
    const subs = await fetch(`${url}/v1/subscriptions?tenantId=${tenantId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await subs.json()) as { items: unknown[] }).items).toEqual([]);
  }, 60_000);

  it('prints each step for a person', async () => {
    const run = await herald(ADMIN, ['smoke', '--receiver', receiver]);
    expect(run.code, run.stderr).toBe(0);
    for (const step of ['receiver', 'tenant', 'subscriptions', 'publish', 'delivery', 'retry', 'dead letter', 'redrive', 'cleanup']) {
      expect(run.stdout).toMatch(new RegExp(`^✓ ${step}\\s`, 'm'));
    }
    expect(run.stdout).toMatch(/smoke test passed/);
  }, 60_000);

  it('fails at the receiver with a tenant key, and leaves nothing behind', async () => {
    const tenant = (await (await fetch(`${url}/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'not admin' }) })).json()) as { apiKey: string };
    const run = await herald(tenant.apiKey, ['smoke', '--receiver', receiver]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✗ receiver\s+registering run smoke-\w+ with the self-test receiver: HTTP 403/);
    expect(run.stderr).toMatch(/smoke test FAILED/);
    // It stopped before creating anything.
    expect(run.stdout).toMatch(/^✓ cleanup\s+0 subscription\(s\) deleted \(/m);
    expect(run.stdout).not.toMatch(/✓ tenant/);
  });

  it('is a usage error without a receiver', async () => {
    const run = await herald(ADMIN, ['smoke']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/smoke needs --receiver/);
  });
});
