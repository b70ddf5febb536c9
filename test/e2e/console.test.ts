/**
 * The tenant console in a real browser (playwright-core driving Debian's chromium, installed by
 * .ci/run): create a subscription, publish an event through the API, see the delivery with its
 * status, resend it, and take a screenshot. Also: /docs renders, and the OpenAPI document and the
 * typed client's generated types match the running API.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createClient from 'openapi-fetch';
import type { paths } from '../../console/api-types.ts';
import { generatedTypes } from '../../scripts/openapi.ts';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
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
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'console' })).body;
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.stop();
  await receiver?.stop();
});

describe('tenant console', () => {
  it('creates a subscription, shows a published event’s delivery with its status, and resends it', async () => {
    const page = await browser.newPage();
    // Under the deployed console's Content-Security-Policy (the local runtime sends it too).
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) violations.push(message.text());
    });
    const response = await page.goto(`${herald.url}/console/`);
    expect(response!.headers()['content-security-policy']).toMatch(/script-src 'self'.*connect-src 'self'.*frame-ancestors 'none'/);
    expect(response!.headers()['x-content-type-options']).toBe('nosniff');
    await page.fill('#api-key', tenant.apiKey);
    await page.click('#login-form button');
    await page.waitForSelector('#main:not([hidden])');

    await page.fill('#create-form input[name=name]', 'browser test');
    await page.fill('#create-form input[name=eventTypes]', 'order.created');
    await page.fill('#create-form input[name=url]', `${receiver.url}/console`);
    await page.click('#create-form button');
    await page.waitForSelector('#notice.ok');
    expect(await page.textContent('#notice')).toMatch(/Created sub_.*whsec_/);
    const list = (await api('GET', '/v1/subscriptions', tenant.apiKey)).body.items;
    expect(list).toHaveLength(1);

    const published = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 'console-1', data: exampleOf('order.created') });
    expect(published.status).toBe(202);
    await receiver.waitFor('/console', 1);
    await page.click('#refresh');
    const status = page.locator('[data-testid=delivery-row] [data-testid=delivery-status]').first();
    await status.waitFor();
    await expect.poll(async () => {
      await page.click('#refresh');
      return status.textContent();
    }, { timeout: 10_000 }).toBe('succeeded');
    expect(await page.locator('[data-testid=delivery-row] table.attempts tr').first().textContent()).toMatch(/#1.*200/);

    await page.click('[data-testid=resend]');
    await receiver.waitFor('/console', 2);
    await expect.poll(async () => {
      await page.click('#refresh');
      return page.locator('[data-testid=delivery-row]').count();
    }, { timeout: 10_000 }).toBe(2);
    await page.locator('[data-testid=stats-chart]').waitFor();
    expect(await page.locator('[data-testid="stats-1h"] td').nth(2).textContent()).toBe('2');

    const screenshot = await page.screenshot({ fullPage: true });
    expect(screenshot.length).toBeGreaterThan(10_000);
    expect(screenshot.subarray(1, 4).toString()).toBe('PNG');
    expect(violations).toEqual([]);
    await page.close();
  }, 60_000);

  it('pauses and resumes from the console', async () => {
    const page = await browser.newPage();
    await page.goto(`${herald.url}/console/`);
    await page.fill('#api-key', tenant.apiKey);
    await page.click('#login-form button');
    const row = page.locator('[data-testid^=subscription-sub_]').first();
    await row.waitFor();
    await row.getByText('Pause').click();
    await expect.poll(() => row.locator('[data-testid=subscription-status]').textContent()).toBe('paused');
    await row.getByText('Resume').click();
    await expect.poll(() => row.locator('[data-testid=subscription-status]').textContent()).toBe('active');
    await page.close();
  }, 30_000);
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
