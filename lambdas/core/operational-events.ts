import { buildEnvelope, dataSchemaUri, type CloudEvent } from './envelope.ts';
import { newId } from './ids.ts';
import type { DeliveryJob } from './delivery-job.ts';
import type { EventPublisher, EventStore } from './ports.ts';
import { publishMarked, sweepTime } from './publishing.ts';

/**
 * Herald's own events (subscription.paused, subscription.resumed, delivery.dead_lettered): kept
 * and published exactly like a platform event, so a tenant subscribes to them on any destination.
 * Their data is built here to match catalogue/<type>/v1.json (a unit test holds them to it).
 */
export const OPERATIONAL_TYPES = ['subscription.paused', 'subscription.resumed', 'delivery.dead_lettered'] as const;
export type OperationalType = (typeof OPERATIONAL_TYPES)[number];
/** The test event a tenant sends to one subscription by hand (`POST /v1/subscriptions/{id}/test`). */
export const TEST_EVENT_TYPE = 'herald.ping';

export interface OperationalEventPorts {
  events: Pick<EventStore, 'putEventIfAbsent' | 'markEventUnpublished'>;
  publisher: Pick<EventPublisher, 'publish'>;
  clock: () => Date;
  config: { eventSource: string; environment?: string; eventRetentionDays: number; sweepAfterSeconds?: number };
}

/**
 * Events about Herald's own events are not announced again: a subscription to `*` whose endpoint
 * fails must not feed itself an endless chain of delivery.dead_lettered.
 */
export function isOperationalEvent(type: string): boolean {
  return type === TEST_EVENT_TYPE || (OPERATIONAL_TYPES as readonly string[]).includes(type);
}

export function operationalEvent(tenantId: string, type: OperationalType, subject: string, data: Record<string, unknown>, source: string, now: Date, environment?: string): CloudEvent {
  return buildEnvelope({ tenantId, id: newId('evt'), type, subject, data }, source, now, { dataschema: dataSchemaUri(type, 1), environment });
}

export async function emitOperationalEvent(
  ports: OperationalEventPorts,
  tenantId: string,
  type: OperationalType,
  subject: string,
  data: Record<string, unknown>,
): Promise<CloudEvent> {
  const now = ports.clock();
  const event = operationalEvent(tenantId, type, subject, data, ports.config.eventSource, now, ports.config.environment);
  await ports.events.putEventIfAbsent(event, ports.config.eventRetentionDays, sweepTime(now, ports.config.sweepAfterSeconds), now.toISOString());
  await publishMarked(ports, event, true);
  return event;
}

/**
 * Tells the tenant a delivery was dead-lettered (`delivery.dead_lettered`), whichever path parked
 * it; never for a delivery of an operational event itself, which would announce its own failure
 * forever.
 */
export async function announceDeadLetter(ports: OperationalEventPorts, job: DeliveryJob, reason: string, attempts: number): Promise<void> {
  if (isOperationalEvent(job.event.type)) return;
  await emitOperationalEvent(ports, job.tenantId, 'delivery.dead_lettered', job.deliveryId, {
    deliveryId: job.deliveryId,
    subscriptionId: job.subscriptionId,
    eventId: job.event.id,
    eventType: job.event.type,
    subject: job.event.subject,
    reason,
    attempts,
  });
}
