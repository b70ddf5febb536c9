/**
 * Portal sessions (core/portal-sessions.ts): a short-lived, tenant-scoped token that
 * authenticates like a key until its end and not a moment after; the api function's check on
 * every request, which is what ends a session whose Allow API Gateway still has cached; read-only
 * sessions; and that a session can never reach the API-key routes.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lambdas/core/api-keys.ts';
import { authenticate } from '../../lambdas/core/authentication.ts';
import { checkSessionAllows, createPortalSession, createPortalSessionSchema } from '../../lambdas/core/portal-sessions.ts';
import type { ApiKeyRecord, ApiKeyStore } from '../../lambdas/core/ports.ts';
import { principalOf } from '../../lambdas/shared/http.ts';

function keyStore() {
  const records = new Map<string, ApiKeyRecord>();
  const store: Pick<ApiKeyStore, 'getApiKey' | 'putPortalSession'> = {
    getApiKey: async (hash) => records.get(hash),
    putPortalSession: async (record) => void records.set(record.hash, record),
  };
  return { store, records };
}

const T0 = new Date('2026-12-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

async function session(readOnly = false, ttlSeconds = 900) {
  const { store, records } = keyStore();
  const created = await createPortalSession({ keys: store, clock: () => T0 }, 'ten_1', createPortalSessionSchema.parse({ readOnly, ttlSeconds }));
  return { store, records, created };
}

describe('creating a portal session', () => {
  it('answers a hps_ token once, stores only its hash, and ends ttlSeconds later', async () => {
    const { records, created } = await session(true, 600);
    expect(created).toEqual({ token: expect.stringMatching(/^hps_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/), tenantId: 'ten_1', readOnly: true, expiresAt: '2026-12-01T10:10:00.000Z' });
    const stored = records.get(hashApiKey(created.token));
    expect(stored).toMatchObject({ role: 'tenant', tenantId: 'ten_1', portal: true, readOnly: true, sessionEndsAt: created.expiresAt });
    expect(JSON.stringify([...records.values()])).not.toContain(created.token);
  });

  it('defaults to 15 minutes, read-write; refuses lifetimes under a minute or over 8 hours and unknown fields', () => {
    expect(createPortalSessionSchema.parse({})).toEqual({ readOnly: false, ttlSeconds: 900 });
    for (const bad of [{ ttlSeconds: 59 }, { ttlSeconds: 8 * 3600 + 1 }, { ttlSeconds: 1.5 }, { readOnly: 'yes' }, { tenantId: 'ten_2' }]) {
      expect(createPortalSessionSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('authenticating with a portal session', () => {
  it('is the tenant until its end, with the end and read-only flag in the principal', async () => {
    const { store, created } = await session(true);
    expect(await authenticate(store, undefined, `Bearer ${created.token}`, at(899))).toEqual({ role: 'tenant', tenantId: 'ten_1', portal: true, readOnly: true, expiresAt: created.expiresAt });
  });

  it('is refused from its end on', async () => {
    const { store, created } = await session();
    await expect(authenticate(store, undefined, `Bearer ${created.token}`, at(900))).rejects.toMatchObject({ status: 401 });
    await expect(authenticate(store, undefined, `Bearer ${created.token}`, at(3600))).rejects.toMatchObject({ status: 401 });
  });
});

describe('the api function’s check on every request', () => {
  /** The request as the api function receives it after API Gateway, whose context values are strings. */
  const request = (context: Record<string, unknown>): APIGatewayProxyEvent => ({ requestContext: { authorizer: context } }) as unknown as APIGatewayProxyEvent;

  it('ends a session at its expiry even while API Gateway still serves the cached Allow', async () => {
    const { store, created } = await session();
    // The authorizer ran at T0 + 4 min; API Gateway keeps that answer for 5 minutes.
    const principal = await authenticate(store, undefined, `Bearer ${created.token}`, at(240));
    const cachedContext = { role: 'tenant', tenantId: 'ten_1', portal: 'true', readOnly: 'false', expiresAt: principal.expiresAt };
    const seen = principalOf(request(cachedContext));
    expect(() => checkSessionAllows(seen, 'GET', '/v1/subscriptions', at(899))).not.toThrow();
    expect(() => checkSessionAllows(seen, 'GET', '/v1/subscriptions', at(900))).toThrow(expect.objectContaining({ status: 401, message: 'the portal session has expired' }));
    expect(() => checkSessionAllows(seen, 'GET', '/v1/subscriptions', at(539))).not.toThrow();
  });

  it('a read-only session reads and changes nothing', () => {
    const principal = principalOf(request({ role: 'tenant', tenantId: 'ten_1', portal: 'true', readOnly: 'true', expiresAt: at(900).toISOString() }));
    expect(principal).toEqual({ role: 'tenant', tenantId: 'ten_1', portal: true, readOnly: true, expiresAt: at(900).toISOString() });
    expect(() => checkSessionAllows(principal, 'GET', '/v1/dead-letters', at(10))).not.toThrow();
    for (const method of ['POST', 'PATCH', 'DELETE', 'PUT']) {
      expect(() => checkSessionAllows(principal, method, '/v1/subscriptions/sub_x', at(10))).toThrow(expect.objectContaining({ status: 403, message: 'this portal session is read-only' }));
    }
  });

  it('no session reaches the API-key routes (it must not mint the long-lived key it replaces)', () => {
    const principal = { role: 'tenant' as const, tenantId: 'ten_1', portal: true, readOnly: false, expiresAt: at(900).toISOString() };
    for (const [method, path] of [['POST', '/v1/keys'], ['GET', '/v1/keys'], ['DELETE', '/v1/keys/abc']]) {
      expect(() => checkSessionAllows(principal, method!, path!, at(10))).toThrow(expect.objectContaining({ status: 403 }));
    }
  });

  it('leaves API keys alone: no end, no limits', () => {
    const key = principalOf(request({ role: 'tenant', tenantId: 'ten_1', keyPrefix: 'abc' }));
    expect(key).toEqual({ role: 'tenant', tenantId: 'ten_1', keyPrefix: 'abc' });
    expect(() => checkSessionAllows(key, 'POST', '/v1/keys', at(10 ** 9))).not.toThrow();
  });

  it('a context claiming a portal session without a readable end is refused', () => {
    const principal = principalOf(request({ role: 'tenant', tenantId: 'ten_1', portal: 'true' }));
    expect(() => checkSessionAllows(principal, 'GET', '/v1/subscriptions', at(0))).toThrow(expect.objectContaining({ status: 401 }));
  });
});
