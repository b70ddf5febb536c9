import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { AttemptResult } from './delivery.ts';
import { DomainError, NotFoundError, ValidationError } from './errors.ts';
import { releaseHeld, type ResumePorts } from './health.ts';
import { ID_FORMATS } from './ids.ts';
import type { HttpRequest, SubscriptionStore } from './ports.ts';
import { burstOf, type RateLimit } from './throttle.ts';
import type { Subscription } from './subscription.ts';

/**
 * The CloudEvents webhook validation handshake ("HTTP 1.1 Web Hooks for Event Delivery", §4),
 * opt-in with `validation: "cloudevents"`: before Herald delivers to a URL, it asks the receiver
 * with an `OPTIONS` request whether it consents (`WebHook-Request-Origin`) and at what rate
 * (`WebHook-Request-Rate`, requests per minute). The receiver consents by answering with
 * `WebHook-Allowed-Origin` (and `WebHook-Allowed-Rate`, which caps the subscription's rate), or
 * later by calling the `WebHook-Request-Callback` URL. Until then the subscription is
 * `pending_validation` and its deliveries are held (core/deliver.ts holds every status other than
 * `active`), released in arrival order on approval.
 */

export const validationSchema = z
  .enum(['cloudevents'])
  .describe('"cloudevents": the receiver must consent (CloudEvents webhook validation handshake) before anything is delivered; its declared rate caps `rateLimit`');
export type ValidationMode = z.infer<typeof validationSchema>;

/** What Herald knows of a subscription's handshake; `callbackKeyHash` never leaves the store. */
export interface HandshakeState {
  /** The URL the consent is for: a new destination URL needs a new handshake. */
  url: string;
  origin: string;
  lastAttemptAt: string;
  /** The last handshake's outcome in words: why the subscription is (still) pending, or how it was approved. */
  lastResult: string;
  /** What Herald asked for (`WebHook-Request-Rate`), from the configured rateLimit. */
  requestedRate?: number;
  /** What the receiver granted (`WebHook-Allowed-Rate`): requests per minute, or `*` (no limit). */
  allowedRate?: number | '*';
  /** The tenant's own rateLimit; the effective `rateLimit` is the stricter of it and allowedRate. */
  configuredRateLimit?: RateLimit;
  approvedAt?: string;
  approvedBy?: 'answer' | 'callback';
  callbackKeyHash: string;
}

export type PublicHandshake = Omit<HandshakeState, 'callbackKeyHash'>;

export function toPublicHandshake(handshake: HandshakeState): PublicHandshake {
  const { callbackKeyHash: _secret, ...visible } = handshake;
  return visible;
}

/** The answer to the OPTIONS request: the result as senders report it, and the headers that matter. */
export interface HandshakeAnswer {
  result: AttemptResult;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

/** Where the handshake is sent from: the origin name and the base of callback URLs (both per deployment). */
export interface HandshakeSettings {
  origin: string;
  /** e.g. https://api.example.com/prod: the callback is `${callbackBase}/v1/validation-callbacks/{token}`. */
  callbackBase: string;
  timeoutMs: number;
}

export interface HandshakePorts extends Pick<ResumePorts, 'deliveries' | 'queue' | 'clock'> {
  subscriptions: Pick<SubscriptionStore, 'getSubscription' | 'putSubscription'>;
  /** Sends the OPTIONS request under the same SSRF rules as deliveries; never throws. */
  handshake: (request: HttpRequest) => Promise<HandshakeAnswer>;
}

export const CALLBACK_PATH = '/v1/validation-callbacks';
/** `<tenant id>.<subscription id>.<key>`: the key is 32 random bytes, base64url. */
export const CALLBACK_TOKEN_FORMAT = new RegExp(`^${ID_FORMATS.tenant.source.slice(1, -1)}\\.${ID_FORMATS.subscription.source.slice(1, -1)}\\.[A-Za-z0-9_-]{43}$`);
export const DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 10;

/** `WebHook-Allowed-Rate`: `*` or a positive integer (requests per minute); anything else is no consent. */
export function parseAllowedRate(raw: string | undefined): { rate?: number | '*' } | { problem: string } {
  if (raw === undefined) return {};
  const value = raw.trim();
  if (value === '*') return { rate: '*' };
  if (/^[1-9]\d{0,8}$/.test(value)) return { rate: Number(value) };
  return { problem: `WebHook-Allowed-Rate ${JSON.stringify(value.slice(0, 40))} is neither * nor a positive whole number of requests per minute` };
}

/** The rate Herald asks for: the configured limit in whole requests per minute (at least 1). */
export function requestedRateOf(limit: RateLimit | undefined): number | undefined {
  return limit ? Math.max(1, Math.ceil(limit.perSecond * 60)) : undefined;
}

/**
 * The stricter of the tenant's rateLimit and the receiver's allowed rate. The receiver speaks in
 * requests per minute with no burst: its cap allows one second's worth at once (never more than
 * the tenant's own burst).
 */
export function cappedRateLimit(configured: RateLimit | undefined, allowed: number | '*' | undefined): RateLimit | undefined {
  if (allowed === undefined || allowed === '*') return configured;
  const perSecond = allowed / 60;
  if (configured && configured.perSecond <= perSecond) return configured;
  const cap: RateLimit = { perSecond };
  return configured ? { perSecond, burst: Math.min(burstOf(configured), burstOf(cap)) } : cap;
}

/** The headers of the OPTIONS request (spec §4.1). */
export function handshakeRequest(subscription: Subscription, settings: HandshakeSettings, callbackUrl: string, requestedRate: number | undefined): HttpRequest {
  if (subscription.destination.type === 'eventbridge') throw new Error('an eventbridge destination has no handshake');
  return {
    url: subscription.destination.url,
    method: 'OPTIONS',
    headers: {
      'user-agent': 'Herald-Webhooks/1',
      'webhook-request-origin': settings.origin,
      'webhook-request-callback': callbackUrl,
      ...(requestedRate !== undefined ? { 'webhook-request-rate': String(requestedRate) } : {}),
    },
    body: '',
    timeoutMs: settings.timeoutMs,
  };
}

/** What an answer means: consent (with its rate), or the reason there is none yet. */
export function judgeHandshakeAnswer(answer: HandshakeAnswer, origin: string): { approved: true; allowedRate?: number | '*'; result: string } | { approved: false; result: string } {
  const { result, headers } = answer;
  if (result.statusCode === undefined) {
    return { approved: false, result: `no answer to the validation request (${result.error ?? 'network'}: ${result.errorMessage ?? 'no details'})` };
  }
  const allowedOrigin = headers['webhook-allowed-origin']?.trim();
  if (result.statusCode < 200 || result.statusCode > 299) {
    return { approved: false, result: `the validation request was answered ${result.statusCode}, not a consent${result.statusCode === 405 ? ' (the receiver does not support the handshake)' : ''}; approve through the callback or retry` };
  }
  if (allowedOrigin === undefined) {
    return { approved: false, result: `the validation request was answered ${result.statusCode} without WebHook-Allowed-Origin: waiting for approval through the callback` };
  }
  if (allowedOrigin !== '*' && allowedOrigin.toLowerCase() !== origin.toLowerCase()) {
    return { approved: false, result: `WebHook-Allowed-Origin ${JSON.stringify(allowedOrigin.slice(0, 100))} is neither ${JSON.stringify(origin)} nor *` };
  }
  const rate = parseAllowedRate(headers['webhook-allowed-rate']);
  if ('problem' in rate) return { approved: false, result: rate.problem };
  return { approved: true, ...(rate.rate !== undefined ? { allowedRate: rate.rate } : {}), result: `approved by the receiver's answer${describeRate(rate.rate)}` };
}

function describeRate(rate: number | '*' | undefined): string {
  if (rate === undefined) return '';
  return rate === '*' ? ' (no rate limit)' : ` (at most ${rate} requests a minute)`;
}

/** A callback token names its subscription and carries a key only the handshake's receiver saw. */
export function callbackTokenFor(tenantId: string, subscriptionId: string): { token: string; keyHash: string } {
  const key = randomBytes(32).toString('base64url');
  return { token: `${tenantId}.${subscriptionId}.${key}`, keyHash: hashKey(key) };
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function parseCallbackToken(token: string): { tenantId: string; subscriptionId: string; key: string } | undefined {
  const [tenantId, subscriptionId, key, ...rest] = token.split('.');
  if (rest.length > 0 || !tenantId || !subscriptionId || !key) return undefined;
  if (!ID_FORMATS.tenant.test(tenantId) || !ID_FORMATS.subscription.test(subscriptionId) || !/^[A-Za-z0-9_-]{43}$/.test(key)) return undefined;
  return { tenantId, subscriptionId, key };
}

/**
 * The state of a subscription about to be validated (created with `validation`, or its URL
 * changed): pending, its own rateLimit back in force until the receiver answers.
 */
export function pendingValidation(subscription: Subscription, at: string): Subscription {
  const configured = subscription.handshake ? subscription.handshake.configuredRateLimit : subscription.rateLimit;
  const { rateLimit: _effective, ...rest } = subscription;
  return {
    ...rest,
    ...(configured ? { rateLimit: configured } : {}),
    status: 'pending_validation',
    handshake: {
      url: subscription.destination.type === 'eventbridge' ? '' : subscription.destination.url,
      origin: '',
      lastAttemptAt: at,
      lastResult: 'the validation request has not been sent yet',
      ...(configured ? { configuredRateLimit: configured } : {}),
      callbackKeyHash: '',
    },
  };
}

/** The subscription after the tenant changed its own rateLimit: the receiver's cap still applies. */
export function withConfiguredRateLimit(subscription: Subscription, configured: RateLimit | undefined): Subscription {
  const { rateLimit: _old, ...rest } = subscription;
  if (!subscription.handshake) return configured ? { ...rest, rateLimit: configured } : rest;
  const handshake: HandshakeState = { ...subscription.handshake };
  if (configured) handshake.configuredRateLimit = configured;
  else delete handshake.configuredRateLimit;
  const effective = cappedRateLimit(configured, subscription.status === 'pending_validation' ? undefined : handshake.allowedRate);
  return { ...rest, ...(effective ? { rateLimit: effective } : {}), handshake };
}

/** Checks of the `validation` setting beside the destination and status it comes with. */
export function validationProblems(input: { validation?: ValidationMode | null; destination?: Subscription['destination']; status?: string }): { path: string; message: string }[] {
  if (!input.validation) return [];
  const problems: { path: string; message: string }[] = [];
  if (input.destination?.type === 'eventbridge') problems.push({ path: 'validation', message: 'applies to webhook and http destinations only' });
  if (input.status === 'paused') problems.push({ path: 'status', message: 'a subscription awaiting validation cannot be paused yet: pause it once it is active' });
  return problems;
}

/**
 * Sends the OPTIONS request for a `pending_validation` subscription and records the outcome: on
 * consent the subscription becomes active (its rate capped) and its held deliveries are released
 * in arrival order; otherwise it stays pending with the reason. A new callback key each time: the
 * URL of an earlier attempt no longer approves.
 */
export async function runHandshake(ports: HandshakePorts, settings: HandshakeSettings, tenantId: string, subscriptionId: string): Promise<Subscription> {
  const subscription = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
  if (!subscription) throw new NotFoundError('subscription', subscriptionId);
  if (!subscription.validation || !subscription.handshake) {
    throw new DomainError(409, 'No validation', `subscription ${subscriptionId} has no validation handshake: set validation "cloudevents" to ask the receiver's consent`);
  }
  if (subscription.status !== 'pending_validation') {
    throw new DomainError(409, 'Already validated', `subscription ${subscriptionId} is ${subscription.status}: its receiver already consented (a new destination URL asks again)`);
  }
  const { token, keyHash } = callbackTokenFor(tenantId, subscriptionId);
  const requestedRate = requestedRateOf(subscription.handshake.configuredRateLimit);
  const sending: Subscription = {
    ...subscription,
    handshake: {
      ...subscription.handshake,
      origin: settings.origin,
      callbackKeyHash: keyHash,
      lastAttemptAt: ports.clock().toISOString(),
      lastResult: 'the validation request is on its way',
      ...(requestedRate !== undefined ? { requestedRate } : {}),
    },
  };
  if (requestedRate === undefined) delete sending.handshake!.requestedRate;
  // Stored before the request goes out: the receiver may call the callback while answering.
  await ports.subscriptions.putSubscription(sending, subscription);
  const answer = await ports.handshake(handshakeRequest(sending, settings, `${settings.callbackBase}${CALLBACK_PATH}/${token}`, requestedRate));
  const verdict = judgeHandshakeAnswer(answer, settings.origin);
  const current = await ports.subscriptions.getSubscription(tenantId, subscriptionId);
  // Approved through the callback meanwhile (or changed again): that outcome stands.
  if (!current || current.status !== 'pending_validation' || current.handshake?.callbackKeyHash !== keyHash) return current ?? sending;
  if (!verdict.approved) {
    const pending = { ...current, handshake: { ...current.handshake, lastAttemptAt: ports.clock().toISOString(), lastResult: verdict.result } };
    await ports.subscriptions.putSubscription(pending, current);
    return pending;
  }
  return approve(ports, current, { by: 'answer', allowedRate: verdict.allowedRate, result: verdict.result });
}

async function approve(ports: HandshakePorts, subscription: Subscription, how: { by: 'answer' | 'callback'; allowedRate: number | '*' | undefined; result: string }): Promise<Subscription> {
  const at = ports.clock().toISOString();
  const handshake: HandshakeState = { ...subscription.handshake!, approvedAt: at, approvedBy: how.by, lastResult: how.result };
  if (how.allowedRate !== undefined) handshake.allowedRate = how.allowedRate;
  else delete handshake.allowedRate;
  const { rateLimit: _pending, ...rest } = subscription;
  const effective = cappedRateLimit(handshake.configuredRateLimit, how.allowedRate);
  const approved: Subscription = { ...rest, ...(effective ? { rateLimit: effective } : {}), status: 'active', updatedAt: at, handshake };
  await ports.subscriptions.putSubscription(approved, subscription);
  await releaseHeld(ports, subscription.tenantId, subscription.id, 'deliver');
  return approved;
}

/**
 * The receiver's asynchronous consent: a GET or POST on the callback URL, optionally with
 * `WebHook-Allowed-Rate`. A wrong or stale token is a 404 like an unknown one (no oracle); a
 * second call after approval is answered the same, changing nothing.
 */
export async function approveByCallback(ports: HandshakePorts, token: string, allowedRateHeader: string | undefined): Promise<{ approved: true }> {
  const parsed = parseCallbackToken(token);
  const notFound = new NotFoundError('validation callback', token.slice(0, 12));
  if (!parsed) throw notFound;
  const subscription = await ports.subscriptions.getSubscription(parsed.tenantId, parsed.subscriptionId);
  const stored = subscription?.handshake?.callbackKeyHash;
  if (!subscription || !stored || !sameHash(stored, hashKey(parsed.key))) throw notFound;
  if (subscription.status !== 'pending_validation') return { approved: true };
  const rate = parseAllowedRate(allowedRateHeader);
  if ('problem' in rate) throw new ValidationError([{ path: 'WebHook-Allowed-Rate', message: rate.problem }]);
  await approve(ports, subscription, { by: 'callback', allowedRate: rate.rate, result: `approved through the callback${describeRate(rate.rate)}` });
  return { approved: true };
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * After the spec's handshake, every delivery names the origin that asked (§4.1.2). Only on
 * approved subscriptions: the others send nothing new on the wire.
 */
export function validatedOriginHeader(subscription: Pick<Subscription, 'handshake'>): Record<string, string> {
  return subscription.handshake?.approvedAt && subscription.handshake.origin ? { 'webhook-request-origin': subscription.handshake.origin } : {};
}
