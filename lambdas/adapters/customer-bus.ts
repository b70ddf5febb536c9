import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { AttemptResult } from '#core/delivery';
import type { CustomerBusEntry, CustomerBusSender } from '#core/ports';
import { classifyNetworkError } from './http-sender.ts';

/**
 * Delivers to a customer's EventBridge bus with PutEvents on the bus ARN (cross-account, same
 * region; the customer's bus policy allows the deliver function's role). The SDK makes one try:
 * the delivery engine owns retries, so every refusal and throttle is in the attempt log.
 */
export class EventBridgeCustomerBus implements CustomerBusSender {
  private client?: EventBridgeClient;

  async put(entry: CustomerBusEntry): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    this.client ??= new EventBridgeClient({ maxAttempts: 1 });
    try {
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: entry.eventBusArn, Source: entry.source, DetailType: entry.detailType, Detail: entry.detail, Time: entry.time }],
        }),
      );
      const failed = out.Entries?.find((e) => e.ErrorCode);
      if ((out.FailedEntryCount ?? 0) > 0 || failed) {
        const code = failed?.ErrorCode ?? 'Unknown';
        return { durationMs: elapsed(), error: /throttl/i.test(code) ? 'throttled' : 'eventbridge_error', errorMessage: `${code}: ${failed?.ErrorMessage ?? 'entry refused'}` };
      }
      return { durationMs: elapsed(), statusCode: 200, responseExcerpt: JSON.stringify({ EventId: out.Entries?.[0]?.EventId }) };
    } catch (error) {
      const err = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      if (status === undefined) return { durationMs: elapsed(), ...classifyNetworkError(error) };
      const name = err.name ?? 'Error';
      return {
        durationMs: elapsed(),
        statusCode: status,
        error: /throttl/i.test(name) || status === 429 ? 'throttled' : 'eventbridge_error',
        errorMessage: `${name}: ${(err.message ?? '').slice(0, 300)}`,
      };
    }
  }
}
