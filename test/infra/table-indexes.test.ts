/**
 * Upgrading the table in place (issue #21 item 6): CloudFormation creates or deletes at most one
 * global secondary index per stack update, and changing an index's keys or projection is a
 * delete plus a create. So the synthesized indexes are compared with 0.1's, written out here as
 * 0.1 shipped them: 0.2 keeps them all unchanged and adds exactly one (gsi4, the delivery log),
 * which one ordinary `cdk deploy` does — the README's "Upgrading an existing deployment" says so.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HeraldStack } from '../../lib/herald-stack.ts';

interface Gsi {
  IndexName: string;
  KeySchema: { AttributeName: string; KeyType: string }[];
  Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
}

const keys = (pk: string, sk: string) => [
  { AttributeName: pk, KeyType: 'HASH' },
  { AttributeName: sk, KeyType: 'RANGE' },
];

/** The table's indexes as Herald 0.1 deployed them. */
const RELEASE_0_1: Gsi[] = [
  { IndexName: 'gsi1', KeySchema: keys('gsi1pk', 'gsi1sk'), Projection: { ProjectionType: 'ALL' } },
  { IndexName: 'gsi2', KeySchema: keys('gsi2pk', 'gsi2sk'), Projection: { ProjectionType: 'ALL' } },
  { IndexName: 'gsi3', KeySchema: keys('gsi3pk', 'gsi3sk'), Projection: { ProjectionType: 'KEYS_ONLY' } },
];

/** What CloudFormation must do to go from one index list to another: each entry is one index creation or deletion. */
function indexOperations(from: Gsi[], to: Gsi[]): { create: string[]; delete: string[] } {
  const same = (a: Gsi, b: Gsi) => JSON.stringify([a.KeySchema, a.Projection]) === JSON.stringify([b.KeySchema, b.Projection]);
  const create = to.filter((t) => !from.some((f) => f.IndexName === t.IndexName && same(f, t))).map((t) => t.IndexName);
  const remove = from.filter((f) => !to.some((t) => t.IndexName === f.IndexName && same(f, t))).map((f) => f.IndexName);
  return { create, delete: remove };
}

let synthesized: Gsi[];

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new HeraldStack(app, 'Test', { alarmEmail: 'ops@example.com' }));
  const tables = Object.values(template.findResources('AWS::DynamoDB::Table')) as { Properties: { GlobalSecondaryIndexes: Gsi[] } }[];
  synthesized = tables[0]!.Properties.GlobalSecondaryIndexes;
});

describe('the table indexes against 0.1', () => {
  it('keeps every 0.1 index as it was: no index is deleted or replaced', () => {
    expect(indexOperations(RELEASE_0_1, synthesized).delete).toEqual([]);
    for (const old of RELEASE_0_1) expect(synthesized.find((g) => g.IndexName === old.IndexName)).toEqual(old);
  });

  it('adds one index, the delivery log projecting only status: one stack update, no extra steps', () => {
    const { create } = indexOperations(RELEASE_0_1, synthesized);
    expect(create).toEqual(['gsi4']);
    expect(synthesized.find((g) => g.IndexName === 'gsi4')).toEqual({
      IndexName: 'gsi4',
      KeySchema: keys('gsi4pk', 'gsi4sk'),
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status'] },
    });
  });

  it('the README documents the upgrade as that one step', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const upgrade = readme.slice(readme.indexOf('### Upgrading an existing deployment'));
    expect(upgrade).toMatch(/adds one index, `gsi4`/);
  });

  it('counts a changed projection as a delete and a create (so a future one needs two updates)', () => {
    const narrowed = RELEASE_0_1.map((g) => (g.IndexName === 'gsi1' ? { ...g, Projection: { ProjectionType: 'KEYS_ONLY' } } : g));
    expect(indexOperations(RELEASE_0_1, narrowed)).toEqual({ create: ['gsi1'], delete: ['gsi1'] });
  });
});
