import type { CloudEvent } from './envelope.ts';

/**
 * Batched notifications (GAINS' Payload Max Items / Payload Interval): a subscription with
 * `batching: {maxItems, intervalSeconds}` gets its events collected in arrival order and sent as
 * notifications of one event type each:
 *   - the notification takes the type of the oldest waiting event and as many events of that
 *     type as are waiting, in arrival order, up to maxItems (other types wait their turn);
 *   - it goes when that type has maxItems waiting, or the oldest event has waited intervalSeconds;
 *   - successive notifications to the subscription are at least intervalSeconds apart.
 * Retries, dead letters, the attempt log and resend treat a notification as one delivery.
 */
export interface BatchingPolicy {
  maxItems: number;
  intervalSeconds: number;
}

export interface BufferedEvent {
  /** The buffer's sort key: arrival order. */
  key: string;
  event: CloudEvent;
}

export type BatchPlan =
  | { kind: 'send'; items: BufferedEvent[]; remaining: number }
  | { kind: 'wait'; untilMs: number }
  | { kind: 'idle' };

export function planBatch(buffer: BufferedEvent[], policy: BatchingPolicy, lastSentAt: number | undefined, now: number): BatchPlan {
  if (buffer.length === 0) return { kind: 'idle' };
  const head = buffer[0]!;
  const sameType = buffer.filter((item) => item.event.type === head.event.type).slice(0, policy.maxItems);
  const intervalMs = policy.intervalSeconds * 1000;
  const full = sameType.length >= policy.maxItems;
  const oldestReadyAt = Date.parse(head.event.time) + intervalMs;
  const spacingReadyAt = lastSentAt === undefined ? 0 : lastSentAt + intervalMs;
  const readyAt = Math.max(full ? now : oldestReadyAt, spacingReadyAt);
  if (readyAt > now) return { kind: 'wait', untilMs: readyAt };
  return { kind: 'send', items: sameType, remaining: buffer.length - sameType.length };
}

/**
 * The notification body: a CloudEvent whose `data` is the array of the events' data, in order,
 * and `items` their ids, subjects and times (the same order). `thin` leaves `data` out.
 */
export interface BatchEnvelope {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  tenantid: string;
  environment?: string;
  batchsize: number;
  items: { id: string; subject: string; time: string; dataschema?: string }[];
  data?: unknown[];
}

export function batchEnvelope(deliveryId: string, subscriptionId: string, events: CloudEvent[], payload: 'full' | 'thin'): BatchEnvelope {
  const first = events[0]!;
  return {
    specversion: '1.0',
    id: deliveryId,
    source: first.source,
    type: first.type,
    time: events.at(-1)!.time,
    subject: subscriptionId,
    datacontenttype: 'application/json',
    tenantid: first.tenantid,
    ...(first.environment ? { environment: first.environment } : {}),
    batchsize: events.length,
    items: events.map((e) => ({ id: e.id, subject: e.subject, time: e.time, ...(e.dataschema ? { dataschema: e.dataschema } : {}) })),
    ...(payload === 'full' ? { data: events.map((e) => e.data) } : {}),
  };
}
