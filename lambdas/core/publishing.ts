import { requireTenant } from './tenant-lookup.ts';
import type { Catalogue } from './catalogue.ts';
import { dataSchemaUri, expandLinkTemplate } from './envelope.ts';
import { buildEnvelope, type CloudEvent } from './envelope.ts';
import type { PublishEventInput } from './publish-schema.ts';
import { DomainError, ValidationError } from './errors.ts';
import { newId } from './ids.ts';
import { fanOutMany, INLINE_FANOUT_MAX_JOBS, type FanOutOutcome, type FanOutPorts } from './fanout.ts';
import type { EventPublisher, EventStore, StoredEvent, TenantStore } from './ports.ts';

export interface PublishPorts {
  tenants: TenantStore;
  events: EventStore;
  publisher: EventPublisher;
  clock: () => Date;
  catalogue: Catalogue;
  /**
   * Fan-out at publish: the API enqueues the deliveries of the events it accepts itself
   * (`fanOutInline`), so the fan-out function runs only for what it could not. Absent: every
   * event is left to the fan-out function, as other publishers leave theirs.
   */
  fanout?: Omit<FanOutPorts, 'clock' | 'config'> & {
    /** Told each event's outcome (the API logs it: debug when done, a warning when left to the fan-out function). */
    observe?: (event: CloudEvent, outcome: FanOutOutcome) => void;
  };
  /** `sweepAfterSeconds`: when the sweeper first checks this event's fan-out (none: never). */
  config: { eventSource: string; environment?: string; eventRetentionDays: number; thinLinkTemplate?: string; sweepAfterSeconds?: number };
}

/**
 * Accepts an event once per (tenant, id), in one write: the event is stored already marked
 * published, fanned out (`fanOutInline`), then put on the bus; if the bus refuses it the mark is
 * taken back (with `fannedOutAt` when the fan-out was done) and the error goes to the client.
 * A repeat of an id whose earlier publish never reached the bus is published now rather than
 * swallowed, so a client retrying after an error loses nothing: fanned out first unless the
 * earlier try did (`fannedOutAt`), and marked so on the bus; the sweeper does the same. So a bus
 * refusal costs no second fan-out. Only when the first try's write of `fannedOutAt` was lost
 * too are the event's jobs enqueued again: the same delivery ids, which the FIFO queue's
 * deduplication drops, or at worst a repeat the receiver deduplicates by its `webhook-id`. An
 * event whose publish died with its process (mark kept, never on the bus) is the sweeper's: it
 * finds the event's deliveries missing and enqueues them.
 */
export async function publishEvent(ports: PublishPorts, input: PublishEventInput): Promise<{ id: string; duplicate: boolean }> {
  const problems = ports.catalogue.validate(input.type, input.data, input.version);
  if (problems.length > 0) throw new ValidationError(problems);
  await requireTenant(ports.tenants, input.tenantId);
  const now = ports.clock();
  const envelope = envelopeOf(ports, input, now);
  const at = now.toISOString();
  const existing = await ports.events.putEventIfAbsent(envelope, ports.config.eventRetentionDays, sweepTime(now, ports.config.sweepAfterSeconds), at);
  if (existing?.publishedAt) return { id: envelope.id, duplicate: true };
  const event = existing ? stripStorage(existing) : envelope;
  // A kept event fanned out by an earlier try (the bus refused it then) needs only its bus copy.
  const fannedOut = existing?.fannedOutAt !== undefined || (await fanOutInline(ports, [event]))[0]!;
  try {
    await publishMarked(ports, event, existing === undefined, fannedOut ? (existing?.fannedOutAt ?? at) : undefined);
  } catch (error) {
    // Stored but not on the bus: accepted all the same (the sweeper publishes it), so the client
    // hears the truth, not "nothing was accepted".
    throw new DomainError(
      503,
      'Service unavailable',
      `event ${envelope.id} is stored, but the bus refused it (${(error as Error).name ?? 'Error'}): the sweeper publishes it within minutes, or send it again with the same id to publish it now`,
    );
  }
  if (existing) await ports.events.markEventPublished(existing.tenantid, existing.id, at);
  return { id: envelope.id, duplicate: existing !== undefined };
}

/** The CloudEvent of a validated input: its id (generated when absent), schema and thin link. */
export function envelopeOf(ports: Pick<PublishPorts, 'catalogue' | 'config'>, input: PublishEventInput, now: Date): CloudEvent {
  const version = input.version ?? ports.catalogue.latestVersion(input.type)!;
  const id = input.id ?? newId('evt');
  const linkTemplate = ports.catalogue.entry(input.type, version)?.linkTemplate ?? ports.config.thinLinkTemplate;
  const { version: _v, ...fields } = input;
  return buildEnvelope({ ...fields, id }, ports.config.eventSource, now, {
    dataschema: dataSchemaUri(input.type, version),
    environment: ports.config.environment,
    ...(linkTemplate
      ? { dataref: expandLinkTemplate(linkTemplate, { tenantid: input.tenantId, type: input.type, subject: input.subject, id }) }
      : {}),
  });
}

/**
 * Fan-out at publish: enqueues the events' deliveries now, in one go (core/fanout.ts
 * `fanOutMany`, at most INLINE_FANOUT_MAX_JOBS jobs a request); answers, per event, whether its
 * bus copy may say so. An event whose fan-out failed (an SQS or index error) or did not fit
 * answers false: it goes on the bus unmarked and the fan-out function does it, retried by
 * Lambda, so a publish never fails for it and the sweeper's guarantee stands whichever path ran.
 * Without `fanout` ports, every answer is false.
 */
export async function fanOutInline(ports: Pick<PublishPorts, 'fanout' | 'clock' | 'config'>, events: readonly CloudEvent[]): Promise<boolean[]> {
  if (!ports.fanout || events.length === 0) return events.map(() => false);
  let outcomes: FanOutOutcome[];
  try {
    outcomes = await fanOutMany({ ...ports.fanout, clock: ports.clock, config: { eventRetentionDays: ports.config.eventRetentionDays } }, events, INLINE_FANOUT_MAX_JOBS);
  } catch (error) {
    // fanOutMany answers failures per event; anything else still leaves them to the function.
    outcomes = events.map(() => ({ ok: false, error }));
  }
  outcomes.forEach((outcome, i) => ports.fanout!.observe?.(events[i]!, outcome));
  return outcomes.map((outcome) => outcome.ok);
}

/**
 * Puts a stored event on the bus; when it was stored marked published and the bus refuses it,
 * unmarks it. `fannedOutAt`: the event was fanned out at publish, so its bus copy says so
 * (core/ports.ts EventPublisher) and a refusal records it with the unmark (StoredEvent).
 */
export async function publishMarked(
  ports: { events: Pick<EventStore, 'markEventUnpublished'>; publisher: Pick<EventPublisher, 'publish'> },
  event: CloudEvent,
  marked: boolean,
  fannedOutAt?: string,
): Promise<void> {
  try {
    await ports.publisher.publish(event, fannedOutAt !== undefined);
  } catch (error) {
    if (marked || fannedOutAt) await ports.events.markEventUnpublished(event.tenantid, event.id, fannedOutAt).catch(() => undefined);
    throw error;
  }
}

/** A kept event as it is sent: without the store's own bookkeeping. */
export function stripStorage(event: StoredEvent & { sweptAt?: string }): CloudEvent {
  const { publishedAt: _p, sweptAt: _s, fannedOutAt: _f, ...envelope } = event;
  return envelope;
}

/** When the sweeper first checks an event stored now (undefined: the event is not swept). */
export function sweepTime(now: Date, afterSeconds: number | undefined): string | undefined {
  return afterSeconds === undefined ? undefined : new Date(now.getTime() + afterSeconds * 1000).toISOString();
}
