import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { DeliveryJob } from '#core/delivery-job';
import type { DeliveryQueue } from '#core/ports';
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

/** A dead letter: the job and why it ended there, for people and for redrive. */
export interface DeadLetter {
  /** The job, or the raw body of a message that was not a job at all. */
  job: DeliveryJob | { raw: string };
  reason: string;
  attempts: number;
  failedAt: string;
}

export class SqsDeadLetterQueue {
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
