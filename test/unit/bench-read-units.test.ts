/**
 * The bench's tally of read units by request and item kind (bench/dynamo-units.ts `readKinds`
 * and the read side of `countCapacityUnits`): every read labelled by what it looks up, its units
 * as billed (never under AWS's minimum) split over the items a BatchGetItem asks for, a strongly
 * consistent read marked. A fake client stands in for DynamoDB; no emulator runs.
 */
import { describe, expect, it } from 'vitest';
import { countCapacityUnits, readKinds, type UnitTotals } from '../../bench/dynamo-units.ts';

describe('readKinds', () => {
  it('names a GetItem by its item kind, plain or marshalled, and marks a consistent one', () => {
    expect(readKinds('GetItem', { Key: { pk: 'TENANT#ten_1', sk: 'SUB#sub_1' }, ConsistentRead: true })).toEqual(['GetItem TENANT/SUB (consistent)']);
    expect(readKinds('GetItem', { Key: { pk: { S: 'STATS#ten_1#sub_1' }, sk: { S: 'HEALTH' } } })).toEqual(['GetItem STATS/HEALTH']);
    expect(readKinds('GetItem', { Key: { pk: 'TENANT#ten_1', sk: '#SUBVERSION' } })).toEqual(['GetItem TENANT/#SUBVERSION']);
  });

  it('gives a BatchGetItem one label per key, a time-led sort key read as <time>', () => {
    expect(
      readKinds('BatchGetItem', {
        RequestItems: {
          herald: { Keys: [{ pk: 'SUBDLV#sub_1#3', sk: '2026-12-01T10:00:00.000Z#dlv_1' }, { pk: 'EVT#ten_1#e1', sk: '#EVT' }] },
        },
      }),
    ).toEqual(['BatchGetItem SUBDLV/<time>', 'BatchGetItem EVT/#EVT']);
  });

  it('names a Query by its index, its partition word and the sort key prefix it names', () => {
    expect(
      readKinds('Query', {
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeValues: { ':pk': 'SUBIDX#ten_1#order.created' },
        ConsistentRead: true,
      }),
    ).toEqual(['Query SUBIDX/… (consistent)']);
    expect(
      readKinds('Query', {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeValues: { ':pk': 'TENANT#ten_1', ':prefix': 'SUB#' },
      }),
    ).toEqual(['Query TENANT/SUB']);
    expect(
      readKinds('Query', {
        IndexName: 'gsi2',
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lower AND :to',
        ExpressionAttributeValues: { ':pk': 'EVENTS#ten_1#4', ':lower': 'a', ':to': 'b' },
      }),
    ).toEqual(['Query gsi2 EVENTS/…']);
  });
});

describe('the read tally', () => {
  /** The middleware countCapacityUnits installs, driven with a fake `next` that answers `consumed`. */
  function tally() {
    let middleware: any;
    const totals: UnitTotals = { writeUnits: 0, writeUnitsIndexes: 0, readUnits: 0, readByKind: new Map() };
    const { close } = countCapacityUnits({ middlewareStack: { add: (mw: unknown) => (middleware = mw) } }, totals, () => true);
    const send = async (command: string, input: Record<string, unknown>, consumed?: number) =>
      middleware(async () => ({ output: consumed === undefined ? {} : { ConsumedCapacity: [{ CapacityUnits: consumed }] } }), { commandName: `${command}Command` })({ input });
    return { totals, send, close };
  }

  it('adds each read to its kind, at least AWS minimum, a batch split over its keys', async () => {
    const { totals, send, close } = tally();
    try {
      // Found nothing: dynalite reports 0, AWS bills 1 for a consistent read.
      await send('GetItem', { Key: { pk: 'TENANT#t', sk: 'SUB#s' }, ConsistentRead: true }, 0);
      await send('GetItem', { Key: { pk: 'TENANT#t', sk: 'SUB#s' }, ConsistentRead: true }, 1);
      await send('GetItem', { Key: { pk: 'THROTTLE#t#s', sk: 'SLOW' } });
      await send('BatchGetItem', { RequestItems: { herald: { Keys: [{ pk: 'SUBDLV#s#1', sk: '2026-12-01T00:00:00Z#d1' }, { pk: 'SUBDLV#s#2', sk: '2026-12-01T00:00:00Z#d2' }, { pk: 'DLV#d3', sk: '#DLV' }] } } }, 3);
      expect(totals.readUnits).toBe(1 + 1 + 0.5 + 3);
      expect(Object.fromEntries(totals.readByKind!)).toEqual({
        'GetItem TENANT/SUB (consistent)': 2,
        'GetItem THROTTLE/SLOW': 0.5,
        'BatchGetItem SUBDLV/<time>': 2,
        'BatchGetItem DLV/#DLV': 1,
      });
    } finally {
      close();
    }
  });
});
