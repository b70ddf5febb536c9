/**
 * JSONata transforms in their worker thread: a transform that would exhaust the deliver
 * function's memory, stall its batch or build an oversized body fails with a clear reason, and
 * the next transform runs as usual on a fresh worker.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerTransformRunner } from '../../lambdas/adapters/transform-runner.ts';
import { JSONATA_OPTIONS } from '../../lambdas/core/transform.ts';

const runner = new WorkerTransformRunner();
afterAll(() => runner.close());

const event = { id: 'evt_1', type: 'order.created', data: { orderId: 'o-1', total: 42 } };
const normal = '{"ref": data.orderId, "amount": data.total}';

async function expectNormalStillWorks(on = runner) {
  expect(await on.run(normal, event)).toEqual({ ok: true, body: '{"ref":"o-1","amount":42}' });
}

describe('transforms in a worker thread', () => {
  it('shapes the event, as JSON text', async () => {
    await expectNormalStillWorks();
    expect(await runner.run('data.missing', event)).toEqual({ ok: false, reason: 'the transform produced nothing (no field matched)' });
    expect(await runner.run('$error("no SKU for " & data.orderId)', event)).toEqual({ ok: false, reason: expect.stringContaining('no SKU for o-1') });
  });

  it.each([
    ['one huge string', '$pad("x", 400000000)'],
    ['a string doubled by recursion', '($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $length($f("x", 40)))'],
    ['a huge JSON text', '($x := $pad("", 1000000, "x"); $string([1..1000].$x))'],
    ['a huge pretty-printed JSON text', '($f := function($v, $n){ $n = 0 ? $v : $f({"a": $v, "b": $v}, $n - 1) }; $string($f(1, 15), true))'],
  ])('fails %s with the memory limit before it is allocated', async (_, expression) => {
    const result = await runner.run(expression, event);
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('the transform exceeded its 64 MB memory limit') });
    await expectNormalStillWorks();
  });

  it('fails a transform that fills the heap step by step, and starts a fresh worker', async () => {
    // Loose time guards here, so only the heap limit can stop it on a busy machine.
    const loose = new WorkerTransformRunner({ deadlineMs: 20_000 }, undefined, { ...JSONATA_OPTIONS, timeout: 20_000 });
    try {
      const result = await loose.run('($s := $pad("", 1000000, "y"); $count([1..300].$uppercase($s & $string($))))', event);
      expect(result).toEqual({ ok: false, reason: 'the transform exceeded its 64 MB memory limit' });
      await expectNormalStillWorks(loose);
      expect(loose.started).toBe(2);
    } finally {
      await loose.close();
    }
  });

  it('stops a catastrophic regex at the deadline, and the next transform still works', async () => {
    const t0 = Date.now();
    const result = await runner.run('$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /^(a+)+$/)', event);
    expect(result).toEqual({ ok: false, reason: 'the transform took longer than 2 s' });
    expect(Date.now() - t0).toBeLessThan(4000);
    await expectNormalStillWorks();
  });

  it('refuses an output over 256 KB, naming its size and the limit', async () => {
    const result = await runner.run('$join($map([1..300], function($i){ $pad("", 1000, "x") }), "")', event);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/output is at least 300002 bytes, over the 262144-byte limit \(256 KB\)/) });
    // Measured in UTF-8 bytes: 200,000 characters of two bytes each.
    const multiByte = await runner.run('$join($map([1..200], function($i){ $pad("", 1000, "é") }), "")', event);
    expect(multiByte).toEqual({ ok: false, reason: expect.stringMatching(/output is 400002 bytes, over the 262144-byte limit/) });
    // Just under the limit is fine.
    const under = await runner.run('$pad("", 262142, "x")', event);
    expect(under.ok && under.body.length).toBe(262144);
  });

  it('does not fail a queued transform because of a slow one before it', async () => {
    const slow = runner.run('$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /^(a+)+$/)', event);
    const queued = Array.from({ length: 5 }, (_, i) => runner.run(`{"n": ${i}, "ref": data.orderId}`, event));
    expect(await slow).toEqual({ ok: false, reason: 'the transform took longer than 2 s' });
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 5 }, (_, i) => ({ ok: true, body: `{"n":${i},"ref":"o-1"}` })));
  });

  it('starts no worker until a transform runs', async () => {
    const idle = new WorkerTransformRunner();
    expect(idle.started).toBe(0);
    await expectNormalStillWorks(idle);
    expect(idle.started).toBe(1);
    await idle.close();
  });
});
