/**
 * The item sizes the delivery store keeps its items within one write unit by
 * (lambdas/adapters/item-size.ts, delivery-items.ts attemptWithin), checked against DynamoDB's
 * rules as dynalite implements them (the same sizes bench/dynamo-units.ts bills): never under
 * the real size, so an item fitted to 1 KB is ≤ 1 KB; excerpts cut on a character boundary.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { attemptWithin, MIN_KEPT_EXCERPT_BYTES } from '../../lambdas/adapters/delivery-items.ts';
import { itemBytes, truncateUtf8 } from '../../lambdas/adapters/item-size.ts';
import { attemptKey } from '../../lambdas/adapters/table-keys.ts';
import type { Attempt } from '../../lambdas/core/delivery.ts';

const { itemSize } = createRequire(import.meta.url)('dynalite/db/index.js') as { itemSize: (item: Record<string, AttributeValue>) => number };
const real = (item: Record<string, unknown>) => itemSize(marshall(item, { removeUndefinedValues: true }));
const ID = 'dlv_01M8RQKQG0Go5WNfXhGuKCxgDVsub_01M8TNPK4FF8A80D6Z18JGYB93';

describe('item sizes', () => {
  it('never counts an item smaller than DynamoDB does', () => {
    const items: Record<string, unknown>[] = [
      { pk: 'a', n: 0, m: 1234567, f: 12.5, neg: -7, big: 1798783507, b: true, z: null },
      { lastAttempt: { number: 1000, at: '2026-12-01T00:00:00.000Z', durationMs: 15000, statusCode: 503, error: 'http_status', responseExcerpt: 'é'.repeat(300) } },
      { eventIds: ['evt_1', 'evt_2', 'évènement'], nested: { list: [1, 'two', { three: 3 }] } },
    ];
    for (const item of items) expect(itemBytes(item)).toBeGreaterThanOrEqual(real(item));
  });

  it('cuts an excerpt so a ring item or a summary stays ≤ 1 KB, keeping a start of it', () => {
    for (const excerpt of ['x'.repeat(1024), 'é'.repeat(1024), '😀'.repeat(512), 'short']) {
      const attempt: Attempt = { number: 17, at: '2026-12-01T00:00:00.000Z', durationMs: 15000, statusCode: 503, error: 'http_status', nextAttemptAt: '2026-12-01T00:10:00.000Z', responseExcerpt: excerpt };
      const { responseExcerpt: _e, ...digest } = attempt;
      const bare = { ...attemptKey(ID, 17), ...digest, expiresAt: 1798783507 };
      const ring = { ...bare, ...attemptWithin(attempt, itemBytes(bare), 'spread') };
      expect(real(ring)).toBeLessThanOrEqual(1024);
      expect(excerpt.startsWith(ring.responseExcerpt!)).toBe(true);
      expect(ring.responseExcerpt!.length).toBeGreaterThanOrEqual(Math.min(excerpt.length, 200));
      const summary = { pk: 'SUBDLV#sub_x#3', sk: `2026-12-01T00:00:00.000Z#${ID}`, id: ID, status: 'failed', reason: 'retry policy exhausted after 17 attempt(s); last: endpoint answered HTTP 503' };
      const fitted = { ...summary, lastAttempt: attemptWithin(attempt, itemBytes({ ...summary, lastAttempt: digest }), 'nested') };
      expect(real(fitted)).toBeLessThanOrEqual(1024);
    }
  });

  it('keeps at least MIN_KEPT_EXCERPT_BYTES when the item has no room (a batched notification’s long summary)', () => {
    const attempt: Attempt = { number: 1, at: 'x', durationMs: 1, responseExcerpt: 'y'.repeat(1024) };
    expect(attemptWithin(attempt, 5000, 'nested').responseExcerpt).toHaveLength(MIN_KEPT_EXCERPT_BYTES);
    expect(attemptWithin({ ...attempt, responseExcerpt: undefined }, 5000, 'nested')).not.toHaveProperty('responseExcerpt', expect.anything());
  });

  it('truncates on a character boundary', () => {
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
    expect(truncateUtf8('abc', 0)).toBe('');
  });
});
