import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleAliases, REPO_ROOT } from '../../lib/constructs/herald-function.ts';
import { FUNCTIONS } from '../../lambdas/shared/herald-config.ts';

/** The modules a function's bundle holds, as the stack bundles it (aliases by tracing mode). */
async function bundledModules(entry: string, tracing: 'sampled' | 'off'): Promise<string[]> {
  const out = await build({
    entryPoints: [`${REPO_ROOT}${entry}`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    alias: bundleAliases(tracing),
  });
  return Object.keys(out.metafile.inputs);
}

describe('each bundle carries the tracer only when tracing is on', () => {
  it.each(['deliver', 'fanout'] as const)('%s: the X-Ray SDK with tracing sampled, none with herald:tracing=off', async (name) => {
    const traced = await bundledModules(FUNCTIONS[name].entry, 'sampled');
    const untraced = await bundledModules(FUNCTIONS[name].entry, 'off');
    expect(traced.some((m) => m.includes('aws-xray-sdk-core'))).toBe(true);
    expect(untraced.some((m) => m.includes('aws-xray-sdk-core') || m.includes('@aws-lambda-powertools/tracer'))).toBe(false);
    expect(untraced.some((m) => m.includes('lambdas/shared/tracer-off'))).toBe(true);
  }, 60_000);
});
