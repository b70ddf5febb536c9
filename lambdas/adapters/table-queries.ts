import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import type { Page, PageRequest } from '#core/ports';
import { dynamo } from './clients.ts';
import { openPageToken, PAGE_TOKEN_KEY_BYTES, pageTokenRefused, sealPageToken } from './page-tokens.ts';
import { PAGE_TOKEN_KEY_ITEM, PK, SK, withoutKeys, type TableKey } from './table-keys.ts';

/**
 * The one way stores query the table: every query, paginated or not, goes through queryPages,
 * which follows LastEvaluatedKey until the items, the pages or DynamoDB run out. Lists handed to
 * API clients page with sealed tokens instead (queryTokenPage), one page per request.
 */
export type Query = Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>;

export interface QueryBounds {
  /** Stop once this many items were read (each request asks for at most what is still wanted, up to `pageSize`). */
  limit?: number;
  /** Items per request when a limit is set (DynamoDB also stops a page at 1 MB). */
  pageSize?: number;
  /** Stop after this many requests, however many items were read. */
  maxPages?: number;
  /** Resume after this key. */
  start?: Record<string, unknown>;
}

export interface QueryPage {
  items: Record<string, unknown>[];
  count: number;
  lastKey?: Record<string, unknown>;
}

export async function* queryPages(tableName: string, query: Query, bounds: QueryBounds = {}): AsyncGenerator<QueryPage> {
  let start = bounds.start;
  let read = 0;
  let pages = 0;
  do {
    const wanted = bounds.limit === undefined ? undefined : Math.min(bounds.pageSize ?? bounds.limit, bounds.limit - read);
    const out = await dynamo().send(new QueryCommand({ ...query, TableName: tableName, ExclusiveStartKey: start, ...(wanted !== undefined ? { Limit: wanted } : {}) }));
    const items = out.Items ?? [];
    read += items.length;
    pages++;
    start = out.LastEvaluatedKey;
    yield { items, count: out.Count ?? items.length, ...(start ? { lastKey: start } : {}) };
  } while (start && (bounds.limit === undefined || read < bounds.limit) && (bounds.maxPages === undefined || pages < bounds.maxPages));
}

/** The items a query returns, within its bounds (raw: keys included). */
export async function queryItems(tableName: string, query: Query, bounds: QueryBounds = {}): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of queryPages(tableName, query, bounds)) items.push(...page.items);
  return items;
}

/**
 * Several queries (the shards of one list) merged in the order of `sortKey` (ascending), up to
 * `limit` items: each query is read a page of `pageSize` at a time and only while the merge still
 * needs its items, so the reads stay within `limit` plus at most one page per query.
 */
export async function mergeQueries(
  tableName: string,
  queries: readonly Query[],
  sortKey: string,
  bounds: { limit: number; pageSize: number },
): Promise<Record<string, unknown>[]> {
  const streams = queries.map((query) => {
    const pages = queryPages(tableName, query, { limit: bounds.limit, pageSize: bounds.pageSize });
    return { pages, buffer: [] as Record<string, unknown>[], at: 0, done: false };
  });
  const head = (stream: (typeof streams)[number]) => stream.buffer[stream.at];
  const fill = async (stream: (typeof streams)[number]) => {
    while (!stream.done && stream.at >= stream.buffer.length) {
      const next = await stream.pages.next();
      if (next.done) stream.done = true;
      else [stream.buffer, stream.at] = [next.value.items, 0];
    }
  };
  await Promise.all(streams.map(fill));
  const merged: Record<string, unknown>[] = [];
  while (merged.length < bounds.limit) {
    let first: (typeof streams)[number] | undefined;
    for (const stream of streams) {
      const item = head(stream);
      if (item && (!first || String(item[sortKey]) < String(head(first)![sortKey]))) first = stream;
    }
    if (!first) break;
    merged.push(head(first)!);
    first.at++;
    await fill(first);
  }
  await Promise.all(streams.map((stream) => stream.pages.return(undefined)));
  return merged;
}

/** How many items match, counted by DynamoDB (Select COUNT: no items travel). */
export async function queryCount(tableName: string, query: Query): Promise<number> {
  let count = 0;
  for await (const page of queryPages(tableName, { ...query, Select: 'COUNT' })) count += page.count;
  return count;
}

/**
 * One page of a list an API client pages through. The nextToken is DynamoDB's LastEvaluatedKey
 * sealed for, and only opening for, the query that produced it (see pageScope).
 */
export async function queryTokenPage<T>(
  tableName: string,
  query: Query,
  page: PageRequest,
  read: (item: Record<string, unknown>) => T = (item) => item as T,
  options: {
    /** Hand `read` these key attributes as they are (other table and index keys are stripped). */
    keep?: readonly string[];
    /** Also binds the tokens to this (a filter the caller applies after the query), so a token opens only for it. */
    bind?: string;
  } = {},
): Promise<Page<T>> {
  const { keep = [], bind } = options;
  const { scope: queryScope, partition } = pageScope(query);
  const scope = bind === undefined ? queryScope : JSON.stringify([queryScope, bind]);
  let start: Record<string, unknown> | undefined;
  if (page.nextToken !== undefined) {
    start = openPageToken(await pageTokenKey(tableName), scope, page.nextToken);
    // Implied by the seal; checked anyway so no start key can leave the query's partition.
    if (start[partition[0]] !== partition[1]) throw pageTokenRefused();
  }
  let result: Page<T> = { items: [] };
  for await (const one of queryPages(tableName, query, { limit: page.limit, maxPages: 1, start })) {
    const items = one.items.map((item) => read({ ...withoutKeys<Record<string, unknown>>(item)!, ...Object.fromEntries(keep.map((name) => [name, item[name]])) }));
    result = one.lastKey ? { items, nextToken: sealPageToken(await pageTokenKey(tableName), scope, one.lastKey) } : { items };
  }
  return result;
}

/**
 * A page of an index that carries keys (and perhaps a filter attribute) only: the page's records
 * are then read by key, in the index's order (one BatchGetItem per 100). An entry whose record is
 * gone by then (expired) is left out. `projection` names the record attributes to read; `bind`
 * binds the page tokens to a choice the caller makes on the records (see queryTokenPage).
 */
export async function queryKeyPage<T>(
  tableName: string,
  query: Query,
  page: PageRequest,
  read: (item: Record<string, unknown>) => T,
  options: { projection?: readonly string[]; bind?: string } = {},
): Promise<Page<T>> {
  const keys = await queryTokenPage<TableKey>(tableName, query, page, (item) => item as TableKey, { keep: [PK, SK], bind: options.bind });
  const records = await getItems(tableName, keys.items, options.projection);
  const items = records.filter((item): item is Record<string, unknown> => item !== undefined).map((item) => read(withoutKeys<Record<string, unknown>>(item)!));
  return keys.nextToken ? { items, nextToken: keys.nextToken } : { items };
}

/**
 * One page of a list kept in shards (the same query on each shard's partition), merged in the
 * order of `sortKey` (every query in the same direction). The items are read as the queries
 * return them (the table's own partitions hold whole records); `byKey` reads the page's records
 * by key instead, as queryKeyPage does, for an index that carries keys only. Each request reads one page of
 * `limit` entries per shard; a shard whose page stopped short of its end has been read only down
 * to its last entry, so the page keeps just the entries every shard has been read past, and the
 * token is the sort key the list stands at (sealed, bound to the shards' queries): the next page
 * reads each shard from there. Sort keys are unique across shards (they end with the item's id).
 */
export async function queryMergedPage<T>(
  tableName: string,
  shards: readonly Query[],
  sortKey: string,
  page: PageRequest,
  read: (item: Record<string, unknown>) => T,
  options: { byKey?: boolean; projection?: readonly string[] } = {},
): Promise<Page<T>> {
  const scope = JSON.stringify(['merged', sortKey, ...shards.map((query) => pageScope(query).scope)]);
  const forward = shards[0]?.ScanIndexForward ?? true;
  let position: string | undefined;
  if (page.nextToken !== undefined) {
    const opened = openPageToken(await pageTokenKey(tableName), scope, page.nextToken);
    if (typeof opened.at !== 'string') throw pageTokenRefused();
    position = opened.at;
  }
  // a comes before b in the list's order
  const before = (a: string, b: string) => (forward ? a < b : a > b);
  const pages = await Promise.all(
    shards.map(async (query) => {
      const from: Query =
        position === undefined
          ? query
          : {
              ...query,
              KeyConditionExpression: `${query.KeyConditionExpression} AND #mergeSk ${forward ? '>' : '<'} :mergeAt`,
              ExpressionAttributeNames: { ...query.ExpressionAttributeNames, '#mergeSk': sortKey },
              ExpressionAttributeValues: { ...query.ExpressionAttributeValues, ':mergeAt': position },
            };
      for await (const one of queryPages(tableName, from, { limit: page.limit, maxPages: 1 })) return one;
      return { items: [], count: 0 } as QueryPage;
    }),
  );
  // Read past in every shard: entries up to the earliest point a shard stopped at.
  let reached: string | undefined;
  for (const one of pages) {
    const stop = one.lastKey && String(one.lastKey[sortKey]);
    if (stop !== undefined && (reached === undefined || before(stop, reached))) reached = stop;
  }
  const entries = pages
    .flatMap((one) => one.items)
    .filter((item) => reached === undefined || !before(reached, String(item[sortKey])))
    .sort((a, b) => (before(String(a[sortKey]), String(b[sortKey])) ? -1 : 1));
  const kept = entries.slice(0, page.limit);
  const next = entries.length > page.limit ? String(kept.at(-1)![sortKey]) : reached;
  const records = options.byKey
    ? await getItems(
        tableName,
        kept.map((item) => ({ [PK]: String(item[PK]), [SK]: String(item[SK]) })),
        options.projection,
      )
    : kept;
  const items = records.filter((item): item is Record<string, unknown> => item !== undefined).map((item) => read(withoutKeys<Record<string, unknown>>(item)!));
  return next === undefined ? { items } : { items, nextToken: sealPageToken(await pageTokenKey(tableName), scope, { at: next }) };
}

/**
 * Items by key, in the order asked (undefined where none), through BatchGetItem: 100 keys a
 * request, unprocessed keys asked again with backoff. Eventually consistent (half the read units).
 */
export async function getItems(tableName: string, keys: readonly TableKey[], projection?: readonly string[]): Promise<(Record<string, unknown> | undefined)[]> {
  const found = new Map<string, Record<string, unknown>>();
  const id = (item: Record<string, unknown>) => `${String(item[PK])}\n${String(item[SK])}`;
  const names = projection && Object.fromEntries([PK, SK, ...projection].map((name, i) => [`#p${i}`, name]));
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100).map((k) => ({ [PK]: k[PK], [SK]: k[SK] }));
    for (let round = 0; pending && pending.length > 0; round++) {
      if (round === 8) throw new Error('DynamoDB kept returning unprocessed keys');
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      const out = await dynamo().send(
        new BatchGetCommand({
          RequestItems: { [tableName]: { Keys: pending, ...(names ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } : {}) } },
        }),
      );
      for (const item of out.Responses?.[tableName] ?? []) found.set(id(item), item);
      pending = out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return keys.map((k) => found.get(id(k)));
}

/**
 * What a page token is bound to: the whole query (index, key condition, filter, direction and
 * their values). The values carry the tenant, and for the delivery log the subscription; for
 * held jobs the partition (HELD#<shard>) is shared, so the sort-key prefix is what binds them.
 * Also names the partition attribute and value the start key must carry.
 */
function pageScope(query: Query): { scope: string; partition: [string, unknown] } {
  const match = /^(#\w+) = (:\w+)/.exec(query.KeyConditionExpression ?? '');
  const attribute = match && query.ExpressionAttributeNames?.[match[1]!];
  if (!match || !attribute) throw new Error('paginated queries start their key condition with "#name = :value"');
  const values = query.ExpressionAttributeValues ?? {};
  const scope = JSON.stringify([
    query.IndexName ?? 'table',
    query.KeyConditionExpression,
    query.FilterExpression ?? '',
    query.ScanIndexForward ?? true,
    Object.keys(values)
      .sort()
      .map((name) => [name, values[name]]),
  ]);
  return { scope, partition: [attribute, values[match[2]!]] };
}

/** Per container and table: read once, created by whichever container needs it first. */
const pageTokenKeys = new Map<string, Promise<Buffer>>();

function pageTokenKey(tableName: string): Promise<Buffer> {
  let key = pageTokenKeys.get(tableName);
  if (!key) {
    key = loadOrCreatePageTokenKey(tableName);
    pageTokenKeys.set(tableName, key);
    key.catch(() => pageTokenKeys.delete(tableName));
  }
  return key;
}

/** Reads the key, creating it if absent; concurrent first uses agree on one key. Exported for tests (no cache). */
export async function loadOrCreatePageTokenKey(tableName: string): Promise<Buffer> {
  const read = async (): Promise<Buffer | undefined> => {
    const out = await dynamo().send(new GetCommand({ TableName: tableName, Key: PAGE_TOKEN_KEY_ITEM, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const key = typeof out.Item.key === 'string' ? Buffer.from(out.Item.key, 'base64') : undefined;
    if (!key || key.length !== PAGE_TOKEN_KEY_BYTES) throw new Error('the page token key item is malformed');
    return key;
  };
  const existing = await read();
  if (existing) return existing;
  const fresh = randomBytes(PAGE_TOKEN_KEY_BYTES);
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName,
        Item: { ...PAGE_TOKEN_KEY_ITEM, key: fresh.toString('base64'), createdAt: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
      }),
    );
    return fresh;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Another container created it first: use theirs.
    const winner = await read();
    if (!winner) throw new Error('the page token key item vanished');
    return winner;
  }
}
