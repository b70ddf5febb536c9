/**
 * The tenant console in a real browser (playwright-core driving Debian's chromium, installed by
 * .ci/run), under the deployed Content-Security-Policy: the walk of issue 27 with seeded data
 * (create each destination type → detail → edit → pause/resume → rotate with the secret dialog →
 * test → delivery expand → resend → dead-letter redrive → stats → delete) at 1280×900, the main
 * screens again at 390×844; on every screen nothing overflows the viewport horizontally and
 * axe-core finds no serious or critical violation. Also: /docs renders, and the OpenAPI document
 * and the typed client's generated types match the running API.
 */
import { existsSync, readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createClient from 'openapi-fetch';
import type { paths } from '../../console/api-types.ts';
import { generatedTypes } from '../../scripts/openapi.ts';
import { LOCAL_CUSTOMER_ACCOUNT, localBusArn, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_console_0000000000000000000000000000';
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let browser: Browser;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Acme Shop' })).body;
  expect((await api('PUT', `/v1/tenants/${tenant.id}/destination-binding`, ADMIN, { accounts: [LOCAL_CUSTOMER_ACCOUNT] })).status).toBe(200);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.stop();
  await receiver?.stop();
});

/** Screens answer after a request or two; a loaded machine may take seconds. */
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000 });

/** A page that records every CSP refusal and uncaught error, at the given viewport. */
async function openPage(width: number, height: number): Promise<{ page: Page; problems: string[] }> {
  // axe-core's Playwright runner needs a page of its own context.
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

async function signIn(page: Page, key = tenant.apiKey) {
  const response = await page.goto(`${herald.url}/console/`);
  expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self'.*connect-src 'self'/);
  await page.fill('#api-key', key);
  await page.click('[data-testid=signin] button[type=submit]');
  await page.waitForSelector('[data-testid=tenant-name]');
}

/** The checks every screen must pass: no horizontal overflow, no serious or critical axe finding. */
async function checkScreen(page: Page, screen: string) {
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > width + 1 && getComputedStyle(el).position !== 'fixed' && !el.closest('.table-scroll, pre, .sr-only, thead'))
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
    return { scroll: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5) };
  });
  expect(overflow, `${screen}: horizontal overflow`).toEqual({ scroll: 0, wide: [] });
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `${screen}: axe serious/critical violations`).toEqual([]);
}

async function createThroughForm(page: Page, name: string, fill: () => Promise<void>) {
  await page.goto(`${herald.url}/console/#/new`);
  await page.waitForSelector('[data-testid=event-types] input[type=checkbox]');
  await page.fill('input[name=name]', name);
  await fill();
  await page.check('#type-order-created');
  // Twice, as an impatient user does: the busy button sends one request.
  await page.dblclick('[data-testid=save]');
}

/** Clicks the log's Refresh until `check` holds (deliveries arrive asynchronously). */
async function pollLog<T>(page: Page, read: () => Promise<T>, expected: T) {
  await expect.poll(async () => {
    await page.click('[data-testid=refresh-log]');
    await page.waitForTimeout(200);
    return read();
  }, { timeout: 15_000 }).toEqual(expected);
}

describe('tenant console', () => {
  it('walks every screen at 1280×900: create each destination type, edit, pause, rotate, test, expand, resend, redrive, stats, delete', async () => {
    const { page, problems } = await openPage(1280, 900);
    await signIn(page);
    expect(await page.textContent('[data-testid=tenant-name]')).toBe('Acme Shop');
    await page.waitForSelector('[data-testid=no-subscriptions]');
    await checkScreen(page, 'empty list');

    // Webhook: event types from the catalogue, a preset, a filter tested first, a header.
    await createThroughForm(page, 'Orders webhook', async () => {
      await page.fill('input[name=url]', `${receiver.url}/console`);
      await page.check('#preset-omisell');
      expect(await page.textContent('[data-testid=retry-schedule]')).toContain('2 min, 30 min, 3 h');
      await page.fill('[data-testid=filter]', '{"type": ["order.created"]}');
      await page.selectOption('[data-testid=filter-example-type]', 'order.created');
      await page.click('[data-testid=test-filter]');
      expect(await page.textContent('[data-testid=filter-outcome]')).toMatch(/^Matches/);
      await page.fill('[data-testid=filter]', '{"type": ["order.cancelled"]}');
      await page.click('[data-testid=test-filter]');
      expect(await page.textContent('[data-testid=filter-outcome]')).toMatch(/^Does not match/);
      await page.fill('[data-testid=filter]', '{"type": ["order.created"]}');
      await page.click('text=Add a header');
      await page.fill('[data-testid=headers-editor] input >> nth=0', 'x-shop');
      await page.fill('[data-testid=headers-editor] input >> nth=1', 'secret-shop-token');
      await checkScreen(page, 'create form');
    });
    await page.waitForSelector('[data-testid=secret-dialog]');
    expect(await page.inputValue('[data-testid=secret-value]')).toMatch(/^whsec_/);
    await checkScreen(page, 'secret dialog');
    await page.click('text=I have stored it');
    await page.waitForSelector('[data-testid=configuration]');
    const webhookUrl = page.url();
    expect(await page.textContent('[data-testid=headers]')).toContain('x-shop: se••••en');
    expect(await page.textContent('[data-testid=headers]')).not.toContain('secret-shop-token');
    expect(await page.textContent('[data-testid=retry-words]')).toContain('Preset “omisell”');
    await poll(() => page.textContent('[data-testid=dead-letter-count]')).toBe('0');

    // An HTTP API and an EventBridge bus: not signed, so no secret dialog and no rotation.
    await createThroughForm(page, 'ERP API', async () => {
      await page.check('#dest-http');
      await page.fill('input[name=url]', `${receiver.url}/erp`);
      await page.selectOption('select[name=authType]', 'api_key');
      await page.fill('input[name=authHeader]', 'x-api-key');
      await page.fill('input[name=authValue]', 'erp-key-123');
    });
    await page.waitForSelector('[data-testid=configuration]');
    expect(await page.textContent('[data-testid=configuration]')).toContain('API key in x-api-key');
    expect(await page.locator('[data-testid=rotate]').count()).toBe(0);
    await page.waitForSelector('[data-testid=stats-empty]');
    // Editing it: the write-only key is kept when the destination is unchanged, asked for when it changes.
    await page.click('text=Edit');
    await page.waitForSelector('[data-testid=subscription-form]');
    await page.fill('input[name=url]', `${receiver.url}/erp-v2`);
    await page.click('[data-testid=save]');
    await poll(() => page.textContent('[data-testid=form-feedback]')).toMatch(/enter its credentials again/);
    await page.fill('input[name=url]', `${receiver.url}/erp`);
    await page.fill('input[name=name]', 'ERP API (orders)');
    await page.click('[data-testid=save]');
    await page.waitForSelector('#detail-title:text("ERP API (orders)")');
    expect(await page.textContent('[data-testid=configuration]')).toContain('API key in x-api-key');
    await createThroughForm(page, 'Analytics bus', async () => {
      await page.check('#dest-eventbridge');
      await page.fill('input[name=eventBusArn]', localBusArn('customer-bus'));
    });
    await page.waitForSelector('[data-testid=configuration]');
    expect(await page.textContent('[data-testid=configuration]')).toContain('EventBridge arn:aws:events');
    expect(await page.locator('[data-testid=rotate]').count()).toBe(0);
    expect((await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items).toHaveLength(3);

    // A rejected form shows the API's problem next to Save.
    await createThroughForm(page, 'Broken', async () => {
      await page.fill('input[name=url]', 'ftp://example.com/x');
      await page.locator('input[name=url]').evaluate((el) => el.setAttribute('type', 'text'));
    });
    await poll(() => page.textContent('[data-testid=form-feedback]')).toMatch(/destination.url.*http/);

    // The list: health per subscription.
    await page.goto(`${herald.url}/console/#/`);
    await page.waitForSelector('[data-testid=subscription-list]');
    expect(await page.locator('[data-testid=subscription-list] tbody tr').count()).toBe(3);
    await poll(() => page.locator('[data-testid=subscription-health]').allTextContents()).toEqual(['no traffic', 'no traffic', 'no traffic']);
    await checkScreen(page, 'subscription list');

    // Edit, then pause and resume from the detail page.
    await page.goto(webhookUrl);
    await page.click('text=Edit');
    await page.waitForSelector('[data-testid=subscription-form]');
    expect(await page.inputValue('[data-testid=filter]')).toContain('order.created');
    await page.fill('input[name=name]', 'Orders webhook (EU)');
    await page.click('[data-testid=save]');
    await page.waitForSelector('#detail-title:text("Orders webhook (EU)")');
    await page.click('[data-testid=pause]');
    await poll(() => page.textContent('[data-testid=detail-status]')).toBe('paused');
    await page.click('[data-testid=resume]');
    await poll(() => page.textContent('[data-testid=detail-status]')).toBe('active');

    // Rotate: confirmed first, then the new secret once, with the old one's expiry.
    await page.click('[data-testid=rotate]');
    await page.waitForSelector('[data-testid=confirm-dialog]');
    await checkScreen(page, 'confirm dialog');
    await page.click('[data-testid=confirm]');
    await page.waitForSelector('[data-testid=secret-dialog]');
    expect(await page.inputValue('[data-testid=secret-value]')).toMatch(/^whsec_/);
    expect(await page.textContent('[data-testid=previous-expiry]')).toMatch(/keeps signing beside it until/);
    await page.click('text=I have stored it');

    // Test event, then a published order: both delivered; expand one, resend it.
    await page.click('[data-testid=send-test]');
    await receiver.waitFor('/console', 1);
    const published = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 'order-1001', data: exampleOf('order.created') });
    expect(published.status).toBe(202);
    await receiver.waitFor('/console', 2);
    expect(receiver.on('/console')[1]!.headers['x-shop']).toBe('secret-shop-token');
    // The HTTP API still authenticates with the key given at creation (kept through the edit).
    expect((await receiver.waitFor('/erp', 1))[0]!.headers['x-api-key']).toBe('erp-key-123');
    const rows = page.locator('[data-testid=delivery-row]');
    await pollLog(page, () => page.locator('[data-testid=delivery-status]').allTextContents(), ['succeeded', 'succeeded']);
    await page.fill('[data-testid=log-search]', 'order-1001');
    await page.click('form[role=search] button[type=submit]');
    await poll(() => rows.count()).toBe(1);
    await rows.first().locator('[data-testid=expand]').click();
    const details = page.locator('[data-testid=delivery-details]');
    expect(await details.locator('[data-testid=attempts] li').first().textContent()).toMatch(/#1.*HTTP 200/);
    await details.locator('[data-testid=payload]').waitFor();
    expect(JSON.parse((await details.locator('[data-testid=payload]').textContent())!)).toMatchObject({ type: 'order.created', subject: 'order-1001', data: exampleOf('order.created') });
    expect(await details.locator('[data-testid=request-headers]').textContent()).toMatch(/webhook-signature[\s\S]*x-shop: se••••en/);
    await checkScreen(page, 'subscription detail with an expanded delivery');
    await rows.first().locator('[data-testid=resend]').click();
    await poll(() => rows.first().locator('.feedback').textContent()).toMatch(/Resent as dlv_/);
    await receiver.waitFor('/console', 3);
    await page.fill('[data-testid=log-search]', '');
    await page.click('form[role=search] button[type=submit]');
    await pollLog(page, () => rows.count(), 3);
    await page.selectOption('[data-testid=status-filter]', 'failed');
    await page.waitForSelector('[data-testid=log-empty]');

    // Stats: chart, legend and table.
    await page.reload();
    await page.waitForSelector('[data-testid=stats-chart]');
    expect(await page.textContent('[data-testid=stats-one-point]')).toMatch(/All attempts so far fall in one hour .*: 3 succeeded, 0 failed/);
    expect(await page.getAttribute('[data-testid=stats-chart]', 'aria-label')).toMatch(/3 in all/);
    expect(await page.textContent('[data-testid="stats-1h"] td >> nth=1')).toBe('3');
    expect(await page.textContent('[data-testid=success-24h]')).toBe('100 %');

    // Dead letters: a failing endpoint with no retries; redrive one item.
    receiver.script('/failing', [{ status: 500, body: 'boom' }]);
    const failing = (await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'Failing endpoint', eventTypes: ['order.cancelled'], destination: { type: 'webhook', url: `${receiver.url}/failing` }, retryPolicy: { schedule: [], maxAttempts: 1 } })).body;
    await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.cancelled', subject: 'order-1002', data: exampleOf('order.cancelled') });
    await receiver.waitFor('/failing', 1);
    await page.goto(`${herald.url}/console/#/dead-letters`);
    await expect.poll(async () => {
      await page.reload();
      await page.waitForSelector('[data-testid=no-dead-letters], [data-testid=dead-letter]');
      return page.locator('[data-testid=dead-letter]').count();
    }, { timeout: 15_000 }).toBe(1);
    expect(await page.textContent('[data-testid=dead-letter-group] h2')).toContain('Failing endpoint');
    expect(await page.textContent('[data-testid=dead-letter]')).toMatch(/order\.cancelled.*order-1002.*HTTP 500|order\.cancelled.*order-1002/);
    await checkScreen(page, 'dead letters');
    await page.click('[data-testid=redrive-one]');
    await poll(() => page.textContent('[data-testid=dead-letters-notice]')).toBe('1 sent back to delivery');
    await receiver.waitFor('/failing', 2);
    // One dead letter by id: only a dead-lettered delivery of this tenant; a malformed id is a 400 naming it.
    const delivered = (await api('GET', `/v1/subscriptions/${failing.id}/deliveries`, tenant.apiKey)).body.items[0];
    expect((await api('POST', '/v1/dead-letters/redrive', tenant.apiKey, { deliveryId: delivered.id })).status).toBe(404);
    const other = (await api('POST', '/v1/tenants', ADMIN, { name: 'other' })).body;
    expect((await api('POST', '/v1/dead-letters/redrive', other.apiKey, { deliveryId: delivered.id })).status).toBe(404);
    const malformed = await api('POST', '/v1/dead-letters/redrive', tenant.apiKey, { deliveryId: 'nope' });
    expect([malformed.status, malformed.body.errors[0].path]).toEqual([400, 'deliveryId']);
    await page.goto(`${herald.url}/console/#/subscriptions/${failing.id}`);
    await pollLog(page, () => page.locator('[data-testid=delivery-status]').allTextContents(), ['succeeded']);
    await checkScreen(page, 'subscription detail with stats');

    // Delete, confirmed.
    await page.click('[data-testid=delete]');
    await page.click('[data-testid=confirm]');
    await page.waitForSelector('[data-testid=subscription-list]');
    expect((await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items.map((s: { name: string }) => s.name)).not.toContain('Failing endpoint');

    const screenshot = await page.screenshot({ fullPage: true });
    expect(screenshot.subarray(1, 4).toString()).toBe('PNG');
    expect(problems).toEqual([]);
    await page.context().close();
  }, 180_000);

  it('at 390×844 every main screen fits the phone (tables become cards) and passes axe', async () => {
    const { page, problems } = await openPage(390, 844);
    await signIn(page);
    await page.waitForSelector('[data-testid=subscription-list]');
    expect(await page.locator('[data-testid=subscription-list] thead').boundingBox()).toMatchObject({ width: 1 });
    await checkScreen(page, 'list (phone)');
    const first = (await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items.find((s: { name: string }) => s.name.startsWith('Orders'));
    await page.goto(`${herald.url}/console/#/subscriptions/${first.id}`);
    await page.waitForSelector('[data-testid=delivery-row]');
    await page.locator('[data-testid=expand]').first().click();
    await checkScreen(page, 'detail (phone)');
    await page.goto(`${herald.url}/console/#/subscriptions/${first.id}/edit`);
    await page.waitForSelector('[data-testid=event-types] input[type=checkbox]');
    await checkScreen(page, 'edit form (phone)');
    await page.goto(`${herald.url}/console/#/dead-letters`);
    await page.waitForSelector('[data-testid=no-dead-letters], [data-testid=dead-letter]');
    await checkScreen(page, 'dead letters (phone)');
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);

  it('a network failure is shown next to the action, and a revoked key signs the console out', async () => {
    const { page } = await openPage(1280, 900);
    const key = (await api('POST', `/v1/tenants/${tenant.id}/keys`, ADMIN, {})).body;
    await signIn(page, key.apiKey);
    const first = (await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items[0];
    await page.goto(`${herald.url}/console/#/subscriptions/${first.id}`);
    await page.waitForSelector('[data-testid=send-test]');
    await page.route('**/v1/subscriptions/*/test', (route) => route.abort('internetdisconnected'));
    await page.click('[data-testid=send-test]');
    await poll(() => page.locator('[data-testid=send-test] + .feedback').textContent()).toMatch(/could not be reached/);
    expect(await page.isEnabled('[data-testid=send-test]')).toBe(true);
    await page.unroute('**/v1/subscriptions/*/test');
    expect((await api('DELETE', `/v1/keys/${key.prefix}?tenantId=${tenant.id}`, ADMIN)).status).toBe(204);
    await page.click('[data-testid=send-test]');
    await page.waitForSelector('[data-testid=signin-feedback]');
    expect(await page.textContent('[data-testid=signin-feedback]')).toMatch(/Signed out/);
    await page.context().close();
  }, 60_000);

  it('works from the keyboard alone: expand a delivery, open and cancel a confirmation', async () => {
    const { page } = await openPage(1280, 900);
    await signIn(page);
    const first = (await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items.find((s: { name: string }) => s.name.startsWith('Orders'));
    await page.goto(`${herald.url}/console/#/subscriptions/${first.id}`);
    await page.waitForSelector('[data-testid=delivery-row]');
    await page.focus('[data-testid=expand]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=delivery-details]');
    expect(await page.getAttribute('[data-testid=expand] >> nth=0', 'aria-expanded')).toBe('true');
    await page.focus('[data-testid=delete]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=confirm-dialog]');
    // The dialog holds the focus; Escape closes it without deleting.
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=confirm-dialog]', { state: 'detached' });
    expect((await api('GET', `/v1/subscriptions/${first.id}`, tenant.apiKey)).status).toBe(200);
    await page.context().close();
  }, 60_000);
});

describe('API documentation', () => {
  it('serves the OpenAPI document without a key', async () => {
    const doc = await fetch(`${herald.url}/v1/openapi.json`);
    expect(doc.status).toBe(200);
    const body = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/v1/subscriptions', '/v1/subscriptions/{id}/stats', '/v1/dead-letters/redrive']));
  });

  it('renders the API reference at /docs: the schema of POST /v1/subscriptions and the order.created example, under the console CSP', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    const offsite: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) violations.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith(herald.url) && !request.url().startsWith('data:')) offsite.push(request.url());
    });
    const response = await page.goto(`${herald.url}/docs`);
    expect(response!.url()).toBe(`${herald.url}/docs/`);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self'/);

    const create = page.locator('.opblock-post').filter({ has: page.locator('[data-path="/v1/subscriptions"]') });
    await create.locator('.opblock-summary').click();
    const requestBody = create.locator('.opblock-section-request-body');
    await requestBody.getByRole('tab', { name: 'Schema' }).click();
    const schema = requestBody.locator('.model-box');
    await expect.poll(() => schema.textContent()).toMatch(/CreateSubscription/);
    const schemaText = (await schema.textContent())!;
    for (const field of ['name', 'eventTypes', 'destination', 'retryPolicy', 'filter', 'batching', 'ordering']) expect(schemaText).toContain(field);

    const orderCreated = page.locator('.opblock').filter({ has: page.locator('.opblock-summary-path', { hasText: /^order\.created$/ }) });
    await orderCreated.locator('.opblock-summary').click();
    await orderCreated.locator('.opblock-section-request-body').getByRole('tab', { name: 'Example Value' }).click();
    const example = orderCreated.locator('.opblock-section-request-body pre').first();
    await expect.poll(() => example.textContent()).toContain('"type": "order.created"');
    expect(await example.textContent()).toContain(JSON.stringify(exampleOf('order.created').orderId));

    expect(violations).toEqual([]);
    expect(offsite).toEqual([]);
    await page.close();
  }, 30_000);

  it('the checked-in document and the typed client’s types are what the running API serves', async () => {
    const served = await (await fetch(`${herald.url}/v1/openapi.json`)).json();
    expect(served).toEqual(JSON.parse(readFileSync(new URL('../../openapi/herald.json', import.meta.url), 'utf8')));
    expect(await generatedTypes(served)).toBe(readFileSync(new URL('../../console/api-types.ts', import.meta.url), 'utf8'));
  });

  it('the typed client works against the running API', async () => {
    const client = createClient<paths>({ baseUrl: herald.url, headers: { authorization: `Bearer ${tenant.apiKey}` } });
    const created = await client.POST('/v1/subscriptions', {
      body: { name: 'typed', eventTypes: ['shipment.delivered'], destination: { type: 'webhook', url: `${receiver.url}/typed` } },
    });
    expect(created.data?.secret).toMatch(/^whsec_/);
    const stats = await client.GET('/v1/subscriptions/{id}/stats', { params: { path: { id: created.data!.id } } });
    expect(stats.data?.windows['1h']?.attempts).toBe(0);
    const bad = await client.POST('/v1/subscriptions', { body: { name: '', eventTypes: [], destination: { type: 'webhook', url: 'nope' } } as never });
    expect(bad.response.status).toBe(400);
    expect((bad.error as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain('name');
  });
});
