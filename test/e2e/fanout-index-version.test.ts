/**
 * Fan-out's index cache on the real subscription store (dynalite): the store moves the tenant's
 * index version after every put and delete of fan-out entries and leaves it alone on a pause; a
 * table without the version item (0.1) reads as version 0; and the cached index, counting the
 * requests it sends, reads the version once per event, queries the index only after a change,
 * and answers a new or deleted subscription on the very next event. The version item also names
 * the patterns the tenant has entries under, so a lookup queries only those keys (one at one
 * subscription); a change by a version that did not keep the set makes it query every key until
 * the next change rebuilds it.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DynamoSubscriptionStore as Store } from '../../lambdas/adapters/subscription-store.ts';
import { cachedSubscriptionIndex } from '../../lambdas/core/caching.ts';
import { patternKeysFor } from '../../lambdas/core/event-types.ts';
import type { Subscription } from '../../lambdas/core/subscription.ts';
import type { startDynamo } from '../../local/emulators.ts';
import { startLocalTable } from '../support/local-table.ts';

const TABLE = 'fanout-index-version';
let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let store: Store;
const sent: string[] = [];

beforeAll(async () => {
  dynamo = await startLocalTable(TABLE);
  const { DynamoSubscriptionStore } = await import('../../lambdas/adapters/subscription-store.ts');
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  client().middlewareStack.add((next, context) => (args) => {
    sent.push(String(context.commandName).replace(/Command$/, ''));
    return next(args);
  }, { step: 'initialize', name: 'countRequests' });
  store = new DynamoSubscriptionStore(TABLE);
});

afterAll(async () => {
  await dynamo?.stop();
});

const subscription = (tenantId: string, id: string, eventTypes: string[]): Subscription => ({
  id,
  tenantId,
  name: id,
  eventTypes,
  destination: { type: 'webhook', url: 'https://example.com/hooks' },
  payload: 'full',
  ordering: 'none',
  status: 'active',
  secrets: [{ secret: 'whsec_x', createdAt: '2026-12-01T00:00:00.000Z' }],
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
});

const requests = async (work: () => Promise<unknown>) => {
  sent.length = 0;
  await work();
  return [...sent];
};

it('moves the version after each put and delete of index entries, not on a pause, and reads 0 where it was never written', async () => {
  const T = 'ten_VERSIONS';
  expect(await store.subscriptionIndexVersion(T)).toBe(0);
  const sub = subscription(T, 'sub_1', ['order.*']);
  await store.putSubscription(sub);
  expect(await store.subscriptionIndexVersion(T)).toBe(1);
  const patched = { ...sub, eventTypes: ['order.created'] };
  await store.putSubscription(patched, sub);
  expect(await store.subscriptionIndexVersion(T)).toBe(2);
  await store.changeSubscriptionStatus(T, 'sub_1', { from: 'active', to: 'paused', at: '2026-12-01T01:00:00.000Z' });
  expect(await store.subscriptionIndexVersion(T)).toBe(2);
  await store.deleteSubscription(patched);
  expect(await store.subscriptionIndexVersion(T)).toBe(3);
  expect(await store.subscriptionIndexVersion('ten_OTHER')).toBe(0);
});

it('fan-out through the cache: one GetItem per event while nothing changes, the index queried again right after a change', async () => {
  const T = 'ten_CACHED';
  const cached = cachedSubscriptionIndex(store);
  const patterns = patternKeysFor('order.created');
  const lookup = async () => (await cached.findSubscriptionsByPatterns(T, patterns)).map((e) => e.subscriptionId).sort();

  // A 0.1 table: a fan-out entry and no version item.
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  await client().send(new PutCommand({ TableName: TABLE, Item: { pk: `SUBIDX#${T}#order.created`, sk: 'SUB#sub_old', subscriptionId: 'sub_old', status: 'active' } }));
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_old']))).toEqual(['GetItem', 'Query', 'Query', 'Query']);
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_old']))).toEqual(['GetItem']);

  // The first change after the upgrade writes version 1: every cache of the tenant misses once,
  // and the version now names the patterns the tenant's entries are under: one query, not three.
  const created = subscription(T, 'sub_new', ['order.created']);
  await store.putSubscription(created);
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_new', 'sub_old']))).toEqual(['GetItem', 'Query']);
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_new', 'sub_old']))).toEqual(['GetItem']);

  await store.deleteSubscription(created);
  expect(await lookup()).toEqual(['sub_old']);
});

it("fan-out queries only the pattern keys the tenant's version item lists: one query at one subscription, none for a type nobody matches", async () => {
  const T = 'ten_PATTERNS';
  const cached = cachedSubscriptionIndex(store);
  const lookup = async (type: string) => (await cached.findSubscriptionsByPatterns(T, patternKeysFor(type))).map((e) => e.subscriptionId).sort();
  const first = subscription(T, 'sub_1', ['order.created']);
  await store.putSubscription(first);
  expect(await store.subscriptionIndexHead(T)).toEqual({ version: 1, patterns: ['order.created'] });
  expect(await requests(async () => expect(await lookup('order.created')).toEqual(['sub_1']))).toEqual(['GetItem', 'Query']);
  expect(await requests(async () => expect(await lookup('invoice.paid')).toEqual([]))).toEqual(['GetItem']);
  // A subscription under a wildcard: the next event sees the version move, and queries both keys it now holds.
  await store.putSubscription(subscription(T, 'sub_2', ['order.*', 'invoice.paid']));
  expect(await requests(async () => expect(await lookup('order.created')).toEqual(['sub_1', 'sub_2']))).toEqual(['GetItem', 'Query', 'Query']);
  expect(await lookup('invoice.paid')).toEqual(['sub_2']);
  // Edited away from a pattern, or deleted: the set may keep the pattern (a query that finds nothing), never loses one in use.
  await store.putSubscription({ ...first, eventTypes: ['shipment.sent'] }, first);
  expect(await lookup('order.created')).toEqual(['sub_2']);
  expect(await lookup('shipment.sent')).toEqual(['sub_1']);
  const head = await store.subscriptionIndexHead(T);
  expect(head.patterns?.sort()).toEqual(['invoice.paid', 'order.*', 'order.created', 'shipment.sent']);
});

it('a change by the version before (the version moved without the set) makes fan-out query every key, until the next change rebuilds the set', async () => {
  const T = 'ten_UNLISTED';
  const cached = cachedSubscriptionIndex(store);
  const lookup = async () => (await cached.findSubscriptionsByPatterns(T, patternKeysFor('order.created'))).map((e) => e.subscriptionId).sort();
  await store.putSubscription(subscription(T, 'sub_1', ['order.created']));
  // The version before: its subscription and entry, then a bare ADD of the version.
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
  const old = subscription(T, 'sub_old', ['order.*']);
  await client().send(new PutCommand({ TableName: TABLE, Item: { pk: `TENANT#${T}`, sk: 'SUB#sub_old', ...old } }));
  await client().send(new PutCommand({ TableName: TABLE, Item: { pk: `SUBIDX#${T}#order.*`, sk: 'SUB#sub_old', subscriptionId: 'sub_old', status: 'active' } }));
  await client().send(new UpdateCommand({ TableName: TABLE, Key: { pk: `TENANT#${T}`, sk: '#SUBVERSION' }, UpdateExpression: 'ADD #v :one', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':one': 1 } }));
  expect(await store.subscriptionIndexHead(T)).toEqual({ version: 2 });
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_1', 'sub_old']))).toEqual(['GetItem', 'Query', 'Query', 'Query']);
  // The next change by this version rebuilds the set from the tenant's subscriptions, the older one's patterns included.
  await store.putSubscription(subscription(T, 'sub_3', ['shipment.sent']));
  expect((await store.subscriptionIndexHead(T)).patterns?.sort()).toEqual(['order.*', 'order.created', 'shipment.sent']);
  expect(await requests(async () => expect(await lookup()).toEqual(['sub_1', 'sub_old']))).toEqual(['GetItem', 'Query', 'Query']);
});

it('a tenant with more patterns than a version item lists keeps no set: every key is queried', async () => {
  const T = 'ten_MANYPATTERNS';
  const { MAX_LISTED_PATTERNS } = await import('../../lambdas/adapters/subscription-store.ts');
  const many = Array.from({ length: MAX_LISTED_PATTERNS + 1 }, (_, i) => `type${i}.created`);
  await store.putSubscription(subscription(T, 'sub_many', many));
  expect(await store.subscriptionIndexHead(T)).toEqual({ version: 1 });
  await store.putSubscription(subscription(T, 'sub_few', ['order.created']));
  expect(await store.subscriptionIndexHead(T)).toEqual({ version: 2 });
  const cached = cachedSubscriptionIndex(store);
  expect(await requests(() => cached.findSubscriptionsByPatterns(T, patternKeysFor('order.created')))).toEqual(['GetItem', 'Query', 'Query', 'Query']);
});

it("a writer that crashed before moving the version has listed its new pattern first: its entry is found once caches reach their maximum age, and by the sweeper's lookup at once", async () => {
  const T = 'ten_CRASHED';
  await store.putSubscription(subscription(T, 'sub_1', ['order.created']));
  let now = 0;
  const cached = cachedSubscriptionIndex(store, 60_000, () => now);
  const lookup = async () => (await cached.findSubscriptionsByPatterns(T, patternKeysFor('order.created'))).map((e) => e.subscriptionId).sort();
  expect(await lookup()).toEqual(['sub_1']);
  // The version write of the next change fails (the process died): the subscription and its entries are written.
  const { dynamo: client } = await import('../../lambdas/adapters/clients.ts');
  let failing = true;
  client().middlewareStack.add(
    (next, context) => (args) => {
      const input = args.input as { UpdateExpression?: string };
      if (failing && context.commandName === 'UpdateItemCommand' && input.UpdateExpression?.startsWith('ADD #version')) throw new Error('the process died');
      return next(args);
    },
    { step: 'initialize', name: 'crashBeforeVersion' },
  );
  await expect(store.putSubscription(subscription(T, 'sub_2', ['order.*']))).rejects.toThrow('the process died');
  failing = false;
  expect(await store.subscriptionIndexHead(T)).toEqual({ version: 1, patterns: expect.arrayContaining(['order.created', 'order.*']) });
  const { findListedPatterns } = await import('../../lambdas/core/caching.ts');
  expect((await findListedPatterns(store, T, patternKeysFor('order.created'))).map((e) => e.subscriptionId).sort()).toEqual(['sub_1', 'sub_2']);
  expect(await lookup()).toEqual(['sub_1']);
  now = 60_000;
  expect(await lookup()).toEqual(['sub_1', 'sub_2']);
});
