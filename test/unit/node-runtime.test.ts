/**
 * One Node major everywhere: the tests run on the major the functions are deployed on, because
 * package.json brings that Node from the npm registry (the `node` devDependency, whose binary npm
 * scripts find first in node_modules/.bin), whatever Node the machine has.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deployedNodeMajor } from '../support/node-runtime.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string>; allowScripts: Record<string, boolean> };

describe('Node runtime', () => {
  it('runs the tests on the deployed runtime major', () => {
    console.log(`tests run on Node ${process.version}; functions deploy on nodejs${deployedNodeMajor()}.x`);
    expect(Number(process.versions.node.split('.')[0])).toBe(deployedNodeMajor());
  });

  it('installs that major from the npm registry, with its install script allowed', () => {
    expect(pkg.devDependencies.node).toMatch(new RegExp(`^\\^${deployedNodeMajor()}\\.`));
    expect(pkg.allowScripts.node).toBe(true);
  });
});
