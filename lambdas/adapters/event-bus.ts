import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { HERALD_EVENT_SOURCE } from '../../lib/herald-config.ts';
import type { CloudEvent } from '#core/envelope';
import type { EventPublisher } from '#core/ports';
import { eventBridge } from './clients.ts';

/** Puts Herald events on the Herald bus: source `herald.events`, detail-type = event type. */
export class EventBridgePublisher implements EventPublisher {
  constructor(private readonly busName: string) {}

  async publish(event: CloudEvent): Promise<void> {
    const out = await eventBridge().send(
      new PutEventsCommand({
        Entries: [{ EventBusName: this.busName, Source: HERALD_EVENT_SOURCE, DetailType: event.type, Detail: JSON.stringify(event), Time: new Date(event.time) }],
      }),
    );
    const failure = out.Entries?.find((e) => e.ErrorCode);
    if ((out.FailedEntryCount ?? 0) > 0 || failure) {
      throw new Error(`EventBridge refused the event: ${failure?.ErrorCode ?? 'unknown'} ${failure?.ErrorMessage ?? ''}`.trim());
    }
  }
}
