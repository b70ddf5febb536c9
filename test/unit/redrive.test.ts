/**
 * Redrive from the tenant's own records (core/recovery.ts redriveDeadLetters) on the in-memory
 * delivery store: the job rebuilt from the record and the kept events (batches whole); a letter
 * whose event is past retention answered with the reason; each letter claimed once however many
 * redrives run; other tenants' letters untouched.
 */
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../lambdas/core/delivery.ts';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';
import type { StoredEvent } from '../../lambdas/core/ports.ts';
import { EVENT_EXPIRED_REASON, MAX_NAMED_UNREDRIVEN, redriveDeadLetters, type RecoveryPorts } from '../../lambdas/core/recovery.ts';
import { InMemoryDeliveryStore } from '../support/in-memory-ports.ts';

const NOW = new Date('2026-12-01T10:00:00.000Z');

const event = (tenantId: string, id: string): CloudEvent => ({
  specversion: '1.0',
  id,
  source: 'urn:herald:platform',
  type: 'order.created',
  subject: `order-${id}`,
  time: '2026-11-30T10:00:00.000Z',
  datacontenttype: 'application/json',
  tenantid: tenantId,
  data: { id },
});

function failed(tenantId: string, id: string, extra: Partial<Delivery> = {}): Delivery {
  return {
    id,
    tenantId,
    subscriptionId: `sub_${tenantId}`,
    eventId: `evt_${id}`,
    eventType: 'order.created',
    subject: `order-evt_${id}`,
    status: 'failed',
    attempts: [{ number: 3, at: '2026-11-30T11:00:00.000Z', durationMs: 10, statusCode: 500 }],
    attemptCount: 3,
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T11:00:00.000Z',
    reason: 'retry policy exhausted after 3 attempt(s)',
    ...extra,
  };
}

function setup(events: CloudEvent[] = []) {
  const deliveries = new InMemoryDeliveryStore();
  const kept = new Map(events.map((e) => [`${e.tenantid}#${e.id}`, { ...e, publishedAt: e.time } as StoredEvent]));
  const sent: DeliveryJob[] = [];
  const ports = {
    deliveries,
    events: { getEvent: async (tenantId: string, id: string) => kept.get(`${tenantId}#${id}`) },
    queue: { enqueue: async (jobs: DeliveryJob[]) => void sent.push(...jobs) },
    clock: () => NOW,
  } as unknown as RecoveryPorts;
  return { deliveries, ports, sent };
}

describe('redrive from the records', () => {
  it('rebuilds the job from the record and its kept event (the resend’s ignorePause, the ordering group), only the caller’s', async () => {
    const { deliveries, ports, sent } = setup([event('ten_a', 'evt_dlv_a'), event('ten_b', 'evt_dlv_b')]);
    deliveries.summaries.set('dlv_a', { ...failed('ten_a', 'dlv_a', { ignorePause: true, orderingGroup: 'sub_ten_a:order-evt_dlv_a', firstAttemptAt: '2026-11-30T10:00:00.000Z' }) });
    deliveries.summaries.set('dlv_b', failed('ten_b', 'dlv_b'));

    expect(await redriveDeadLetters(ports, 'ten_a')).toEqual({ count: 1 });
    expect(sent).toHaveLength(1);
    // The policy starts afresh, the log counts on; the event comes from the event store.
    expect(sent[0]).toMatchObject({
      deliveryId: 'dlv_a',
      event: event('ten_a', 'evt_dlv_a'),
      ignorePause: true,
      orderingGroup: 'sub_ten_a:order-evt_dlv_a',
      attemptOffset: 3,
      retryFrom: 3,
      firstAttemptAt: NOW.toISOString(),
    });
    for (const dropped of ['slotAt', 'firstEnqueue', 'notBefore', 'batch']) expect(sent[0]).not.toHaveProperty(dropped);
    expect(deliveries.summaries.get('dlv_a')!.status).toBe('pending');
    expect(deliveries.summaries.get('dlv_b')!.status).toBe('failed');
  });

  it('rebuilds a batch whole; a letter whose event is past retention stays a dead letter and is named with the reason, never dropped silently', async () => {
    const first = event('ten_a', 'evt_1');
    const second = event('ten_a', 'evt_2');
    const { deliveries, ports, sent } = setup([first, second]);
    deliveries.summaries.set('dlv_batch', failed('ten_a', 'dlv_batch', { eventId: 'evt_1', eventIds: ['evt_1', 'evt_2'] }));
    deliveries.summaries.set('dlv_gone', failed('ten_a', 'dlv_gone', { eventId: 'evt_expired' }));
    deliveries.summaries.set('dlv_half', failed('ten_a', 'dlv_half', { eventId: 'evt_1', eventIds: ['evt_1', 'evt_expired'] }));

    expect(await redriveDeadLetters(ports, 'ten_a')).toEqual({ count: 1, notRedriven: { count: 2, reason: EVENT_EXPIRED_REASON, deliveryIds: ['dlv_gone', 'dlv_half'] } });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ deliveryId: 'dlv_batch', event: first, batch: [first, second], attemptOffset: 3 });
    expect(deliveries.summaries.get('dlv_gone')!.status).toBe('failed');
    expect(deliveries.summaries.get('dlv_half')!.status).toBe('failed');
    // By id: a 410 naming the reason, the letter untouched.
    await expect(redriveDeadLetters(ports, 'ten_a', { deliveryId: 'dlv_gone' })).rejects.toMatchObject({ status: 410, message: expect.stringContaining('past the event retention period') });
    expect(deliveries.summaries.get('dlv_gone')!.status).toBe('failed');
  });

  it('names at most 100 unredriven letters, counting them all', async () => {
    const { deliveries, ports } = setup();
    for (let i = 0; i < 130; i++) deliveries.summaries.set(`dlv_${i}`, failed('ten_a', `dlv_${i}`));
    const answer = await redriveDeadLetters(ports, 'ten_a');
    expect(answer.count).toBe(0);
    expect(answer.notRedriven!.count).toBe(130);
    expect(answer.notRedriven!.deliveryIds).toHaveLength(MAX_NAMED_UNREDRIVEN);
  });

  it('claims each letter once: concurrent redrives send it once between them', async () => {
    const { deliveries, ports, sent } = setup(Array.from({ length: 5 }, (_, i) => event('ten_a', `evt_dlv_${i}`)));
    for (let i = 0; i < 5; i++) deliveries.summaries.set(`dlv_${i}`, failed('ten_a', `dlv_${i}`));
    const counts = await Promise.all([redriveDeadLetters(ports, 'ten_a'), redriveDeadLetters(ports, 'ten_a'), redriveDeadLetters(ports, 'ten_a', { subscriptionId: undefined })]);
    expect(counts.reduce((n, c) => n + c.count, 0)).toBe(5);
    expect(sent.map((j) => j.deliveryId).sort()).toEqual(['dlv_0', 'dlv_1', 'dlv_2', 'dlv_3', 'dlv_4']);
    expect(await redriveDeadLetters(ports, 'ten_a')).toEqual({ count: 0 });
  });
});
