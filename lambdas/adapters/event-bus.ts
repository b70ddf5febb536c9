import { inBatches } from './batches.ts';
import { PutEventsCommand, type PutEventsCommandOutput, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { FANNED_OUT_ATTRIBUTE, HERALD_EVENT_SOURCE } from '#shared/herald-config';
import type { CloudEvent } from '#core/envelope';
import type { EventPublisher, PublishOutcome } from '#core/ports';
import { forEachLimited } from '#core/concurrency';
import { eventBridge } from './clients.ts';

/** What one PutEvents call may carry (EventBridge quotas; neither can be raised). */
export const PUT_EVENTS_LIMITS = { entries: 10, bytes: 256 * 1024 } as const;

/** PutEvents calls of one `publishMany` in flight at once (100 events: 10 calls, two rounds). */
const CALLS_AT_ONCE = 5;

type Send = (command: PutEventsCommand) => Promise<Pick<PutEventsCommandOutput, 'FailedEntryCount' | 'Entries'>>;

/**
 * An entry's size as EventBridge counts it against a call's 256 KB: 14 bytes for Time, and the
 * UTF-8 bytes of Source, DetailType, Detail and each resource (the bus name is not counted).
 */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time ? 14 : 0;
  for (const part of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) if (part) size += Buffer.byteLength(part, 'utf8');
  return size;
}

/**
 * Splits entries, in order, into PutEvents calls of at most 10 entries and 256 KB; answers the
 * entries' indexes per call. An entry too large for any call travels alone (and is refused).
 */
export function chunkPutEventsEntries(entries: PutEventsRequestEntry[], limits = PUT_EVENTS_LIMITS): number[][] {
  return inBatches(entries.map((_, index) => index), limits.entries, limits.bytes, (index) => putEventsEntrySize(entries[index]!));
}

/** Puts Herald events on the Herald bus: source `herald.events`, detail-type = event type. */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly busName: string,
    private readonly send: Send = (command) => eventBridge().send(command),
  ) {}

  private entryOf(event: CloudEvent, fannedOut = false): PutEventsRequestEntry {
    const detail = fannedOut ? { ...event, [FANNED_OUT_ATTRIBUTE]: true } : event;
    return { EventBusName: this.busName, Source: HERALD_EVENT_SOURCE, DetailType: event.type, Detail: JSON.stringify(detail), Time: new Date(event.time) };
  }

  async publish(event: CloudEvent, fannedOut = false): Promise<void> {
    const out = await this.send(new PutEventsCommand({ Entries: [this.entryOf(event, fannedOut)] }));
    const failure = out.Entries?.find((e) => e.ErrorCode);
    if ((out.FailedEntryCount ?? 0) > 0 || failure) {
      throw new Error(`EventBridge refused the event: ${failure?.ErrorCode ?? 'unknown'} ${failure?.ErrorMessage ?? ''}`.trim());
    }
  }

  async publishMany(events: CloudEvent[], fannedOut: readonly boolean[] = []): Promise<PublishOutcome[]> {
    const entries = events.map((event, index) => this.entryOf(event, fannedOut[index] === true));
    const outcomes: PublishOutcome[] = new Array(events.length);
    const chunks = chunkPutEventsEntries(entries);
    await forEachLimited(chunks, CALLS_AT_ONCE, async (chunk) => {
      try {
        const out = await this.send(new PutEventsCommand({ Entries: chunk.map((i) => entries[i]!) }));
        // EventBridge answers one result per entry, in order: an EventId, or an ErrorCode.
        chunk.forEach((index, position) => {
          const result = out.Entries?.[position];
          outcomes[index] = result?.EventId && !result.ErrorCode
            ? { ok: true }
            : { ok: false, reason: result?.ErrorCode ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`.trim().replace(/:$/, '') : 'the bus gave no result for the entry' };
        });
      } catch (error) {
        const reason = `${(error as Error).name ?? 'Error'}: ${(error as Error).message ?? String(error)}`;
        for (const index of chunk) outcomes[index] = { ok: false, reason };
      }
    });
    return outcomes;
  }
}
