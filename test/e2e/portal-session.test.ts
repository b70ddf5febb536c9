/**
 * The embeddable portal (issue 27, item 8): the platform's backend creates a short-lived portal
 * session for one tenant (admin route), and the console opened with it in the URL fragment shows
 * that tenant only, by name, read-only when asked; the session stops working at its expiry even
 * though the local API Gateway here caches authorizer answers for 5 minutes, as the stack's does.
 */
import { existsSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_portal_00000000000000000000000000000';
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let receiver: Receiver;
let browser: Browser;
let acme: { id: string; apiKey: string };
let globex: { id: string; apiKey: string };

async function subscribe(key: string, name: string) {
  const created = await api('POST', '/v1/subscriptions', key, { name, eventTypes: ['order.created'], destination: { type: 'webhook', url: `${receiver.url}/hook` } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, authorizerCacheSeconds: 300 });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  acme = (await api('POST', '/v1/tenants', ADMIN, { name: 'Acme Shop' })).body;
  globex = (await api('POST', '/v1/tenants', ADMIN, { name: 'Globex' })).body;
  await subscribe(acme.apiKey, 'Acme orders');
  await subscribe(globex.apiKey, 'Globex orders');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.stop();
  await receiver?.stop();
});

const createSession = (tenantId: string, body: Record<string, unknown>, key = ADMIN) => api('POST', `/v1/tenants/${tenantId}/portal-sessions`, key, body);

/** `fakeClock`: the page's clock can be moved forward (its time flows as usual until then). */
async function openConsole(token: string, options: { fakeClock?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (options.fakeClock) await context.clock.install();
  const page = await context.newPage();
  await page.goto(`${herald.url}/console/#session=${token}`);
  return page;
}

describe('portal sessions', () => {
  it('only the admin creates one, with a valid body', async () => {
    expect((await createSession(acme.id, {}, acme.apiKey)).status).toBe(403);
    const bad = await createSession(acme.id, { ttlSeconds: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(['ttlSeconds']);
    expect((await createSession('ten_01JZZZZZZZZZZZZZZZZZZZZZZZ', {})).status).toBe(404);
  });

  it('a read-only session opens the console for exactly one tenant, changes nothing, and stops at its expiry despite the authorizer cache', async () => {
    const created = await createSession(acme.id, { readOnly: true, ttlSeconds: 60 });
    expect(created.status).toBe(201);
    const { token, expiresAt } = created.body as { token: string; expiresAt: string };
    expect(token).toMatch(/^hps_/);

    const page = await openConsole(token, { fakeClock: true });
    await page.waitForSelector('[data-testid=subscription-list]');
    expect(await page.textContent('[data-testid=tenant-name]')).toBe('Acme Shop');
    expect(await page.textContent('header')).toContain('read-only');
    expect(await page.locator('[data-testid=subscription-list] tbody tr').allTextContents()).toEqual([expect.stringContaining('Acme orders')]);
    expect(await page.locator('a:text("New subscription")').count()).toBe(0);
    expect(page.url()).not.toContain(token);
    const { violations } = await new AxeBuilder({ page }).analyze();
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
    await page.click('a:text("Acme orders")');
    await page.waitForSelector('[data-testid=configuration]');
    expect(await page.locator('[data-testid=detail-actions]').count()).toBe(0);

    // The API behind it: this tenant only, reads only, and no API keys.
    const acmeSub = (await api('GET', '/v1/subscriptions', token)).body.items[0];
    const globexSubs = (await api('GET', '/v1/subscriptions', globex.apiKey)).body.items;
    expect((await api('GET', `/v1/subscriptions/${globexSubs[0].id}`, token)).status).toBe(404);
    expect((await api('GET', `/v1/subscriptions?tenantId=${globex.id}`, token)).status).toBe(404);
    const write = await api('POST', `/v1/subscriptions/${acmeSub.id}/pause`, token, {});
    expect([write.status, write.body.detail]).toEqual([403, 'this portal session is read-only']);
    expect((await api('POST', '/v1/keys', token, {})).status).toBe(403);
    expect((await api('GET', '/v1/session', token)).body).toEqual({ role: 'tenant', tenantId: acme.id, tenantName: 'Acme Shop', readOnly: true, expiresAt });

    // At its end: the authorizer's Allow is still cached, the session is refused all the same.
    // Both clocks move past the expiry instead of the test waiting a minute: this process's (the
    // local Herald runs in it) and the page's (its own timer signs the session out).
    const toExpiry = Math.max(0, Date.parse(expiresAt) - Date.now()) + 250;
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() + toExpiry);
      const late = await api('GET', '/v1/subscriptions', token);
      expect([late.status, late.body.detail]).toEqual([401, 'the portal session has expired']);
      await page.clock.fastForward(toExpiry);
      await page.waitForSelector('[data-testid=signin-feedback]');
      expect(await page.textContent('[data-testid=signin-feedback]')).toMatch(/expired/);
    } finally {
      vi.useRealTimers();
    }
    await page.context().close();
  }, 120_000);

  it('a read-write session can act, and Sign out forgets it', async () => {
    const { token } = (await createSession(acme.id, { ttlSeconds: 600 })).body as { token: string };
    const page = await openConsole(token);
    await page.waitForSelector('[data-testid=subscription-list]');
    expect(await page.locator('a:text("New subscription")').count()).toBe(1);
    await page.click('a:text("Acme orders")');
    await page.click('[data-testid=pause]');
    await expect.poll(() => page.textContent('[data-testid=detail-status]'), { timeout: 10_000 }).toBe('paused');
    await page.click('text=Sign out');
    await page.waitForSelector('#api-key');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.waitForSelector('#api-key');
    await page.context().close();
  }, 60_000);
});
