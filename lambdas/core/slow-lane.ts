/**
 * The slow lane: a standard queue of its own for the jobs of subscriptions whose receivers are
 * slow, consumed one record per invocation with a small `maximumConcurrency`
 * (`herald:slowLaneConcurrency`). A standard-queue batch runs its records in parallel, but the
 * invocation ends only when its slowest record ends: one delivery to a receiver that takes 90 s
 * holds a whole batch's invocation, and with it a share of the event source mapping's
 * concurrency that every tenant's deliveries wait for. On the slow lane a slow delivery holds
 * only its own invocation, and all of them together hold at most the slow lane's concurrency,
 * so slow receivers are bounded by their own subscription's timeout (and `maxConcurrency`),
 * never by the batch they happened to share.
 *
 * A subscription is marked slow when one of its attempts is still running SLOW_ATTEMPT_MS after
 * it began: a timer marks it then, not the attempt's end, so the deliveries that arrive while the
 * first slow attempts still run already go to the slow lane. The mark is one small item per
 * subscription (its time); it holds for SLOW_MARK_MS after the last slow attempt, and a fast
 * attempt clears it once the mark is SLOW_MARK_SETTLE_MS old. A main-lane job of a marked
 * subscription is re-enqueued on the slow lane before anything is reserved, no attempt counted
 * (core/delivery-plan.ts planSlowLane). Ordered (FIFO) jobs are exempt: each holds its subject's
 * group, so it has no batch to hold up but its own subject's.
 *
 * Marks are an optimisation, never a reason to fail: a mark that cannot be read counts as not
 * slow (the delivery goes on the main lane, as before the slow lane), one that cannot be written
 * is tried again by the next slow attempt.
 */

/**
 * An attempt still running after this long marks its subscription slow. Receivers are asked to
 * answer within seconds (GitHub gives them 10 s, Stripe and Standard Webhooks advise acknowledging
 * before any work), and healthy ones answer in well under one: 5 s is far above that, so a
 * receiver having a bad moment is not moved, yet it is short enough that a slow receiver holds a
 * main-lane batch for 5 s, not its timeout (up to 90 s), before its later deliveries move.
 */
export const SLOW_ATTEMPT_MS = 5_000;
/** A mark lasts this long after the last slow attempt renewed it. */
export const SLOW_MARK_MS = 10 * 60_000;
/**
 * A fast attempt clears a mark only once it is this old: a receiver that is slow every so often
 * (one slow attempt a minute) stays on the slow lane instead of flapping between the lanes, and
 * holding a main-lane batch each time it comes back.
 */
export const SLOW_MARK_SETTLE_MS = 60_000;

/** A subscription's mark: when a slow attempt last renewed it (ms). */
export interface SlowMark {
  markedAt: number;
}

/** The marks, one small item per subscription (adapters/slow-mark-store.ts). */
export interface SlowMarkStore {
  read(tenantId: string, subscriptionId: string): Promise<SlowMark | undefined>;
  /** Sets (or renews) the mark at `markedAt`; it expires by itself after `expiresAt` (ms). */
  mark(tenantId: string, subscriptionId: string, markedAt: number, expiresAt: number): Promise<void>;
  /** Removes the mark if it is still the one set at `markedAt` (a renewal since then wins). */
  clear(tenantId: string, subscriptionId: string, markedAt: number): Promise<void>;
}

/** Whether a mark still holds at `now`. */
export function isMarkedSlow(mark: SlowMark | undefined, now: number): boolean {
  return mark !== undefined && now - mark.markedAt < SLOW_MARK_MS;
}

/** Whether an attempt that took `attemptMs` clears the mark: it was fast, and the mark has settled. */
export function clearsMark(mark: SlowMark | undefined, attemptMs: number, now: number): mark is SlowMark {
  return isMarkedSlow(mark, now) && attemptMs < SLOW_ATTEMPT_MS && now - mark!.markedAt >= SLOW_MARK_SETTLE_MS;
}

/**
 * Reports a mark set or cleared (the operator's view of which receivers are slow), and, with
 * `error`, what the marks could not do; the delivery itself goes on.
 */
export type SlowLaneLog = (message: string, detail: { tenantId: string; subscriptionId: string; error?: unknown }) => void;

/**
 * One deliver invocation's view of the marks: each subscription's mark read at most once (a
 * promise shared by the batch's records), set at most once by the batch however many of its
 * attempts run long.
 */
export class BatchSlowMarks {
  private readonly reads = new Map<string, Promise<SlowMark | undefined>>();
  private readonly marked = new Map<string, Promise<void>>();
  private readonly cleared = new Map<string, Promise<void>>();

  constructor(
    private readonly store: SlowMarkStore,
    private readonly now: () => number,
    private readonly log: SlowLaneLog = () => undefined,
  ) {}

  /** Whether the subscription is marked slow (false when the mark cannot be read). */
  async isSlow(tenantId: string, subscriptionId: string): Promise<boolean> {
    return isMarkedSlow(await this.read(tenantId, subscriptionId), this.now());
  }

  /**
   * Watches one attempt: marks the subscription slow if it is still running SLOW_ATTEMPT_MS from
   * now. `end` stops the watch once the attempt is over, waits for a mark being written, and
   * clears the mark when this attempt was fast and the mark has settled.
   */
  watch(tenantId: string, subscriptionId: string): { end(): Promise<void> } {
    const startedAt = this.now();
    const key = `${tenantId}#${subscriptionId}`;
    const timer = setTimeout(() => {
      if (this.marked.has(key)) return;
      const markedAt = this.now();
      this.marked.set(
        key,
        this.store.mark(tenantId, subscriptionId, markedAt, markedAt + SLOW_MARK_MS).then(
          () => this.log(`receiver slow: an attempt still running after ${SLOW_ATTEMPT_MS / 1000} s; deliveries go to the slow lane`, { tenantId, subscriptionId }),
          (error: unknown) => this.log('could not mark a slow subscription; its next slow attempt tries again', { tenantId, subscriptionId, error }),
        ),
      );
    }, SLOW_ATTEMPT_MS);
    return {
      end: async () => {
        clearTimeout(timer);
        await this.marked.get(key);
        const attemptMs = this.now() - startedAt;
        if (attemptMs >= SLOW_ATTEMPT_MS || this.marked.has(key)) return;
        const mark = await this.read(tenantId, subscriptionId);
        // Once per batch: the batch's other fast attempts wait for the same clear.
        const clearing = this.cleared.get(key);
        if (clearing) return clearing;
        if (!clearsMark(mark, attemptMs, this.now())) return;
        const clear = this.store.clear(tenantId, subscriptionId, mark.markedAt).then(
          () => this.log('receiver fast again: deliveries go back to the delivery queue', { tenantId, subscriptionId }),
          (error: unknown) => this.log('could not clear a slow mark; it expires by itself', { tenantId, subscriptionId, error }),
        );
        this.cleared.set(key, clear);
        await clear;
      },
    };
  }

  private read(tenantId: string, subscriptionId: string): Promise<SlowMark | undefined> {
    const key = `${tenantId}#${subscriptionId}`;
    let read = this.reads.get(key);
    if (!read) {
      read = this.store.read(tenantId, subscriptionId).catch((error: unknown) => {
        this.log('could not read a slow mark; the delivery stays on its lane', { tenantId, subscriptionId, error });
        return undefined;
      });
      this.reads.set(key, read);
    }
    return read;
  }
}
