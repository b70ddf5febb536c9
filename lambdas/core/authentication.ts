import { timingSafeEqual } from 'node:crypto';
import { bearerToken, hashApiKey, keyPrefixOf, type Principal } from './api-keys.ts';
import { UnauthorizedError } from './errors.ts';
import type { ApiKeyStore } from './ports.ts';

/**
 * Resolves `Authorization: Bearer <key>` to a principal. The platform admin key is known only by
 * its SHA-256 (a stack parameter); tenant keys by the hash stored at creation. Either way the
 * plaintext key is never stored.
 */
export async function authenticate(keys: Pick<ApiKeyStore, 'getApiKey'>, adminKeyHash: string | undefined, header: string | undefined, now = new Date()): Promise<Principal> {
  const token = bearerToken(header);
  if (!token || token.length > 256) throw new UnauthorizedError();
  const hash = hashApiKey(token);
  if (adminKeyHash && sameHex(hash, adminKeyHash)) return { role: 'admin' };
  const record = await keys.getApiKey(hash);
  if (!record || record.revokedAt) throw new UnauthorizedError();
  if (record.portal) {
    if (record.role !== 'tenant' || !record.tenantId || !record.sessionEndsAt || !(Date.parse(record.sessionEndsAt) > now.getTime())) throw new UnauthorizedError();
    return { role: 'tenant', tenantId: record.tenantId, portal: true, readOnly: record.readOnly === true, expiresAt: record.sessionEndsAt };
  }
  return record.role === 'admin' ? { role: 'admin' } : { role: 'tenant', tenantId: record.tenantId, keyPrefix: keyPrefixOf(token) };
}

function sameHex(a: string, b: string): boolean {
  const left = Buffer.from(a.toLowerCase(), 'utf8');
  const right = Buffer.from(b.trim().toLowerCase(), 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
