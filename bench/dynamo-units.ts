/**
 * DynamoDB capacity units as AWS bills them on demand, for `npm run bench`. Counting requests
 * undercounts: a write costs one unit per KB of the item, plus the same again in every global
 * secondary index the item is (or was) in, and a key change in an index costs a delete and a put.
 * dynalite reports the table's units only, so for each write the bench reads the item before and
 * after (with its own client, not counted) and applies AWS's rules:
 *   - table: max(old, new) KB-units for a put or update, the old item's for a delete; a write
 *     that changes nothing (a failed condition, a no-op update) still costs the item's size
 *     (at least 1 unit), as AWS bills it;
 *   - each index: a new entry costs its projected size, a removed one the old projected size,
 *     a moved key both, an entry whose projected attributes changed the larger of the two, an
 *     entry that did not change nothing. KEYS_ONLY projects the table and index keys only.
 * Reads use the units dynalite reports with ReturnConsumedCapacity (size / 4 KB, halved when
 * eventually consistent), but never less than AWS's minimum: a GetItem or a Query that finds
 * nothing still costs 0.5 unit (1 when strongly consistent), and a BatchGetItem that per key.
 * Transactions (none on Herald's path today) would cost twice: TransactWriteItems /
 * TransactGetItems are counted by `transactions` so a change that adds one shows up.
 * Storage: the final size of every item the scenario wrote, plus its index entries, each with
 * DynamoDB's 100 bytes of overhead (`storedBytes`), and the largest item written.
 * By partition (`byPartition`, for `npm run bench -- --hot-keys`): each write's units where they
 * land, the table partition of its key and the index partitions its entries leave or join
 * (partitionWrites), and each read's units on the partition it reads (partitionReads).
 */
import { DynamoDBClient, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createRequire } from 'node:module';
import { TABLE_INDEXES, TABLE_SCHEMA } from '../lambdas/shared/herald-config.ts';

type Item = Record<string, AttributeValue>;
const { itemSize } = createRequire(import.meta.url)('dynalite/db/index.js') as { itemSize: (item: Item) => number };

export const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'] as const;

const units = (item: Item | undefined) => (item ? Math.max(1, Math.ceil(itemSize(item) / 1024)) : 0);
const same = (a: AttributeValue | undefined, b: AttributeValue | undefined) => JSON.stringify(a) === JSON.stringify(b);
/** A key attribute's string, from a marshalled (`{ S: '…' }`) or a plain value. */
const text = (value: unknown): string => (value && typeof value === 'object' && 'S' in value ? String((value as AttributeValue.SMember).S) : String(value ?? ''));

function projected(item: Item, index: (typeof TABLE_INDEXES)[number]): Item {
  if (index.projection === 'ALL') return item;
  const keys = [TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey, index.partitionKey, index.sortKey, ...(index.projection === 'INCLUDE' ? index.include : [])];
  return Object.fromEntries(keys.filter((k) => item[k]).map((k) => [k, item[k]!]));
}

/** Write or read units charged to one partition: of the table, or of an index (by its name). */
export interface PartitionUnits {
  /** 'table', or an index's name. */
  where: string;
  partition: string;
  units: number;
}

/**
 * Where the units of one write go, partition by partition, from the table key written and the item
 * before and after it (AWS's rules, as writeUnits sums them): the table's units to the item's
 * partition; an index entry's to the index partition it is (or was) under: a new entry to its new
 * partition, a removed one to its old, a moved key both (the delete to the old partition, the put
 * to the new), an entry rewritten in place to its partition.
 */
export function partitionWrites(key: Item, before: Item | undefined, after: Item | undefined): PartitionUnits[] {
  const partitionOf = (item: Item | undefined, attribute: string) => text(item?.[attribute]);
  const tablePartition = text(key[TABLE_SCHEMA.partitionKey]);
  const unchanged = JSON.stringify(before ?? null) === JSON.stringify(after ?? null);
  if (unchanged) return [{ where: 'table', partition: tablePartition, units: Math.max(1, units(before)) }];
  const charged: PartitionUnits[] = [{ where: 'table', partition: tablePartition, units: Math.max(units(before), units(after)) }];
  for (const index of TABLE_INDEXES) {
    const inOld = before?.[index.partitionKey] && before?.[index.sortKey];
    const inNew = after?.[index.partitionKey] && after?.[index.sortKey];
    const oldEntry = inOld ? projected(before!, index) : undefined;
    const newEntry = inNew ? projected(after!, index) : undefined;
    const charge = (item: Item, entryUnits: number) => charged.push({ where: index.indexName, partition: partitionOf(item, index.partitionKey), units: entryUnits });
    if (oldEntry && newEntry) {
      const moved = !same(before![index.partitionKey], after![index.partitionKey]) || !same(before![index.sortKey], after![index.sortKey]);
      if (moved) {
        charge(before!, units(oldEntry));
        charge(after!, units(newEntry));
      } else if (JSON.stringify(oldEntry) !== JSON.stringify(newEntry)) charge(after!, Math.max(units(oldEntry), units(newEntry)));
    } else if (oldEntry) charge(before!, units(oldEntry));
    else if (newEntry) charge(after!, units(newEntry));
  }
  return charged;
}

/** Units one write costs, table and indexes, from where they go (partitionWrites). */
export function writeUnits(charges: PartitionUnits[]): { table: number; indexes: number } {
  let table = 0;
  let indexes = 0;
  for (const charge of charges) {
    if (charge.where === 'table') table += charge.units;
    else indexes += charge.units;
  }
  return { table, indexes };
}

/** Bytes an item occupies in the table and its indexes, with AWS's 100-byte overhead per entry. */
export function storedBytes(item: Item | undefined): number {
  if (!item) return 0;
  let bytes = itemSize(item) + 100;
  for (const index of TABLE_INDEXES) if (item[index.partitionKey] && item[index.sortKey]) bytes += itemSize(projected(item, index)) + 100;
  return bytes;
}

/** AWS's minimum read charge for a request: 0.5 unit per item looked up (1 when strongly consistent). */
export function minimumReadUnits(op: string, input: any): number {
  const per = (consistent: unknown) => (consistent ? 1 : 0.5);
  if (op === 'GetItem' || op === 'Query' || op === 'Scan') return per(input.ConsistentRead);
  if (op === 'BatchGetItem') return Object.values(input.RequestItems ?? {}).reduce((a: number, r: any) => a + (r.Keys?.length ?? 0) * per(r.ConsistentRead), 0);
  return 0;
}

export interface UnitTotals {
  writeUnits: number;
  writeUnitsIndexes: number;
  readUnits: number;
  /** Transactional requests seen (billed at twice the units). */
  transactions?: number;
  /** Final stored bytes of each item written, by key (see storedBytes), and of its table item alone (with the 100 bytes of overhead, no index copy). */
  stored?: Map<string, { kind: string; bytes: number; itemBytes?: number }>;
  /** The largest item written (bytes, as DynamoDB sizes it) and its kind. */
  largestItem?: { bytes: number; kind: string };
  /** Sizes of each delivery item (kinds DLV… and SUBDLV…) after each write, in order: its growth per attempt. */
  deliverySizes?: Map<string, number[]>;
  /**
   * Write units (table and indexes) of each write to a delivery's partition, with the attempt it
   * belongs to: an attempt item's `number`, the summary's `attemptCount` after the write.
   */
  deliveryWrites?: { delivery: string; attempt: number; units: number }[];
  /** Write units by operation and item kind (the key's leading word), e.g. `UpdateItem DLV/#DLV`. */
  byKind?: Map<string, number>;
  /** Read units by request and item kind (readKinds), e.g. `GetItem TENANT/SUB`, `Query gsi2 EVENTS/…`. */
  readByKind?: Map<string, number>;
  /** Write and read units by partition of the table or an index (partitionWrites, partitionReads): where a hot key would show. */
  byPartition?: Map<string, PartitionTotal>;
}

/** The units one partition (of the table or an index) took, writes and reads apart. */
export interface PartitionTotal extends PartitionUnits {
  kind: 'write' | 'read';
}

/** Adds charges to the tally by partition. */
export function addToPartitions(tally: Map<string, PartitionTotal>, kind: PartitionTotal['kind'], charges: PartitionUnits[]) {
  for (const { where, partition, units: charged } of charges) {
    const id = `${kind} ${where} ${partition}`;
    const total = tally.get(id) ?? { kind, where, partition, units: 0 };
    total.units += charged;
    tally.set(id, total);
  }
}

/** An item's kind: the leading words of its keys (`EVT/#EVT`, `DLV/ATT`); a sort key led by a time (a sweep window's due time) reads `<time>`, so each window is not a kind of its own. */
const kind = (key: Record<string, unknown>) => {
  const sk = text(key[TABLE_SCHEMA.sortKey]).split('#');
  const skWord = /^\d{4}-\d\d-\d\dT/.test(sk[0]!) ? '<time>' : sk[0] || '#' + sk[1];
  return `${text(key[TABLE_SCHEMA.partitionKey]).split('#')[0]}/${skWord}`;
};
/**
 * What a read looks up, one label per item asked for, so the read units of `npm run bench` add
 * up by the items they pay for: a GetItem or each key of a BatchGetItem by the item's kind
 * (`GetItem TENANT/SUB`, `BatchGetItem SUBDLV/<time>`); a Query by its index and the leading word
 * of the partition it reads, with the sort key's prefix when it names one (`Query TENANT/SUB`,
 * `Query SUBIDX/…`, `Query gsi2 EVENTS/…`); ` (consistent)` after a strongly consistent read,
 * which costs twice an eventually consistent one.
 */
export function readKinds(op: string, input: any): string[] {
  const consistent = (flag: unknown) => (flag ? ' (consistent)' : '');
  if (op === 'GetItem') return [`GetItem ${kind(input.Key ?? {})}${consistent(input.ConsistentRead)}`];
  if (op === 'BatchGetItem') return Object.values(input.RequestItems ?? {}).flatMap((r: any) => (r.Keys ?? []).map((key: Record<string, unknown>) => `BatchGetItem ${kind(key)}${consistent(r.ConsistentRead)}`));
  if (op === 'Query' || op === 'Scan') {
    const condition = String(input.KeyConditionExpression ?? '');
    const values = input.ExpressionAttributeValues ?? {};
    const partition = /=\s*(:\w+)/.exec(condition)?.[1];
    const prefix = /begins_with\([^,]+,\s*(:\w+)\)/.exec(condition)?.[1];
    const word = (name: string | undefined) => (name ? text(values[name]).split('#')[0] : '');
    const index = input.IndexName ? `${input.IndexName} ` : '';
    return [`${op} ${index}${word(partition) || '?'}/${word(prefix) || '…'}${consistent(input.ConsistentRead)}`];
  }
  return [op];
}

/**
 * Where the units of one read go: a GetItem's to its item's partition, a BatchGetItem's shared
 * evenly by its keys' partitions (as readByKind shares them), a Query's to the partition of the
 * table or index it names (the equality on that index's partition key in KeyConditionExpression,
 * names and values resolved), a Scan's to every partition (`*`).
 */
export function partitionReads(op: string, input: any, readUnits: number): PartitionUnits[] {
  const partitionOf = (key: Record<string, unknown>) => text(key[TABLE_SCHEMA.partitionKey]);
  if (op === 'GetItem') return [{ where: 'table', partition: partitionOf(input.Key ?? {}), units: readUnits }];
  if (op === 'BatchGetItem') {
    const keys = Object.values(input.RequestItems ?? {}).flatMap((r: any) => (r.Keys ?? []) as Record<string, unknown>[]);
    return keys.map((key) => ({ where: 'table', partition: partitionOf(key), units: readUnits / keys.length }));
  }
  const where = input.IndexName ? String(input.IndexName) : 'table';
  if (op === 'Query') {
    const keyAttribute = TABLE_INDEXES.find((index) => index.indexName === input.IndexName)?.partitionKey ?? TABLE_SCHEMA.partitionKey;
    const names: Record<string, string> = input.ExpressionAttributeNames ?? {};
    const equalities = [...String(input.KeyConditionExpression ?? '').matchAll(/([#\w]+)\s*=\s*(:\w+)/g)].map(([, name, value]) => ({ attribute: names[name!] ?? name!, value: value! }));
    const equality = equalities.find((e) => e.attribute === keyAttribute) ?? equalities[0];
    return [{ where, partition: equality ? text(input.ExpressionAttributeValues?.[equality.value]) : '?', units: readUnits }];
  }
  if (op === 'Scan') return [{ where, partition: '*', units: readUnits }];
  return [{ where, partition: '?', units: readUnits }];
}

/** The delivery a write belongs to: its own partition `DLV#<did>`, or for its log entry (`SUBDLV…` / `<time>#<did>`) the same `DLV#<did>`. */
const deliveryOf = (key: Item) => {
  const pk = String(key[TABLE_SCHEMA.partitionKey]?.S ?? '');
  const sk = String(key[TABLE_SCHEMA.sortKey]?.S ?? '');
  return pk.startsWith('SUBDLV#') ? `DLV#${sk.slice(sk.indexOf('#') + 1)}` : pk;
};
const isDeliveryKind = (itemKind: string) => itemKind.startsWith('DLV') || itemKind.startsWith('SUBDLV');

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
      if (op.startsWith('Transact')) totals.transactions = (totals.transactions ?? 0) + 1;
      if (!(WRITE_OPS as readonly string[]).includes(op)) {
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const out = await next(args);
        const consumed = out.output?.ConsumedCapacity;
        let reported = 0;
        for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) reported += Number(c.CapacityUnits ?? 0);
        const readUnits = Math.max(reported, minimumReadUnits(op, input)) * (op.startsWith('Transact') ? 2 : 1);
        totals.readUnits += readUnits;
        // A BatchGetItem's units are shared evenly by its keys (its items are alike in size on Herald's path).
        const labels = readKinds(op, input);
        for (const label of labels) totals.readByKind?.set(label, (totals.readByKind.get(label) ?? 0) + readUnits / labels.length);
        if (totals.byPartition) addToPartitions(totals.byPartition, 'read', partitionReads(op, input, readUnits));
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
          const charges = partitionWrites(targets[i]!.key, before[i], after[i]);
          const u = writeUnits(charges);
          if (totals.byPartition) addToPartitions(totals.byPartition, 'write', charges);
          totals.writeUnits += u.table + u.indexes;
          totals.writeUnitsIndexes += u.indexes;
          const itemKind = kind(targets[i]!.key);
          const label = `${op} ${itemKind}`;
          const a = after[i];
          const keyString = `${targets[i]!.table}|${JSON.stringify(targets[i]!.key)}`;
          if (a) {
            const size = itemSize(a);
            totals.stored?.set(keyString, { kind: itemKind, bytes: storedBytes(a), itemBytes: size + 100 });
            if (totals.largestItem && size > totals.largestItem.bytes) totals.largestItem = { bytes: size, kind: itemKind };
            if (isDeliveryKind(itemKind) && totals.deliverySizes) {
              if (!totals.deliverySizes.has(keyString)) totals.deliverySizes.set(keyString, []);
              totals.deliverySizes.get(keyString)!.push(size);
            }
            if (isDeliveryKind(itemKind) && totals.deliveryWrites) {
              const attempt = Number(a.number?.N ?? a.attemptCount?.N ?? 0);
              totals.deliveryWrites.push({ delivery: deliveryOf(targets[i]!.key), attempt, units: u.table + u.indexes });
            }
          } else totals.stored?.delete(keyString);
          totals.byKind?.set(label, (totals.byKind.get(label) ?? 0) + u.table + u.indexes);
        });
      }
    },
    { step: 'initialize', name: 'herald-bench-capacity-units', priority: 'low' },
  );
  return { close: () => raw.destroy() };
}
