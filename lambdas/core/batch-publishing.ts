import * as z from 'zod';
import type { CloudEvent } from './envelope.ts';
import { DomainError, NotFoundError, problemDocument, problemOf, ValidationError, type ProblemDocument } from './errors.ts';
import { documentedAs } from './documented-shape.ts';
import { jsonDocumentProblems } from './input-limits.ts';
import type { PublishOutcome } from './ports.ts';
import { publishEventSchema, type PublishEventInput } from './publish-schema.ts';
import { forEachLimited } from './concurrency.ts';
import { envelopeOf, fanOutInline, stripStorage, sweepTime, type PublishPorts } from './publishing.ts';
import { requireTenant } from './tenant-lookup.ts';

/** Events per `POST /v1/events/batch` (docs/api.md, v1.1). */
export const MAX_BATCH_EVENTS = 100;

/** How many levels a batch body adds above each event: the body and its `events` array. */
export const BATCH_NESTING = 2;

/** Conditional puts of one batch in flight at once (DynamoDB has no conditional batch write). */
export const STORES_AT_ONCE = 16;

/** The body of `POST /v1/events/batch`; each event is checked on its own, as `POST /v1/events` checks it. */
export const publishBatchSchema = z
  .object({ events: z.array(documentedAs(z.unknown(), publishEventSchema)).min(1, 'must hold at least one event').max(MAX_BATCH_EVENTS, `must hold at most ${MAX_BATCH_EVENTS} events`) })
  .strict();

/** The answer for one event of a batch, at its index: 202 accepted, 200 already accepted, or a problem. */
export interface BatchItem {
  index: number;
  id?: string;
  status: number;
  problem?: ProblemDocument;
}

/** A body that is not an object at all is named as `events` missing, like an object without it. */
export function batchBodyProblem(body: unknown): ValidationError | undefined {
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) return undefined;
  return new ValidationError([{ path: 'events', message: `is required: the body is {"events": [<event>, …]} with 1 to ${MAX_BATCH_EVENTS} events` }]);
}

/**
 * Publishes up to 100 events, each exactly as `publishEvent` would: validated on its own (input
 * limits counted from the event, the publish schema, the catalogue), for a tenant that exists,
 * once per (tenant, id). Answers one item per event, in order; only a failure to read tenants
 * fails the whole request, and then nothing has been stored.
 *
 * Each new event is stored already marked published with a conditional put (bounded
 * concurrency: DynamoDB's batch write takes no condition), then all of them are fanned out at
 * once (`fanOutInline`: their jobs in as few SendMessageBatch calls as they fit, each event's bus
 * copy marked when that worked) and go to the bus in as few calls as it allows (`publishMany`). An entry the bus refuses has its mark taken back, as
 * the single route does: the stored event is the sweeper's to publish, and a repeat of its id
 * publishes it at once, so a refused entry is reported (503, with the bus's reason) and never
 * lost. A repeat of an id within the batch is stored once and answers what its first answered
 * (200 when that was accepted).
 *
 * `parse` is the route's parse of one event with the publish schema (a ValidationError naming
 * fields relative to the event).
 */
export async function publishBatch(ports: PublishPorts, events: readonly unknown[], parse: (raw: unknown) => PublishEventInput): Promise<BatchItem[]> {
  const items: BatchItem[] = events.map((_, index) => ({ index, status: 0 }));
  const answer = (index: number, id: string | undefined, status: number, problem?: ProblemDocument) => {
    items[index] = { index, ...(id !== undefined ? { id } : {}), status, ...(problem ? { problem } : {}) };
  };

  // 1. Each event on its own, in the single route's order: limits, schema, catalogue.
  const valid: { index: number; input: PublishEventInput }[] = [];
  events.forEach((raw, index) => {
    let input: PublishEventInput | undefined;
    try {
      const limits = jsonDocumentProblems(raw);
      if (limits.length > 0) throw new ValidationError(limits);
      input = parse(raw);
      const problems = ports.catalogue.validate(input.type, input.data, input.version);
      if (problems.length > 0) throw new ValidationError(problems);
      valid.push({ index, input });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      answer(index, input?.id, error.status, problemOf(error));
    }
  });

  // 2. Each tenant looked up once. Only "no such tenant" is per event; a failing read fails all.
  const tenantIds = [...new Set(valid.map((v) => v.input.tenantId))];
  const missing = new Map<string, NotFoundError>();
  await Promise.all(
    tenantIds.map((tenantId) =>
      requireTenant(ports.tenants, tenantId).catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error;
        missing.set(tenantId, error);
      }),
    ),
  );

  // 3. Envelopes; a repeat of an id already in this batch is not stored again.
  const now = ports.clock();
  const at = now.toISOString();
  const sweepAt = sweepTime(now, ports.config.sweepAfterSeconds);
  const firstOf = new Map<string, number>();
  const repeats: { index: number; first: number; id: string }[] = [];
  const toStore: { index: number; event: CloudEvent }[] = [];
  for (const { index, input } of valid) {
    const notFound = missing.get(input.tenantId);
    if (notFound) {
      answer(index, input.id, notFound.status, problemOf(notFound));
      continue;
    }
    const event = envelopeOf(ports, input, now);
    const key = `${event.tenantid}\n${event.id}`;
    const first = firstOf.get(key);
    if (first === undefined) {
      firstOf.set(key, index);
      toStore.push({ index, event });
    } else repeats.push({ index, first, id: event.id });
  }

  // 4. Stored, each with its own condition, a bounded number at a time.
  const toPublish: { index: number; event: CloudEvent; marked: boolean; fannedOutAt?: string }[] = [];
  await forEachLimited(toStore, STORES_AT_ONCE, async ({ index, event }) => {
    let existing;
    try {
      existing = await ports.events.putEventIfAbsent(event, ports.config.eventRetentionDays, sweepAt, at);
    } catch (error) {
      answer(index, event.id, 503, unavailable(`the event could not be stored (${reasonOf(error)}); nothing was accepted for it: send it again with the same id`));
      return;
    }
    if (existing?.publishedAt) answer(index, event.id, 200);
    else if (existing) toPublish.push({ index, event: stripStorage(existing), marked: false, ...(existing.fannedOutAt ? { fannedOutAt: existing.fannedOutAt } : {}) });
    else toPublish.push({ index, event, marked: true });
  });

  // 5. Fanned out here, the whole batch at once in batch order (publish order for ordered
  // subscriptions; ten jobs to a SendMessageBatch); what could not be is the fan-out function's.
  // A kept event an earlier try fanned out (the bus refused it then) needs only its bus copy.
  toPublish.sort((a, b) => a.index - b.index);
  const toFanOut = toPublish.filter((p) => !p.fannedOutAt);
  const done = await fanOutInline(ports, toFanOut.map((p) => p.event));
  for (const [i, p] of toFanOut.entries()) if (done[i]) p.fannedOutAt = at;
  const fannedOut = toPublish.map((p) => p.fannedOutAt !== undefined);

  // 6. On the bus in batch order, as few calls as it takes; each refused entry handed back.
  const outcomes = toPublish.length === 0 ? [] : await ports.publisher.publishMany(toPublish.map((p) => p.event), fannedOut).catch((error: unknown) =>
    toPublish.map((): PublishOutcome => ({ ok: false, reason: reasonOf(error) })),
  );
  await forEachLimited(toPublish, STORES_AT_ONCE, async ({ index, event, marked, fannedOutAt }, position) => {
    const outcome = outcomes[position] ?? { ok: false, reason: 'the bus gave no result for the event' };
    if (outcome.ok) {
      // A kept event published now (its first publish failed) is marked; if that write fails the
      // sweeper publishes it again, and its deliveries keep their ids: no new deliveries.
      if (!marked) await ports.events.markEventPublished(event.tenantid, event.id, at).catch(() => undefined);
      answer(index, event.id, marked ? 202 : 200);
      return;
    }
    if (marked || fannedOutAt) await ports.events.markEventUnpublished(event.tenantid, event.id, fannedOutAt).catch(() => undefined);
    const later = sweepAt ? 'the sweeper publishes it, or ' : '';
    answer(index, event.id, 503, unavailable(`the event bus refused the event (${outcome.reason}); it is stored and not lost: ${later}send it again with the same id to publish it now`));
  });

  // 7. Repeats within the batch answer what their first answered: 200 once that was accepted.
  for (const { index, first, id } of repeats) {
    const firstItem = items[first]!;
    if (firstItem.status === 200 || firstItem.status === 202) answer(index, id, 200);
    else answer(index, id, firstItem.status, firstItem.problem);
  }
  return items;
}

function unavailable(detail: string): ProblemDocument {
  return problemDocument(503, 'Service unavailable', detail);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
