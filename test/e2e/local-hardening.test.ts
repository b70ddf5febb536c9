/**
 * The local runtime's own routes and its front door: /local/* only for the admin key, never for a
 * tenant key; a Host that is not a loopback name is refused before any route runs (DNS rebinding);
 * a cross-site browser request to /local/* is refused; the console stays public.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';

const ADMIN = 'hk_admin_e2e_local_hardening_000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Local hardening' })).body;
});

afterAll(async () => {
  await herald?.stop();
});

/** A raw request, so the Host and Origin headers are exactly what the test says. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; contentType: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: herald.port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // leave as text
        }
        resolve({ status: res.statusCode!, contentType: String(res.headers['content-type'] ?? ''), body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const LOCAL_ROUTES: Array<[string, string]> = [
  ['GET', '/local/buses'],
  ['GET', '/local/buses/customer-bus/events'],
  ['POST', '/local/invoke/fanout'],
];

describe('/local routes need the admin key', () => {
  it('answer 401 problem+json without a key, with a wrong key and with a tenant key', async () => {
    for (const [method, path] of LOCAL_ROUTES) {
      for (const key of [undefined, 'hk_nope_nothing', ADMIN.slice(0, -1), tenant.apiKey]) {
        const res = await api(method, path, key, method === 'POST' ? { detail: {} } : undefined);
        expect(res.status, `${method} ${path} with ${key}`).toBe(401);
        expect(res.contentType).toContain('application/problem+json');
        expect(res.body).toMatchObject({ type: 'about:blank', title: 'Unauthorized', status: 401 });
        expect(res.body.items).toBeUndefined();
      }
    }
  });

  it('serve the admin key', async () => {
    const buses = await api('GET', '/local/buses', ADMIN);
    expect(buses.status).toBe(200);
    expect(buses.body.items.map((b: { name: string }) => b.name)).toContain('customer-bus');
    const events = await api('GET', '/local/buses/customer-bus/events', ADMIN);
    expect(events.status).toBe(200);
    expect(events.body).toEqual({ items: expect.any(Array) });
    const missing = await api('GET', '/local/buses/no-such-bus/events', ADMIN);
    expect(missing.status).toBe(404);
    expect(missing.contentType).toContain('application/problem+json');
  });

  it('answer 400 problem+json to a malformed fan-out body, and 405 to a write on the bus routes', async () => {
    for (const body of ['not json', '[1,2]', '"x"', '{"detail":"nope"}']) {
      const res = await api('POST', '/local/invoke/fanout', ADMIN, body);
      expect(res.status, body).toBe(400);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body).toMatchObject({ title: 'Bad request', status: 400 });
    }
    const write = await api('POST', '/local/buses', ADMIN, {});
    expect(write.status).toBe(405);
    expect(write.contentType).toContain('application/problem+json');
  });
});

describe('Host check (DNS rebinding)', () => {
  it('refuses a foreign Host with 421 problem+json on the API, /local and the console', async () => {
    for (const [path, headers] of [
      ['/v1/subscriptions', { authorization: `Bearer ${tenant.apiKey}` }],
      ['/local/buses', { authorization: `Bearer ${ADMIN}` }],
      ['/console/', {}],
      ['/health', {}],
    ] as Array<[string, Record<string, string>]>) {
      for (const host of ['evil.example', `evil.example:${herald.port}`, '127.0.0.1.nip.io', '10.0.0.1', 'localhost.evil.example']) {
        const res = await raw('GET', path, { ...headers, host });
        expect(res.status, `${path} Host: ${host}`).toBe(421);
        expect(res.contentType).toContain('application/problem+json');
        expect(res.body).toMatchObject({ type: 'about:blank', status: 421 });
        expect(res.body.items).toBeUndefined();
      }
    }
  });

  it('accepts loopback names, with or without the port', async () => {
    for (const host of ['localhost', `localhost:${herald.port}`, '127.0.0.1', `127.0.0.1:${herald.port}`, '127.1.2.3', `[::1]:${herald.port}`, 'LOCALHOST']) {
      const res = await raw('GET', '/local/buses', { host, authorization: `Bearer ${ADMIN}` });
      expect(res.status, `Host: ${host}`).toBe(200);
    }
  });
});

describe('cross-site browser requests to /local', () => {
  it('refuses a foreign or opaque Origin with 403, even with the admin key', async () => {
    for (const headers of <Array<Record<string, string>>>[
      { origin: 'http://evil.example' },
      { origin: `http://evil.example:${herald.port}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
    ]) {
      const res = await raw('GET', '/local/buses', { ...headers, authorization: `Bearer ${ADMIN}` });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.contentType).toContain('application/problem+json');
      expect(res.body.items).toBeUndefined();
    }
  });

  it('accepts loopback origins (any port) and same-origin requests', async () => {
    for (const origin of [`http://127.0.0.1:${herald.port}`, 'http://localhost:5173', 'http://[::1]:8080']) {
      const res = await raw('GET', '/local/buses', { origin, authorization: `Bearer ${ADMIN}` });
      expect(res.status, origin).toBe(200);
    }
  });
});

describe('the console', () => {
  it('stays public on a loopback Host', async () => {
    const res = await raw('GET', '/console/', {});
    expect(res.status).toBe(200);
    expect(res.contentType).toContain('text/html');
  });
});
