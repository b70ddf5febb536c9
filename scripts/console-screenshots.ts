/**
 * Screenshots of the tenant console's main screens for the README (docs/screenshots/*.png):
 * starts Herald locally, seeds a tenant with four subscriptions (one of them failing), publishes
 * events, and photographs each screen with Debian's chromium at 1280×900 (and the list at
 * 390×844). `npm run screenshots`; HERALD_CHROMIUM names another browser.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Page } from 'playwright-core';
import { LOCAL_CUSTOMER_ACCOUNT, localBusArn, startHeraldLocal } from '../local/runtime.ts';

const ADMIN = 'hk_admin_screenshots_000000000000000000000000000000';
const OUT = new URL('../docs/screenshots/', import.meta.url);
const example = (type: string) => JSON.parse(readFileSync(new URL(`../catalogue/${type}/v1.json`, import.meta.url), 'utf8')).example;

// A receiver that answers 200, except on /failing where it answers 503 (for dead letters).
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => (req.url === '/failing' ? res.writeHead(503).end('upstream maintenance') : res.writeHead(200).end('ok')));
}).listen(0, '127.0.0.1');
await new Promise((r) => receiver.once('listening', r));
const hook = (path: string) => `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${path}`;

const herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
async function api(method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${herald.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

try {
  const tenant = await api('POST', '/v1/tenants', ADMIN, { name: 'Acme Shop' });
  await api('PUT', `/v1/tenants/${tenant.id}/destination-binding`, ADMIN, { accounts: [LOCAL_CUSTOMER_ACCOUNT] });
  const orders = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: 'Order webhooks', eventTypes: ['order.created', 'order.cancelled'], destination: { type: 'webhook', url: hook('/orders'), headers: { 'x-shop-token': 'tok_live_4f9a2c' }, timeoutSeconds: 5 },
    retryPolicy: { preset: 'omisell' }, filter: { data: { channel: ['shopee', 'lazada'] } },
  });
  await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'Fulfilment (failing)', eventTypes: ['order.created'], destination: { type: 'webhook', url: hook('/failing') }, retryPolicy: { schedule: [], maxAttempts: 1 } });
  await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'ERP API', eventTypes: ['order.completed'], destination: { type: 'http', url: hook('/erp'), method: 'PUT', auth: { type: 'api_key', header: 'x-api-key', value: 'erp-secret' } } });
  await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'Analytics bus', eventTypes: ['order.*'], destination: { type: 'eventbridge', eventBusArn: localBusArn('customer-bus') } });
  for (let i = 0; i < 12; i++) {
    await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: i % 4 === 3 ? 'order.cancelled' : 'order.created', subject: `order-${1000 + i}`, data: example(i % 4 === 3 ? 'order.cancelled' : 'order.created') });
  }
  await new Promise((r) => setTimeout(r, 4000));

  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const shoot = async (page: Page, name: string, fullPage = true) => {
    await page.waitForTimeout(400);
    await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname, fullPage });
    console.log(`docs/screenshots/${name}.png`);
  };
  const open = async (width: number, height: number) => {
    const page = await (await browser.newContext({ viewport: { width, height } })).newPage();
    await page.goto(`${herald.url}/console/`);
    await page.fill('#api-key', tenant.apiKey);
    await page.click('[data-testid=signin] button[type=submit]');
    await page.waitForSelector('[data-testid=subscription-list]');
    await page.waitForFunction(() => !document.body.textContent?.includes('…'));
    return page;
  };

  const page = await open(1280, 900);
  await shoot(page, 'subscriptions');
  await page.goto(`${herald.url}/console/#/subscriptions/${orders.id}`);
  await page.waitForSelector('[data-testid=stats-chart]');
  await page.locator('[data-testid=expand]').first().click();
  await shoot(page, 'subscription-detail');
  await page.goto(`${herald.url}/console/#/new`);
  await page.waitForSelector('[data-testid=event-types] input[type=checkbox]');
  await page.fill('input[name=name]', 'Shipment updates');
  await page.check('#type-order-created');
  await page.fill('[data-testid=filter]', '{"data": {"channel": ["shopee"]}}');
  await page.click('[data-testid=test-filter]');
  await shoot(page, 'create-subscription');
  await page.goto(`${herald.url}/console/#/dead-letters`);
  await page.waitForSelector('[data-testid=dead-letter]');
  await shoot(page, 'dead-letters');
  const phone = await open(390, 844);
  await shoot(phone, 'subscriptions-phone', false);
  await browser.close();
} finally {
  await herald.stop();
  receiver.close();
}
