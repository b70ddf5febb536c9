/**
 * A public URL that redirects to a private one: Herald never follows a redirect, so the private
 * target is never contacted and the attempt is recorded as a failed `redirect` with its Location.
 *
 * The redirecting endpoint has to be reachable without a network, so it runs on loopback and
 * this runtime allows private targets; the refusal to follow does not depend on that setting
 * (the sender has no redirect-following at all — see lambdas/adapters/http-sender.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_ssrf_redirects_000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, allowPrivateTargets: true });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Redirects' })).body;
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

it.each([
  [301, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
  [302, 'http://[fd00:ec2::254]/latest/meta-data'],
  [307, 'http://10.0.0.1/admin'],
  [308, '/internal'],
])('never follows a %i to %s', async (status, location) => {
  const path = `/redirect-${status}`;
  const target = location.startsWith('/') ? `${receiver.url}${location}` : location;
  receiver.script(path, [{ status, headers: { location: target } }]);
  const created = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [path] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    retryPolicy: { schedule: [], maxAttempts: 1 },
  });
  expect(created.status).toBe(201);
  await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: path, data: exampleOf('order.created') });
  const letters = await eventually(async () => {
    const res = await api('GET', `/v1/dead-letters?subscriptionId=${created.body.id}`, tenant.apiKey);
    return res.body.items?.length ? res.body.items : undefined;
  });
  expect(letters[0].attempts).toHaveLength(1);
  expect(letters[0].attempts[0]).toMatchObject({ statusCode: status, error: 'redirect', errorMessage: expect.stringContaining(target) });
  expect(receiver.on(path)).toHaveLength(1);
  expect(receiver.on('/internal')).toHaveLength(0);
});
