/**
 * IAM coverage: every AWS SDK operation a Herald function performs on the local runtime must be
 * allowed by that function's role in the synthesized stack, for the resource it touched. A
 * representative workload (publish and batch publish, fanned out by the API; an unmarked event on
 * the bus, fanned out by the fan-out function; webhook, http, eventbridge, batching and
 * ordered subscriptions; a retry, a dead letter, redrive, resends, the sweeper, stats, paging,
 * keys, bindings, the self-test receiver) runs with a recording middleware on every SDK client;
 * each call becomes the IAM requests it makes when deployed (SQS batch calls as their single actions, the table's KMS key,
 * a customer's bus through the customer-bus role) and is evaluated against the role's policies.
 * A request the policy would refuse fails the test, naming function, action and resource.
 */
import { App, Stack } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnvelope } from '../../lambdas/core/envelope.ts';
import { newId } from '../../lambdas/core/ids.ts';
import { ENV, HERALD_EVENT_SOURCE } from '../../lambdas/shared/herald-config.ts';
import { HeraldStack } from '../../lib/herald-stack.ts';
import { LOCAL_BUS, LOCAL_CUSTOMER_ACCOUNT, LOCAL_TABLE, localBusArn, startHeraldLocal, type HeraldLocal } from '../../local/runtime.ts';
import { apiClient, eventually } from '../support/api-client.ts';
import { exampleOf } from '../support/catalogue.ts';
import { arnOf, iamActionOf, iamRequestsOf, recordSdkCalls, refusal, trusts, type CfnTemplate, type IamRequest, type ResourceMap, type SdkCall } from '../support/iam-coverage.ts';
import { Receiver } from '../support/receiver.ts';

const ADMIN = 'hk_admin_e2e_iam_coverage_000000000000000000000000';
const calls: SdkCall[] = [];
let herald: HeraldLocal;
let receiver: Receiver;
let api: ReturnType<typeof apiClient>;
let template: CfnTemplate;
let stack: HeraldStack;

beforeAll(async () => {
  stack = new HeraldStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'IamCoverage', { selfTestReceiver: true });
  template = Template.fromStack(stack).toJSON() as CfnTemplate;
  recordSdkCalls((call) => calls.push(call));
  herald = await startHeraldLocal({ port: 0, adminKey: ADMIN, sweepIntervalMs: 0, sweepAfterSeconds: 1 });
  api = apiClient(herald.url);
  receiver = await new Receiver().start();
});

afterAll(async () => {
  await herald?.stop();
  await receiver?.stop();
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) => Stack.of(stack).getLogicalId(construct.node.defaultChild as CfnResource);

/** The local runtime's resources in the stack's terms (test/support/iam-coverage.ts). */
function resourceMap(): ResourceMap {
  const queues = new Map([
    [herald.queues.delivery, logicalId(stack.delivery.queue)],
    [herald.queues.deadLetter, logicalId(stack.delivery.deadLetterQueue)],
    [process.env[ENV.orderedQueueUrl]!, logicalId(stack.delivery.orderedQueue)],
    [herald.queues.slowLane, logicalId(stack.delivery.slowLane)],
  ]);
  const bus = arnOf(template, logicalId(stack.bus.bus));
  return {
    table: (name) => (name === LOCAL_TABLE ? arnOf(template, logicalId(stack.storage.table)) : undefined),
    queue: (url) => (queues.has(url) ? arnOf(template, queues.get(url)!) : undefined),
    bus: (name) => (name === LOCAL_BUS || name === localBusArn(LOCAL_BUS) ? bus : undefined),
    tableKey: arnOf(template, logicalId(stack.storage.key)),
  };
}

function roleOf(functionName: string): string {
  const functions: Record<string, { role: { node: { defaultChild?: unknown } } }> = {
    'herald-api': stack.api.handler,
    'herald-authorizer': stack.api.authorizer,
    'herald-fanout': stack.delivery.fanout,
    'herald-deliver': stack.delivery.deliver,
    'herald-sweeper': stack.delivery.sweeper,
    'herald-self-test': stack.selfTestReceiver!.handler,
  };
  const fn = functions[functionName];
  if (!fn) throw new Error(`${functionName} is no function of the stack`);
  return logicalId(fn.role);
}

/** Every distinct IAM request the recorded calls make. */
function requests(recorded: SdkCall[]): IamRequest[] {
  const id = logicalId(stack.delivery.customerBusRole);
  const customerBusRole = { id, arn: arnOf(template, id) };
  const unique = new Map<string, IamRequest>();
  for (const call of recorded) {
    for (const request of iamRequestsOf(call, resourceMap(), roleOf, customerBusRole)) {
      unique.set(`${request.role} ${request.action} ${request.resource}`, request);
    }
  }
  return [...unique.values()];
}

async function subscribe(name: string, destination: Record<string, unknown>, extra: Record<string, unknown> = {}, key = tenant.apiKey) {
  const res = await api('POST', '/v1/subscriptions', key, { name, eventTypes: ['order.created'], destination, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

let tenant: { id: string; apiKey: string };

async function deliveriesOf(subscriptionId: string, query = '') {
  const res = await api('GET', `/v1/subscriptions/${subscriptionId}/deliveries${query}`, tenant.apiKey);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { items: { id: string; status: string }[]; nextToken?: string };
}

describe('IAM coverage', () => {
  it('runs a representative workload through every function', async () => {
    tenant = (await api('POST', '/v1/tenants', ADMIN, { name: 'IAM coverage' })).body;
    expect((await api('PUT', `/v1/tenants/${tenant.id}/destination-binding`, ADMIN, { accounts: [LOCAL_CUSTOMER_ACCOUNT] })).status).toBe(200);
    expect((await api('GET', `/v1/tenants/${tenant.id}/destination-binding`, ADMIN)).status).toBe(200);
    const extraKey = await api('POST', '/v1/keys', tenant.apiKey, {});
    expect(extraKey.status, JSON.stringify(extraKey.body)).toBe(201);
    expect((await api('GET', '/v1/keys', tenant.apiKey)).status).toBe(200);
    expect((await api('DELETE', `/v1/keys/${extraKey.body.prefix}`, tenant.apiKey)).status).toBe(204);

    receiver.script('/retry', [{ status: 500 }]);
    receiver.script('/dead', [{ status: 500 }]);
    const ok = await subscribe('ok', { type: 'webhook', url: `${receiver.url}/ok` });
    const retry = await subscribe('retry', { type: 'webhook', url: `${receiver.url}/retry` }, { retryPolicy: { schedule: [1], maxAttempts: 2 } });
    const dead = await subscribe('dead', { type: 'webhook', url: `${receiver.url}/dead` }, { retryPolicy: { schedule: [], maxAttempts: 1 } });
    await subscribe('http', { type: 'http', url: `${receiver.url}/http`, method: 'PUT' });
    await subscribe('bus', { type: 'eventbridge', eventBusArn: localBusArn('customer-bus'), source: 'acme.oms' });
    await subscribe('batched', { type: 'webhook', url: `${receiver.url}/batched` }, { batching: { maxItems: 2, intervalSeconds: 0 } });
    await subscribe('ordered', { type: 'webhook', url: `${receiver.url}/ordered` }, { ordering: 'subject' });
    // The self-test receiver (herald smoke's): a run registered, read back and forgotten.
    const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    const run = `${herald.selfTestUrl}/runs/iam-coverage-run`;
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    expect((await fetch(run, { method: 'PUT', headers: admin, body: JSON.stringify({ secret }) })).status).toBe(201);
    await subscribe('self-test', { type: 'webhook', url: `${herald.selfTestUrl}/hooks/iam-coverage-run/ok` }, { secret });

    const data = exampleOf('order.created');
    expect((await api('POST', '/v1/events', ADMIN, { tenantId: tenant.id, type: 'order.created', subject: 'iam-1', data })).status).toBe(202);
    const batch = await api('POST', '/v1/events/batch', ADMIN, { events: [2, 3].map((n) => ({ tenantId: tenant.id, type: 'order.created', subject: `iam-${n}`, data })) });
    expect(batch.status, JSON.stringify(batch.body)).toBe(207);

    await receiver.waitFor('/ok', 3);
    await receiver.waitFor('/http', 3);
    await receiver.waitFor('/ordered', 3);
    await receiver.waitFor('/batched', 1);
    // The fan-out function's share: an event the API did not fan out (its fallback, and what the
    // sweeper publishes for an event that never reached the bus) reaches the bus unmarked.
    await subscribe('fallback', { type: 'webhook', url: `${receiver.url}/fallback` }, { eventTypes: ['order.shipped'] });
    const unmarked = buildEnvelope({ tenantId: tenant.id, id: newId('evt'), type: 'order.shipped', subject: 'iam-fallback', data: exampleOf('order.shipped') }, 'urn:herald:platform', new Date());
    expect(herald.bus.putEvents([{ EventBusName: LOCAL_BUS, Source: HERALD_EVENT_SOURCE, DetailType: unmarked.type, Detail: JSON.stringify(unmarked) }]).FailedEntryCount).toBe(0);
    await receiver.waitFor('/fallback', 1);
    await receiver.waitFor('/retry', 4);
    await eventually(async () => ((await busEvents()).length >= 3 ? true : undefined));
    await eventually(async () => {
      const got = (await (await fetch(run, { headers: admin })).json()) as { items: { verified: boolean }[] };
      return got.items.length >= 3 && got.items.every((h) => h.verified) ? true : undefined;
    });
    expect((await fetch(run, { method: 'DELETE', headers: admin })).status).toBe(204);
    const letters = await eventually(async () => {
      const res = await api('GET', '/v1/dead-letters', tenant.apiKey);
      return res.body.items?.length ? res.body.items : undefined;
    });
    expect(letters[0]).toMatchObject({ status: 'failed' });
    expect((await api('POST', '/v1/dead-letters/redrive', tenant.apiKey, { subscriptionId: dead })).status).toBe(202);
    await receiver.waitFor('/dead', 4);

    // Reading: stats, a delivery, pages of deliveries and subscriptions, the catalogue.
    expect((await api('GET', `/v1/subscriptions/${ok}/stats`, tenant.apiKey)).status).toBe(200);
    const first = await deliveriesOf(ok, '?limit=1');
    expect(first.nextToken).toEqual(expect.any(String));
    await deliveriesOf(ok, `?limit=1&nextToken=${encodeURIComponent(first.nextToken!)}`);
    expect((await api('GET', `/v1/deliveries/${first.items[0]!.id}`, tenant.apiKey)).status).toBe(200);
    const page = await api('GET', '/v1/subscriptions?limit=2', tenant.apiKey);
    expect(page.body.nextToken).toEqual(expect.any(String));
    expect((await api('GET', `/v1/subscriptions?limit=2&nextToken=${encodeURIComponent(page.body.nextToken)}`, tenant.apiKey)).status).toBe(200);
    expect((await api('GET', `/v1/subscriptions/${retry}`, tenant.apiKey)).status).toBe(200);
    expect((await api('GET', '/v1/event-types', tenant.apiKey)).status).toBe(200);

    // Changing: resends, a test event, pause and resume, a new secret, a deletion.
    expect((await api('POST', `/v1/deliveries/${first.items[0]!.id}/resend`, tenant.apiKey)).status).toBe(202);
    expect((await api('POST', `/v1/subscriptions/${ok}/resend`, tenant.apiKey, { subject: 'iam-1' })).status).toBe(202);
    expect((await api('POST', `/v1/subscriptions/${ok}/test`, tenant.apiKey, {})).status).toBe(202);
    await receiver.waitFor('/ok', 6);
    expect((await api('POST', `/v1/subscriptions/${retry}/pause`, tenant.apiKey)).status).toBe(200);
    expect((await api('POST', `/v1/subscriptions/${retry}/resume`, tenant.apiKey)).status).toBe(200);
    expect((await api('PATCH', `/v1/subscriptions/${retry}`, tenant.apiKey, { name: 'retry-renamed' })).status).toBe(200);
    expect((await api('POST', `/v1/subscriptions/${retry}/rotate-secret`, tenant.apiKey, {})).status).toBe(200);
    expect((await api('DELETE', `/v1/subscriptions/${retry}`, tenant.apiKey)).status).toBe(204);

    await herald.settle();
    await new Promise((r) => setTimeout(r, 1100));
    await herald.sweep();
  }, 45_000);

  it('records calls from every function, attributed to it', () => {
    const byFunction = new Map<string, Set<string>>();
    for (const call of calls) {
      const set = byFunction.get(call.functionName) ?? new Set();
      set.add(iamActionOf(call.client, call.operation));
      byFunction.set(call.functionName, set);
    }
    expect([...byFunction.keys()].sort()).toEqual(['herald-api', 'herald-authorizer', 'herald-deliver', 'herald-fanout', 'herald-self-test', 'herald-sweeper']);
    // The paths the workload was built to reach did make their calls.
    expect([...byFunction.get('herald-api')!]).toEqual(expect.arrayContaining(['events:PutEvents', 'dynamodb:Query', 'sqs:SendMessage']));
    // The workload's redrive works from the tenant's records: the api receives from no queue,
    // least of all the dead-letter queue every tenant shares.
    expect([...byFunction.get('herald-api')!]).not.toContain('sqs:ReceiveMessage');
    expect([...byFunction.get('herald-deliver')!]).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:SendMessage', 'events:PutEvents', 'dynamodb:UpdateItem']));
    expect([...byFunction.get('herald-fanout')!]).toEqual(expect.arrayContaining(['sqs:SendMessage', 'dynamodb:Query']));
    expect([...byFunction.get('herald-sweeper')!]).toEqual(expect.arrayContaining(['dynamodb:Query']));
    expect([...byFunction.get('herald-self-test')!]).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem']));
  });

  it('finds every request allowed by the calling function’s synthesized policies', () => {
    const all = requests(calls);
    expect(all.length).toBeGreaterThan(20);
    expect(all.map((r) => refusal(template, r)).filter(Boolean)).toEqual([]);
  });

  it('finds the customer-bus role assumable by the deliver function, with session tags', () => {
    const role = logicalId(stack.delivery.customerBusRole);
    const deliverRole = arnOf(template, roleOf('herald-deliver'));
    expect(requests(calls).some((r) => r.role === role && r.action === 'events:PutEvents')).toBe(true);
    expect(trusts(template, role, deliverRole, 'sts:AssumeRole')).toBe(true);
    expect(trusts(template, role, deliverRole, 'sts:TagSession')).toBe(true);
    expect(trusts(template, role, arnOf(template, roleOf('herald-api')), 'sts:AssumeRole')).toBe(false);
  });

  it('names the function, action and resource when a policy lacks them', () => {
    // The same requests against a stack whose deliver role lost its dead-letter queue grant.
    const pruned = structuredClone(template);
    const dlq = arnOf(template, logicalId(stack.delivery.deadLetterQueue));
    const deliverRole = roleOf('herald-deliver');
    for (const resource of Object.values(pruned.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' || !resource.Properties!.Roles.some((r: { Ref?: string }) => r.Ref === deliverRole)) continue;
      resource.Properties!.PolicyDocument.Statement = resource.Properties!.PolicyDocument.Statement.filter(
        (s: { Resource?: unknown }) => !JSON.stringify(s.Resource ?? '').includes(logicalId(stack.delivery.deadLetterQueue)),
      );
    }
    const refused = requests(calls).map((r) => refusal(pruned, r)).filter(Boolean);
    expect(refused).toContain(`${deliverRole} may not sqs:SendMessage on ${dlq}: no statement allows it (herald-deliver called SQS SendMessage)`);
  });

  it('maps SQS batch calls to their single IAM actions and refuses an unknown service', () => {
    expect(iamActionOf('SQSClient', 'SendMessageBatch')).toBe('sqs:SendMessage');
    expect(iamActionOf('SQSClient', 'DeleteMessageBatch')).toBe('sqs:DeleteMessage');
    expect(iamActionOf('SQSClient', 'ChangeMessageVisibilityBatch')).toBe('sqs:ChangeMessageVisibility');
    expect(iamActionOf('DynamoDBClient', 'BatchWriteItem')).toBe('dynamodb:BatchWriteItem');
    expect(() => iamActionOf('S3Client', 'PutObject')).toThrow(/S3Client/);
  });
});

async function busEvents(): Promise<unknown[]> {
  const res = await fetch(`${herald.url}/local/buses/customer-bus/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return ((await res.json()) as { items: unknown[] }).items;
}
