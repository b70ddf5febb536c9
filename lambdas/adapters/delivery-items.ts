import { KEPT_ATTEMPTS, type Attempt, type Delivery } from '#core/delivery';

/**
 * How a delivery's attempt log sits in its item: the last KEPT_ATTEMPTS attempts each in a slot
 * of their own (`attempt0` … `attempt9`, chosen by attempt number), written with a plain SET, so
 * the item never grows with the number of attempts and a repeated write of one attempt is
 * idempotent. Items written before the slots have an `attempts` list; both are read.
 */
export function attemptSlot(number: number): string {
  return `attempt${number % KEPT_ATTEMPTS}`;
}

const SLOT = /^attempt\d+$/;

/** A stored delivery item (keys already stripped) → the Delivery the core sees. */
export function deliveryFromItem(item: Record<string, unknown>): Delivery {
  // The parked job is the redrive's (parkedJobOf), not part of the delivery the API shows.
  const { attempts: legacy, parkedJob: _parked, ...rest } = item as Record<string, unknown> & { attempts?: Attempt[] };
  const byNumber = new Map<number, Attempt>();
  for (const attempt of legacy ?? []) byNumber.set(attempt.number, attempt);
  for (const key of Object.keys(rest)) {
    if (!SLOT.test(key)) continue;
    const attempt = rest[key] as Attempt;
    byNumber.set(attempt.number, attempt);
    delete rest[key];
  }
  const attempts = [...byNumber.values()].sort((a, b) => a.number - b.number);
  const attemptCount = attempts.length === 0 ? 0 : attempts[attempts.length - 1]!.number;
  return { ...(rest as unknown as Delivery), attempts: attempts.slice(-KEPT_ATTEMPTS), attemptCount };
}
