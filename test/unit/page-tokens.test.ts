/**
 * Pagination tokens open only for the key and the query scope that sealed them; anything else is
 * the 400 naming `nextToken`.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_TOKEN_LENGTH, openPageToken, sealPageToken } from '../../lambdas/adapters/page-tokens.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';

const key = randomBytes(32);
const scope = JSON.stringify(['gsi1', '#gpk = :gpk', '', false, [[':gpk', 'SUBDLV#ten_A#sub_X']]]);
const lastKey = {
  pk: 'DLV#dlv_01J9Z3T5Y7QWERTYUIOPASDFGH',
  sk: '#DLV',
  gsi1pk: 'SUBDLV#ten_01J9Z3T5Y7QWERTYUIOPASDFGH#sub_01J9Z3T5Y7QWERTYUIOPASDFGH',
  gsi1sk: '2025-01-01T00:00:00.000Z#dlv_01J9Z3T5Y7QWERTYUIOPASDFGH',
};

function refused(open: () => unknown): void {
  let error: unknown;
  try {
    open();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).status).toBe(400);
  expect((error as ValidationError).errors).toEqual([{ path: 'nextToken', message: expect.stringContaining('not a token') }]);
}

describe('page tokens', () => {
  it('round-trip for the same key and scope, opaque, url-safe and well under the route cap', () => {
    const token = sealPageToken(key, scope, lastKey);
    expect(openPageToken(key, scope, token)).toEqual(lastKey);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token.length).toBeLessThan(400);
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('SUBDLV');
    // A fresh IV each time: the same key seals to different tokens.
    expect(sealPageToken(key, scope, lastKey)).not.toBe(token);
  });

  it('keeps numbers', () => {
    const numeric = { pk: 'STATS#t#s', sk: 'B#1', n: 42 };
    expect(openPageToken(key, scope, sealPageToken(key, scope, numeric))).toEqual(numeric);
  });

  it('refuses a flipped bit anywhere', () => {
    const bytes = Buffer.from(sealPageToken(key, scope, lastKey), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i]! ^= 1 << i % 8;
      refused(() => openPageToken(key, scope, copy.toString('base64url')));
    }
  });

  it('refuses any one character changed, including padding bits of the last one', () => {
    const token = sealPageToken(key, scope, lastKey);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const at of [0, 1, Math.floor(token.length / 2), token.length - 1]) {
      for (const c of alphabet) {
        if (c === token[at]) continue;
        refused(() => openPageToken(key, scope, token.slice(0, at) + c + token.slice(at + 1)));
      }
    }
  });

  it('refuses a truncated or extended token', () => {
    const token = sealPageToken(key, scope, lastKey);
    for (const cut of [1, 2, 4, 22, token.length - 1]) refused(() => openPageToken(key, scope, token.slice(0, token.length - cut)));
    refused(() => openPageToken(key, scope, `${token}AAAA`));
  });

  it('refuses garbage, empty, oversized and the old base64 JSON tokens', () => {
    refused(() => openPageToken(key, scope, ''));
    refused(() => openPageToken(key, scope, 'garbage'));
    refused(() => openPageToken(key, scope, 'not base64 at all!'));
    refused(() => openPageToken(key, scope, 'A'.repeat(MAX_PAGE_TOKEN_LENGTH + 4)));
    refused(() => openPageToken(key, scope, Buffer.from(JSON.stringify({ pk: 'TENANT#other', sk: 'x' })).toString('base64url')));
    fc.assert(fc.property(fc.string(), (s) => refused(() => openPageToken(key, scope, s))));
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (b) => refused(() => openPageToken(key, scope, Buffer.from(b).toString('base64url')))));
  });

  it('refuses a token sealed for another scope (tenant, subscription, list)', () => {
    const token = sealPageToken(key, scope, lastKey);
    refused(() => openPageToken(key, scope.replace('ten_A', 'ten_B'), token));
    refused(() => openPageToken(key, scope.replace('sub_X', 'sub_Y'), token));
    refused(() => openPageToken(key, JSON.stringify(['table', '#pk = :pk', '', true, [[':pk', 'TENANT#ten_A']]]), token));
  });

  it('refuses a token sealed with another key', () => {
    const token = sealPageToken(randomBytes(32), scope, lastKey);
    refused(() => openPageToken(key, scope, token));
  });

  it('refuses a well-sealed payload that is not a key of string and number attributes', () => {
    for (const payload of [[], ['a'], {}, { pk: { S: 'x' } }, { pk: true }, { pk: null }, { pk: '' }]) {
      const token = sealPageToken(key, scope, payload as unknown as Record<string, unknown>);
      refused(() => openPageToken(key, scope, token));
    }
  });

  it('will not seal with a key of the wrong size', () => {
    expect(() => sealPageToken(randomBytes(16), scope, lastKey)).toThrow(/32 bytes/);
  });
});
