import { resolveRetryPolicy, retryDelayFor, type RetryPolicy } from './retry-policy.ts';

/**
 * Deliveries and their attempts (the attempt log), and the pure decision taken after each
 * attempt: done, retry after a delay, or dead-letter with a reason.
 */
/** `held`: waiting for a paused subscription to resume; `discarded`: dropped from hold by the tenant. */
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'held' | 'discarded';

export type ErrorClass =
  | 'http_status'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'redirect'
  | 'network'
  | 'blocked_destination'
  | 'subscription_paused'
  | 'subscription_deleted'
  /** A JSONata transform failed on this event: not retried, the same input fails again. */
  | 'transform_failed'
  /** The OAuth2 token endpoint refused or failed: retried, credentials may be fixed meanwhile. */
  | 'auth_failed'
  /** PutEvents refused the entry (FailedEntryCount, access denied, …); the code is in the message. */
  | 'eventbridge_error'
  /** The tenant may not deliver to this AWS resource (core/destination-trust.ts): not retried. */
  | 'destination_not_allowed'
  | 'throttled';

export interface AttemptResult {
  statusCode?: number;
  durationMs: number;
  error?: ErrorClass;
  errorMessage?: string;
  /** At most 1 KB of the response body, for debugging endpoints. */
  responseExcerpt?: string;
  retryAfterSeconds?: number;
}

export interface Attempt extends AttemptResult {
  number: number;
  at: string;
  nextAttemptAt?: string;
}

export interface Delivery {
  id: string;
  tenantId: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  subject: string;
  status: DeliveryStatus;
  /** The last KEPT_ATTEMPTS attempts, oldest first; `attemptCount` counts every attempt. */
  attempts: Attempt[];
  attemptCount?: number;
  createdAt: string;
  updatedAt: string;
  nextAttemptAt?: string;
  finishedAt?: string;
  reason?: string;
  heldAt?: string;
  /** Where the current run of the retry policy started (set by a redrive). */
  retryFrom?: number;
  firstAttemptAt?: string;
  orderingGroup?: string;
  /** A resend the tenant asked for: it goes out even while the subscription is paused (kept to rebuild its job). */
  ignorePause?: boolean;
  /** A batched notification: every event it carried (`eventId` is the first). */
  eventIds?: string[];
}

export const RESPONSE_EXCERPT_BYTES = 1024;

/**
 * How many attempts a delivery keeps in full (with their response excerpts), each in an item of
 * its own that attempt n + KEPT_ATTEMPTS overwrites. Older ones are only counted: a delivery
 * retried a thousand times against a dead endpoint costs the same to record at its 1,000th
 * attempt as at its 2nd, and none of its items grows.
 */
export const KEPT_ATTEMPTS = 20;

/** Every attempt made so far, kept in full or not (attempt numbers run on across redrives). */
export function attemptCountOf(delivery: Pick<Delivery, 'attempts' | 'attemptCount'>): number {
  return delivery.attemptCount ?? delivery.attempts?.length ?? 0;
}

/**
 * Which HTTP answers a subscription counts as success (`successStatus`): any 2xx (the default),
 * or only the codes listed — a platform whose receivers were promised "200 means received" keeps
 * that contract. Only webhook and http destinations have a rule; everything else is "2xx".
 */
export type SuccessStatus = '2xx' | readonly number[];

export function isSuccessStatus(statusCode: number, rule: SuccessStatus = '2xx'): boolean {
  return rule === '2xx' ? statusCode >= 200 && statusCode < 300 : rule.includes(statusCode);
}

/** The one success decision: no transport error, and a status the subscription's rule accepts. */
export function isSuccess(result: AttemptResult, rule: SuccessStatus = '2xx'): boolean {
  return result.error === undefined && result.statusCode !== undefined && isSuccessStatus(result.statusCode, rule);
}

/**
 * Classifies an answer the sender reported as it came (status, excerpt, Retry-After): a status
 * outside the rule becomes a failed attempt — `redirect` for an unfollowed 3xx (the sender's
 * message names its Location), `http_status` otherwise; a success keeps nothing of a failure.
 * Transport failures (timeout, refused, blocked, …) pass through unchanged.
 */
export function judgeAnswer(result: AttemptResult, rule: SuccessStatus = '2xx'): AttemptResult {
  if (result.error !== undefined || result.statusCode === undefined) return result;
  if (isSuccessStatus(result.statusCode, rule)) {
    const { errorMessage: _message, retryAfterSeconds: _retryAfter, ...success } = result;
    return success;
  }
  if (result.statusCode >= 300 && result.statusCode < 400) return { ...result, error: 'redirect', errorMessage: result.errorMessage ?? 'redirect not followed' };
  const { errorMessage: _message, ...failed } = result;
  return { ...failed, error: 'http_status' };
}

export type AttemptDecision =
  | { kind: 'succeeded' }
  /** `uncounted`: the receiver asked to slow down (429): the policy's attempt budget is not spent. */
  | { kind: 'retry'; delaySeconds: number; uncounted?: boolean }
  | { kind: 'failed'; reason: string; pauseSubscription?: boolean };

export interface DecisionContext {
  attempt: number;
  firstAttemptAt: number;
  now: number;
  random: number;
  /** The subscription's success rule (default any 2xx). */
  successStatus?: SuccessStatus;
}

export function describeFailure(result: AttemptResult): string {
  if (result.error && result.error !== 'http_status') return `${result.error}${result.errorMessage ? `: ${result.errorMessage}` : ''}`;
  return `endpoint answered HTTP ${result.statusCode ?? 'nothing'}`;
}

export function decideAfterAttempt(result: AttemptResult, policy: RetryPolicy | undefined, ctx: DecisionContext): AttemptDecision {
  if (isSuccess(result, ctx.successStatus)) return { kind: 'succeeded' };
  if (result.statusCode === 410) {
    return { kind: 'failed', reason: 'endpoint answered 410 Gone: subscription paused, no further retries', pauseSubscription: true };
  }
  const resolved = resolveRetryPolicy(policy);
  // Retry-After is only a receiver's request on 429 and 503; elsewhere the policy decides.
  const honoursRetryAfter = result.statusCode === 429 || result.statusCode === 503;
  const delay = retryDelayFor(resolved, {
    ...ctx,
    retryAfterSeconds: honoursRetryAfter ? result.retryAfterSeconds : undefined,
  });
  if (delay === undefined) {
    return { kind: 'failed', reason: `retry policy exhausted after ${ctx.attempt} attempt(s); last: ${describeFailure(result)}` };
  }
  return { kind: 'retry', delaySeconds: delay };
}

/** `Retry-After` is delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date names its day and month; anything else (-5, 1.5) is not a Retry-After.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
