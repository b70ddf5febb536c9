import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ValidationError } from '#core/errors';

/**
 * Pagination tokens: opaque and tamper-evident. A token is DynamoDB's LastEvaluatedKey sealed
 * with AES-256-GCM under a key the stack owns (a random key kept in the table, see
 * table-queries.ts), with the query's scope (index, key condition, filter and their values: the
 * tenant, and for a delivery log the subscription) as associated data. So a token opens only
 * for the very list that returned it; a forged, edited, truncated or foreign token is refused
 * with a 400 naming `nextToken`, and never reaches DynamoDB.
 *
 *   token = base64url( version (1 byte) | IV (12 bytes) | ciphertext | tag (16 bytes) )
 *
 * No DynamoDB here: given a key and a scope, this module is pure (apart from random IVs).
 */

/** The route schemas (lambdas/api/routes.ts) accept nextToken up to this many characters. */
export const MAX_PAGE_TOKEN_LENGTH = 2048;

/** The key length AES-256 needs (bytes). */
export const PAGE_TOKEN_KEY_BYTES = 32;

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A DynamoDB key as a page token may carry it: attribute names to string or number values. */
export type PageKey = Record<string, string | number>;

export function pageTokenRefused(): ValidationError {
  return new ValidationError([{ path: 'nextToken', message: 'is not a token this API returned for this list' }]);
}

function additionalData(scope: string): Buffer {
  return Buffer.concat([Buffer.from([VERSION]), Buffer.from(scope, 'utf8')]);
}

function checkKey(key: Buffer): void {
  if (key.length !== PAGE_TOKEN_KEY_BYTES) throw new Error(`page token key must be ${PAGE_TOKEN_KEY_BYTES} bytes`);
}

/** Seals a LastEvaluatedKey for one scope. Throws (a bug, not a client error) when the result would be too long. */
export function sealPageToken(key: Buffer, scope: string, lastKey: Record<string, unknown>): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(scope));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(lastKey), 'utf8'), cipher.final()]);
  const token = Buffer.concat([Buffer.from([VERSION]), iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
  if (token.length > MAX_PAGE_TOKEN_LENGTH) throw new Error(`page token of ${token.length} characters exceeds ${MAX_PAGE_TOKEN_LENGTH}`);
  return token;
}

/**
 * Opens a token sealed by sealPageToken for the same key and scope. Anything else (garbage,
 * empty, truncated, edited, another scope's, another key's) throws the ValidationError on
 * `nextToken`.
 */
export function openPageToken(key: Buffer, scope: string, token: string): PageKey {
  checkKey(key);
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_PAGE_TOKEN_LENGTH || !BASE64URL.test(token)) {
    throw pageTokenRefused();
  }
  const bytes = Buffer.from(token, 'base64url');
  // Canonical encoding only: otherwise a changed last character whose bits decoding drops
  // would open as the same token.
  if (bytes.toString('base64url') !== token) throw pageTokenRefused();
  if (bytes.length < 1 + IV_BYTES + 1 + TAG_BYTES || bytes[0] !== VERSION) throw pageTokenRefused();
  const iv = bytes.subarray(1, 1 + IV_BYTES);
  const ciphertext = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(scope));
    decipher.setAuthTag(tag);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw pageTokenRefused();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw pageTokenRefused();
  }
  if (!isPageKey(parsed)) throw pageTokenRefused();
  return parsed;
}

function isPageKey(value: unknown): value is PageKey {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    entries.length > 0 &&
    entries.every(([, v]) => (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v)))
  );
}
