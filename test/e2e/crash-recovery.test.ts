/**
 * At-least-once under worker crashes: the deliver function dies mid-batch (before sending, and
 * after sending but before acknowledging); SQS makes the batch visible again and every event
 * still arrives, duplicates carrying the same webhook-id.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import type { LambdaHandler } from '../../local/lambda-context.ts';
import { apiClient } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_crash_recovery_0000000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
const crashes = { beforeSend: 0, afterSend: 0 };
let mode: 'none' | 'beforeSend' | 'afterSend' = 'none';
let crashBudget = 0;

function crashingDeliver(real: LambdaHandler<SQSEvent, SQSBatchResponse>): LambdaHandler<SQSEvent, SQSBatchResponse> {
  return async (event, context) => {
    if (mode === 'beforeSend' && crashBudget > 0) {
      crashBudget--;
      crashes.beforeSend++;
      throw new Error('simulated crash: process killed after receiving the batch');
    }
    const result = await real(event, context);
    if (mode === 'afterSend' && crashBudget > 0) {
      crashBudget--;
      crashes.afterSend++;
      throw new Error('simulated crash: process killed before acknowledging the batch');
    }
    return result;
  };
}

beforeAll(async () => {
  // A short visibility timeout so crashed batches come back within the test.
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, visibilityTimeoutSeconds: 2, wrapDeliver: crashingDeliver });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Crashy' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

async function publishMany(type: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type, subject: `o-${i}`, data: exampleOf(type) });
    ids.push(res.body.id);
  }
  return ids;
}

it('loses nothing when the worker dies after receiving a batch', async () => {
  await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'a', eventTypes: ['order.completed'], destination: { type: 'webhook', url: `${receiver.url}/a` } });
  mode = 'beforeSend';
  crashBudget = 3;
  const ids = await publishMany('order.completed', 20);
  const got = await receiver.waitFor('/a', 20, 30_000);
  expect(crashes.beforeSend).toBeGreaterThan(0);
  expect(new Set(got.map((r) => JSON.parse(r.body).id))).toEqual(new Set(ids));
});

it('loses nothing when the worker dies after sending but before acknowledging; duplicates share webhook-id', async () => {
  await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'b', eventTypes: ['order.returned'], destination: { type: 'webhook', url: `${receiver.url}/b` } });
  mode = 'afterSend';
  crashBudget = 2;
  const ids = await publishMany('order.returned', 20);
  await receiver.waitFor('/b', 20, 30_000);
  // Let the re-delivered batches arrive.
  await new Promise((r) => setTimeout(r, 3500));
  const got = receiver.on('/b');
  expect(crashes.afterSend).toBeGreaterThan(0);
  expect(new Set(got.map((r) => JSON.parse(r.body).id))).toEqual(new Set(ids));
  expect(got.length).toBeGreaterThan(ids.length);
  const idsByWebhookId = new Map<string, Set<string>>();
  for (const r of got) {
    const set = idsByWebhookId.get(String(r.headers['webhook-id'])) ?? new Set();
    set.add(JSON.parse(r.body).id);
    idsByWebhookId.set(String(r.headers['webhook-id']), set);
  }
  // Each webhook-id names exactly one event: receivers can deduplicate on it.
  expect([...idsByWebhookId.values()].every((s) => s.size === 1)).toBe(true);
  expect(idsByWebhookId.size).toBe(ids.length);
});
