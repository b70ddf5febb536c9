/**
 * cdk-nag's AwsSolutions pack over the whole stack: synthesis fails on any unacknowledged
 * finding, and every acknowledgement in lib/ carries a written reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { expect, it } from 'vitest';
import { HeraldStack } from '../../lib/herald-stack.ts';

it('passes the AwsSolutions checks', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new HeraldStack(app, 'Nag', { alarmEmail: 'ops@example.com' });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).not.toThrow();
});

it('also passes with private targets allowed (a development deployment)', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new HeraldStack(app, 'NagDev', { allowPrivateTargets: true });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).not.toThrow();
});

it('justifies every acknowledgement in writing', () => {
  const dir = new URL('../../lib/constructs/', import.meta.url).pathname;
  const sources = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
  const acks = [...sources.matchAll(/id: [`']AwsSolutions::[^`']+[`'],\s*reason: ([`'])(.*?)\1/gs)];
  expect(acks.length).toBeGreaterThanOrEqual(5);
  for (const [, , reason] of acks) expect(reason!.length).toBeGreaterThan(40);
  expect(sources.match(/AwsSolutions::/g)!.length).toBe(acks.length);
});
