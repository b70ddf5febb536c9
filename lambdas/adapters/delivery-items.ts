import { KEPT_ATTEMPTS, type Attempt, type Delivery, type DeliveryStatus } from '#core/delivery';
import { itemBytes, truncateUtf8, WRITE_UNIT_BYTES } from './item-size.ts';

/**
 * How a delivery is stored (table-keys.ts): a summary record (status, counters, the latest
 * attempt as `lastAttempt`: its subscription's log entry, or for 0.1's ids `DLV#<did>` /
 * `#DLV`) and a ring of attempt items in the delivery's own partition (`DLV#<did>` / `ATT#<nn>`,
 * each one attempt in full, excerpt included). A failed attempt writes its ring item and keeps
 * only a digest (no excerpt) in the summary, so the summary stays small; a successful attempt is
 * the last one, so it stays in the summary and needs no ring item.
 */

/**
 * The latest attempt as the summary keeps it: whole for a success (the summary is all a success
 * writes), without the excerpt for a retried attempt (its ring item has it); the attempt that
 * exhausted the policy is kept whole too, cut to fit (attemptWithin), and has no ring item.
 */
export function summaryAttempt(attempt: Attempt, status: DeliveryStatus): Attempt {
  if (status !== 'pending') return attempt;
  const { responseExcerpt: _excerpt, ...digest } = attempt;
  return digest;
}

/**
 * Excerpts are kept up to what keeps the item holding them within one write unit (1 KB), so a
 * failed attempt's writes stay at one unit each (README "Storage layout"): about 750 B in a ring
 * item, what the summary leaves on the exhausting attempt; never less than MIN_KEPT_EXCERPT_BYTES
 * (a batched notification's summary, with its event ids, may already pass 1 KB).
 */
export const MIN_KEPT_EXCERPT_BYTES = 100;

/**
 * The attempt with its excerpt cut so the item stays within WRITE_UNIT_BYTES, given the item's
 * bytes without the excerpt: `spread` when the attempt's fields are the item's own (a ring item),
 * `nested` when it is a map inside the item (the summary's `lastAttempt`).
 */
export function attemptWithin(attempt: Attempt, bytesWithoutExcerpt: number, as: 'spread' | 'nested'): Attempt {
  const excerpt = attempt.responseExcerpt;
  if (excerpt === undefined) return attempt;
  const overhead = Buffer.byteLength('responseExcerpt') + (as === 'nested' ? 1 : 0);
  const room = Math.max(MIN_KEPT_EXCERPT_BYTES, WRITE_UNIT_BYTES - bytesWithoutExcerpt - overhead);
  return { ...attempt, responseExcerpt: truncateUtf8(excerpt, room) };
}

/** What a summary whose next write sets `sets` (`#name = :value` or `if_not_exists`) weighs, its lastAttempt without the excerpt. */
export function summaryBytesWithout(key: Record<string, string>, sets: readonly string[], names: Record<string, string>, values: Record<string, unknown>): number {
  const item: Record<string, unknown> = { ...key };
  for (const set of sets) {
    const match = /^(#?\w+) = (?:if_not_exists\(#?\w+, )?(:\w+)/.exec(set);
    if (!match) continue;
    const value = values[match[2]!];
    item[names[match[1]!] ?? match[1]!] = value !== null && typeof value === 'object' && 'responseExcerpt' in value ? { ...value, responseExcerpt: undefined } : value;
  }
  // A redrive adds its time (markRedriven), and stays on the record: counted here so the next
  // exhausting attempt fits as well.
  item.redrivenAt ??= '2026-12-01T00:00:00.000Z';
  return itemBytes(item);
}

/** 0.1 kept attempts in the record itself (`attempts`, later slots `attempt0` … `attempt9`): still read. */
const LEGACY_SLOT = /^attempt\d+$/;

/**
 * The Delivery the core sees, from its summary (keys already stripped) and, when read, its ring
 * of attempt items. Without the ring (a list page), `attempts` holds the latest attempt only,
 * and a failed one without its excerpt, as lists are documented (docs/api.md).
 */
export function deliveryFromItems(summary: Record<string, unknown>, ring?: readonly Record<string, unknown>[]): Delivery {
  const { attempts: legacy, lastAttempt: stored, attemptCount, ...rest } = summary as Record<string, unknown> & { attempts?: Attempt[]; lastAttempt?: Attempt; attemptCount?: number };
  const lastAttempt = !ring && stored && rest.status !== 'succeeded' ? summaryAttempt(stored, 'pending') : stored;
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
  for (const item of ring ?? []) byNumber.set((item as unknown as Attempt).number, item as unknown as Attempt);
  const attempts = [...byNumber.values()].sort((a, b) => a.number - b.number).slice(-KEPT_ATTEMPTS);
  const newest = attempts.at(-1)?.number ?? 0;
  return { ...(rest as unknown as Delivery), attempts, attemptCount: Math.max(attemptCount ?? 0, newest) };
}
