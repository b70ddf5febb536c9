/**
 * Delivery ids name their record's key (lambdas/core/ids.ts, lambdas/adapters/table-keys.ts): an
 * id carries its subscription, its time and a digest, so `deliveryKey(id)` is pure. Covers the
 * round trip id → parts → key, the fan-out's idempotence (the event's own time, never "now"),
 * 0.1's 26-character ids (their old key), and hostile strings: the API edge refuses them, and no
 * string makes the key builder throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELIVERY_LOG_SHARDS, deliveryKey, deliveryLogPartition, deliveryLogShardOf, isLoggedDeliveryId } from '../../lambdas/adapters/table-keys.ts';
import { batchDeliveryIdFor, deliveryIdAt, deliveryIdFor, deliveryIdParts, ID_FORMATS, legacyDeliveryIdFor, newDeliveryId } from '../../lambdas/core/ids.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulid = fc.string({ unit: fc.constantFrom(...CROCKFORD), minLength: 26, maxLength: 26 }).filter((s) => s[0]! <= '7');
const subscriptionId = ulid.map((u) => `sub_${u}`);
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const instant = fc.integer({ min: 0, max: LATEST });
const digest = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 16, maxLength: 16 });

describe('delivery ids', () => {
  it('round trip: an id gives back its subscription, time and digest, and its key is its log entry', () => {
    fc.assert(
      fc.property(subscriptionId, instant, digest, (sid, ms, d) => {
        const id = deliveryIdAt(sid, new Date(ms), d);
        expect(id).toHaveLength(60);
        expect(ID_FORMATS.delivery.test(id)).toBe(true);
        expect(deliveryIdParts(id)).toEqual({ subscriptionId: sid, timeMs: ms, digest: d });
        const key = deliveryKey(id);
        expect(key).toEqual({ pk: deliveryLogPartition(sid, deliveryLogShardOf(id)), sk: `${new Date(ms).toISOString()}#${id}` });
        expect(deliveryLogShardOf(id)).toBeLessThan(DELIVERY_LOG_SHARDS);
        // Fixed width: the log's sort keys order by time.
        expect(key.sk!.indexOf('#')).toBe(24);
      }),
    );
  });

  it('ids of one subscription sort by time, as their log keys do', () => {
    fc.assert(
      fc.property(subscriptionId, instant, instant, digest, digest, (sid, a, b, da, db) => {
        fc.pre(a < b);
        const [early, late] = [deliveryIdAt(sid, new Date(a), da), deliveryIdAt(sid, new Date(b), db)];
        expect(early < late).toBe(true);
        expect(deliveryKey(early).sk! < deliveryKey(late).sk!).toBe(true);
      }),
    );
  });

  it("fan-out is idempotent: the same event and subscription give the same id, from the event's own time", () => {
    const sid = 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K';
    const id = deliveryIdFor('ten_1', 'evt_1', sid, '2026-12-01T10:15:30.000Z');
    expect(deliveryIdFor('ten_1', 'evt_1', sid, '2026-12-01T10:15:30.000Z')).toBe(id);
    // The same instant written with an offset is the same time.
    expect(deliveryIdFor('ten_1', 'evt_1', sid, '2026-12-01T11:15:30+01:00')).toBe(id);
    expect(deliveryIdFor('ten_1', 'evt_2', sid, '2026-12-01T10:15:30.000Z')).not.toBe(id);
    expect(deliveryIdFor('ten_2', 'evt_1', sid, '2026-12-01T10:15:30.000Z')).not.toBe(id);
    expect(deliveryIdParts(id)).toMatchObject({ subscriptionId: sid, timeMs: Date.parse('2026-12-01T10:15:30.000Z') });
    // Batched notifications and resends go through the same helper.
    expect(deliveryIdParts(batchDeliveryIdFor('ten_1', sid, ['evt_1', 'evt_2'], '2026-12-01T10:15:30.000Z'))).toMatchObject({ subscriptionId: sid });
    const now = new Date('2026-12-02T00:00:00.000Z');
    const fresh = newDeliveryId(sid, now);
    expect(deliveryIdParts(fresh)).toMatchObject({ subscriptionId: sid, timeMs: now.getTime() });
    expect(newDeliveryId(sid, now)).not.toBe(fresh);
  });

  it('a client may publish any time: before 1970 or unreadable is held at 1970, after 9999 at its end, and the key stays fixed-width', () => {
    const sid = 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K';
    for (const time of ['1969-07-20T20:17:40.000Z', '0001-01-01T00:00:00Z', 'not a time']) {
      expect(deliveryIdParts(deliveryIdFor('ten_1', 'evt_1', sid, time))!.timeMs).toBe(0);
    }
    expect(deliveryIdParts(deliveryIdAt(sid, new Date(8.64e15), 'x'.repeat(16)))!.timeMs).toBe(LATEST);
    expect(deliveryKey(deliveryIdFor('ten_1', 'evt_1', sid, '1969-07-20T20:17:40.000Z')).sk).toMatch(/^1970-01-01T00:00:00\.000Z#dlv_/);
  });

  it("0.1's ids (26 characters) are still delivery ids, keyed where 0.1 wrote them", () => {
    const old = legacyDeliveryIdFor('ten_1', 'evt_1', 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K');
    expect(old).toMatch(/^dlv_[A-Za-z0-9_-]{26}$/);
    // A digest, a ULID (resends and pings), a batched notification's.
    for (const id of [old, 'dlv_01JD8Z8B2C3D4E5F6G7H8J9K0M', 'dlv_bQm3vXhT7a9LcR2pW123456789']) {
      expect(ID_FORMATS.delivery.test(id)).toBe(true);
      expect(deliveryIdParts(id)).toBeUndefined();
      expect(isLoggedDeliveryId(id)).toBe(false);
      expect(deliveryKey(id)).toEqual({ pk: `DLV#${id}`, sk: '#DLV' });
    }
  });

  it('the API edge refuses malformed ids, and no string makes the key builder throw', () => {
    const good = deliveryIdFor('ten_1', 'evt_1', 'sub_01JD8Z7A1B2C3D4E5F6G7H8J9K', '2026-12-01T10:15:30.000Z');
    for (const bad of [
      '',
      'dlv_',
      'dlv_doesnotexist',
      good.slice(0, -1),
      `${good}A`,
      good.replace('dlv_', 'dlv-'),
      // A time past 9999 in the first character (8…), or a subscription that is no ULID.
      `dlv_8${good.slice(5)}`,
      `${good.slice(0, 34)}${'u'.repeat(26)}`,
      `${good.slice(0, 34)}01JD8Z7A1B2C3D4E5F6G7H8J9#`,
      good.replace('sub_', 'ten_'),
      'dlv_../../../etc/passwd0000',
    ]) {
      expect(ID_FORMATS.delivery.test(bad), bad).toBe(false);
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const key = deliveryKey(`dlv_${text}`);
        expect(typeof key.pk).toBe('string');
        expect(typeof key.sk).toBe('string');
      }),
    );
  });

  it('a subscription id that no delivery id can carry is refused when the id is made', () => {
    expect(() => deliveryIdAt('sub_a#b', new Date(0), 'x'.repeat(16))).toThrow(/subscription id/);
    expect(() => deliveryIdAt('sub_a/b', new Date(0), 'x'.repeat(16))).toThrow(/subscription id/);
    expect(() => deliveryIdAt('', new Date(0), 'x'.repeat(16))).toThrow(/subscription id/);
  });
});
