/**
 * Long waits leave SQS's in-flight set (lambdas/deliver/worker.ts): a standard-queue job that is
 * received before it is due, with more than IN_FLIGHT_WAIT_SECONDS to go, is re-enqueued with a
 * delay (at most SQS's 15 minutes) and acknowledged, never hidden for hours; a short wait, or an
 * ordered (FIFO) job, waits hidden as before. Fakes of the queue ports record the SQS calls.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processDeliveryMessage, RetryLater, type DeliveryWorkerPorts } from '../../lambdas/deliver/worker.ts';
import { IN_FLIGHT_WAIT_SECONDS } from '../../lambdas/core/delivery-plan.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function harness() {
  const calls: { enqueue: { jobs: unknown[]; delay: number }[]; visibility: { seconds: number; ordered: boolean }[] } = { enqueue: [], visibility: [] };
  const ports = {
    clock: () => new Date(NOW),
    queue: {
      enqueue: async (jobs: unknown[], delay = 0) => void calls.enqueue.push({ jobs, delay }),
      changeVisibility: async (_handle: string, seconds: number, from = 'standard') => void calls.visibility.push({ seconds, ordered: from === 'ordered' }),
    },
    deadLetters: { park: async () => undefined },
  } as unknown as DeliveryWorkerPorts;
  return { calls, ports };
}

function record(waitSeconds: number, fifo = false): SQSRecord {
  const job = {
    v: 1,
    deliveryId: 'dlv_LONGWAIT00000000000000000',
    tenantId: 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    subscriptionId: 'sub_01HZZZZZZZZZZZZZZZZZZZZZZZ',
    event: { specversion: '1.0', id: 'evt_1', source: 'urn:x', type: 'order.created', time: '2026-12-01T11:00:00Z', subject: 'o-1', datacontenttype: 'application/json', tenantid: 'ten_01HZZZZZZZZZZZZZZZZZZZZZZZ', data: {} },
    attemptOffset: 3,
    createdAt: '2026-12-01T11:00:00Z',
    notBefore: new Date(NOW + waitSeconds * 1000).toISOString(),
    ...(fifo ? { orderingGroup: 'sub_x:abc' } : {}),
  };
  return {
    messageId: 'm-1',
    receiptHandle: 'r-1',
    body: JSON.stringify(job),
    attributes: { ApproximateReceiveCount: '1' },
    eventSourceARN: fifo ? 'arn:aws:sqs:us-east-1:1:herald-ordered.fifo' : 'arn:aws:sqs:us-east-1:1:herald-deliveries',
  } as unknown as SQSRecord;
}

describe('a job received before it is due', () => {
  it('hops out of flight when the wait is long: re-enqueued with at most 15 minutes of delay', async () => {
    const { calls, ports } = harness();
    await processDeliveryMessage(ports, record(6 * 3600));
    expect(calls.visibility).toEqual([]);
    expect(calls.enqueue).toHaveLength(1);
    expect(calls.enqueue[0]!.delay).toBe(900);
    expect(calls.enqueue[0]!.jobs[0]).toMatchObject({ notBefore: new Date(NOW + 6 * 3600 * 1000).toISOString(), attemptOffset: 3 });
  });

  it('the last hop lands exactly when due', async () => {
    const { calls, ports } = harness();
    await processDeliveryMessage(ports, record(IN_FLIGHT_WAIT_SECONDS + 120));
    expect(calls.enqueue[0]!.delay).toBe(IN_FLIGHT_WAIT_SECONDS + 120);
  });

  it('waits hidden when the wait is short', async () => {
    const { calls, ports } = harness();
    await expect(processDeliveryMessage(ports, record(60))).rejects.toBeInstanceOf(RetryLater);
    expect(calls.visibility).toEqual([{ seconds: 60, ordered: false }]);
    expect(calls.enqueue).toEqual([]);
  });

  it('an ordered job always waits hidden: it holds its group', async () => {
    const { calls, ports } = harness();
    await expect(processDeliveryMessage(ports, record(6 * 3600, true))).rejects.toBeInstanceOf(RetryLater);
    expect(calls.visibility).toEqual([{ seconds: 6 * 3600, ordered: true }]);
    expect(calls.enqueue).toEqual([]);
  });
});
