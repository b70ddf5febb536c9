/**
 * Standard Webhooks `v1a` (ed25519) on the local runtime: a subscription with
 * `signature: "ed25519"` shows its `whpk_` public key, publishes the keys signing now, and its
 * deliveries verify with nothing but those public keys, checked here by node:crypto from the
 * spec alone (no Herald code): before, during and after a rotation (the overlap shortened to
 * seconds with HERALD_SECRET_GRACE_HOURS); a tampered body, id or timestamp fails.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver, type Received } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_ed25519_signatures_000000000000000';
/** The rotation overlap, shortened so "after the rotation" comes within the test. */
const GRACE_SECONDS = 8;
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let counter = 0;

/** A `whpk_` key as the spec defines it: base64 of the raw 32-byte ed25519 public key. */
function publicKeyFrom(whpk: string): KeyObject {
  expect(whpk).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
  const raw = Buffer.from(whpk.slice('whpk_'.length), 'base64');
  expect(raw).toHaveLength(32);
  return createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') } });
}

/** The `v1a` entries of a request that verify with this key, over `id.timestamp.body` as received. */
function verifyingEntries(request: Pick<Received, 'headers' | 'body'>, whpk: string): string[] {
  const signed = Buffer.from(`${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.${request.body}`, 'utf8');
  const key = publicKeyFrom(whpk);
  return String(request.headers['webhook-signature'] ?? '')
    .split(' ')
    .filter((entry) => {
      const [version, signature] = entry.split(',');
      return version === 'v1a' && verify(null, signed, key, Buffer.from(signature ?? '', 'base64'));
    });
}

async function subscribe(path: string, extra: Record<string, unknown> = {}) {
  const prefix = `ed${++counter}:`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    filter: { subject: [{ prefix }] },
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    signature: 'ed25519',
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...(res.body as { id: string; publicKey: string; secret?: string; signature: string }), prefix };
}

async function publish(prefix: string, subject: string): Promise<void> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: `${prefix}${subject}`, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
}

const publicKeys = async (id: string) => {
  const res = await api('GET', `/v1/subscriptions/${id}/public-keys`, tenant.apiKey);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items as { publicKey: string; createdAt: string; expiresAt?: string }[];
};

beforeAll(async () => {
  // Handlers read their settings at cold start: set before the runtime loads them.
  process.env.HERALD_SECRET_GRACE_HOURS = String(GRACE_SECONDS / 3600);
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Ed25519' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
  delete process.env.HERALD_SECRET_GRACE_HOURS;
});

describe('signature "ed25519"', () => {
  it('verifies with the published public key before, during and after a rotation; tampering fails', async () => {
    const sub = await subscribe('/ed25519');
    // No secret: the private key never leaves Herald; the public key is on every read.
    expect(sub.secret).toBeUndefined();
    expect(sub.signature).toBe('ed25519');
    const first = sub.publicKey;
    publicKeyFrom(first);
    const read = await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey);
    expect(read.body.publicKey).toBe(first);
    expect(JSON.stringify(read.body)).not.toMatch(/whsk_|whsec_/);
    expect((await publicKeys(sub.id)).map((k) => k.publicKey)).toEqual([first]);

    await publish(sub.prefix, 'before');
    const [before] = await receiver.waitFor('/ed25519', 1);
    expect(String(before!.headers['webhook-signature'])).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifyingEntries(before!, first)).toHaveLength(1);
    // Tampering with any signed part fails: body, id or timestamp.
    expect(verifyingEntries({ ...before!, body: before!.body.replace('"order.created"', '"order.cancelled"') }, first)).toEqual([]);
    expect(verifyingEntries({ ...before!, body: `${before!.body} ` }, first)).toEqual([]);
    expect(verifyingEntries({ ...before!, headers: { ...before!.headers, 'webhook-id': 'dlv_forged' } }, first)).toEqual([]);
    expect(verifyingEntries({ ...before!, headers: { ...before!.headers, 'webhook-timestamp': String(Number(before!.headers['webhook-timestamp']) + 1) } }, first)).toEqual([]);

    const rotated = await api('POST', `/v1/subscriptions/${sub.id}/rotate-secret`, tenant.apiKey, {});
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    // The new public key and when the old one stops signing; never a secret.
    expect(Object.keys(rotated.body).sort()).toEqual(['previousSecretExpiresAt', 'publicKey']);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
    const second = rotated.body.publicKey as string;
    expect(second).not.toBe(first);
    const during = await publicKeys(sub.id);
    expect(during.map((k) => k.publicKey)).toEqual([second, first]);
    expect(during[0]!.expiresAt).toBeUndefined();
    const overlapEnds = Date.parse(during[1]!.expiresAt!);
    expect(overlapEnds - Date.now()).toBeLessThanOrEqual(GRACE_SECONDS * 1000);
    expect((await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey)).body.publicKey).toBe(second);

    // During the overlap: two v1a signatures, one per key, each verifying alone.
    await publish(sub.prefix, 'during');
    const [, inOverlap] = await receiver.waitFor('/ed25519', 2);
    expect(Number(inOverlap!.headers['webhook-timestamp']) * 1000).toBeLessThan(overlapEnds);
    expect(String(inOverlap!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyingEntries(inOverlap!, first)).toHaveLength(1);
    expect(verifyingEntries(inOverlap!, second)).toHaveLength(1);
    expect(verifyingEntries({ ...inOverlap!, body: `${inOverlap!.body}\n` }, second)).toEqual([]);

    // After it: the old key is gone from the published list and signs nothing.
    await new Promise((r) => setTimeout(r, Math.max(0, overlapEnds - Date.now()) + 1100));
    expect((await publicKeys(sub.id)).map((k) => k.publicKey)).toEqual([second]);
    await publish(sub.prefix, 'after');
    const [, , after] = await receiver.waitFor('/ed25519', 3);
    expect(String(after!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifyingEntries(after!, second)).toHaveLength(1);
    expect(verifyingEntries(after!, first)).toEqual([]);
  }, 40_000);

  it('a test event and a transformed body are signed over the bytes sent', async () => {
    const sub = await subscribe('/ed25519-templated', { destination: { type: 'webhook', url: `${receiver.url}/ed25519-templated`, transform: '{"kind": type, "ref": subject}' } });
    await publish(sub.prefix, 'shaped');
    const test = await api('POST', `/v1/subscriptions/${sub.id}/test`, tenant.apiKey, {});
    expect(test.status).toBe(202);
    const requests = await receiver.waitFor('/ed25519-templated', 2);
    for (const request of requests) expect(verifyingEntries(request, sub.publicKey)).toHaveLength(1);
    expect(requests.map((r) => JSON.parse(r.body).kind).sort()).toEqual(['herald.ping', 'order.created']);
  });

  it('refuses what cannot go with it, and cannot be switched after creation', async () => {
    const base = { name: 'bad', eventTypes: ['order.created'], signature: 'ed25519', destination: { type: 'webhook', url: `${receiver.url}/never` } };
    for (const [body, path] of [
      [{ ...base, secret: `whsec_${randomBytes(32).toString('base64')}` }, 'secret'],
      [{ ...base, destination: { ...base.destination, legacySignature: { header: 'X-Signature' } } }, 'destination.legacySignature'],
      [{ ...base, destination: { type: 'http', url: `${receiver.url}/never` } }, 'signature'],
      [{ ...base, signature: 'rsa' }, 'signature'],
    ] as const) {
      const res = await api('POST', '/v1/subscriptions', tenant.apiKey, body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const sub = await subscribe('/fixed');
    const same = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { signature: 'ed25519', name: 'renamed' });
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(same.body.publicKey).toBe(sub.publicKey);
    const switched = await api('PATCH', `/v1/subscriptions/${sub.id}`, tenant.apiKey, { signature: 'hmac' });
    expect(switched.status).toBe(400);
    expect(switched.body.errors[0].path).toBe('signature');
    const imported = await api('POST', `/v1/subscriptions/${sub.id}/rotate-secret`, tenant.apiKey, { secret: `whsec_${randomBytes(32).toString('base64')}` });
    expect(imported.status).toBe(400);
    expect((await publicKeys(sub.id)).map((k) => k.publicKey)).toEqual([sub.publicKey]);
  });

  it('an hmac subscription has no public keys to publish: a 409 saying why', async () => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'hmac', eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/hmac` } });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_/);
    expect(res.body.publicKey).toBeUndefined();
    const keys = await api('GET', `/v1/subscriptions/${res.body.id}/public-keys`, tenant.apiKey);
    expect(keys.status).toBe(409);
    expect(keys.body.detail).toContain('ed25519');
    const unknown = await api('GET', '/v1/subscriptions/sub_01HZZZZZZZZZZZZZZZZZZZZZZZ/public-keys', tenant.apiKey);
    expect(unknown.status).toBe(404);
  });
});
