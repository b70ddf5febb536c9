/**
 * The functions' settings (lambdas/shared/settings.ts): read once at cold start, each checked; a
 * bad or missing value fails with the variable's name and the value it got, never a silent
 * default; and no other code under lambdas/ reads the environment.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../lambdas/core/api-keys.ts';
import { DEFAULT_TENANT_QUOTAS } from '../../lambdas/core/quotas.ts';
import { ENV, FUNCTIONS } from '../../lambdas/shared/herald-config.ts';
import { customerBusAccessOf, destinationTrustOf, readSettings, settingNamesOf, settingsFor } from '../../lambdas/shared/settings.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the stack writes for the deliver function (lib/constructs/delivery.ts), no overrides. */
const DEPLOYED: Record<string, string> = {
  [ENV.tableName]: 'herald-Table',
  [ENV.eventBusName]: 'herald-bus',
  [ENV.deliveryQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/herald-Deliveries',
  [ENV.orderedQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/herald-Ordered.fifo',
  [ENV.slowLaneQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/herald-SlowLane',
  [ENV.deadLetterQueueUrl]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/herald-DeadLetters',
  [ENV.allowPrivateTargets]: '0',
  [ENV.destinationPorts]: '443,1024-65535',
  [ENV.tenantQuotas]: JSON.stringify(DEFAULT_TENANT_QUOTAS),
  [ENV.operatorAccount]: '123456789012',
  [ENV.destinationTrust]: '{"operatorAccountTenants":[],"reservedSources":[]}',
  [ENV.customerBusRoleArn]: 'arn:aws:iam::123456789012:role/herald-CustomerBus',
  [ENV.environment]: '',
  [ENV.tenantMaxInFlight]: '',
  [ENV.catalogueDir]: '/var/task/catalogue',
  [ENV.adminKeyHash]: hashApiKey('hk_admin_x'),
  [ENV.region]: 'eu-west-1',
};

describe('settings as the stack writes them', () => {
  it('read with their defaults where the stack sets nothing', () => {
    const deliver = settingsFor('deliver', DEPLOYED);
    expect(deliver).toMatchObject({
      tableName: 'herald-Table',
      allowPrivateTargets: false,
      environment: undefined,
      tenantMaxInFlight: undefined,
      slowLaneQueueUrl: DEPLOYED[ENV.slowLaneQueueUrl],
      eventSource: 'urn:herald:platform',
      eventRetentionDays: 30,
      deliveryRetentionDays: 30,
      sweepAfterSeconds: 600,
      degradedProbeSeconds: 60,
      subscriptionCacheSeconds: 10,
    });
    expect(deliver.destinationPorts.allows(443)).toBe(true);
    expect(deliver.destinationPorts.allows(80)).toBe(false);
    expect(destinationTrustOf(deliver)).toEqual({ operatorAccount: '123456789012', heraldBusName: 'herald-bus', operatorAccountTenants: [], reservedSources: [] });
    expect(customerBusAccessOf(deliver)).toEqual({ mode: 'herald-role', roleArn: DEPLOYED[ENV.customerBusRoleArn] });
    const api = settingsFor('api', DEPLOYED);
    expect(api).toMatchObject({ tenantQuotas: DEFAULT_TENANT_QUOTAS, handshakeTimeoutSeconds: 10, secretGraceHours: 24, region: 'eu-west-1', webhookOrigin: undefined });
  });

  it('read the values the local runtime and tests set', () => {
    const local = {
      ...DEPLOYED,
      [ENV.deliveryQueueUrl]: 'http://sqs.us-east-1.localhost:4566/000000000000/herald-deliveries',
      [ENV.allowPrivateTargets]: '1',
      [ENV.tenantMaxInFlight]: '25',
      [ENV.sweepAfterSeconds]: '0',
      [ENV.degradedProbeSeconds]: '1',
      [ENV.subscriptionCacheSeconds]: '0',
      [ENV.secretGraceHours]: '0.002',
      [ENV.handshakeTimeoutSeconds]: '2',
      [ENV.webhookOrigin]: 'herald.e2e.example',
    };
    expect(settingsFor('deliver', local)).toMatchObject({ allowPrivateTargets: true, tenantMaxInFlight: 25, sweepAfterSeconds: 0, degradedProbeSeconds: 1, subscriptionCacheSeconds: 0 });
    expect(settingsFor('api', local)).toMatchObject({ secretGraceHours: 0.002, handshakeTimeoutSeconds: 2, webhookOrigin: 'herald.e2e.example' });
  });

  it('each function reads at least what the stack sets for it, and every variable name is read by some function', () => {
    const read = new Set<string>();
    for (const fn of Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]) {
      const names = settingNamesOf(fn);
      expect(names).toEqual(expect.arrayContaining([...FUNCTIONS[fn].env]));
      for (const name of names) read.add(name);
    }
    expect(Object.keys(ENV).filter((name) => !read.has(name))).toEqual([]);
  });
});

describe('a bad value fails the cold start with its name and value', () => {
  const cases: [keyof typeof FUNCTIONS, string, string, RegExp][] = [
    ['fanout', ENV.eventRetentionDays, 'abc', /decimal number/],
    ['fanout', ENV.eventRetentionDays, '0', /more than 0/],
    ['deliver', ENV.deliveryRetentionDays, '30d', /decimal number/],
    ['sweeper', ENV.sweepAfterSeconds, '-5', /0 or more/],
    ['api', ENV.sweepWindowSeconds, '120', /0.1 to 60/],
    ['api', ENV.sweepWindowSeconds, '0', /0.1 to 60/],
    ['api', ENV.secretGraceHours, 'NaN', /decimal number/],
    ['api', ENV.handshakeTimeoutSeconds, '60', /1 to 20/],
    ['deliver', ENV.allowPrivateTargets, 'true', /0 or 1/],
    ['deliver', ENV.tenantMaxInFlight, '2.5', /positive integer/],
    ['deliver', ENV.tenantMaxInFlight, '0', /positive integer/],
    ['deliver', ENV.degradedProbeSeconds, '0', /1 to 900/],
    ['deliver', ENV.degradedProbeSeconds, '1.5', /1 to 900/],
    ['deliver', ENV.degradedProbeSeconds, '3600', /1 to 900/],
    ['deliver', ENV.subscriptionCacheSeconds, '61', /0 to 60/],
    ['deliver', ENV.subscriptionCacheSeconds, '-1', /0 to 60/],
    ['deliver', ENV.subscriptionCacheSeconds, '10s', /decimal number/],
    ['deliver', ENV.destinationPorts, '443,http', /'http' is not a port/],
    ['api', ENV.tenantQuotas, '{"widgets":1}', /tenant quotas/],
    ['api', ENV.tenantQuotas, 'not json', /JSON/],
    ['api', ENV.destinationTrust, '{"operatorAccountTenants":"ten_1"}', /operatorAccountTenants/],
    ['deliver', ENV.destinationTrust, '{operatorAccountTenants: []}', /not JSON/],
    ['deliver', ENV.operatorAccount, '12345', /12-digit/],
    ['deliver', ENV.customerBusRoleArn, 'herald-role', /role ARN/],
    ['deliver', ENV.customerRoleName, 'a role', /role name/],
    ['sweeper', ENV.deliveryQueueUrl, 'herald-deliveries', /queue URL/],
    ['deliver', ENV.slowLaneQueueUrl, 'herald-slow-lane', /queue URL/],
    ['sweeper', ENV.slowLaneQueueUrl, 'sqs://herald-slow-lane', /queue URL/],
    ['authorizer', ENV.adminKeyHash, 'hk_admin_plain_text_key', /SHA-256/],
    ['api', ENV.webhookOrigin, 'https://herald.example', /DNS name/],
    ['api', ENV.publicApiUrl, 'api.example.com/prod', /URL/],
    ['api', ENV.thinLinkTemplate, '{type}/{subject}', /URL template/],
  ];
  it.each(cases)('%s: %s=%s', (fn, variable, value, why) => {
    const run = () => settingsFor(fn, { ...DEPLOYED, [variable]: value });
    expect(run).toThrow(why);
    expect(run).toThrow(`${variable} `);
    expect(run).toThrow(`got ${JSON.stringify(value)}`);
  });

  it('a required variable left unset or empty is named', () => {
    const { [ENV.tableName]: _gone, ...rest } = DEPLOYED;
    expect(() => settingsFor('authorizer', rest)).toThrow(`${ENV.tableName} is required`);
    expect(() => settingsFor('fanout', { ...DEPLOYED, [ENV.deliveryQueueUrl]: '' })).toThrow(`${ENV.deliveryQueueUrl} is required`);
  });

  it('names every bad variable at once', () => {
    const run = () => readSettings(['eventRetentionDays', 'sweepAfterSeconds', 'tableName'], { [ENV.eventRetentionDays]: 'x', [ENV.sweepAfterSeconds]: 'y' });
    expect(run).toThrow(new RegExp(`${ENV.eventRetentionDays}.*${ENV.sweepAfterSeconds}.*${ENV.tableName} is required`));
  });

  it('a handler module fails to load (the cold start) with the variable named', async () => {
    vi.resetModules();
    const saved = { ...process.env };
    Object.assign(process.env, DEPLOYED, { [ENV.eventRetentionDays]: 'thirty' });
    try {
      await expect(import('../../lambdas/fanout/handler.ts')).rejects.toThrow(`${ENV.eventRetentionDays} must be a decimal number, got "thirty"`);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

describe('one reader of the environment', () => {
  it('no file under lambdas/ but shared/settings.ts reads process.env', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.(ts|mts|js|mjs)$/.test(name)) files.push(path);
      }
    };
    walk(join(ROOT, 'lambdas'));
    expect(files.length).toBeGreaterThan(50);
    const readers = files.filter((file) => /process\s*\.\s*env|process\[['"]env['"]\]/.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file));
    expect(readers).toEqual(['lambdas/shared/settings.ts']);
  });

  it('no file under lambdas/ spells a variable name as a string outside herald-config.ts', () => {
    const quoted = new RegExp(`['"](${Object.values(ENV).join('|')})['"]`);
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.(ts|mjs)$/.test(name) && name !== 'herald-config.ts' && quoted.test(readFileSync(path, 'utf8'))) offenders.push(relative(ROOT, path));
      }
    };
    walk(join(ROOT, 'lambdas'));
    expect(offenders).toEqual([]);
  });
});
