/**
 * The bench's tally of units by partition (`npm run bench -- --hot-keys`): where a write's table
 * and index units go (bench/dynamo-units.ts `partitionWrites`, from the item before and after),
 * which partition a read takes its units from (`partitionReads`, and the read side of
 * `countCapacityUnits`), and how bench/hot-keys.ts names key patterns, scales counted units to a
 * rate and sets them beside DynamoDB's per-partition limits. Items are sized by dynalite's rules;
 * no emulator runs.
 */
import { describe, expect, it } from 'vitest';
import { marshall } from '@aws-sdk/util-dynamodb';
import { countCapacityUnits, partitionReads, partitionWrites, writeUnits, type PartitionTotal, type UnitTotals } from '../../bench/dynamo-units.ts';
import { hotKeyVerdict, hottestPartitions, linearRate, partitionPattern, perInvocationRate, ratesByPattern, scaledRate, smallestBatchUnderLimit } from '../../bench/hot-keys.ts';

const item = (fields: Record<string, unknown>) => marshall(fields);
const keyOf = (pk: string, sk: string) => item({ pk, sk });

describe('partitionWrites', () => {
  it('charges a new event to its own partition and its one index copy to its gsi2 shard', () => {
    const event = item({ pk: 'EVT#ten_1#e1', sk: '#EVT', gsi2pk: 'EVENTS#ten_1#3', gsi2sk: '2026-12-01T10:00:00.000Z#e1', data: 'x'.repeat(200) });
    const charges = partitionWrites(keyOf('EVT#ten_1#e1', '#EVT'), undefined, event);
    expect(charges).toEqual([
      { where: 'table', partition: 'EVT#ten_1#e1', units: 1 },
      { where: 'gsi2', partition: 'EVENTS#ten_1#3', units: 1 },
    ]);
    expect(writeUnits(charges)).toEqual({ table: 1, indexes: 1 });
  });

  it('charges an item over 1 KB a unit per KB, in the table and in an ALL index alike', () => {
    const big = item({ pk: 'EVT#ten_1#e2', sk: '#EVT', gsi2pk: 'EVENTS#ten_1#0', gsi2sk: 't#e2', data: 'x'.repeat(2500) });
    expect(partitionWrites(keyOf('EVT#ten_1#e2', '#EVT'), undefined, big)).toEqual([
      { where: 'table', partition: 'EVT#ten_1#e2', units: 3 },
      { where: 'gsi2', partition: 'EVENTS#ten_1#0', units: 3 },
    ]);
  });

  it('charges a moved index key to both partitions: the delete to the old, the put to the new', () => {
    const key = { pk: 'SUBDLV#sub_1#5', sk: '2026-12-01T10:00:00.000Z#dlv_1' };
    const pending = item({ ...key, status: 'pending', gsi3pk: 'PENDING#2', gsi3sk: 'dlv_1', data: 'x'.repeat(1500) });
    const failed = item({ ...key, status: 'failed', gsi3pk: 'DEAD#ten_1', gsi3sk: '2026-12-01T11:00:00.000Z#dlv_1', data: 'x'.repeat(1500) });
    const charges = partitionWrites(item(key), pending, failed);
    // gsi3 is KEYS_ONLY: each entry is its keys, under 1 KB, whatever the item's size.
    expect(charges).toEqual([
      { where: 'table', partition: 'SUBDLV#sub_1#5', units: 2 },
      { where: 'gsi3', partition: 'PENDING#2', units: 1 },
      { where: 'gsi3', partition: 'DEAD#ten_1', units: 1 },
    ]);
    expect(writeUnits(charges)).toEqual({ table: 2, indexes: 2 });
  });

  it('charges an index entry rewritten in place (a projected attribute changed) once, to its partition', () => {
    const key = { pk: 'DLV#d1', sk: '#DLV', gsi4pk: 'SUB#sub_1', gsi4sk: 't#d1' };
    const charges = partitionWrites(item(key), item({ ...key, status: 'pending' }), item({ ...key, status: 'succeeded' }));
    expect(charges).toEqual([
      { where: 'table', partition: 'DLV#d1', units: 1 },
      { where: 'gsi4', partition: 'SUB#sub_1', units: 1 },
    ]);
  });

  it('charges no index when the write leaves its entries alone', () => {
    const key = { pk: 'SUBDLV#sub_1#5', sk: 't#dlv_1', gsi3pk: 'PENDING#2', gsi3sk: 'dlv_1' };
    // gsi3 projects keys only: a changed attribute outside them does not touch the entry.
    expect(partitionWrites(item(key), item({ ...key, attempts: 1 }), item({ ...key, attempts: 2 }))).toEqual([{ where: 'table', partition: 'SUBDLV#sub_1#5', units: 1 }]);
  });

  it('charges a write that changes nothing (a failed condition) or deletes nothing at least 1 unit, to the key written', () => {
    const window = item({ pk: 'SWEEPWIN#4', sk: 'due#ten_1#*a/b' });
    expect(partitionWrites(keyOf('SWEEPWIN#4', 'due#ten_1#*a/b'), window, window)).toEqual([{ where: 'table', partition: 'SWEEPWIN#4', units: 1 }]);
    expect(partitionWrites(keyOf('STATSDUE', 'x'), undefined, undefined)).toEqual([{ where: 'table', partition: 'STATSDUE', units: 1 }]);
  });

  it('charges a delete to the table and to every index partition the item left', () => {
    const state = item({ pk: 'BATCH#ten_1#sub_1', sk: 'STATE', gsi2pk: 'BATCHCHECK#6', gsi2sk: 't#ten_1#sub_1' });
    expect(partitionWrites(keyOf('BATCH#ten_1#sub_1', 'STATE'), state, undefined)).toEqual([
      { where: 'table', partition: 'BATCH#ten_1#sub_1', units: 1 },
      { where: 'gsi2', partition: 'BATCHCHECK#6', units: 1 },
    ]);
  });
});

describe('partitionReads', () => {
  it('charges a GetItem to its item partition, plain or marshalled', () => {
    expect(partitionReads('GetItem', { Key: { pk: 'TENANT#ten_1', sk: '#SUBVERSION' } }, 0.5)).toEqual([{ where: 'table', partition: 'TENANT#ten_1', units: 0.5 }]);
    expect(partitionReads('GetItem', { Key: { pk: { S: 'STATS#ten_1#sub_1' }, sk: { S: 'HEALTH' } } }, 1)).toEqual([{ where: 'table', partition: 'STATS#ten_1#sub_1', units: 1 }]);
  });

  it('shares a BatchGetItem evenly by its keys partitions', () => {
    const input = { RequestItems: { herald: { Keys: [{ pk: 'SUBDLV#sub_1#1', sk: 'a' }, { pk: 'SUBDLV#sub_1#2', sk: 'b' }, { pk: 'SUBDLV#sub_1#1', sk: 'c' }, { pk: 'DLV#d', sk: '#DLV' }] } } };
    expect(partitionReads('BatchGetItem', input, 2)).toEqual([
      { where: 'table', partition: 'SUBDLV#sub_1#1', units: 0.5 },
      { where: 'table', partition: 'SUBDLV#sub_1#2', units: 0.5 },
      { where: 'table', partition: 'SUBDLV#sub_1#1', units: 0.5 },
      { where: 'table', partition: 'DLV#d', units: 0.5 },
    ]);
  });

  it('charges a Query to the partition its key condition names, on the table or the index it queries', () => {
    expect(
      partitionReads('Query', { KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)', ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' }, ExpressionAttributeValues: { ':pk': 'TENANT#ten_1', ':prefix': 'SUB#' } }, 1),
    ).toEqual([{ where: 'table', partition: 'TENANT#ten_1', units: 1 }]);
    expect(
      partitionReads('Query', { IndexName: 'gsi2', KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :upper', ExpressionAttributeNames: { '#pk': 'gsi2pk', '#sk': 'gsi2sk' }, ExpressionAttributeValues: { ':pk': { S: 'EVENTS#ten_1#7' }, ':lower': { S: 'a' }, ':upper': { S: 'b' } } }, 12.5),
    ).toEqual([{ where: 'gsi2', partition: 'EVENTS#ten_1#7', units: 12.5 }]);
  });

  it('picks the equality on the partition key when the sort key has one too, in either order', () => {
    const input = { IndexName: 'gsi3', KeyConditionExpression: '#s = :s AND #p = :p', ExpressionAttributeNames: { '#s': 'gsi3sk', '#p': 'gsi3pk' }, ExpressionAttributeValues: { ':s': 'dlv_1', ':p': 'PENDING#3' } };
    expect(partitionReads('Query', input, 0.5)).toEqual([{ where: 'gsi3', partition: 'PENDING#3', units: 0.5 }]);
  });

  it('charges a Scan to every partition', () => {
    expect(partitionReads('Scan', {}, 4)).toEqual([{ where: 'table', partition: '*', units: 4 }]);
  });
});

describe('the partition tally', () => {
  it('adds every read to its partition, at AWS minimum at least', async () => {
    let middleware: any;
    const totals: UnitTotals = { writeUnits: 0, writeUnitsIndexes: 0, readUnits: 0, byPartition: new Map() };
    const { close } = countCapacityUnits({ middlewareStack: { add: (mw: unknown) => (middleware = mw) } }, totals, () => true);
    const send = (command: string, input: Record<string, unknown>, consumed: number) =>
      middleware(async () => ({ output: { ConsumedCapacity: [{ CapacityUnits: consumed }] } }), { commandName: `${command}Command` })({ input });
    try {
      await send('GetItem', { Key: { pk: 'TENANT#t', sk: '#SUBVERSION' } }, 0);
      await send('GetItem', { Key: { pk: 'TENANT#t', sk: '#SUBVERSION' } }, 0.5);
      await send('Query', { IndexName: 'gsi2', KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': 'gsi2pk' }, ExpressionAttributeValues: { ':pk': 'EVENTS#t#1' } }, 3);
      expect([...totals.byPartition!.values()]).toEqual([
        { kind: 'read', where: 'table', partition: 'TENANT#t', units: 1 },
        { kind: 'read', where: 'gsi2', partition: 'EVENTS#t#1', units: 3 },
      ]);
    } finally {
      close();
    }
  });
});

describe('hot-key reporting', () => {
  it('names key patterns by what their ids are', () => {
    expect(partitionPattern('SUBDLV#sub_01JEXAMPLE0000000000000000#7')).toBe('SUBDLV#<sid>#<shard>');
    expect(partitionPattern('EVENTS#ten_01JEXAMPLE0000000000000000#15')).toBe('EVENTS#<tid>#<shard>');
    expect(partitionPattern('EVT#ten_01JEXAMPLE0000000000000000#hot-keys-17')).toBe('EVT#<tid>#<id>');
    expect(partitionPattern('DLV#dlv_0123456789abcdefghijklmnopsub_01J')).toBe('DLV#<did>');
    expect(partitionPattern('SUBIDX#ten_01J#order.*')).toBe('SUBIDX#<tid>#order.*');
    expect(partitionPattern('STATSDUE')).toBe('STATSDUE');
    expect(partitionPattern('APIKEY#9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).toBe('APIKEY#<id>');
  });

  it('scales counted units linearly to a rate', () => {
    // 1,250 units over 1,000 events is 1.25 units an event: 6,250 a second at 5,000 events/s.
    expect(scaledRate(1250, 1000, 5000)).toBe(6250);
  });

  const tally: PartitionTotal[] = [
    { kind: 'write', where: 'table', partition: 'SUBDLV#sub_1#0', units: 120 },
    { kind: 'write', where: 'table', partition: 'SUBDLV#sub_1#1', units: 80 },
    { kind: 'write', where: 'gsi2', partition: 'EVENTS#ten_1#4', units: 70 },
    { kind: 'write', where: 'table', partition: 'EVT#ten_1#e1', units: 1 },
    { kind: 'read', where: 'table', partition: 'TENANT#ten_1', units: 500 },
    { kind: 'read', where: 'gsi2', partition: 'EVENTS#ten_1#4', units: 30 },
  ];
  const at5000 = linearRate(1000, 5000);

  it('lists the hottest partitions of a kind at the rate, beside the limit', () => {
    expect(hottestPartitions(tally, 'write', at5000, 2)).toEqual([
      { where: 'table', partition: 'SUBDLV#sub_1#0', pattern: 'SUBDLV#<sid>#<shard>', perSecond: 600, limit: 1000, share: 0.6 },
      { where: 'table', partition: 'SUBDLV#sub_1#1', pattern: 'SUBDLV#<sid>#<shard>', perSecond: 400, limit: 1000, share: 0.4 },
    ]);
    expect(hottestPartitions(tally, 'read', at5000, 1)).toEqual([{ where: 'table', partition: 'TENANT#ten_1', pattern: 'TENANT#<tid>', perSecond: 2500, limit: 3000, share: 2500 / 3000 }]);
  });

  it('sums each pattern: its partitions, their mean and hottest rate', () => {
    expect(ratesByPattern(tally, 'write', at5000)).toEqual([
      { where: 'table', pattern: 'SUBDLV#<sid>#<shard>', partitions: 2, meanPerSecond: 500, maxPerSecond: 600, limit: 1000 },
      { where: 'gsi2', pattern: 'EVENTS#<tid>#<shard>', partitions: 1, meanPerSecond: 350, maxPerSecond: 350, limit: 1000 },
      { where: 'table', pattern: 'EVT#<tid>#<id>', partitions: 1, meanPerSecond: 5, maxPerSecond: 5, limit: 1000 },
    ]);
  });

  it('gives a one-line verdict, and says so when a partition is over its limit', () => {
    expect(hotKeyVerdict(tally, at5000, 5000)).toBe(
      'hottest write partition table SUBDLV#<sid>#<shard> at 600 WU/s (limit 1,000); hottest read partition table TENANT#<tid> at 2,500 RRU/s (limit 3,000): every partition under its limit at 5,000 events/s',
    );
    const at10000 = hotKeyVerdict(tally, linearRate(1000, 10_000), 10_000);
    expect(at10000).toContain('hottest write partition table SUBDLV#<sid>#<shard> at 1,200 WU/s (limit 1,000)');
    expect(at10000).toContain('OVER a partition limit');
  });

  describe('a partition written once per deliver invocation', () => {
    // 1,000 events, 10,000 deliveries in 1,000 invocations (10 each): 1,000 deltas of 1 WU over 4 shards.
    const deltas: PartitionTotal[] = [0, 1, 2, 3].map((shard) => ({ kind: 'write', where: 'table', partition: `STATSDELTA#ten_1#${shard}`, units: shard === 0 ? 280 : 240 }));
    const isDelta = (partition: string) => partition.startsWith('STATSDELTA#');

    it('is scaled by invocations at the target, the rest by events', () => {
      // 50,000 deliveries/s in batches of 100: 500 invocations/s; the hottest shard took 0.28 WU an invocation.
      const rateOf = perInvocationRate(at5000, isDelta, 1000, 500);
      expect(hottestPartitions([...tally, ...deltas], 'write', rateOf, 4).map((p) => [p.partition, p.perSecond])).toEqual([
        ['SUBDLV#sub_1#0', 600],
        ['SUBDLV#sub_1#1', 400],
        ['EVENTS#ten_1#4', 350],
        ['STATSDELTA#ten_1#0', 140],
      ]);
      // Linearly in events, as the run batched (10 deliveries an invocation), it would be ten times that.
      expect(hottestPartitions(deltas, 'write', at5000, 1)[0]!.perSecond).toBe(1400);
    });

    it('stays under the limit down to a batch size', () => {
      // 0.28 WU an invocation × 50,000 deliveries/s ÷ batch ≤ 1,000: batches of 14 or more.
      expect(smallestBatchUnderLimit([...tally, ...deltas], isDelta, 1000, 50_000)).toBe(14);
      expect(smallestBatchUnderLimit(tally, isDelta, 1000, 50_000)).toBeUndefined();
    });
  });
});
