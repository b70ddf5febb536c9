/**
 * Herald's signatures verify with the Standard Webhooks reference library and with Svix's, and
 * during a rotation with either secret.
 */
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret, signWebhook } from '../../lambdas/core/signing.ts';

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
