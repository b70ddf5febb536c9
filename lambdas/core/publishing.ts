import { dataSchemaUri, expandLinkTemplate, type Catalogue } from './catalogue.ts';
import { buildEnvelope, type PublishEventInput } from './envelope.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { newId } from './ids.ts';
import { sweepTime } from './operational-events.ts';
import type { EventPublisher, EventStore, TenantStore } from './ports.ts';

export interface PublishPorts {
  tenants: TenantStore;
  events: EventStore;
  publisher: EventPublisher;
  clock: () => Date;
  catalogue: Catalogue;
  /** `sweepAfterSeconds`: when the sweeper first checks this event's fan-out (none: never). */
  config: { eventSource: string; eventRetentionDays: number; thinLinkTemplate?: string; sweepAfterSeconds?: number };
}

/**
 * Accepts an event once per (tenant, id). The event is stored before it goes on the bus, and
 * marked published after: a repeat of an id whose earlier publish never reached the bus is
 * published now rather than swallowed, so a client retrying after an error loses nothing.
 */
export async function publishEvent(ports: PublishPorts, input: PublishEventInput): Promise<{ id: string; duplicate: boolean }> {
  const problems = ports.catalogue.validate(input.type, input.data, input.version);
  if (problems.length > 0) throw new ValidationError(problems);
  if (!(await ports.tenants.getTenant(input.tenantId))) throw new NotFoundError('tenant', input.tenantId);
  const now = ports.clock();
  const version = input.version ?? ports.catalogue.latestVersion(input.type)!;
  const id = input.id ?? newId('evt');
  const linkTemplate = ports.catalogue.entry(input.type, version)?.linkTemplate ?? ports.config.thinLinkTemplate;
  const { version: _v, ...fields } = input;
  const envelope = buildEnvelope({ ...fields, id }, ports.config.eventSource, now, {
    dataschema: dataSchemaUri(input.type, version),
    ...(linkTemplate
      ? { dataref: expandLinkTemplate(linkTemplate, { tenantid: input.tenantId, type: input.type, subject: input.subject, id }) }
      : {}),
  });
  const existing = await ports.events.putEventIfAbsent(envelope, ports.config.eventRetentionDays, sweepTime(now, ports.config.sweepAfterSeconds));
  if (existing?.publishedAt) return { id: envelope.id, duplicate: true };
  const toPublish = existing ?? envelope;
  await ports.publisher.publish(toPublish);
  await ports.events.markEventPublished(toPublish.tenantid, toPublish.id, now.toISOString());
  return { id: envelope.id, duplicate: existing !== undefined };
}
