import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { DeliveryJob } from '#core/delivery-job';
import { deliveryJobSchema } from '#core/delivery-job';
import type { DeadLetter, DeadLetterQueue, DeliveryQueue } from '#core/ports';
import { sqs } from './clients.ts';

/** SQS allows 10 entries per batch call: fan-out to 1,000 subscriptions costs 100 requests. */
const SQS_BATCH = 10;
/** SQS caps DelaySeconds at 15 minutes. */
export const MAX_DELAY_SECONDS = 900;
/** SQS caps one message's visibility timeout at 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

export class SqsDeliveryQueue implements DeliveryQueue {
  constructor(private readonly queueUrl: string) {}

  async enqueue(jobs: DeliveryJob[], delaySeconds = 0): Promise<void> {
    const chunks: DeliveryJob[][] = [];
    for (let i = 0; i < jobs.length; i += SQS_BATCH) chunks.push(jobs.slice(i, i + SQS_BATCH));
    await Promise.all(chunks.map((chunk) => this.sendBatch(chunk, Math.min(delaySeconds, MAX_DELAY_SECONDS))));
  }

  private async sendBatch(jobs: DeliveryJob[], delaySeconds: number): Promise<void> {
    let entries = jobs.map((job, index) => ({ Id: String(index), MessageBody: JSON.stringify(job), DelaySeconds: delaySeconds }));
    for (let round = 0; entries.length > 0; round++) {
      if (round === 5) throw new Error(`SQS refused ${entries.length} delivery job(s) after 5 tries`);
      if (round > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** round));
      const out = await sqs().send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((entry) => failed.has(entry.Id));
    }
  }

  /** Messages waiting to be received (not in flight, not delayed): how far the workers lag. */
  async backlog(): Promise<number> {
    const out = await sqs().send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await sqs().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(Math.round(seconds), MAX_VISIBILITY_SECONDS)),
      }),
    );
  }
}

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

  /**
   * SQS has no "move these messages" call that works everywhere (StartMessageMoveTask moves all,
   * and the emulator lacks it), so redrive receives, re-sends and deletes. Letters not selected
   * stay hidden until the sweep ends, then are made visible again, so each is seen once.
   */
  async redrive(select: (letter: DeadLetter) => boolean, requeue: (letters: DeadLetter[]) => Promise<void>): Promise<number> {
    const skipped: string[] = [];
    let moved = 0;
    const deadline = Date.now() + REDRIVE_BUDGET_MS;
    try {
      while (Date.now() < deadline) {
        const out = await sqs().send(
          new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 120 }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) break;
        const chosen: { letter: DeadLetter; handle: string }[] = [];
        for (const message of messages) {
          const letter = parseDeadLetter(message.Body ?? '');
          if (letter && select(letter)) chosen.push({ letter, handle: message.ReceiptHandle! });
          else skipped.push(message.ReceiptHandle!);
        }
        if (chosen.length === 0) continue;
        await requeue(chosen.map((c) => c.letter));
        await sqs().send(
          new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: chosen.map((c, i) => ({ Id: String(i), ReceiptHandle: c.handle })) }),
        );
        moved += chosen.length;
      }
    } finally {
      for (let i = 0; i < skipped.length; i += 10) {
        await sqs().send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: skipped.slice(i, i + 10).map((handle, n) => ({ Id: String(n), ReceiptHandle: handle, VisibilityTimeout: 0 })),
          }),
        );
      }
    }
    return moved;
  }
}

/** Bounds one redrive request, well inside API Gateway's 29 s. */
const REDRIVE_BUDGET_MS = 20_000;

/**
 * Dead letters come in two shapes: the deliver function's own (job + reason), and a bare job the
 * queue's redrive policy moved after too many receives (the function crashed or timed out on it).
 */
export function parseDeadLetter(body: string): DeadLetter | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const wrapped = parsed as Partial<DeadLetter>;
  if (wrapped && typeof wrapped === 'object' && 'reason' in wrapped && wrapped.job && 'deliveryId' in wrapped.job) {
    const job = deliveryJobSchema.safeParse(wrapped.job);
    if (job.success) return { job: job.data, reason: String(wrapped.reason), attempts: Number(wrapped.attempts ?? 0), failedAt: String(wrapped.failedAt ?? '') };
    return undefined;
  }
  const job = deliveryJobSchema.safeParse(parsed);
  if (!job.success) return undefined;
  return {
    job: job.data,
    reason: 'moved to the DLQ by the queue redrive policy after repeated receives (function crash or timeout)',
    attempts: job.data.attemptOffset,
    failedAt: '',
  };
}
