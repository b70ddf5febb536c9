/**
 * `herald receive`, the receiver starter: which requests it calls verified (Standard Webhooks v1
 * with a whsec_ secret through the `standardwebhooks` package, v1a ed25519 with a whpk_ public key),
 * what it answers, how it prints them, and `--field` for scripts. A real delivery through it runs
 * in test/e2e/cli.test.ts and test/e2e/readme-walkthrough.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { fieldsOf, main } from '../../cli/herald.ts';
import { describeWebhook, receiverKeyProblem, startReceiver, verifyWebhook, type ReceivedWebhook } from '../../cli/receive.ts';
import { generateSigningKey, generateSigningSecret, publicKeyOf, signWebhook } from '../../lambdas/core/signing.ts';

const body = '{"specversion":"1.0","type":"order.created","data":{"orderId":"order-1001"}}';
const secret = generateSigningSecret();
const signingKey = generateSigningKey();
const publicKey = publicKeyOf(signingKey);

describe('verifyWebhook', () => {
  it('verifies v1 with the secret and v1a with the public key', () => {
    expect(verifyWebhook({ secret }, signWebhook([secret], 'msg_1', new Date(), body), body)).toEqual({ verified: true, scheme: 'v1' });
    expect(verifyWebhook({ publicKey }, signWebhook([signingKey], 'msg_1', new Date(), body), body)).toEqual({ verified: true, scheme: 'v1a' });
  });

  it('verifies during a rotation, when two signatures are sent', () => {
    const headers = signWebhook([generateSigningSecret(), secret], 'msg_2', new Date(), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyWebhook({ secret }, headers, body).verified).toBe(true);
  });

  it('refuses a changed body, another key, an old timestamp and missing headers', () => {
    const headers = signWebhook([secret], 'msg_3', new Date(), body);
    expect(verifyWebhook({ secret }, headers, body.replace('1001', '1002'))).toMatchObject({ verified: false, error: expect.stringMatching(/^v1: /) });
    expect(verifyWebhook({ secret: generateSigningSecret() }, headers, body).verified).toBe(false);
    const edHeaders = signWebhook([signingKey], 'msg_3', new Date(), body);
    expect(verifyWebhook({ publicKey: publicKeyOf(generateSigningKey()) }, edHeaders, body)).toEqual({ verified: false, error: 'v1a: no v1a signature matches the public key' });
    expect(verifyWebhook({ publicKey }, edHeaders, `${body} `).verified).toBe(false);
    const old = signWebhook([signingKey], 'msg_4', new Date(Date.now() - 10 * 60_000), body);
    expect(verifyWebhook({ publicKey }, old, body)).toEqual({ verified: false, error: 'v1a: timestamp more than 5 minutes off' });
    expect(verifyWebhook({ secret }, signWebhook([secret], 'msg_4', new Date(Date.now() - 10 * 60_000), body), body).verified).toBe(false);
    expect(verifyWebhook({ secret }, { 'webhook-id': 'msg_5' }, body)).toEqual({ verified: false, error: 'missing webhook-id, webhook-timestamp or webhook-signature' });
  });

  it('a v1 HMAC signature does not pass for a public key, nor v1a for a secret', () => {
    expect(verifyWebhook({ publicKey }, signWebhook([secret], 'msg_6', new Date(), body), body).verified).toBe(false);
    expect(verifyWebhook({ secret }, signWebhook([signingKey], 'msg_6', new Date(), body), body).verified).toBe(false);
  });

  it('checks nothing when given no key', () => {
    expect(verifyWebhook({}, {}, body)).toEqual({});
  });
});

describe('receiverKeyProblem', () => {
  it('names the option that is not a key', () => {
    expect(receiverKeyProblem({ secret, publicKey })).toBeUndefined();
    expect(receiverKeyProblem({ secret: 'hunter2' })).toMatch(/^--secret must be/);
    expect(receiverKeyProblem({ secret: 'whsec_!!' })).toMatch(/^--secret/);
    expect(receiverKeyProblem({ publicKey: 'whpk_AAAA' })).toMatch(/^--public-key must be whpk_ followed by the base64 of a 32-byte/);
    expect(receiverKeyProblem({ publicKey: secret })).toMatch(/^--public-key must be/);
  });
});

describe('the receiver', () => {
  it('answers 204 to a verified webhook and 400 to a forged one, printing each', async () => {
    const seen: ReceivedWebhook[] = [];
    const { server, url } = await startReceiver({ secret, port: 0, host: '127.0.0.1', onWebhook: (w) => seen.push(w) });
    try {
      const good = await fetch(`${url}/hooks`, { method: 'POST', headers: { ...signWebhook([secret], 'msg_7', new Date(), body), 'content-type': 'application/json' }, body });
      expect(good.status).toBe(204);
      const forged = await fetch(`${url}/hooks`, { method: 'POST', headers: { ...signWebhook([generateSigningSecret()], 'msg_8', new Date(), body) }, body });
      expect(forged.status).toBe(400);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen.map((w) => [w.headers['webhook-id'], w.verified, w.status])).toEqual([
      ['msg_7', true, 204],
      ['msg_8', false, 400],
    ]);
    expect(seen[0]!.body).toBe(body);
    const printed = describeWebhook(seen[0]!).split('\n');
    expect(printed[0]).toBe('✓ POST /hooks  signature verified (v1)  → 204');
    expect(printed).toContain('  webhook-id: msg_7');
    expect(printed.at(-1)).toBe(`  ${body}`);
    expect(describeWebhook(seen[1]!)).toMatch(/^✗ POST \/hooks {2}signature NOT verified: v1: /);
  });

  it('usage errors: no port, a bad port, a key that is not one (exit 2)', async () => {
    const errors: string[] = [];
    const io = { out: () => {}, err: (l: string) => errors.push(l), env: {} };
    expect(await main(['receive'], io)).toBe(2);
    expect(errors[0]).toContain('receive needs --port');
    expect(await main(['receive', '--port', '70000'], io)).toBe(2);
    expect(await main(['receive', '--port', '4000', '--secret', 'nope'], io)).toBe(2);
    expect(errors.join('\n')).toContain('--secret must be');
    expect(errors.join('\n')).not.toContain('no API key');
  });
});

describe('--field', () => {
  it('prints the named fields tab-separated, nested ones by dot path', () => {
    expect(fieldsOf({ id: 'sub_1', secret: 'whsec_x', destination: { url: 'http://a' } }, 'id,secret,destination.url')).toBe('sub_1\twhsec_x\thttp://a');
  });

  it('a field the answer lacks is an error naming the fields it has', () => {
    expect(() => fieldsOf({ id: 'sub_1', publicKey: 'whpk_x' }, 'id,secret')).toThrow('the answer has no "secret" (its fields: id, publicKey)');
  });
});
