/**
 * DynamoDB capacity units as AWS bills them on demand, for `npm run bench`. Counting requests
 * undercounts: a write costs one unit per KB of the item, plus the same again in every global
 * secondary index the item is (or was) in, and a key change in an index costs a delete and a put.
 * dynalite reports the table's units only, so for each write the bench reads the item before and
 * after (with its own client, not counted) and applies AWS's rules:
 *   - table: max(old, new) KB-units for a put or update, the old item's for a delete, 1 when a
 *     condition fails;
 *   - each index: a new entry costs its projected size, a removed one the old projected size,
 *     a moved key both, an entry whose projected attributes changed the larger of the two, an
 *     entry that did not change nothing. KEYS_ONLY projects the table and index keys only.
 * Reads use the units dynalite reports with ReturnConsumedCapacity (size / 4 KB, halved when
 * eventually consistent).
 */
import { DynamoDBClient, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createRequire } from 'node:module';
import { TABLE_INDEXES, TABLE_SCHEMA } from '../lib/herald-config.ts';

type Item = Record<string, AttributeValue>;
const { itemSize } = createRequire(import.meta.url)('dynalite/db/index.js') as { itemSize: (item: Item) => number };

export const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'] as const;

const units = (item: Item | undefined) => (item ? Math.max(1, Math.ceil(itemSize(item) / 1024)) : 0);
const same = (a: AttributeValue | undefined, b: AttributeValue | undefined) => JSON.stringify(a) === JSON.stringify(b);

function projected(item: Item, index: (typeof TABLE_INDEXES)[number]): Item {
  if (!('keysOnly' in index)) return item;
  const keys = [TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey, index.partitionKey, index.sortKey];
  return Object.fromEntries(keys.filter((k) => item[k]).map((k) => [k, item[k]!]));
}

/** Units one write costs, from the item before and after it. */
export function writeUnits(before: Item | undefined, after: Item | undefined): { table: number; indexes: number } {
  const unchanged = JSON.stringify(before ?? null) === JSON.stringify(after ?? null);
  if (unchanged) return { table: 1, indexes: 0 };
  const table = Math.max(units(before), units(after));
  let indexes = 0;
  for (const index of TABLE_INDEXES) {
    const inOld = before?.[index.partitionKey] && before?.[index.sortKey];
    const inNew = after?.[index.partitionKey] && after?.[index.sortKey];
    const oldEntry = inOld ? projected(before!, index) : undefined;
    const newEntry = inNew ? projected(after!, index) : undefined;
    if (oldEntry && newEntry) {
      const moved = !same(before![index.partitionKey], after![index.partitionKey]) || !same(before![index.sortKey], after![index.sortKey]);
      if (moved) indexes += units(oldEntry) + units(newEntry);
      else if (JSON.stringify(oldEntry) !== JSON.stringify(newEntry)) indexes += Math.max(units(oldEntry), units(newEntry));
    } else if (oldEntry) indexes += units(oldEntry);
    else if (newEntry) indexes += units(newEntry);
  }
  return { table, indexes };
}

export interface UnitTotals {
  writeUnits: number;
  writeUnitsIndexes: number;
  readUnits: number;
  /** Write units by operation and item kind (the key's leading word), e.g. `UpdateItem DLV/#DLV`. */
  byKind?: Map<string, number>;
}

const kind = (key: Item) => `${String(key[TABLE_SCHEMA.partitionKey]?.S ?? '').split('#')[0]}/${String(key[TABLE_SCHEMA.sortKey]?.S ?? '').split('#')[0] || '#' + String(key[TABLE_SCHEMA.sortKey]?.S ?? '').split('#')[1]}`;

/**
 * Adds the accounting middleware to a DynamoDB (document) client. `enabled()` says whether to
 * count now; totals accumulate into `totals`.
 */
export function countCapacityUnits(client: { middlewareStack: { add: (mw: any, opts: any) => void } }, totals: UnitTotals, enabled: () => boolean) {
  const raw = new DynamoDBClient({});
  const keyOf = (key: Record<string, unknown>): Item =>
    Object.values(key).every((v) => v && typeof v === 'object' && Object.keys(v as object).length === 1 && /^[A-Z]+$/.test(Object.keys(v as object)[0]!))
      ? (key as Item)
      : marshall(key);
  const read = async (table: string, key: Item) => (await raw.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
  const snapshot = async (table: string, keys: Item[]) => Promise.all(keys.map((k) => read(table, k)));
  const tableKey = (item: Record<string, unknown>) => keyOf({ [TABLE_SCHEMA.partitionKey]: item[TABLE_SCHEMA.partitionKey], [TABLE_SCHEMA.sortKey]: item[TABLE_SCHEMA.sortKey] });

  client.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      if (!enabled()) return next(args);
      const op = String(context.commandName ?? '').replace(/Command$/, '');
      const input = args.input;
      if (!(WRITE_OPS as readonly string[]).includes(op)) {
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const out = await next(args);
        const consumed = out.output?.ConsumedCapacity;
        for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) totals.readUnits += Number(c.CapacityUnits ?? 0);
        return out;
      }
      // Writes: the keys they touch, read before and after.
      const targets: { table: string; key: Item }[] = [];
      if (op === 'BatchWriteItem') {
        for (const [table, requests] of Object.entries(input.RequestItems ?? {}) as [string, any[]][]) {
          for (const r of requests) targets.push({ table, key: r.PutRequest ? tableKey(r.PutRequest.Item) : keyOf(r.DeleteRequest.Key) });
        }
      } else targets.push({ table: input.TableName, key: op === 'PutItem' ? tableKey(input.Item) : keyOf(input.Key) });
      const before = await Promise.all(targets.map((t) => snapshot(t.table, [t.key]).then((r) => r[0])));
      try {
        return await next(args);
      } finally {
        const after = await Promise.all(targets.map((t) => snapshot(t.table, [t.key]).then((r) => r[0])));
        targets.forEach((_, i) => {
          const u = writeUnits(before[i], after[i]);
          totals.writeUnits += u.table + u.indexes;
          totals.writeUnitsIndexes += u.indexes;
          const label = `${op} ${kind(targets[i]!.key)}`;
          totals.byKind?.set(label, (totals.byKind.get(label) ?? 0) + u.table + u.indexes);
        });
      }
    },
    { step: 'initialize', name: 'herald-bench-capacity-units', priority: 'low' },
  );
  return { close: () => raw.destroy() };
}
