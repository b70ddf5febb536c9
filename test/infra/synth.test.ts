/**
 * `npx cdk synth` as an operator runs it: offline, no credentials, real esbuild bundling of every
 * function (with the catalogue copied next to the api bundle).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { WorkerTransformRunner } from '../../lambdas/adapters/transform-runner.ts';

const out = mkdtempSync(join(tmpdir(), 'herald-synth-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('synthesizes with real bundles, the catalogue inside the api asset, the JSONata worker inside the deliver asset', async () => {
  const env = { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '' };
  execFileSync('npx', ['cdk', 'synth', '-q', '--no-notices', '-o', out], { env, stdio: 'pipe', timeout: 120_000 });
  const template = JSON.parse(readFileSync(join(out, 'Herald.template.json'), 'utf8'));
  const functions = Object.values(template.Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::Lambda::Function');
  expect(functions.length).toBeGreaterThanOrEqual(4);
  const assets = readdirSync(out).filter((d) => d.startsWith('asset.'));
  // One bundle per Herald function (the console's static files are assets of their own).
  const bundles = assets.filter((d) => existsSync(join(out, d, 'index.mjs')));
  expect(bundles.length).toBeGreaterThanOrEqual(5);
  expect(assets.some((d) => existsSync(join(out, d, 'app.js')) || readdirSync(join(out, d)).length > 0)).toBe(true);
  expect(assets.some((d) => existsSync(join(out, d, 'catalogue', 'order.created', 'v1.json')))).toBe(true);
  // Only the deliver function carries the worker, beside its index.mjs, and the bundled worker runs.
  const withWorker = bundles.filter((d) => existsSync(join(out, d, 'transform-worker.mjs')));
  expect(withWorker).toHaveLength(1);
  expect(readFileSync(join(out, withWorker[0]!, 'index.mjs'), 'utf8')).toContain('new URL("./transform-worker.mjs",import.meta.url)');
  const runner = new WorkerTransformRunner({}, pathToFileURL(join(out, withWorker[0]!, 'transform-worker.mjs')));
  try {
    expect(await runner.run('{"ref": data.orderId}', { data: { orderId: 'o-1' } })).toEqual({ ok: true, body: '{"ref":"o-1"}' });
    expect(await runner.run('$pad("x", 400000000)', {})).toMatchObject({ ok: false, reason: expect.stringContaining('64 MB memory limit') });
  } finally {
    await runner.close();
  }
}, 150_000);
