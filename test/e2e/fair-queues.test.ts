/**
 * SQS fair queues in the local SQS emulator (local/fair-queues.ts), at the SQS API: a standard
 * queue keeps each message's MessageGroupId; a tenant (group) with a backlog in flight does not
 * delay a quiet tenant's message beyond the next receive; with nothing else waiting, the noisy
 * tenant's backlog still drains; FIFO queues keep their group order. Herald's queue adapter sends
 * each standard-queue job with its tenant as group (what makes the deployed queue fair), on the slow
 * lane as on the delivery queue. The pure rules (who is
 * noisy, what one receive returns) are checked beside the emulator, with AWS's thresholds.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqs, type SqsEmulator } from '../../local/emulators.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import { fairPick, FAIR_QUEUE_RULES, noisyGroups, type GroupLoad } from '../../local/fair-queues.ts';

let emulator: SqsEmulator;
let sqs: SQSClient;

beforeAll(async () => {
  emulator = await startSqs({ visibilityTimeoutSeconds: 300 });
  // The adapters' SDK client finds the emulator as a deployed function finds SQS: by environment.
  Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_ENDPOINT_URL_SQS: emulator.endpoint });
  sqs = new SQSClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  sqs?.destroy();
  await emulator?.stop();
});

async function sendMany(queueUrl: string, group: string, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    const entries = Array.from({ length: Math.min(10, count - i) }, (_, n) => ({ Id: String(n), MessageBody: `${tag}-${i + n}`, MessageGroupId: group }));
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    expect(out.Failed ?? []).toEqual([]);
  }
}

async function receive(queueUrl: string, max = 10) {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['MessageGroupId'] }));
  return out.Messages ?? [];
}

async function drain(queueUrl: string): Promise<void> {
  for (;;) {
    const messages = await receive(queueUrl);
    if (messages.length === 0) return;
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

describe('a standard queue with message groups (SQS fair queues)', () => {
  it('keeps the MessageGroupId of single and batch sends, and returns it on receive', async () => {
    const url = emulator.deliveryQueue.url;
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'single', MessageGroupId: 'ten_single' }));
    // The middle entry is refused (a character SQS does not take): the groups stay with their own bodies.
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'a', MessageBody: 'same', MessageGroupId: 'ten_a' },
          { Id: 'bad', MessageBody: 'bad\u0000', MessageGroupId: 'ten_bad' },
          { Id: 'b', MessageBody: 'same', MessageGroupId: 'ten_b' },
          { Id: 'none', MessageBody: 'no group' },
        ],
      }),
    );
    expect((out.Failed ?? []).map((f) => f.Id)).toEqual(['bad']);
    const got = await receive(url);
    expect(got.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([
      ['single', 'ten_single'],
      ['same', 'ten_a'],
      ['same', 'ten_b'],
      ['no group', undefined],
    ]);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  });

  it("answers a quiet tenant's message at the next receive while a noisy tenant has 1,000 queued and 50 in flight", async () => {
    const url = emulator.deliveryQueue.url;
    await sendMany(url, 'ten_noisy', 1000, 'noisy');
    // The noisy tenant's consumers hold 50 of its messages (a slow or failing endpoint): it has
    // more than 10 % of the queue's in-flight messages and at least 30 of its own.
    const held: string[] = [];
    while (held.length < 50) held.push(...(await receive(url)).map((m) => m.ReceiptHandle!));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'quiet-1', MessageGroupId: 'ten_quiet' }));
    const next = await receive(url);
    expect(next[0]?.Body).toBe('quiet-1');
    expect(next.slice(1).every((m) => m.Attributes?.MessageGroupId === 'ten_noisy')).toBe(true);
    // Still first when it arrives behind the whole backlog, one message at a time.
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'quiet-2', MessageGroupId: 'ten_quiet' }));
    expect((await receive(url, 1))[0]?.Body).toBe('quiet-2');
    for (let i = 0; i < held.length; i += 10) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: held.slice(i, i + 10).map((h, n) => ({ Id: String(n), ReceiptHandle: h })) }));
    }
    await drain(url);
  });

  it('without fairness to apply (no tenant noisy), a standard queue hands out messages oldest first', async () => {
    const url = emulator.deliveryQueue.url;
    await sendMany(url, 'ten_busy', 20, 'busy');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'other', MessageGroupId: 'ten_other' }));
    const bodies = [...(await receive(url)), ...(await receive(url)), ...(await receive(url))].map((m) => m.Body);
    expect(bodies).toEqual([...Array.from({ length: 20 }, (_, i) => `busy-${i}`), 'other']);
    await drain(url);
  });

  it("drains the noisy tenant's backlog when no quiet tenant is waiting (nothing dropped or withheld)", async () => {
    const url = emulator.deliveryQueue.url;
    await sendMany(url, 'ten_flood', 200, 'flood');
    const seen = new Set<string>();
    for (let round = 0; round < 40 && seen.size < 200; round++) for (const m of await receive(url)) seen.add(m.Body!);
    expect(seen.size).toBe(200);
    await drain(url);
  });

  it('leaves FIFO queues as they were: one group in flight at a time, in order', async () => {
    const url = emulator.orderedQueue.url;
    for (let i = 0; i < 3; i++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `g-${i}`, MessageGroupId: 'g', MessageDeduplicationId: `d-${i}` }));
    const first = await receive(url);
    expect(first.map((m) => m.Body)).toEqual(['g-0']);
    expect(await receive(url)).toEqual([]);
  });
});

describe("Herald's delivery queue adapter", () => {
  it('sends standard-queue jobs (and flush jobs) with their tenant as message group, ordered jobs with their subject group', async () => {
    const { SqsDeliveryQueue } = await import('../../lambdas/adapters/sqs-queue.ts');
    const queue = new SqsDeliveryQueue(emulator.deliveryQueue.url, emulator.orderedQueue.url);
    const job = (tenantId: string, deliveryId: string, orderingGroup?: string) =>
      ({ v: 1, deliveryId, tenantId, subscriptionId: 'sub_1', attemptOffset: 0, createdAt: new Date().toISOString(), event: {}, ...(orderingGroup ? { orderingGroup, firstEnqueue: true } : {}) }) as unknown as DeliveryJob;
    await queue.enqueue([job('ten_a', 'dlv_1'), job('ten_b', 'dlv_2'), job('ten_a', 'dlv_3', 'sub_1#order-1')]);
    await queue.enqueueFlush('ten_c', 'sub_9', 0);
    const standard = await receive(emulator.deliveryQueue.url);
    expect(standard.map((m) => [JSON.parse(m.Body!).deliveryId ?? JSON.parse(m.Body!).kind, m.Attributes?.MessageGroupId]).sort()).toEqual([
      ['dlv_1', 'ten_a'],
      ['dlv_2', 'ten_b'],
      ['flush', 'ten_c'],
    ]);
    const ordered = await receive(emulator.orderedQueue.url);
    expect(ordered.map((m) => [JSON.parse(m.Body!).deliveryId, m.Attributes?.MessageGroupId])).toEqual([['dlv_3', 'sub_1#order-1']]);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: emulator.deliveryQueue.url, Entries: standard.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  });

  it('puts slow-lane jobs on the slow lane with their tenant as message group (a fair queue too); ordered jobs stay on the FIFO queue', async () => {
    const { SqsDeliveryQueue } = await import('../../lambdas/adapters/sqs-queue.ts');
    const queue = new SqsDeliveryQueue(emulator.deliveryQueue.url, emulator.orderedQueue.url, emulator.slowLane.url);
    const job = (tenantId: string, deliveryId: string, orderingGroup?: string) =>
      ({ v: 1, deliveryId, tenantId, subscriptionId: 'sub_1', attemptOffset: 0, createdAt: new Date().toISOString(), event: {}, ...(orderingGroup ? { orderingGroup } : {}) }) as unknown as DeliveryJob;
    await queue.enqueue([job('ten_a', 'dlv_s1'), job('ten_b', 'dlv_s2'), job('ten_a', 'dlv_s3', 'sub_1#order-2')], 0, 'slow');
    const slow = await receive(emulator.slowLane.url);
    expect(slow.map((m) => [JSON.parse(m.Body!).deliveryId, m.Attributes?.MessageGroupId]).sort()).toEqual([
      ['dlv_s1', 'ten_a'],
      ['dlv_s2', 'ten_b'],
    ]);
    expect(await receive(emulator.deliveryQueue.url)).toEqual([]);
    const ordered = await receive(emulator.orderedQueue.url);
    expect(ordered.map((m) => JSON.parse(m.Body!).deliveryId)).toEqual(['dlv_s3']);
    // The worker knows the slow lane's records by their queue's name.
    expect(queue.isSlowLane(emulator.slowLane.arn)).toBe(true);
    expect(queue.isSlowLane(emulator.deliveryQueue.arn)).toBe(false);
    expect(await queue.slowLaneBacklog()).toBe(0);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: emulator.slowLane.url, Entries: slow.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: emulator.orderedQueue.url, Entries: ordered.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  });
});

describe('the fair-queue rules (as AWS documents them)', () => {
  const loads = (entries: [string, Partial<GroupLoad>][]) => new Map(entries.map(([g, l]) => [g, { inFlight: 0, processingMs: 0, ...l }]));

  it('marks a tenant noisy over 10 % of in-flight messages with at least 30 of its own, or over 10 % of recent processing time', () => {
    expect(FAIR_QUEUE_RULES).toMatchObject({ concurrencyShare: 0.1, minInFlight: 30, processingTimeShare: 0.1 });
    expect([...noisyGroups(loads([['a', { inFlight: 30 }], ['b', { inFlight: 29 }]]), 100, 0)]).toEqual(['a']);
    // 30 in flight but only 10 % of 300: not above the share.
    expect([...noisyGroups(loads([['a', { inFlight: 30 }]]), 300, 0)]).toEqual([]);
    expect([...noisyGroups(loads([['slow', { inFlight: 2, processingMs: 18_000 }], ['q', { processingMs: 1_000 }]]), 10, 100_000)]).toEqual(['slow']);
  });

  it("returns quiet tenants' messages oldest first, then the noisy tenant with the fewest in flight", () => {
    const groups = ['n1', 'n1', 'n2', 'q', 'n2', undefined, 'n1', 'q'];
    const inFlight = new Map([['n1', 40], ['n2', 35]]);
    const same = (g: string | undefined) => g;
    expect(fairPick(groups, same, new Set(['n1', 'n2']), inFlight, 10)).toEqual([3, 5, 7, 2, 4, 0, 1, 6]);
    expect(fairPick(groups, same, new Set(['n1', 'n2']), inFlight, 4)).toEqual([3, 5, 7, 2]);
    // Nobody noisy: oldest first, as a standard queue.
    expect(fairPick(groups, same, new Set(), inFlight, 3)).toEqual([0, 1, 2]);
  });
});
