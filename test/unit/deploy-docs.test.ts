/**
 * The README's Deploying section stays whole: its settings table lists every `herald:*` context
 * key lib/context.ts reads, and only those, and the deploy prerequisites and smoke test are there.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HERALD_CONTEXT_KEYS } from '../../lib/context.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('\n## Deploying');
const end = readme.indexOf('\n## ', start + 1);
const deploying = start === -1 ? '' : readme.slice(start, end === -1 ? undefined : end);

describe('README: Deploying', () => {
  it('lists every context setting in its table, and no other', () => {
    const rows = [...deploying.matchAll(/^\| `(herald:[A-Za-z]+)` \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual([...HERALD_CONTEXT_KEYS].sort());
  });

  it('names the prerequisites, the upgrade notes and the smoke test', () => {
    for (const heading of ['### Before the first deploy', '### Upgrading an existing deployment', '### Smoke test']) expect(deploying).toContain(heading);
    expect(deploying).toMatch(/cdk bootstrap/);
    expect(deploying).toMatch(/Secrets Manager/);
    expect(deploying).toMatch(/CloudFront/);
    expect(deploying).toMatch(/herald smoke/);
  });
});
