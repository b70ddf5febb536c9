import { createHash, randomBytes } from 'node:crypto';

export type Role = 'admin' | 'tenant';

export interface Principal {
  role: Role;
  /** Set for tenant keys; the admin names a tenant per request. */
  tenantId?: string;
  keyPrefix?: string;
  /** Set for a portal session (core/portal-sessions.ts): short-lived, maybe read-only. */
  portal?: boolean;
  readOnly?: boolean;
  /** A portal session's end: checked on every request, whatever the authorizer cache holds. */
  expiresAt?: string;
}

/**
 * An API key is `hk_<prefix>_<secret>`: 32 random bytes of secret, plus a short non-secret prefix
 * that identifies the key in listings and logs without revealing it. Only the SHA-256 is stored.
 */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x'); // ID_FORMATS.apiKey
  const key = `hk_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function keyPrefixOf(key: string): string | undefined {
  return /^hk_([A-Za-z0-9]+)_/.exec(key)?.[1];
}

/** `Authorization: Bearer <key>`, tolerant of case and surrounding spaces, nothing else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
