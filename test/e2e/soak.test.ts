/**
 * The small soak (the full one is `npm run soak`): a few hundred events to three subscriptions
 * against receivers failing at random, with the function process SIGKILLed and the SQS emulator
 * restarted mid-run. Nothing may be lost; after a redrive, everything is delivered.
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../local/soak.ts';

describe('fault-injection soak (small)', () => {
  it('loses nothing through a function-process kill and an SQS emulator restart', async () => {
    const result = await runSoak({ events: 150, kills: 1, sqsRestarts: 1, deadlineMs: 110_000, sweepAfterSeconds: 5, pollerConcurrency: 8 });
    for (const invariant of result.invariants) expect(invariant.ok, `${invariant.name}: ${invariant.detail}`).toBe(true);
    expect(result).toMatchObject({ events: 150, expectedDeliveries: 450, lost: 0, deadLettersAfterRedrive: 0, kills: 1, sqsRestarts: 1 });
    // The faults really happened: retries, and requests beyond one per delivery.
    expect(result.requestsReceived).toBeGreaterThan(result.expectedDeliveries);
  }, 180_000);
});
