/**
 * Herald's signatures verify with the Standard Webhooks reference library and with Svix's, and
 * during a rotation with either secret; `v1a` (ed25519) signatures verify with node:crypto and
 * nothing but the `whpk_` public key.
 */
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHmac, createPublicKey, randomBytes, verify } from 'node:crypto';
import { generateSigningKey, generateSigningSecret, importedSecretProblem, normaliseImportedSecret, publicKeyOf, signWebhook } from '../../lambdas/core/signing.ts';

const at = new Date();
const body = JSON.stringify({ specversion: '1.0', type: 'order.created', data: { orderId: 'o-1', note: 'naïve ✓' } });

describe('signWebhook', () => {
  it('produces Standard Webhooks headers that both reference libraries verify', () => {
    const secret = generateSigningSecret();
    const headers = signWebhook([secret], 'msg_1', at, body);
    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(new StandardWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('signs with every active secret during a rotation; each verifies alone', () => {
    const [oldSecret, newSecret] = [generateSigningSecret(), generateSigningSecret()];
    const headers = signWebhook([newSecret, oldSecret], 'msg_2', at, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) expect(() => new StandardWebhook(secret).verify(body, { ...headers })).not.toThrow();
    expect(() => new StandardWebhook(generateSigningSecret()).verify(body, { ...headers })).toThrow();
  });

  it('detects any change to the body, id or timestamp', () => {
    const secret = generateSigningSecret();
    const verifier = new StandardWebhook(secret);
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (tamper) => {
        const headers = signWebhook([secret], 'msg_3', at, body);
        expect(() => verifier.verify(body + tamper, { ...headers })).toThrow();
        expect(() => verifier.verify(body, { ...headers, 'webhook-id': `msg_3${tamper}` })).toThrow();
      }),
      { numRuns: 50 },
    );
    const headers = signWebhook([secret], 'msg_3', at, body);
    expect(() => verifier.verify(body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) })).toThrow();
  });

  it('generates distinct 32-byte secrets in the whsec_ format', () => {
    const secrets = new Set(Array.from({ length: 50 }, generateSigningSecret));
    expect(secrets.size).toBe(50);
    for (const secret of secrets) expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('refuses to sign without a secret', () => {
    expect(() => signWebhook([], 'msg_4', at, body)).toThrow(/at least one signing secret/);
  });
});

describe('imported secrets', () => {
  const providerSignature = (key: Buffer, id: string, seconds: string, payload: string) =>
    createHmac('sha256', key).update(`${id}.${seconds}.${payload}`).digest('base64');

  it('keeps a whsec_ secret as it is: deliveries verify with the secret the receiver already has', () => {
    const theirs = `whsec_${randomBytes(24).toString('base64')}`;
    const stored = normaliseImportedSecret(theirs);
    expect(stored).toBe(theirs);
    const headers = signWebhook([stored], 'msg_imp', at, body);
    expect(() => new StandardWebhook(theirs).verify(body, { ...headers })).not.toThrow();
  });

  it('stores a raw secret as whsec_ + base64 of its UTF-8 bytes: the HMAC is the provider’s own', () => {
    const raw = 'pk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
    const stored = normaliseImportedSecret(raw);
    expect(stored).toBe(`whsec_${Buffer.from(raw, 'utf8').toString('base64')}`);
    const headers = signWebhook([stored], 'msg_raw', at, body);
    expect(headers['webhook-signature']).toBe(`v1,${providerSignature(Buffer.from(raw, 'utf8'), 'msg_raw', headers['webhook-timestamp'], body)}`);
  });

  it('any visible-ASCII raw secret of 32+ characters signs like the provider', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{32,80}$/), (raw) => {
        if (raw.startsWith('whsec_')) return;
        const headers = signWebhook([normaliseImportedSecret(raw)], 'm', at, body);
        expect(headers['webhook-signature']).toBe(`v1,${providerSignature(Buffer.from(raw), 'm', headers['webhook-timestamp'], body)}`);
      }),
      { numRuns: 50 },
    );
  });

  it('makes a whsec_ secret’s base64 canonical only when it decodes to the same key', () => {
    const key = randomBytes(32);
    expect(normaliseImportedSecret(`whsec_${key.toString('base64')}`)).toBe(`whsec_${key.toString('base64')}`);
  });

  it.each([
    ['whsec_', 'standard base64'],
    ['whsec_not base64!!', 'standard base64'],
    [`whsec_${randomBytes(16).toString('base64')}`, '24–64 bytes, got 16'],
    [`whsec_${randomBytes(65).toString('base64')}`, '24–64 bytes, got 65'],
    // base64url's own characters: always present here (a random key could happen to lack them).
    [`whsec_${randomBytes(30).toString('base64').slice(0, 40)}-_-_`, 'standard base64'],
    ['short-secret', '32–512 characters'],
    ['a'.repeat(513), '32–512 characters'],
    ['a secret with spaces in it, long enough anyway', 'visible ASCII'],
    [`${'é'.repeat(40)}`, 'visible ASCII'],
  ])('refuses %j', (secret, message) => {
    expect(importedSecretProblem(secret)).toContain(message);
    expect(() => normaliseImportedSecret(secret)).toThrow();
  });

  it('accepts the bounds', () => {
    expect(importedSecretProblem(`whsec_${randomBytes(24).toString('base64')}`)).toBeUndefined();
    expect(importedSecretProblem(`whsec_${randomBytes(64).toString('base64')}`)).toBeUndefined();
    expect(importedSecretProblem('x'.repeat(32))).toBeUndefined();
  });
});

describe('ed25519 (v1a)', () => {
  /** A receiver's check, from the spec alone: the whpk_ key is the raw 32-byte ed25519 public key. */
  const verifiesWith = (publicKey: string, headers: Record<string, string>, payload: string) => {
    const key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.slice('whpk_'.length), 'base64').toString('base64url') } });
    const signed = Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${payload}`, 'utf8');
    return headers['webhook-signature']!.split(' ').some((entry) => {
      const [version, signature] = entry.split(',');
      return version === 'v1a' && verify(null, signed, key, Buffer.from(signature ?? '', 'base64'));
    });
  };

  it('generates whsk_ keys (seed and public key, 64 bytes) whose whpk_ half is 32 bytes', () => {
    const keys = new Set(Array.from({ length: 20 }, generateSigningKey));
    expect(keys.size).toBe(20);
    for (const key of keys) {
      expect(key).toMatch(/^whsk_[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(key.slice(5), 'base64')).toHaveLength(64);
      expect(Buffer.from(publicKeyOf(key).slice(5), 'base64')).toHaveLength(32);
    }
  });

  it('signs id.timestamp.body as v1a,<base64 64-byte signature> that the public key verifies', () => {
    const key = generateSigningKey();
    const headers = signWebhook([key], 'msg_a1', at, body);
    expect(headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifiesWith(publicKeyOf(key), { ...headers }, body)).toBe(true);
    expect(verifiesWith(publicKeyOf(generateSigningKey()), { ...headers }, body)).toBe(false);
  });

  it('detects any change to the body, id or timestamp', () => {
    const key = generateSigningKey();
    const headers = signWebhook([key], 'msg_a2', at, body);
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (tamper) => {
        expect(verifiesWith(publicKeyOf(key), { ...headers }, body + tamper)).toBe(false);
        expect(verifiesWith(publicKeyOf(key), { ...headers, 'webhook-id': `msg_a2${tamper}` }, body)).toBe(false);
      }),
      { numRuns: 30 },
    );
    expect(verifiesWith(publicKeyOf(key), { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) }, body)).toBe(false);
  });

  it('signs with both keys during a rotation; each public key verifies alone', () => {
    const [oldKey, newKey] = [generateSigningKey(), generateSigningKey()];
    const headers = signWebhook([newKey, oldKey], 'msg_a3', at, body);
    expect(headers['webhook-signature'].split(' ').map((e) => e.split(',')[0])).toEqual(['v1a', 'v1a']);
    for (const key of [oldKey, newKey]) expect(verifiesWith(publicKeyOf(key), { ...headers }, body)).toBe(true);
  });

  it('refuses a malformed key rather than signing with it', () => {
    expect(() => signWebhook([`whsk_${randomBytes(32).toString('base64')}`], 'm', at, body)).toThrow(/64 bytes/);
    expect(() => publicKeyOf(generateSigningSecret())).toThrow(/whsk_/);
  });
});
