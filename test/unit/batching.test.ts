/**
 * The batching rules as pure logic: one type per notification, oldest first, at most maxItems,
 * sent when full or when the oldest has waited the interval, notifications interval apart.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchEnvelope, planBatch, type BufferedEvent } from '../../lambdas/core/batching.ts';
import { batchDeliveryIdFor, deliveryIdParts } from '../../lambdas/core/ids.ts';
import type { CloudEvent } from '../../lambdas/core/envelope.ts';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const item = (type: string, n: number, at = T0 + n): BufferedEvent => {
  const time = new Date(at).toISOString();
  const event: CloudEvent = { specversion: '1.0', id: `e${n}`, source: 'urn:t', type, time, subject: `s${n}`, datacontenttype: 'application/json', tenantid: 't', data: { n } };
  return { key: `ITEM#${time}#e${n}`, event };
};

/** Drains a buffer the way the flush does, with time standing still. */
function drain(buffer: BufferedEvent[], maxItems: number) {
  const sent: [string, number][] = [];
  let rest = [...buffer];
  let now = T0 + 10_000_000;
  let last: number | undefined;
  while (rest.length > 0) {
    const plan = planBatch(rest, { maxItems, intervalSeconds: 1 }, last, now);
    if (plan.kind === 'wait') {
      now = plan.untilMs;
      continue;
    }
    if (plan.kind !== 'send') break;
    sent.push([plan.items[0]!.event.type, plan.items.length]);
    const keys = new Set(plan.items.map((i) => i.key));
    rest = rest.filter((i) => !keys.has(i.key));
    last = now;
  }
  return sent;
}

describe('planBatch', () => {
  it('reproduces the GAINS example', () => {
    let n = 0;
    const buffer = [
      ...Array.from({ length: 10 }, () => item('PO', n++)),
      ...Array.from({ length: 12 }, () => item('TO', n++)),
      ...Array.from({ length: 2 }, () => item('WO', n++)),
      ...Array.from({ length: 10 }, () => item('PO', n++)),
      ...Array.from({ length: 50 }, () => item('SKUL', n++)),
    ];
    expect(drain(buffer, 15)).toEqual([['PO', 15], ['TO', 12], ['WO', 2], ['PO', 5], ['SKUL', 15], ['SKUL', 15], ['SKUL', 15], ['SKUL', 5]]);
  });

  it('sends a full batch at once, waits for the interval otherwise, and keeps notifications interval apart', () => {
    const full = Array.from({ length: 3 }, (_, i) => item('A', i));
    expect(planBatch(full, { maxItems: 3, intervalSeconds: 60 }, undefined, T0 + 10)).toMatchObject({ kind: 'send', remaining: 0 });
    expect(planBatch(full, { maxItems: 4, intervalSeconds: 60 }, undefined, T0 + 10)).toEqual({ kind: 'wait', untilMs: T0 + 60_000 });
    expect(planBatch(full, { maxItems: 3, intervalSeconds: 60 }, T0, T0 + 10)).toEqual({ kind: 'wait', untilMs: T0 + 60_000 });
    expect(planBatch([], { maxItems: 3, intervalSeconds: 60 }, T0, T0 + 10)).toEqual({ kind: 'idle' });
  });

  it('always sends one type, oldest first, at most maxItems, and drains everything (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('A', 'B', 'C'), { maxLength: 80 }), fc.integer({ min: 1, max: 20 }), (types, maxItems) => {
        const buffer = types.map((t, n) => item(t, n));
        const sent = drain(buffer, maxItems);
        expect(sent.reduce((a, [, count]) => a + count, 0)).toBe(buffer.length);
        for (const [, count] of sent) expect(count).toBeLessThanOrEqual(maxItems);
      }),
    );
  });
});

describe('the batch envelope', () => {
  it('carries the data in order, with ids, subjects and times; thin leaves data out', () => {
    const events = [item('order.created', 1).event, item('order.created', 2).event];
    const full = batchEnvelope('dlv_b1', 'sub_1', events, 'full');
    expect(full).toMatchObject({ id: 'dlv_b1', type: 'order.created', subject: 'sub_1', batchsize: 2, data: [{ n: 1 }, { n: 2 }] });
    expect(full.items.map((i) => i.id)).toEqual(['e1', 'e2']);
    expect(batchEnvelope('dlv_b1', 'sub_1', events, 'thin').data).toBeUndefined();
  });

  it('gives the same events the same delivery id, and other events another', () => {
    const at = '2026-01-01T00:00:00.000Z';
    expect(batchDeliveryIdFor('t', 'sub_1', ['a', 'b'], at)).toBe(batchDeliveryIdFor('t', 'sub_1', ['a', 'b'], at));
    expect(batchDeliveryIdFor('t', 'sub_1', ['a', 'b'], at)).not.toBe(batchDeliveryIdFor('t', 'sub_1', ['a', 'c'], at));
    // Like every delivery id, it names its subscription and time (its record's key).
    expect(deliveryIdParts(batchDeliveryIdFor('t', 'sub_1', ['a', 'b'], at))).toMatchObject({ subscriptionId: 'sub_1', timeMs: Date.parse(at) });
  });
});
