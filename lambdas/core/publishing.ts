import { buildEnvelope, type PublishEventInput } from './envelope.ts';
import { NotFoundError } from './errors.ts';
import { newId } from './ids.ts';
import type { EventPublisher, EventStore, TenantStore } from './ports.ts';

export interface PublishPorts {
  tenants: TenantStore;
  events: EventStore;
  publisher: EventPublisher;
  clock: () => Date;
  config: { eventSource: string; eventRetentionDays: number };
}

/**
 * Accepts an event once per (tenant, id). The event is stored before it goes on the bus, and
 * marked published after: a repeat of an id whose earlier publish never reached the bus is
 * published now rather than swallowed, so a client retrying after an error loses nothing.
 */
export async function publishEvent(ports: PublishPorts, input: PublishEventInput): Promise<{ id: string; duplicate: boolean }> {
  if (!(await ports.tenants.getTenant(input.tenantId))) throw new NotFoundError('tenant', input.tenantId);
  const now = ports.clock();
  const envelope = buildEnvelope({ ...input, id: input.id ?? newId('evt') }, ports.config.eventSource, now);
  const existing = await ports.events.putEventIfAbsent(envelope, ports.config.eventRetentionDays);
  if (existing?.publishedAt) return { id: envelope.id, duplicate: true };
  const toPublish = existing ?? envelope;
  await ports.publisher.publish(toPublish);
  await ports.events.markEventPublished(toPublish.tenantid, toPublish.id, now.toISOString());
  return { id: envelope.id, duplicate: existing !== undefined };
}
