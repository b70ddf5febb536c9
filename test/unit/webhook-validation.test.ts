/**
 * The CloudEvents webhook validation handshake in core (lambdas/core/webhook-validation.ts): how
 * an answer is judged, how a declared rate caps the configured one, what the OPTIONS request
 * carries, and the callback's token checks, with in-memory stores.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../lambdas/core/delivery-job.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import {
  approveByCallback,
  cappedRateLimit,
  judgeHandshakeAnswer,
  parseAllowedRate,
  pendingValidation,
  requestedRateOf,
  runHandshake,
  type HandshakeAnswer,
  type HandshakePorts,
} from '../../lambdas/core/webhook-validation.ts';
import type { HttpRequest } from '../../lambdas/core/ports.ts';
import { InMemoryDeliveryStore } from '../support/in-memory-ports.ts';

const ORIGIN = 'herald.example.com';
const answer = (statusCode: number | undefined, headers: Record<string, string> = {}): HandshakeAnswer => ({
  result: statusCode === undefined ? { durationMs: 10_000, error: 'timeout', errorMessage: 'no answer within the subscription timeout' } : { durationMs: 5, statusCode },
  headers,
});

describe('judging the answer to the validation request', () => {
  it('consents only with a 2xx carrying WebHook-Allowed-Origin equal to the origin or *', () => {
    expect(judgeHandshakeAnswer(answer(200, { 'webhook-allowed-origin': ORIGIN }), ORIGIN)).toMatchObject({ approved: true });
    expect(judgeHandshakeAnswer(answer(204, { 'webhook-allowed-origin': '*' }), ORIGIN)).toMatchObject({ approved: true });
    expect(judgeHandshakeAnswer(answer(200, { 'webhook-allowed-origin': 'HERALD.example.com' }), ORIGIN)).toMatchObject({ approved: true });
    expect(judgeHandshakeAnswer(answer(200, { 'webhook-allowed-origin': 'evil.example' }), ORIGIN)).toMatchObject({ approved: false, result: expect.stringContaining('is neither') });
    expect(judgeHandshakeAnswer(answer(200), ORIGIN)).toMatchObject({ approved: false, result: expect.stringContaining('waiting for approval through the callback') });
    // Status codes alone are no consent (spec §4.2), and a 405 says the feature is missing.
    expect(judgeHandshakeAnswer(answer(405, { 'webhook-allowed-origin': '*' }), ORIGIN)).toMatchObject({ approved: false, result: expect.stringContaining('does not support the handshake') });
    expect(judgeHandshakeAnswer(answer(undefined), ORIGIN)).toMatchObject({ approved: false, result: expect.stringContaining('no answer to the validation request (timeout') });
  });

  it('reads WebHook-Allowed-Rate as * or a positive whole number per minute; anything else is no consent', () => {
    expect(parseAllowedRate(undefined)).toEqual({});
    expect(parseAllowedRate(' * ')).toEqual({ rate: '*' });
    expect(parseAllowedRate('120')).toEqual({ rate: 120 });
    for (const bad of ['0', '-5', '1.5', '12abc', '']) expect(parseAllowedRate(bad)).toHaveProperty('problem');
    expect(judgeHandshakeAnswer(answer(200, { 'webhook-allowed-origin': '*', 'webhook-allowed-rate': 'lots' }), ORIGIN)).toMatchObject({ approved: false });
    expect(judgeHandshakeAnswer(answer(200, { 'webhook-allowed-origin': '*', 'webhook-allowed-rate': '90' }), ORIGIN)).toMatchObject({ approved: true, allowedRate: 90 });
  });
});

describe('the receiver-declared rate', () => {
  it('caps the configured rate, never raises it, and asks in whole requests per minute', () => {
    expect(cappedRateLimit(undefined, 120)).toEqual({ perSecond: 2 });
    expect(cappedRateLimit(undefined, '*')).toBeUndefined();
    expect(cappedRateLimit({ perSecond: 10, burst: 50 }, 120)).toEqual({ perSecond: 2, burst: 2 });
    expect(cappedRateLimit({ perSecond: 1 }, 120)).toEqual({ perSecond: 1 });
    expect(cappedRateLimit({ perSecond: 1 }, undefined)).toEqual({ perSecond: 1 });
    expect(requestedRateOf({ perSecond: 0.01 })).toBe(1);
    expect(requestedRateOf({ perSecond: 2.5 })).toBe(150);
    expect(requestedRateOf(undefined)).toBeUndefined();
  });
});

function fixture(send: (request: HttpRequest) => Promise<HandshakeAnswer>) {
  const base: Subscription = {
    id: 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K',
    tenantId: 'ten_01JD8Z6V9K3M4N5P6Q7R8S9T0V',
    name: 'validated',
    eventTypes: ['order.created'],
    destination: { type: 'webhook', url: 'https://hooks.example.com/in' },
    payload: 'full',
    ordering: 'none',
    status: 'active',
    validation: 'cloudevents',
    rateLimit: { perSecond: 5 },
    secrets: [{ secret: 'whsec_x', createdAt: '2026-12-01T00:00:00.000Z' }],
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
  };
  const stored = new Map<string, Subscription>([[base.id, pendingValidation(base, base.createdAt)]]);
  const deliveries = new InMemoryDeliveryStore();
  const enqueued: DeliveryJob[] = [];
  const requests: HttpRequest[] = [];
  const ports: HandshakePorts = {
    subscriptions: {
      getSubscription: async (_t, id) => stored.get(id),
      putSubscription: async (s) => void stored.set(s.id, structuredClone(s)),
    },
    deliveries,
    queue: { enqueue: async (jobs: DeliveryJob[]) => void enqueued.push(...jobs) } as unknown as HandshakePorts['queue'],
    clock: () => new Date('2026-12-01T10:00:00.000Z'),
    handshake: async (request) => {
      requests.push(request);
      return send(request);
    },
  };
  const settings = { origin: ORIGIN, callbackBase: 'https://api.example.com/prod', timeoutMs: 2000 };
  const held = (n: number): DeliveryJob => ({
    v: 1,
    deliveryId: `dlv_${n}`,
    tenantId: base.tenantId,
    subscriptionId: base.id,
    attemptOffset: 0,
    createdAt: base.createdAt,
    event: { specversion: '1.0', id: `evt_${n}`, type: 'order.created', source: 'urn:test', subject: 's', time: base.createdAt, tenantid: base.tenantId, data: {} } as unknown as DeliveryJob['event'],
  });
  return { base, stored, deliveries, enqueued, requests, ports, settings, held };
}

describe('running the handshake', () => {
  it('sends OPTIONS with the origin, the requested rate and a callback; consent activates with the capped rate and releases held deliveries in order', async () => {
    const f = fixture(async () => answer(200, { 'webhook-allowed-origin': ORIGIN, 'webhook-allowed-rate': '60' }));
    for (const n of [1, 2, 3]) await f.deliveries.holdDelivery(f.held(n), f.base.createdAt);
    const after = await runHandshake(f.ports, f.settings, f.base.tenantId, f.base.id);
    expect(f.requests[0]).toMatchObject({ method: 'OPTIONS', url: 'https://hooks.example.com/in', timeoutMs: 2000, headers: { 'webhook-request-origin': ORIGIN, 'webhook-request-rate': '300' } });
    expect(f.requests[0]!.headers['webhook-request-callback']).toMatch(/^https:\/\/api\.example\.com\/prod\/v1\/validation-callbacks\/ten_\w+\.sub_\w+\.[\w-]{43}$/);
    expect(after).toMatchObject({ status: 'active', rateLimit: { perSecond: 1, burst: 1 }, handshake: { allowedRate: 60, approvedBy: 'answer', configuredRateLimit: { perSecond: 5 } } });
    expect(f.enqueued.map((j) => j.deliveryId)).toEqual(['dlv_1', 'dlv_2', 'dlv_3']);
  });

  it('stays pending with the reason, and only the newest callback approves (with its own rate)', async () => {
    const f = fixture(async () => answer(200));
    await runHandshake(f.ports, f.settings, f.base.tenantId, f.base.id);
    const firstToken = f.requests[0]!.headers['webhook-request-callback']!.split('/').at(-1)!;
    await runHandshake(f.ports, f.settings, f.base.tenantId, f.base.id);
    const token = f.requests[1]!.headers['webhook-request-callback']!.split('/').at(-1)!;
    expect(f.stored.get(f.base.id)).toMatchObject({ status: 'pending_validation', handshake: { lastResult: expect.stringContaining('without WebHook-Allowed-Origin') } });

    await expect(approveByCallback(f.ports, firstToken, undefined)).rejects.toMatchObject({ status: 404 });
    await expect(approveByCallback(f.ports, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, undefined)).rejects.toMatchObject({ status: 404 });
    await expect(approveByCallback(f.ports, 'garbage', undefined)).rejects.toMatchObject({ status: 404 });
    await expect(approveByCallback(f.ports, token, 'fast')).rejects.toMatchObject({ status: 400 });
    expect(await approveByCallback(f.ports, token, '*')).toEqual({ approved: true });
    expect(f.stored.get(f.base.id)).toMatchObject({ status: 'active', rateLimit: { perSecond: 5 }, handshake: { allowedRate: '*', approvedBy: 'callback' } });
    // A second call (the receiver retrying) changes nothing.
    expect(await approveByCallback(f.ports, token, undefined)).toEqual({ approved: true });
  });
});
