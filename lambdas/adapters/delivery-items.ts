import { KEPT_ATTEMPTS, type Attempt, type Delivery } from '#core/delivery';

/**
 * How a delivery is stored (table-keys.ts): a summary record (status, counters, the latest
 * attempt as `lastAttempt`: its subscription's log entry, or for 0.1's ids `DLV#<did>` /
 * `#DLV`) and a ring of attempt items in the delivery's own partition (`DLV#<did>` / `ATT#<nn>`,
 * each one attempt in full, excerpt included). A failed attempt writes its ring item and keeps
 * only a digest (no excerpt) in the summary, so the summary stays small; a successful attempt is
 * the last one, so it stays in the summary and needs no ring item.
 */

/** The latest attempt as the summary keeps it: whole for a success, without the excerpt otherwise. */
export function summaryAttempt(attempt: Attempt, succeeded: boolean): Attempt {
  if (succeeded) return attempt;
  const { responseExcerpt: _excerpt, ...digest } = attempt;
  return digest;
}

/** 0.1 kept attempts in the record itself (`attempts`, later slots `attempt0` … `attempt9`): still read. */
const LEGACY_SLOT = /^attempt\d+$/;

/**
 * The Delivery the core sees, from its summary (keys already stripped) and, when read, its ring
 * of attempt items. Without the ring (a list page), `attempts` holds the latest attempt only.
 */
export function deliveryFromItems(summary: Record<string, unknown>, ring: readonly Record<string, unknown>[] = []): Delivery {
  const { attempts: legacy, lastAttempt, attemptCount, ...rest } = summary as Record<string, unknown> & { attempts?: Attempt[]; lastAttempt?: Attempt; attemptCount?: number };
  const byNumber = new Map<number, Attempt>();
  for (const attempt of legacy ?? []) byNumber.set(attempt.number, attempt);
  for (const name of Object.keys(rest)) {
    if (!LEGACY_SLOT.test(name)) continue;
    const attempt = rest[name] as Attempt;
    byNumber.set(attempt.number, attempt);
    delete rest[name];
  }
  if (lastAttempt && !byNumber.has(lastAttempt.number)) byNumber.set(lastAttempt.number, lastAttempt);
  // A ring item holds the attempt whole: it wins over the summary's digest of the same attempt.
  for (const item of ring) byNumber.set((item as unknown as Attempt).number, item as unknown as Attempt);
  const attempts = [...byNumber.values()].sort((a, b) => a.number - b.number).slice(-KEPT_ATTEMPTS);
  const newest = attempts.at(-1)?.number ?? 0;
  return { ...(rest as unknown as Delivery), attempts, attemptCount: Math.max(attemptCount ?? 0, newest) };
}
