/**
 * The table's key layout (lambdas/adapters/table-keys.ts) is stored data: these are the exact
 * strings written, so a change to a builder that would orphan existing items fails here. The
 * delivery keys are 0.2's (README "Storage layout": the record is its subscription's log entry in
 * 16 shards, named by its id; attempts in a ring; status lists on gsi3; 0.1's ids keep 0.1's key), and so are the event keys (an event in its own partition with one index
 * copy, in its subject's shard of the tenant's events by time; sweep windows instead of one sweep
 * entry per event); everything else is as 0.1 wrote it.
 */
import { describe, expect, it } from 'vitest';
import * as keys from '../../lambdas/adapters/table-keys.ts';
import { deliveryIdFor, legacyDeliveryIdFor } from '../../lambdas/core/ids.ts';

const T = 'ten_1';
const S = 'sub_1';
const E = 'evt_1';
const D = 'dlv_1';
const AT = '2026-01-02T03:04:05.000Z';

describe('table keys', () => {
  it('tenants, bindings, API keys and subscriptions sit in the tenant partition', () => {
    expect(keys.tenantKey(T)).toEqual({ pk: 'TENANT#ten_1', sk: '#TENANT' });
    expect(keys.bindingKey(T)).toEqual({ pk: 'TENANT#ten_1', sk: '#BINDING' });
    expect(keys.apiKeyKey('abc')).toEqual({ pk: 'APIKEY#abc', sk: '#APIKEY' });
    expect(keys.tenantApiKeyKey(T, 'hk_12')).toEqual({ pk: 'TENANT#ten_1', sk: 'KEY#hk_12' });
    expect(keys.subscriptionKey(T, S)).toEqual({ pk: 'TENANT#ten_1', sk: 'SUB#sub_1' });
    expect(keys.fanoutEntryKey(T, 'order.*', S)).toEqual({ pk: 'SUBIDX#ten_1#order.*', sk: 'SUB#sub_1' });
    expect(keys.subscriptionIndexVersionKey(T)).toEqual({ pk: 'TENANT#ten_1', sk: '#SUBVERSION' });
    expect(keys.quotaKey(T, 'publish', '2026-01-02')).toEqual({ pk: 'QUOTA#ten_1', sk: 'publish#2026-01-02' });
  });

  it("events: their own partition, one index entry in their subject's shard of the tenant by time", () => {
    expect(keys.eventKey(T, E)).toEqual({ pk: 'EVT#ten_1#evt_1', sk: '#EVT' });
    // 0.1's key, read as a fallback only.
    expect(keys.legacyEventKey(T, E)).toEqual({ pk: 'TENANT#ten_1', sk: 'EVT#evt_1' });
    expect(keys.EVENT_SHARDS).toBe(16);
    expect(['order/1', 'order/2', '', 'shipment/9'].map(keys.eventShardOf)).toEqual([11, 14, 5, 7]);
    expect(keys.eventIndexKeys(T, E, 'order/1', AT)).toEqual({ gsi2pk: 'EVENTS#ten_1#11', gsi2sk: `${AT}#evt_1` });
    // Any offset the client wrote is sorted as UTC.
    expect(keys.eventIndexKeys(T, E, 'order/1', '2026-01-02T04:04:05+01:00')).toEqual(keys.eventIndexKeys(T, E, 'order/1', AT));
    expect(keys.eventTimeRange('2026-01-02T04:04:05+01:00', AT)).toEqual({ lower: AT, upper: `${AT}~` });
    expect(keys.eventTimeRange()).toEqual({ lower: '', upper: '~' });
  });

  it("the sweep list: windows of a tenant's events, rechecks of one event, the cursor", () => {
    const [from, to] = ['2026-01-02T03:04:00.000Z', '2026-01-02T03:05:00.000Z'];
    // A window is an item of the table's own list, sorted like gsi3's (one cursor walks both).
    const window = keys.sweepWindowKey(T, from, to, AT);
    expect(window).toEqual({ pk: 'SWEEPWIN#5', sk: `${AT}#ten_1#*${from}/${to}` });
    expect(keys.sweepWindowPartition(5)).toBe('SWEEPWIN#5');
    expect(keys.parseWindowEventId(keys.parseSweepSortKey(window.sk!).eventId)).toEqual({ from, to });
    const sweep = keys.sweepKeys(T, E, AT);
    expect(sweep).toEqual({ gsi3pk: 'SWEEP#6', gsi3sk: `${AT}#ten_1#evt_1` });
    expect(keys.parseSweepSortKey(`${AT}#ten_1#evt#odd`)).toEqual({ dueAt: AT, tenantId: T, eventId: 'evt#odd' });
    expect(keys.recheckKey(T, E)).toEqual({ pk: 'RESWEEP#ten_1#evt_1', sk: '#RESWEEP' });
    expect(keys.isRecheckPartition('RESWEEP#ten_1#evt_1')).toBe(true);
    expect(keys.isRecheckPartition('TENANT#ten_1')).toBe(false);
    expect(keys.sweepCursorKey(3)).toEqual({ pk: 'SWEEP', sk: 'CURSOR#3' });
  });

  it("a window's listed event shards: in order, without repeats, only while its expiry carries the mark; else undefined: every shard", () => {
    const listed = (shards: unknown, ttl = keys.sweepWindowListedExpiresAt(AT)) => keys.sweepWindowShards({ [keys.TTL]: ttl, [keys.SWEEP_WINDOW_SHARDS]: shards }, AT);
    expect(keys.sweepWindowListedExpiresAt(AT)).toBe(keys.sweepWindowExpiresAt(AT) + 1);
    expect(keys.sweepWindowExpiresAt(AT)).toBe(Date.parse(AT) / 1000 + 14 * 86_400);
    expect(listed(new Set([9, 2, 15]))).toEqual([2, 9, 15]);
    expect(listed([3, 3, 0])).toEqual([0, 3]);
    expect(listed(undefined)).toBeUndefined();
    expect(listed('all')).toBeUndefined();
    expect(listed(new Set([16, -1, 2.5]))).toBeUndefined();
    // One valid shard among foreign values: only the valid one (an event is only ever stored in 0–15).
    expect(listed(new Set([16, 4]))).toEqual([4]);
    // The version before wrote the unmarked expiry (and no shard) on the same window: every shard.
    expect(listed(new Set([4]), keys.sweepWindowExpiresAt(AT))).toBeUndefined();
  });

  it('deliveries: the summary is its log entry, named by its id; its attempt ring; its one status entry', () => {
    // A delivery id names its subscription, time and digest (core/ids.ts), so its record's key
    // follows from it: the subscription's log, in the id's shard of 16, by time.
    const SUB = 'sub_01J9Z3T5Y7QWERTYVBNMASDFGH';
    const id = deliveryIdFor(T, E, SUB, AT);
    expect(id).toBe('dlv_01KDYAK348WXP9uMGM53pRhFS-sub_01J9Z3T5Y7QWERTYVBNMASDFGH');
    expect(keys.DELIVERY_LOG_SHARDS).toBe(16);
    expect(keys.deliveryLogShardOf(id)).toBe(1);
    expect(keys.deliveryKey(id)).toEqual({ pk: `SUBDLV#${SUB}#1`, sk: `${AT}#${id}` });
    expect(keys.deliveryLogPartition(SUB, 15)).toBe(`SUBDLV#${SUB}#15`);
    expect(keys.isLoggedDeliveryId(id)).toBe(true);
    // 0.1's ids (26 characters), and any string that is no delivery id, keep 0.1's key.
    const legacy = legacyDeliveryIdFor(T, E, SUB);
    expect(legacy).toBe('dlv_WXP9uMGM53pRhFS-jQEuNSlqkz');
    expect(keys.deliveryKey(legacy)).toEqual({ pk: `DLV#${legacy}`, sk: '#DLV' });
    expect(keys.deliveryKey(D)).toEqual({ pk: 'DLV#dlv_1', sk: '#DLV' });
    expect(keys.isLoggedDeliveryId(legacy)).toBe(false);
    // A ring of 20 in the delivery's own partition (never in the log): attempt 21 overwrites attempt 1.
    expect(keys.attemptKey(D, 1)).toEqual({ pk: 'DLV#dlv_1', sk: 'ATT#01' });
    expect(keys.attemptKey(D, 19)).toEqual({ pk: 'DLV#dlv_1', sk: 'ATT#19' });
    expect(keys.attemptKey(D, 21)).toEqual(keys.attemptKey(D, 1));
    expect(keys.attemptKey(D, 1000)).toEqual({ pk: 'DLV#dlv_1', sk: 'ATT#00' });
    expect(keys.attemptKey(id, 3)).toEqual({ pk: `DLV#${id}`, sk: 'ATT#03' });
    expect(['dlv_1', 'dlv_01J9Z3T5Y7QWERTYUIOPASDFGH'].map(keys.deliveryLogShardOf)).toEqual([1, 8]);
    // Keyed once per delivery, whatever its next attempt.
    expect(keys.pendingKey(D)).toEqual({ pk: 'PENDING#1', sk: 'dlv_1' });
    expect(keys.pendingCursorKey(1)).toEqual({ pk: 'SWEEP', sk: 'PENDINGCURSOR#1' });
    expect(keys.heldKey(T, S, AT, D)).toEqual({ pk: 'HELD#1', sk: `ten_1#sub_1#${AT}#dlv_1` });
    expect(keys.parseHeldSortKey(keys.heldKey(T, S, AT, D).sk)).toEqual({ tenantId: T, subscriptionId: S });
    expect(keys.deadLetterKey(T, AT, D)).toEqual({ pk: 'DEAD#ten_1', sk: `${AT}#dlv_1` });
    expect(keys.GSI3.indexName).toBe('gsi3');
    expect(keys.GSI4).toMatchObject({ indexName: 'gsi4', partitionKey: 'gsi4pk', sortKey: 'gsi4sk' });
  });

  it('stats, batch buffers, throttle state, the page token key and self-test runs', () => {
    expect(keys.statsPartition(T, S)).toBe('STATS#ten_1#sub_1');
    expect(keys.statsBlockSortKey('2026-01-02T03:0')).toBe('B#2026-01-02T03:0');
    expect(keys.blockOfSortKey('B#2026-01-02T03:0')).toBe('2026-01-02T03:0');
    expect(keys.batchItemKey(T, S, AT, E)).toEqual({ pk: 'BATCH#ten_1#sub_1', sk: `ITEM#${AT}#evt_1` });
    expect(keys.batchStateKey(T, S)).toEqual({ pk: 'BATCH#ten_1#sub_1', sk: 'STATE' });
    const check = keys.batchCheckKey(T, S, AT);
    expect(check).toEqual({ pk: 'BATCHCHECK#1', sk: `${AT}#ten_1#sub_1` });
    expect(keys.parseBatchCheckSortKey(check.sk)).toEqual({ checkAt: AT, tenantId: T, subscriptionId: S });
    expect(keys.throttleKey(T, S)).toEqual({ pk: 'THROTTLE#ten_1#sub_1', sk: 'STATE' });
    expect(keys.slowMarkKey(T, S)).toEqual({ pk: 'THROTTLE#ten_1#sub_1', sk: 'SLOW' });
    expect(keys.PAGE_TOKEN_KEY_ITEM).toEqual({ pk: 'CONFIG', sk: 'PAGE_TOKEN_KEY#v1' });
    expect(keys.selfTestRunKey('run12345')).toEqual({ pk: 'SELFTEST#run12345', sk: '#RUN' });
    expect(keys.selfTestHookKey('run12345', AT, 'msg_1')).toEqual({ pk: 'SELFTEST#run12345', sk: `HOOK#${AT}#msg_1` });
  });

  it('shards are stable (FNV-1a): a changed hash would strand pending and held deliveries', () => {
    expect(keys.SHARDS).toBe(8);
    expect(['', 'dlv_1', 'ten_1#sub_1', 'ten_1#evt_1', 'dlv_01J9Z3T5Y7QWERTYUIOPASDFGH'].map(keys.shardOf)).toEqual([5, 1, 1, 6, 0]);
  });

  it('keys and TTL come off an item before the domain sees it', () => {
    expect(keys.withoutKeys({ pk: 'a', sk: 'b', expiresAt: 1, gsi1pk: 'c', gsi3sk: 'd', id: 'x' })).toEqual({ id: 'x' });
  });

  it('held ordered groups: a HEAD listed by due time, kept jobs in FIFO arrival order', () => {
    const G = 'sub_1:abc';
    expect(keys.orderHoldHeadKey(T, G)).toEqual({ pk: 'ORDERHOLD#ten_1#sub_1:abc', sk: 'HEAD' });
    expect(keys.orderHoldEntryKey(T, G, 'S42')).toEqual({ pk: 'ORDERHOLD#ten_1#sub_1:abc', sk: 'Q#S42' });
    expect(keys.orderKeyOfEntry('Q#S42')).toBe('S42');
    expect(keys.orderHoldDueKey(T, G, AT)).toEqual({ pk: `ORDERHOLDS#${keys.shardOf('ten_1#sub_1:abc')}`, sk: `${AT}#ten_1#sub_1:abc` });
    // Sequence numbers of any length sort as numbers; without one, receive time and message id.
    const seq = (n: string) => keys.arrivalOrderKey({ sequenceNumber: n, messageId: 'm', at: 0 });
    expect(seq('99')).toBe(`S${'99'.padStart(40, '0')}`);
    expect([seq('18446744073709551616'), seq('100'), seq('99')].sort()).toEqual([seq('99'), seq('100'), seq('18446744073709551616')]);
    expect(keys.arrivalOrderKey({ messageId: 'm-1', at: 1_700_000_000_000 })).toBe('T001700000000000#m-1');
  });
});
