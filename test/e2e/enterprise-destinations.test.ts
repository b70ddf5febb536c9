/**
 * Enterprise destinations on the local runtime, through the same retry / attempt-log / dead-letter
 * path as webhooks: a customer's EventBridge bus (a named local bus standing in for another
 * account's), and third-party APIs with api_key, basic and OAuth2 client-credentials auth and a
 * JSONata-shaped body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CUSTOMER_ACCOUNT, localBusArn, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { ThirdPartyApi } from '../support/third-party-api.ts';

const ADMIN = 'hk_admin_e2e_enterprise_0000000000000000000000000000';
let herald: HeraldLocal;
let api: ReturnType<typeof apiClient>;
let tenant: { id: string; apiKey: string };
let thirdParty: ThirdPartyApi;
let counter = 0;

beforeAll(async () => {
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, customerBuses: ['customer-bus', 'flaky-bus'] });
  api = apiClient(herald.url);
  tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'Enterprise' })).body;
  // The customer's account, bound to this tenant by the platform (core/destination-trust.ts).
  const bound = await api('PUT', `/v1/tenants/${tenant.id}/destination-binding`, ADMIN, { accounts: [LOCAL_CUSTOMER_ACCOUNT] });
  expect(bound.status).toBe(200);
  thirdParty = await new ThirdPartyApi().start();
});

afterAll(async () => {
  await herald?.stop();
  await thirdParty?.stop();
});

/** A subscription to order.created whose filter keeps it to this test's own subject. */
async function subscribe(destination: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const subject = `ent-${++counter}`;
  const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
    name: subject,
    eventTypes: ['order.created'],
    filter: { subject: [subject] },
    destination,
    retryPolicy: { schedule: [1, 1] },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as string, subject, body: res.body };
}

async function publish(subject: string) {
  const res = await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject, data: exampleOf('order.created') });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function onlyDelivery(subscriptionId: string, done: (d: any) => boolean) {
  return eventually(async () => {
    const list = await api('GET', `/v1/subscriptions/${subscriptionId}/deliveries`, tenant.apiKey);
    const first = list.body.items?.[0];
    if (!first) return undefined;
    const full = await api('GET', `/v1/deliveries/${first.id}`, tenant.apiKey);
    return done(full.body) ? full.body : undefined;
  }, 20_000);
}

async function busEvents(name: string): Promise<any[]> {
  const res = await fetch(`${herald.url}/local/buses/${name}/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: any[] }).items;
}

describe('eventbridge destination', () => {
  it('puts the CloudEvent on the customer bus with the configured source and the event type as detail-type', async () => {
    const sub = await subscribe({ type: 'eventbridge', eventBusArn: localBusArn('customer-bus'), source: 'acme.oms' });
    const eventId = await publish(sub.subject);
    const landed = await eventually(async () => (await busEvents('customer-bus')).find((e) => e.detail?.id === eventId));
    expect(landed).toMatchObject({ source: 'acme.oms', 'detail-type': 'order.created', detail: { specversion: '1.0', type: 'order.created', subject: sub.subject, data: exampleOf('order.created') } });
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    expect(delivery.attempts).toHaveLength(1);
  });

  it('defaults source to the tenant’s own and detail-type to a configured value when given', async () => {
    const sub = await subscribe({ type: 'eventbridge', eventBusArn: localBusArn('customer-bus'), detailType: 'Herald Order Event' });
    const eventId = await publish(sub.subject);
    const landed = await eventually(async () => (await busEvents('customer-bus')).find((e) => e.detail?.id === eventId));
    expect(landed['detail-type']).toBe('Herald Order Event');
    expect(landed.source).toBe(`herald.tenant.${tenant.id}`);
  });

  it('retries a throttled PutEvents and logs the error code', async () => {
    const sub = await subscribe({ type: 'eventbridge', eventBusArn: localBusArn('flaky-bus') });
    herald.bus.failNext('flaky-bus', 1, 'ThrottlingException', 'Rate exceeded');
    const eventId = await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    expect(delivery.attempts).toHaveLength(2);
    expect(delivery.attempts[0]).toMatchObject({ error: 'throttled', errorMessage: 'ThrottlingException: Rate exceeded' });
    expect((await busEvents('flaky-bus')).filter((e) => e.detail?.id === eventId)).toHaveLength(1);
  });

  it('parks a delivery to a bus that does not exist with the refusal as its reason', async () => {
    const sub = await subscribe({ type: 'eventbridge', eventBusArn: localBusArn('no-such-bus') }, { retryPolicy: { schedule: [], maxAttempts: 1 } });
    await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'failed');
    expect(delivery.attempts[0]).toMatchObject({ error: 'eventbridge_error', errorMessage: expect.stringContaining('ResourceNotFoundException') });
    expect(delivery.reason).toMatch(/ResourceNotFoundException/);
  });

  it.each([
    ['arn:aws:sqs:us-east-1:123456789012:queue', 'destination.eventBusArn'],
    ['arn:aws:events:us-east-1:1234:event-bus/x', 'destination.eventBusArn'],
    ['arn:aws:events:eu-west-1:123456789012:event-bus/orders', 'destination.eventBusArn'],
  ])('refuses the bus ARN %s', async (arn, path) => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, { name: 'bad', eventTypes: ['order.created'], destination: { type: 'eventbridge', eventBusArn: arn } });
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });
});

describe('http destination (third-party API)', () => {
  it('fetches an OAuth2 token, sends the JSONata-shaped body, and refreshes the token after a 401', async () => {
    const sub = await subscribe({
      type: 'http',
      url: `${thirdParty.url}/oauth-api/orders`,
      method: 'PUT',
      transform: '{"DataType": type, "Data": [data], "Ref": subject}',
      auth: { type: 'oauth2', tokenUrl: `${thirdParty.url}/oauth/token`, clientId: thirdParty.client.id, clientSecret: thirdParty.client.secret, scope: 'orders:write' },
    });
    await publish(sub.subject);
    await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    const [call] = thirdParty.on('/oauth-api/orders');
    expect(call).toMatchObject({ method: 'PUT', status: 201 });
    expect(JSON.parse(call!.body)).toEqual({ DataType: 'order.created', Data: [exampleOf('order.created')], Ref: sub.subject });
    expect(thirdParty.tokenRequests.at(-1)!.form.get('scope')).toBe('orders:write');
    const tokensBefore = thirdParty.tokenRequests.length;

    // The cached token is reused; once the API stops accepting it, Herald fetches a new one.
    thirdParty.revokeTokens();
    await publish(sub.subject);
    const delivery = await eventually(async () => {
      const list = await api('GET', `/v1/subscriptions/${sub.id}/deliveries`, tenant.apiKey);
      return list.body.items?.length === 2 && list.body.items.every((d: any) => d.status === 'succeeded') ? list.body.items : undefined;
    }, 20_000);
    expect(delivery).toHaveLength(2);
    expect(thirdParty.tokenRequests.length).toBe(tokensBefore + 1);
    const calls = thirdParty.on('/oauth-api/orders');
    expect(calls.map((c) => c.status)).toEqual([201, 401, 201]);
    expect(calls[1]!.headers.authorization).not.toBe(calls[2]!.headers.authorization);
    expect(calls[2]!.headers['idempotency-key']).toBe(calls[1]!.headers['idempotency-key']);
  });

  it('sends client credentials in the Authorization header when asked', async () => {
    const sub = await subscribe({
      type: 'http',
      url: `${thirdParty.url}/oauth-api/header-creds`,
      auth: { type: 'oauth2', tokenUrl: `${thirdParty.url}/oauth/token`, clientId: thirdParty.client.id, clientSecret: thirdParty.client.secret, credentialsIn: 'header' },
    });
    thirdParty.revokeTokens();
    await publish(sub.subject);
    await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    const request = thirdParty.tokenRequests.at(-1)!;
    expect(request.headers.authorization).toMatch(/^Basic /);
    expect(request.form.get('client_secret')).toBeNull();
  });

  it('records a token endpoint refusal as auth_failed and retries', async () => {
    const sub = await subscribe(
      { type: 'http', url: `${thirdParty.url}/oauth-api/denied`, auth: { type: 'oauth2', tokenUrl: `${thirdParty.url}/oauth/token`, clientId: 'wrong', clientSecret: 'wrong' } },
      { retryPolicy: { schedule: [1], maxAttempts: 2 } },
    );
    await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'failed');
    expect(delivery.attempts).toHaveLength(2);
    expect(delivery.attempts[0]).toMatchObject({ error: 'auth_failed', errorMessage: expect.stringContaining('HTTP 401') });
    expect(thirdParty.on('/oauth-api/denied')).toHaveLength(0);
  });

  it('authenticates with an API key header', async () => {
    const sub = await subscribe({ type: 'http', url: `${thirdParty.url}/key-api/in`, auth: { type: 'api_key', header: thirdParty.apiKey.header, value: thirdParty.apiKey.value } });
    const eventId = await publish(sub.subject);
    await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    const [call] = thirdParty.on('/key-api/in');
    expect(call!.status).toBe(201);
    // Without a transform, the body is the CloudEvent itself.
    expect(JSON.parse(call!.body)).toMatchObject({ id: eventId, type: 'order.created' });
  });

  it('authenticates with basic credentials', async () => {
    const sub = await subscribe({ type: 'http', url: `${thirdParty.url}/basic-api/in`, auth: { type: 'basic', ...thirdParty.basic } });
    await publish(sub.subject);
    await onlyDelivery(sub.id, (d) => d.status === 'succeeded');
    expect(thirdParty.on('/basic-api/in')[0]!.status).toBe(201);
  });

  it('retries a wrong API key like any failure, with the 401 in the attempt log', async () => {
    const sub = await subscribe(
      { type: 'http', url: `${thirdParty.url}/key-api/wrong`, auth: { type: 'api_key', header: 'x-api-key', value: 'nope' } },
      { retryPolicy: { schedule: [1], maxAttempts: 2 } },
    );
    await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'failed');
    expect(delivery.attempts.map((a: any) => a.statusCode)).toEqual([401, 401]);
  });

  it('does not retry a transform that fails on the event, and says why', async () => {
    const sub = await subscribe({ type: 'http', url: `${thirdParty.url}/open/transform`, transform: '$error("no SKU mapping for " & data.orderId)' });
    await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'failed');
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ error: 'transform_failed', errorMessage: expect.stringContaining('no SKU mapping for') });
    expect(thirdParty.on('/open/transform')).toHaveLength(0);
  });

  it('does not send or retry a transform whose output is over 256 KB, and says why', async () => {
    // 300 strings of 1,000 characters: within JSONata's own guards, over the request-body limit.
    const transform = '$join($map([1..300], function($i){ $pad("", 1000, "x") }), "")';
    const sub = await subscribe({ type: 'http', url: `${thirdParty.url}/open/too-big`, transform });
    await publish(sub.subject);
    const delivery = await onlyDelivery(sub.id, (d) => d.status === 'failed');
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({
      error: 'transform_failed',
      errorMessage: expect.stringMatching(/output is at least 300002 bytes, over the 262144-byte limit \(256 KB\)/),
    });
    expect(delivery.attempts[0].nextAttemptAt).toBeUndefined();
    expect(delivery.reason).toMatch(/^transform_failed: the transform's output is at least 300002 bytes/);
    expect(thirdParty.on('/open/too-big')).toHaveLength(0);
  });

  it('never returns credentials, on create, get or list', async () => {
    const sub = await subscribe({
      type: 'http',
      url: `${thirdParty.url}/open/secret`,
      auth: { type: 'oauth2', tokenUrl: `${thirdParty.url}/oauth/token`, clientId: 'cid', clientSecret: 'super-secret-value' },
    });
    const basic = await subscribe({ type: 'http', url: `${thirdParty.url}/open/secret`, auth: { type: 'basic', username: 'u', password: 'super-secret-value' } });
    const key = await subscribe({ type: 'http', url: `${thirdParty.url}/open/secret`, auth: { type: 'api_key', header: 'x-key', value: 'super-secret-value' } });
    const answers = [
      sub.body,
      basic.body,
      key.body,
      (await api('GET', `/v1/subscriptions/${sub.id}`, tenant.apiKey)).body,
      (await api('GET', '/v1/subscriptions?limit=100', tenant.apiKey)).body,
    ];
    for (const answer of answers) expect(JSON.stringify(answer)).not.toContain('super-secret-value');
    expect(sub.body.destination.auth).toEqual({ type: 'oauth2', tokenUrl: `${thirdParty.url}/oauth/token`, clientId: 'cid' });
  });

  it.each([
    [{ transform: '{"a": ' }, 'destination.transform'],
    [{ method: 'GET' }, 'destination.method'],
    [{ auth: { type: 'api_key', header: 'Host', value: 'x' } }, 'destination.auth.header'],
    [{ auth: { type: 'basic', username: 'a:b', password: 'x' } }, 'destination.auth.username'],
    [{ auth: { type: 'oauth2', tokenUrl: 'not a url', clientId: 'a', clientSecret: 'b' } }, 'destination.auth.tokenUrl'],
    [{ auth: { type: 'magic' } }, 'destination.auth.type'],
  ])('refuses %j naming %s', async (extra, path) => {
    const res = await api('POST', '/v1/subscriptions', tenant.apiKey, {
      name: 'bad',
      eventTypes: ['order.created'],
      destination: { type: 'http', url: `${thirdParty.url}/x`, ...extra },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });
});
