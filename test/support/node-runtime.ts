import { readFileSync } from 'node:fs';

/**
 * The Node.js major the functions are deployed on, read from the construct that sets the Lambda
 * runtime (`lambda.Runtime.NODEJS_<major>_X`), so tests compare local runs against the one place
 * that decides it.
 */
export function deployedNodeMajor(): number {
  const source = readFileSync(new URL('../../lib/constructs/herald-function.ts', import.meta.url), 'utf8');
  const match = /runtime: lambda\.Runtime\.NODEJS_(\d+)_X/.exec(source);
  if (!match) throw new Error('lib/constructs/herald-function.ts sets no lambda.Runtime.NODEJS_<major>_X runtime');
  return Number(match[1]);
}
