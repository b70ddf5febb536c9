import { inBatches } from './batches.ts';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { DeliveryJob, FlushJob } from '#core/delivery-job';
import { MAX_DELAY_SECONDS, MAX_VISIBILITY_SECONDS } from '#core/delivery-plan';
import type { DeadLetter, DeadLetterQueue, DeliveryQueue } from '#core/ports';
import { randomUUID } from 'node:crypto';
import { sqs } from './clients.ts';

/** SQS allows 10 entries per batch call: fan-out to 1,000 subscriptions costs 100 requests. */
const SQS_BATCH = 10;

/**
 * SendMessageBatch takes at most 10 messages and 256 KiB in all (the queue's message size, which
 * also bounds the batch). Jobs carry their event, up to 200 KB of data, so a batch is cut by size
 * as well as count: ten jobs of one large event never go out as one refused request.
 */
const SQS_BATCH_BYTES = 256 * 1024;
/** A job with its message body, serialised once: measured for batching, then sent as is. */
type Outgoing = { job: DeliveryJob; body: string };

function batchesOf(jobs: DeliveryJob[]): Outgoing[][] {
  const outgoing = jobs.map((job) => ({ job, body: JSON.stringify(job) }));
  // Each entry: its body plus its id and attributes.
  return inBatches(outgoing, SQS_BATCH, SQS_BATCH_BYTES, ({ body }) => Buffer.byteLength(body) + 200);
}

/** The queue a delivery record came from: the standard queue, the FIFO queue or the slow lane. */
export type ReceivedFrom = 'standard' | 'ordered' | 'slow';

/** The queue's name, as both its URL and its ARN end with it. */
export function queueNameOf(urlOrArn: string): string {
  return urlOrArn.split(/[/:]/).pop() ?? '';
}

/**
 * The delivery queues: the standard queue, the FIFO queue for jobs with an ordering group
 * (message group = subscription and subject; deduplication on the delivery id for fan-out's
 * first enqueue, so a repeated fan-out is dropped; any later enqueue of the same delivery, a
 * redrive or a release, is a new message), and the slow lane (core/slow-lane.ts), a standard
 * queue like the first. Without a FIFO queue, ordered jobs use the standard one; without a slow
 * lane, its jobs do too.
 */
export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly orderedQueueUrl?: string,
    private readonly slowLaneUrl?: string,
  ) {}

  /** Whether a record's `eventSourceARN` names the slow lane. */
  isSlowLane(eventSourceArn: string | undefined): boolean {
    return this.slowLaneUrl !== undefined && eventSourceArn !== undefined && queueNameOf(eventSourceArn) === queueNameOf(this.slowLaneUrl);
  }

  /** `lane: 'slow'`: the jobs without an ordering group go on the slow lane. */
  async enqueue(jobs: DeliveryJob[], delaySeconds = 0, lane?: 'slow'): Promise<void> {
    const ordered = this.orderedQueueUrl ? jobs.filter((job) => job.orderingGroup) : [];
    const standard = ordered.length > 0 ? jobs.filter((job) => !job.orderingGroup) : jobs;
    const standardUrl = lane === 'slow' && this.slowLaneUrl ? this.slowLaneUrl : this.queueUrl;
    const chunks = [
      ...batchesOf(standard).map((batch) => ({ url: standardUrl, jobs: batch, fifo: false })),
      ...batchesOf(ordered).map((batch) => ({ url: this.orderedQueueUrl!, jobs: batch, fifo: true })),
    ];
    // FIFO batches go one after another: within a group, send order is delivery order.
    await Promise.all(chunks.filter((c) => !c.fifo).map((c) => this.sendBatch(c.url, c.jobs, Math.min(delaySeconds, MAX_DELAY_SECONDS), false)));
    for (const c of chunks.filter((c) => c.fifo)) await this.sendBatch(c.url, c.jobs, 0, true);
  }

  private async sendBatch(queueUrl: string, jobs: Outgoing[], delaySeconds: number, fifo: boolean): Promise<void> {
    let entries = jobs.map(({ job, body }, index) => ({
      Id: String(index),
      MessageBody: body,
      ...(fifo
        ? { MessageGroupId: job.orderingGroup, MessageDeduplicationId: job.firstEnqueue ? job.deliveryId : `${job.deliveryId}.${randomUUID()}` }
        : // SQS fair queues: the tenant as message group on the standard queue, so one tenant's
          // backlog does not lengthen every other tenant's dwell time (no ordering is implied).
          { DelaySeconds: delaySeconds, MessageGroupId: job.tenantId }),
    }));
    for (let round = 0; entries.length > 0; round++) {
      if (round === 5) throw new Error(`SQS refused ${entries.length} delivery job(s) after 5 tries`);
      if (round > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** round));
      const out = await sqs().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((entry) => failed.has(entry.Id));
    }
  }

  async enqueueFlush(tenantId: string, subscriptionId: string, delaySeconds: number): Promise<void> {
    const body: FlushJob = { v: 1, kind: 'flush', tenantId, subscriptionId };
    await sqs().send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body), MessageGroupId: tenantId, DelaySeconds: Math.max(0, Math.min(Math.ceil(delaySeconds), MAX_DELAY_SECONDS)) }),
    );
  }

  /** Messages waiting to be received (not in flight, not delayed): how far the workers lag. */
  async backlog(): Promise<number> {
    const urls = [this.queueUrl, ...(this.orderedQueueUrl ? [this.orderedQueueUrl] : [])];
    const counts = await Promise.all(urls.map(waitingIn));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * The slow lane's own backlog, apart: it drains slow receivers at their pace (core/slow-lane.ts),
   * so it says nothing of how far the workers lag for everyone else.
   */
  async slowLaneBacklog(): Promise<number> {
    return this.slowLaneUrl ? waitingIn(this.slowLaneUrl) : 0;
  }

  /** `from`: the queue the message was received from. */
  async changeVisibility(receiptHandle: string, seconds: number, from: ReceivedFrom = 'standard'): Promise<void> {
    const queueUrl = from === 'ordered' && this.orderedQueueUrl ? this.orderedQueueUrl : from === 'slow' && this.slowLaneUrl ? this.slowLaneUrl : this.queueUrl;
    await sqs().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(Math.round(seconds), MAX_VISIBILITY_SECONDS)),
      }),
    );
  }
}

async function waitingIn(queueUrl: string): Promise<number> {
  const out = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

/**
 * The operator's copy of each dead letter (core/ports.ts DeadLetterQueue): written here, read by
 * no tenant request. Tenants redrive from their own delivery records (core/recovery.ts).
 */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(private readonly queueUrl: string) {}

  async park(letter: DeadLetter): Promise<void> {
    await sqs().send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(letter),
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: letter.reason.slice(0, 256) },
          ...('tenantId' in letter.job
            ? {
                tenantId: { DataType: 'String', StringValue: letter.job.tenantId },
                subscriptionId: { DataType: 'String', StringValue: letter.job.subscriptionId },
              }
            : {}),
        },
      }),
    );
  }
}
