/**
 * The input-limits module (lambdas/core/input-limits.ts), the destination port rule, tenant
 * quotas and the pattern cost limits: pure rules, no AWS.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INPUT_LIMITS, jsonDocumentProblems, numberProblem } from '../../lambdas/core/input-limits.ts';
import { parsePortRule, targetUrlRefusal } from '../../lambdas/core/destination-policy.ts';
import { PATTERN_LIMITS, validateEventPattern } from '../../lambdas/core/event-pattern.ts';
import { checkHolding, DEFAULT_TENANT_QUOTAS, parseTenantQuotas, QuotaExceededError } from '../../lambdas/core/quotas.ts';

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('jsonDocumentProblems', () => {
  it('accepts ordinary documents', () => {
    expect(jsonDocumentProblems({ tenantId: 'ten_x', data: { lines: [{ sku: 'A', qty: 2, price: 9.99 }], note: null, ok: true } })).toEqual([]);
  });

  it('accepts exactly the nesting limit and refuses one level more, naming the path', () => {
    expect(jsonDocumentProblems(nested(INPUT_LIMITS.depth))).toEqual([]);
    const problems = jsonDocumentProblems(nested(INPUT_LIMITS.depth + 1));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toBe('nests deeper than 32 levels');
    expect(problems[0]!.path).toMatch(/^a\[0\]\.a/);
  });

  it('walks 100,000 levels without recursion', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    const problems = jsonDocumentProblems({ data: JSON.parse(text) });
    expect(problems[0]!.message).toMatch(/nests deeper/);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s at any depth, never drops it', (key) => {
    const body = JSON.parse(`{"filter":{"data":{"${key}":["x"]}}}`);
    expect(jsonDocumentProblems(body)).toEqual([{ path: `filter.data.${key}`, message: `'${key}' is reserved and cannot be used as a field name` }]);
  });

  it.each([
    [1e300, /largest number/],
    [-1e200, /largest number/],
    [1e-200, /closer to zero/],
    [2 ** 53 + 2, /beyond 2\^53/],
    [1e100, /beyond 2\^53/],
    [Number.POSITIVE_INFINITY, /range of a number/],
  ])('refuses the number %s', (n, message) => {
    expect(numberProblem(n)).toMatch(message);
    expect(jsonDocumentProblems({ data: { n } })[0]).toMatchObject({ path: 'data.n' });
  });

  it.each([0, -0, 2 ** 53 - 1, -(2 ** 53 - 1), 1.25e-100, 1e-129, 0.1, 123.456, 9007199254740.5])('keeps the number %s', (n) => {
    expect(numberProblem(n)).toBeUndefined();
  });

  it('refuses huge strings, arrays, objects and keys with their paths', () => {
    expect(jsonDocumentProblems({ s: 'x'.repeat(INPUT_LIMITS.stringLength + 1) })[0]).toMatchObject({ path: 's' });
    expect(jsonDocumentProblems({ a: new Array(INPUT_LIMITS.arrayItems + 1).fill(0) })[0]).toMatchObject({ path: 'a' });
    const wide = Object.fromEntries(Array.from({ length: INPUT_LIMITS.objectKeys + 1 }, (_, i) => [`k${i}`, i]));
    expect(jsonDocumentProblems({ o: wide })[0]).toMatchObject({ path: 'o' });
    expect(jsonDocumentProblems({ ['k'.repeat(INPUT_LIMITS.keyLength + 1)]: 1 })[0]!.message).toMatch(/field names/);
  });

  it('reports at most ten problems', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`n${i}`, 1e300]));
    expect(jsonDocumentProblems(many)).toHaveLength(INPUT_LIMITS.reportedProblems);
  });

  it('property: any JSON within the limits is accepted', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        const safe = JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'number' && numberProblem(v) ? 0 : v)));
        const hasReserved = JSON.stringify(safe).match(/"(__proto__|constructor|prototype)":/);
        if (!hasReserved) expect(jsonDocumentProblems(safe)).toEqual([]);
      }),
    );
  });
});

describe('destination ports', () => {
  const rule = parsePortRule();
  it.each([443, 1024, 8080, 8443, 65535])('allows %i by default', (port) => expect(rule.allows(port)).toBe(true));
  it.each([22, 25, 80, 3306, 5432, 6379, 11211, 27017, 0, 65536])('refuses %i by default', (port) => expect(rule.allows(port)).toBe(false));

  it('applies to webhook URLs locally and deployed', () => {
    expect(targetUrlRefusal('http://127.0.0.1:6379/x', true)).toMatch(/port 6379 is not allowed/);
    expect(targetUrlRefusal('https://example.com:22/x', false)).toMatch(/port 22/);
    expect(targetUrlRefusal('https://example.com/x', false)).toBeUndefined();
    expect(targetUrlRefusal('http://example.com/x', false)).toBe('must use https');
  });

  it('takes the operator list, with refusals', () => {
    const custom = parsePortRule('443,8000-8100,!8080');
    expect([443, 8000, 8100].map(custom.allows)).toEqual([true, true, true]);
    expect([8080, 9000, 5432].map(custom.allows)).toEqual([false, false, false]);
    expect(() => parsePortRule('443,http')).toThrow(/'http' is not a port/);
  });
});

describe('tenant quotas', () => {
  it('defaults and operator overrides', () => {
    expect(parseTenantQuotas(undefined)).toEqual(DEFAULT_TENANT_QUOTAS);
    expect(parseTenantQuotas('{"subscriptions":5}')).toEqual({ ...DEFAULT_TENANT_QUOTAS, subscriptions: 5 });
    expect(() => parseTenantQuotas('{"subscriptions":0}')).toThrow(/subscriptions/);
    expect(() => parseTenantQuotas('{"widgets":1}')).toThrow();
  });

  it('refuses one more than the quota with a 429 naming it', () => {
    expect(() => checkHolding('subscriptions', DEFAULT_TENANT_QUOTAS, 99)).not.toThrow();
    try {
      checkHolding('subscriptions', DEFAULT_TENANT_QUOTAS, 100);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(QuotaExceededError);
      expect(error).toMatchObject({ status: 429, extensions: { quota: 'subscriptions', limit: 100 } });
    }
  });
});

describe('pattern cost limits', () => {
  it('refuses patterns longer than EventBridge allows', () => {
    const long = { detail: { id: Array.from({ length: 600 }, (_, i) => `value-${i}`) } };
    expect(validateEventPattern(long)[0]!.message).toMatch(/at most 4096/);
  });

  it('counts operator conditions (inside $or too) but not exact values', () => {
    const operators = (n: number) => ({ data: { sku: Array.from({ length: n }, (_, i) => ({ prefix: `p${i}` })) } });
    expect(validateEventPattern(operators(PATTERN_LIMITS.operators))).toEqual([]);
    expect(validateEventPattern(operators(PATTERN_LIMITS.operators + 1))[0]!.message).toMatch(/operator conditions/);
    const viaOr = { $or: [operators(6), operators(6)] };
    expect(validateEventPattern(viaOr)[0]!.message).toMatch(/12 operator conditions/);
    expect(validateEventPattern({ data: { sku: Array.from({ length: 100 }, (_, i) => `v${i}`) } })).toEqual([]);
  });

  it('counts wildcards, including anything-but lists', () => {
    const wild = (n: number) => ({ data: { s: Array.from({ length: n }, (_, i) => ({ wildcard: `*${i}*` })) } });
    expect(validateEventPattern(wild(PATTERN_LIMITS.wildcards))).toEqual([]);
    expect(validateEventPattern(wild(PATTERN_LIMITS.wildcards + 1))[0]!.message).toMatch(/wildcard conditions/);
    const list = { data: { s: [{ 'anything-but': { wildcard: ['*a', '*b', '*c', '*d'] } }] } };
    expect(validateEventPattern(list)[0]!.message).toMatch(/4 wildcard/);
  });
});
