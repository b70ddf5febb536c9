/** The herald CLI's configuration precedence and table output (the commands run in test/e2e/cli.test.ts). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_URL, main, resolveConfig, table } from '../../cli/herald.ts';

const dir = mkdtempSync(join(tmpdir(), 'herald-cli-config-'));
const config = join(dir, 'config.json');
writeFileSync(config, JSON.stringify({ profiles: { default: { url: 'http://default:1', key: 'hk_default' }, prod: { url: 'https://prod.example/', key: 'hk_prod' } } }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveConfig', () => {
  it('flags win over --profile, which wins over env, which wins over the default profile', () => {
    const env = { HERALD_CONFIG: config, HERALD_URL: 'http://env:2', HERALD_KEY: 'hk_env' };
    expect(resolveConfig({ profile: 'prod', 'herald-url': 'http://flag:3', key: 'hk_flag' }, env)).toEqual({ url: 'http://flag:3', key: 'hk_flag' });
    expect(resolveConfig({ profile: 'prod' }, env)).toEqual({ url: 'https://prod.example', key: 'hk_prod' });
    expect(resolveConfig({}, env)).toEqual({ url: 'http://env:2', key: 'hk_env' });
    expect(resolveConfig({}, { HERALD_CONFIG: config })).toEqual({ url: 'http://default:1', key: 'hk_default' });
    expect(resolveConfig({}, { HERALD_CONFIG: join(dir, 'missing.json') })).toEqual({ url: DEFAULT_URL, key: undefined });
  });

  it('an unknown profile or a missing config file is a usage error (exit 2)', async () => {
    const errors: string[] = [];
    const io = { out: () => {}, err: (l: string) => errors.push(l), env: { HERALD_CONFIG: config } };
    expect(await main(['stats', 'sub_x', '--profile', 'nope'], io)).toBe(2);
    expect(errors[0]).toContain('no profile "nope"');
    expect(await main(['keys', 'list'], { ...io, env: { HERALD_CONFIG: join(dir, 'missing.json') } })).toBe(2);
    expect(errors.join('\n')).toContain('no API key');
  });
});

describe('table', () => {
  it('aligns columns and shows - for missing values', () => {
    expect(table(['ID', 'STATUS'], [['dlv_1', 'succeeded'], ['dlv_22', undefined]])).toBe('ID      STATUS\ndlv_1   succeeded\ndlv_22  -');
    expect(table(['ID'], [])).toBe('ID\n(none)');
  });
});
