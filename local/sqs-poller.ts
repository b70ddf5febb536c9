import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { setMaxListeners } from 'node:events';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext, type LambdaHandler } from './lambda-context.ts';
import { runAsFunction } from './invocations.ts';

/**
 * A local Lambda event source mapping for SQS: long-polls the queue, invokes the function with
 * batches in the Lambda event shape, deletes what succeeded and leaves the `batchItemFailures`
 * (and everything, if the function throws) for SQS to make visible again.
 */
export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: LambdaHandler<SQSEvent, SQSBatchResponse | void>;
  batchSize?: number;
  /** Concurrent pollers, like Lambda scaling out on a busy queue. */
  concurrency?: number;
  timeoutMs?: number;
  /**
   * Lambda's MaximumBatchingWindowInSeconds, in ms: after the first message, keep receiving
   * until the batch is full or the window has passed. 0 (the default): invoke at once.
   */
  batchWindowMs?: number;
}

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attrs = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = { dataType: value.DataType ?? 'String', stringValue: value.StringValue, stringListValues: [], binaryListValues: [] };
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
      SentTimestamp: attrs.SentTimestamp ?? String(Date.now()),
      SenderId: attrs.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      // A FIFO queue's: where the message stands in its group (core/order-hold.ts keeps held jobs in this order).
      ...(attrs.SequenceNumber ? { SequenceNumber: attrs.SequenceNumber } : {}),
      ...(attrs.MessageGroupId ? { MessageGroupId: attrs.MessageGroupId } : {}),
      ...(attrs.MessageDeduplicationId ? { MessageDeduplicationId: attrs.MessageDeduplicationId } : {}),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

export class SqsPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly abort = new AbortController();
  /** Batches currently inside the function. */
  busy = 0;

  constructor(private options: PollerOptions) {}

  /** A new batching window (and the batch size that goes with it, as the mapping's would change). */
  setBatchWindowMs(ms: number, batchSize = this.options.batchSize): void {
    this.options = { ...this.options, batchWindowMs: ms, batchSize };
  }

  start(): void {
    this.running = true;
    // Every poller's receive listens on the one stop signal.
    setMaxListeners(Math.max(10, 4 * (this.options.concurrency ?? 2)), this.abort.signal);
    // An event source mapping receives and deletes with its function's role: its calls are the function's.
    for (let i = 0; i < (this.options.concurrency ?? 2); i++) this.loops.push(runAsFunction(this.options.functionName, () => this.loop()));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(): Promise<void> {
    const { sqs, queueUrl, queueArn, handler, functionName } = this.options;
    while (this.running) {
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            // A receive answers at most 10; a larger batch is filled by more receives within the window.
            MaxNumberOfMessages: Math.min(10, this.options.batchSize ?? 10),
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
        const size = this.options.batchSize ?? 10;
        const deadline = Date.now() + (this.options.batchWindowMs ?? 0);
        while (messages.length > 0 && messages.length < size && Date.now() < deadline && this.running) {
          const more = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: Math.min(10, size - messages.length),
              WaitTimeSeconds: Math.max(0, Math.min(1, Math.floor((deadline - Date.now()) / 1000))),
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
            { abortSignal: this.abort.signal },
          );
          if (more.Messages?.length) messages.push(...more.Messages);
          else await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
        }
      } catch (error) {
        if (!this.running) return;
        console.error(`[local sqs] receive failed: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length === 0) continue;
      this.busy++;
      try {
        const records = messages.map((m) => toSqsRecord(m, queueArn));
        let failed: Set<string>;
        try {
          const response = await handler({ Records: records }, lambdaContext(functionName, this.options.timeoutMs ?? 100_000));
          failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        } catch (error) {
          console.error(`[local sqs] ${functionName} failed; the batch returns to the queue: ${(error as Error).message}`);
          failed = new Set(records.map((r) => r.messageId));
        }
        const done = records.filter((r) => !failed.has(r.messageId));
        // As the event source mapping does: deletes of at most 10 a request (SQS's limit).
        for (let from = 0; from < done.length; from += 10) {
          await sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.slice(from, from + 10).map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }),
          );
        }
      } finally {
        this.busy--;
      }
    }
  }
}
