import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { hashApiKey, type Principal } from './api-keys.ts';
import { ForbiddenError, UnauthorizedError } from './errors.ts';
import type { ApiKeyStore } from './ports.ts';

/**
 * Portal sessions: a platform embeds the tenant console in its own app (as the Svix App Portal
 * does) without handing the browser a long-lived API key. The platform's backend asks for a
 * short-lived, tenant-scoped token, optionally read-only, and opens the console with it in the
 * URL fragment (`…/console/#session=<token>`). Only the token's SHA-256 is stored, beside the API
 * keys, so the authorizer finds it the same way.
 *
 * API Gateway caches the authorizer's answer for 5 minutes per token, so the authorizer alone
 * would let a session live up to 5 minutes past its end. The end therefore travels in the
 * authorizer's context and the api function checks it on every request (`checkSessionAllows`):
 * a session stops working at its expiry, cached or not.
 */

export const PORTAL_SESSION_MIN_SECONDS = 60;
export const PORTAL_SESSION_MAX_SECONDS = 8 * 3600;
export const PORTAL_SESSION_DEFAULT_SECONDS = 15 * 60;

export const createPortalSessionSchema = z
  .object({
    readOnly: z.boolean().default(false),
    ttlSeconds: z.number().int().min(PORTAL_SESSION_MIN_SECONDS).max(PORTAL_SESSION_MAX_SECONDS).default(PORTAL_SESSION_DEFAULT_SECONDS),
  })
  .strict();

export interface PortalSession {
  token: string;
  tenantId: string;
  readOnly: boolean;
  expiresAt: string;
}

/** `hps_<prefix>_<secret>`: told apart from API keys (`hk_`) in logs and by secret scanners. */
function generateSessionToken(): { token: string; prefix: string; hash: string } {
  const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
  const token = `hps_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { token, prefix, hash: hashApiKey(token) };
}

export async function createPortalSession(
  ports: { keys: Pick<ApiKeyStore, 'putPortalSession'>; clock: () => Date },
  tenantId: string,
  input: z.infer<typeof createPortalSessionSchema>,
): Promise<PortalSession> {
  const now = ports.clock();
  const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000).toISOString();
  const { token, prefix, hash } = generateSessionToken();
  await ports.keys.putPortalSession({ hash, prefix, role: 'tenant', tenantId, createdAt: now.toISOString(), portal: true, readOnly: input.readOnly, sessionEndsAt: expiresAt });
  return { token, tenantId, readOnly: input.readOnly, expiresAt };
}

const READING = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * What a portal session may do, checked by the api function on every request: nothing after
 * its end (whatever the authorizer cache says), only reads when read-only, and never anything
 * with API keys (a session must not mint the long-lived key it exists to avoid).
 */
export function checkSessionAllows(principal: Principal, method: string, path: string, now: Date): void {
  if (!principal.portal) return;
  if (!principal.expiresAt || !(Date.parse(principal.expiresAt) > now.getTime())) throw new UnauthorizedError('the portal session has expired');
  if (path === '/v1/keys' || path.startsWith('/v1/keys/')) throw new ForbiddenError('a portal session cannot list, create or revoke API keys');
  if (principal.readOnly && !READING.has(method)) throw new ForbiddenError('this portal session is read-only');
}
