/**
 * `npx cdk synth` as an operator runs it: offline, no credentials, real esbuild bundling of every
 * function (with the catalogue copied next to the api bundle).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'herald-synth-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('synthesizes with real bundles, the catalogue inside the api asset', () => {
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
}, 150_000);
