/**
 * Redrive per tenant on the local runtime: a tenant's redrive works from its own dead-letter
 * records (core/recovery.ts), never from the shared SQS dead-letter queue. Two tenants with dead
 * letters: A's redrive re-delivers A's alone, two redrives at once send each letter once, and B's
 * copies in the DLQ stay visible and receivable throughout; B's own redrive still works after.
 */
import { ChangeMessageVisibilityBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_redrive_isolation_0000000000000000000';
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
type Tenant = { id: string; apiKey: string };
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0 });
  receiver = await new Receiver().start();
  api = apiClient(herald.url);
  a = (await api('POST', '/v1/tenants', ADMIN, { name: 'Redrive A' })).body;
  b = (await api('POST', '/v1/tenants', ADMIN, { name: 'Redrive B' })).body;
});

afterAll(async () => {
  await receiver?.stop();
  await herald?.stop();
});

/** One attempt, then the dead letters: the receiver at `path` fails until told otherwise. */
async function failingSubscription(tenant: Tenant, path: string): Promise<string> {
  receiver.otherwise(path, { status: 500 });
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: path,
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: `${receiver.url}${path}` },
    retryPolicy: { schedule: [1], maxAttempts: 1 },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function publish(tenant: Tenant, subject: string): Promise<void> {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject, data: exampleOf('order.created') });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
}

async function deadLetterIds(tenant: Tenant, count: number): Promise<string[]> {
  return eventually(async () => {
    const res = await api('GET', '/v1/dead-letters', tenant.apiKey);
    return res.body.items?.length === count ? (res.body.items as { id: string }[]).map((d) => d.id).sort() : undefined;
  });
}

async function dlqDepth(): Promise<{ visible: number; hidden: number }> {
  const out = await herald.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: herald.queues.deadLetter, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? -1), hidden: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? -1) };
}

/** The delivery ids of a tenant's letters in the DLQ: received, then at once visible again, as they were. */
async function dlqLettersOf(tenantId: string, count: number): Promise<string[]> {
  const seen = new Set<string>();
  await eventually(async () => {
    const out = await herald.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: herald.queues.deadLetter, MaxNumberOfMessages: 10, VisibilityTimeout: 0, MessageAttributeNames: ['All'] }),
    );
    const messages = out.Messages ?? [];
    if (messages.length > 0) {
      await herald.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: herald.queues.deadLetter,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
        }),
      );
    }
    for (const message of messages) {
      if (message.MessageAttributes?.tenantId?.StringValue !== tenantId) continue;
      seen.add((JSON.parse(message.Body!) as { job: { deliveryId: string } }).job.deliveryId);
    }
    return seen.size >= count ? true : undefined;
  });
  return [...seen].sort();
}

const webhookIds = (path: string) => receiver.on(path).map((r) => String(r.headers['webhook-id']));

describe('redrive per tenant', () => {
  it("re-delivers only the caller's letters, once each, and never hides another tenant's DLQ messages", async () => {
    const subA = await failingSubscription(a, '/tenant-a');
    await failingSubscription(b, '/tenant-b');
    for (const n of [1, 2, 3]) await publish(a, `a-${n}`);
    for (const n of [1, 2]) await publish(b, `b-${n}`);
    const lettersA = await deadLetterIds(a, 3);
    const lettersB = await deadLetterIds(b, 2);
    // The operator's copies: one per letter, all visible.
    await eventually(async () => ((await dlqDepth()).visible === 5 ? true : undefined));
    expect(await dlqLettersOf(b.id, 2)).toEqual(lettersB);

    // The dead-letter listing shows deliveries, not the job kept for the redrive.
    const listed = (await api('GET', '/v1/dead-letters', a.apiKey)).body.items as Record<string, unknown>[];
    for (const letter of listed) expect(Object.keys(letter)).not.toContain('parkedJob');

    receiver.otherwise('/tenant-a', { status: 204 });
    receiver.otherwise('/tenant-b', { status: 204 });
    // Two redrives at once: each letter is claimed by one of them and sent once. Meanwhile the
    // DLQ is watched: no message of it is ever in flight (received and hidden) by a redrive.
    let redriving = true;
    const depths: { visible: number; hidden: number }[] = [];
    const watching = (async () => {
      while (redriving) depths.push(await dlqDepth());
    })();
    const [first, second] = await Promise.all([
      api('POST', '/v1/dead-letters/redrive', a.apiKey, { subscriptionId: subA }),
      api('POST', '/v1/dead-letters/redrive', a.apiKey, {}),
    ]).finally(() => (redriving = false));
    await watching;
    expect(depths.length).toBeGreaterThan(0);
    expect(depths.filter((d) => d.hidden !== 0 || d.visible !== 5)).toEqual([]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(first.body.count + second.body.count).toBe(3);
    await receiver.waitFor('/tenant-a', 6);
    await herald.settle();
    await new Promise((r) => setTimeout(r, 500));
    const sentA = webhookIds('/tenant-a');
    expect(sentA).toHaveLength(6);
    expect(sentA.slice(3).sort()).toEqual(lettersA);
    await eventually(async () => ((await api('GET', '/v1/dead-letters', a.apiKey)).body.items.length === 0 ? true : undefined));
    expect((await api('POST', '/v1/dead-letters/redrive', a.apiKey, {})).body.count).toBe(0);

    // B: nothing sent, its letters still listed, its DLQ messages neither taken nor hidden.
    expect(receiver.on('/tenant-b')).toHaveLength(2);
    expect(await deadLetterIds(b, 2)).toEqual(lettersB);
    expect(await dlqDepth()).toEqual({ visible: 5, hidden: 0 });
    expect(await dlqLettersOf(b.id, 2)).toEqual(lettersB);

    // B's own redrive, after A's: its two letters, delivered.
    const redriveB = await api('POST', '/v1/dead-letters/redrive', b.apiKey, {});
    expect(redriveB.body.count).toBe(2);
    await receiver.waitFor('/tenant-b', 4);
    expect(webhookIds('/tenant-b').slice(2).sort()).toEqual(lettersB);
    await eventually(async () => ((await api('GET', '/v1/dead-letters', b.apiKey)).body.items.length === 0 ? true : undefined));
    for (const id of lettersB) {
      await eventually(async () => ((await api('GET', `/v1/deliveries/${id}`, b.apiKey)).body.status === 'succeeded' ? true : undefined));
    }
    expect(receiver.on('/tenant-a')).toHaveLength(6);
  });
});
