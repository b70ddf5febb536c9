/**
 * SSRF protection with the deployed rules (HERALD_ALLOW_PRIVATE_TARGETS=0): hostile targets are
 * refused at subscription time with a clear reason, and re-checked at every delivery so a host
 * that turns private later is recorded as `blocked_destination`, never connected to.
 * DNS answers are staged through the resolver seam; nothing here leaves the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolver } from '../../lambdas/adapters/dns-resolver.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';

const ADMIN = 'hk_admin_e2e_ssrf_000000000000000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
const staged = new Map<string, string[]>();
const realLookup = resolver.lookup;

beforeAll(async () => {
  // Only staged names resolve; anything else fails like NXDOMAIN, so no test depends on real DNS.
  resolver.lookup = async (host: string) => {
    const answer = staged.get(host);
    if (!answer) throw Object.assign(new Error(`queryA ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  };
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, allowPrivateTargets: false });
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Hostile' })).body;
});

afterAll(async () => {
  resolver.lookup = realLookup;
  await herald?.stop();
});

function createWith(url: string) {
  return api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'ssrf', eventTypes: ['order.created'], destination: { type: 'webhook', url } });
}

describe('refused at subscription time', () => {
  const hostile: [string, string][] = [
    ['http://example.com/hook', 'plain http'],
    ['https://127.0.0.1/hook', 'loopback'],
    ['https://127.1.2.3/hook', 'loopback range'],
    ['https://[::1]/hook', 'IPv6 loopback'],
    ['https://[::ffff:127.0.0.1]/hook', 'IPv4-mapped loopback'],
    ['https://[::ffff:7f00:1]/hook', 'IPv4-mapped loopback, hex'],
    ['https://[::127.0.0.1]/hook', 'IPv4-compatible loopback'],
    ['https://2130706433/hook', 'decimal loopback'],
    ['https://0x7f.1/hook', 'hex shorthand loopback'],
    ['https://0177.0.0.1/hook', 'octal loopback'],
    ['https://169.254.169.254/latest/meta-data', 'cloud metadata'],
    ['https://[fd00:ec2::254]/latest/meta-data', 'cloud metadata over IPv6'],
    ['https://[::ffff:169.254.169.254]/', 'mapped metadata'],
    ['https://10.0.0.1/hook', 'private 10/8'],
    ['https://172.16.5.4/hook', 'private 172.16/12'],
    ['https://192.168.1.10/hook', 'private 192.168/16'],
    ['https://100.64.0.1/hook', 'CGNAT'],
    ['https://0.0.0.0/hook', 'unspecified'],
    ['https://[::]/hook', 'IPv6 unspecified'],
    ['https://224.0.0.1/hook', 'multicast'],
    ['https://[ff02::1]/hook', 'IPv6 multicast'],
    ['https://[fe80::1]/hook', 'IPv6 link-local'],
    ['https://[fc00::1]/hook', 'IPv6 unique local'],
    ['https://255.255.255.255/hook', 'broadcast'],
    ['https://localhost/hook', 'localhost'],
    ['https://api.localhost/hook', 'localhost subdomain'],
    ['https://internal.private-host.test/hook', 'name resolving to a private address'],
    ['https://mixed.private-host.test/hook', 'name resolving to public and private addresses'],
    ['https://metadata.private-host.test/hook', 'name resolving to the metadata address'],
    ['https://v6.private-host.test/hook', 'name resolving to an IPv6 loopback'],
    ['https://nxdomain.private-host.test/hook', 'name that does not resolve'],
    ['ftp://example.com/file', 'not http'],
  ];

  beforeAll(() => {
    staged.set('internal.private-host.test', ['10.1.2.3']);
    staged.set('mixed.private-host.test', ['93.184.216.34', '192.168.0.5']);
    staged.set('metadata.private-host.test', ['169.254.169.254']);
    staged.set('v6.private-host.test', ['::1']);
  });

  it('refuses at least 25 hostile targets', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(25);
  });

  it.each(hostile)('%s (%s) → 400 with a reason on destination.url', async (url) => {
    const res = await createWith(url);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    const error = res.body.errors.find((e: { path: string }) => e.path === 'destination.url');
    expect(error, JSON.stringify(res.body)).toBeDefined();
    expect(error.message.length).toBeGreaterThan(5);
  });

  it('refuses a hostile URL on PATCH too', async () => {
    staged.set('ok.public-host.test', ['93.184.216.34']);
    const created = await createWith('https://ok.public-host.test/hook');
    expect(created.status).toBe(201);
    const res = await api('PATCH', `/v1/subscriptions/${created.body.id}`, tenant.apiKey, { destination: { type: 'webhook', url: 'https://169.254.169.254/' } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('destination.url');
  });
});

describe('checked again at delivery', () => {
  it('blocks a host that resolved public at create and private at delivery, without connecting', async () => {
    staged.set('rebind.public-host.test', ['93.184.216.34']);
    const created = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'rebinding',
      eventTypes: ['order.shipped'],
      destination: { type: 'webhook', url: 'https://rebind.public-host.test/hook' },
      retryPolicy: { schedule: [], maxAttempts: 1 },
    });
    expect(created.status).toBe(201);
    staged.set('rebind.public-host.test', ['127.0.0.1']);
    await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.shipped', subject: 'o-1', data: exampleOf('order.shipped') });
    const letters = await eventually(async () => {
      const res = await api('GET', `/v1/dead-letters?subscriptionId=${created.body.id}`, tenant.apiKey);
      return res.body.items?.length ? res.body.items : undefined;
    });
    expect(letters[0].attempts[0]).toMatchObject({ error: 'blocked_destination', errorMessage: expect.stringContaining('127.0.0.1') });
  });
});
