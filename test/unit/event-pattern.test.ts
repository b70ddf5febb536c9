// Covers lambdas/core/event-pattern.ts: EventBridge event-pattern matching (exact values, arrays,
// null vs missing, prefix/suffix/equals-ignore-case, anything-but in all its forms, numeric, exists,
// wildcard, cidr, nested objects and $or), modelled on the EventBridge user guide examples; Herald's
// CloudEvents envelopes; fast-check properties of the matcher; and validateEventPattern's paths and
// messages for the HTTP 400s it backs.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { matchesEventPattern, PATTERN_LIMITS, validateEventPattern, type EventPattern } from '../../lambdas/core/event-pattern.ts';

/** The EC2 instance state-change sample from "Amazon EventBridge event patterns". */
const ec2StateChange = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

/** One event carrying a field for each content-filtering example in the guide. */
const contentEvent = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2017-10-02T18:43:48Z',
  region: 'us-east-1',
  resources: [
    'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate',
    'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
  ],
  detail: {
    'instance-id': 'i-abcd1111',
    state: 'running',
    'c-count': 3,
    'd-count': 7,
    'x-limit': 301.8,
    'risk-score': 80,
    trigger: { risk: 8, 'alert-type': 'basic' },
    service: 'EventBridge',
    FileName: 'photo.PNG',
    FilePath: '/usr/lib/libc.so',
    Literal: 'a*b',
    sourceIPAddress: '10.0.0.123',
    sourceIPv6: '2001:db8::1',
    eventVersion: '',
    responseElements: null,
    enabled: false,
    flags: [false, true],
    tags: ['Custom_Alert', 'Insider'],
    readings: [1, 50],
    'c-object': { c1: 100 },
    emptyList: [],
    items: [
      { name: 'a', qty: 1 },
      { name: 'b', qty: 5 },
    ],
  },
};

/** The Auto Scaling sample from "Matching null values and empty strings". */
const autoScalingEvent = {
  version: '0',
  id: '3e3c153a-8339-4e30-8c35-687ebef853fe',
  'detail-type': 'EC2 Instance Launch Successful',
  source: 'aws.autoscaling',
  account: '123456789012',
  time: '2015-11-11T21:31:47Z',
  region: 'us-east-1',
  resources: [],
  detail: { eventVersion: '', responseElements: null },
};

const withDetail = (detail: Record<string, unknown>) => ({ ...contentEvent, detail });

type Case = [name: string, pattern: EventPattern, event: unknown, expected: boolean];

const cases: Case[] = [
  // Field matching and structure
  ['EC2 termination pattern matches the sample', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } }, ec2StateChange, true],
  ['EC2 termination pattern rejects another state', { source: ['aws.ec2'], detail: { state: ['running'] } }, ec2StateChange, false],
  ['a list of values is an OR', { source: ['aws.ec2', 'aws.fargate'] }, ec2StateChange, true],
  ['a list of values without the event value', { source: ['aws.s3', 'aws.fargate'] }, ec2StateChange, false],
  ['every pattern field must match (AND)', { source: ['aws.ec2'], region: ['eu-west-1'] }, ec2StateChange, false],
  ['a field the event lacks does not match', { detail: { reason: ['shutdown'] } }, ec2StateChange, false],
  ['fields must appear at the same nesting', { state: ['terminated'] }, ec2StateChange, false],
  ['a leaf condition does not match an object field', { detail: ['terminated'] }, ec2StateChange, false],
  ['strings match case-sensitively', { detail: { state: ['Terminated'] } }, ec2StateChange, false],
  ['the empty pattern matches any event', {}, ec2StateChange, true],
  ['fields outside the pattern are ignored', { account: ['111122223333'] }, ec2StateChange, true],

  // Arrays in events
  ['an event array matches when the intersection is non-empty', { resources: ['arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, contentEvent, true],
  ['an event array with no common value', { resources: ['arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f'] }, contentEvent, false],
  ['an empty event array matches no value', { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, autoScalingEvent, false],
  ['booleans inside an event array', { detail: { flags: [true] } }, contentEvent, true],

  // Numbers, booleans, null and empty strings
  ['Macie example: risk score and nested trigger risk', { detail: { 'risk-score': [80], trigger: { risk: [8] } } }, contentEvent, true],
  ['numbers compare by value (80.0 equals 80)', { detail: { 'risk-score': [80.0] } }, contentEvent, true],
  ['a different number', { detail: { 'risk-score': [81] } }, contentEvent, false],
  ['the string "80" is not the number 80', { detail: { 'risk-score': ['80'] } }, contentEvent, false],
  ['the number 80 is not the string "80"', { detail: { score: [80] } }, withDetail({ score: '80' }), false],
  ['boolean false matches false', { detail: { enabled: [false] } }, contentEvent, true],
  ['boolean true does not match false', { detail: { enabled: [true] } }, contentEvent, false],
  ['null matches a null field', { source: ['aws.autoscaling'], detail: { responseElements: [null] } }, autoScalingEvent, true],
  ['null does not match a missing field', { detail: { requestParameters: [null] } }, autoScalingEvent, false],
  ['empty string matches an empty string', { detail: { eventVersion: [''] } }, autoScalingEvent, true],
  ['empty string does not match null', { detail: { responseElements: [''] } }, autoScalingEvent, false],
  ['null does not match an empty string', { detail: { eventVersion: [null] } }, autoScalingEvent, false],

  // prefix
  ['prefix on time', { time: [{ prefix: '2017-10-02' }] }, contentEvent, true],
  ['prefix mismatch', { time: [{ prefix: '2017-10-03' }] }, contentEvent, false],
  ['prefix is case-sensitive', { detail: { service: [{ prefix: 'eventb' }] } }, contentEvent, false],
  ['prefix never matches a number', { detail: { 'risk-score': [{ prefix: '8' }] } }, contentEvent, false],
  ['prefix with equals-ignore-case', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EVENTB' } }] } }, contentEvent, true],
  ['prefix with equals-ignore-case mismatch', { detail: { service: [{ prefix: { 'equals-ignore-case': 'bridge' } }] } }, contentEvent, false],
  ['prefix on any element of an event array', { resources: [{ prefix: 'arn:aws:ec2:' }] }, contentEvent, true],

  // suffix
  ['suffix on FileName', { detail: { FileName: [{ suffix: '.PNG' }] } }, contentEvent, true],
  ['suffix is case-sensitive', { detail: { FileName: [{ suffix: '.png' }] } }, contentEvent, false],
  ['suffix with equals-ignore-case', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, contentEvent, true],
  ['suffix with equals-ignore-case mismatch', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.jpg' } }] } }, contentEvent, false],

  // equals-ignore-case
  ['equals-ignore-case matches another casing', { detail: { state: [{ 'equals-ignore-case': 'RUNNING' }] } }, contentEvent, true],
  ['equals-ignore-case needs the whole value', { detail: { state: [{ 'equals-ignore-case': 'RUN' }] } }, contentEvent, false],
  ['equals-ignore-case never matches a number', { detail: { 'risk-score': [{ 'equals-ignore-case': '80' }] } }, contentEvent, false],

  // anything-but
  ['anything-but a string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, contentEvent, true],
  ['anything-but the value itself', { detail: { state: [{ 'anything-but': 'running' }] } }, contentEvent, false],
  ['anything-but a number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, contentEvent, true],
  ['anything-but the number itself', { detail: { 'x-limit': [{ 'anything-but': 301.8 }] } }, contentEvent, false],
  ['anything-but a list of strings', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, contentEvent, true],
  ['anything-but a list containing the value', { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } }, contentEvent, false],
  ['anything-but a list of numbers', { detail: { 'c-count': [{ 'anything-but': [100, 200, 300] }] } }, contentEvent, true],
  ['anything-but a list of numbers containing the value', { detail: { 'c-count': [{ 'anything-but': [1, 2, 3] }] } }, contentEvent, false],
  ['anything-but never matches a missing field', { detail: { reason: [{ 'anything-but': 'x' }] } }, contentEvent, false],
  ['anything-but matches a present null', { detail: { responseElements: [{ 'anything-but': 'x' }] } }, autoScalingEvent, true],
  ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, contentEvent, true],
  ['anything-but prefix of the value', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, contentEvent, false],
  ['anything-but suffix (case-sensitive)', { detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } }, contentEvent, true],
  ['anything-but suffix of the value', { detail: { FileName: [{ 'anything-but': { suffix: '.PNG' } }] } }, contentEvent, false],
  ['anything-but equals-ignore-case another value', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] } }, contentEvent, true],
  ['anything-but equals-ignore-case the value', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'RUNNING' } }] } }, contentEvent, false],
  ['anything-but equals-ignore-case list', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'RUNNING'] } }] } }, contentEvent, false],
  ['anything-but wildcard matching the path', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, contentEvent, false],
  ['anything-but wildcard not matching the path', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/bin/*' } }] } }, contentEvent, true],
  ['anything-but on an array: one other element is enough', { detail: { tags: [{ 'anything-but': 'Insider' }] } }, contentEvent, true],
  ['anything-but on an array: every element excluded', { detail: { tags: [{ 'anything-but': ['Custom_Alert', 'Insider'] }] } }, contentEvent, false],

  // numeric
  ['numeric two-sided range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, contentEvent, true],
  ['numeric range excluding the value', { detail: { 'c-count': [{ numeric: ['>', 5, '<', 10] }] } }, contentEvent, false],
  ['numeric > is exclusive', { detail: { 'c-count': [{ numeric: ['>', 3] }] } }, contentEvent, false],
  ['numeric >= is inclusive', { detail: { 'c-count': [{ numeric: ['>=', 3] }] } }, contentEvent, true],
  ['numeric <', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, contentEvent, true],
  ['numeric = with exponent notation', { detail: { 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, contentEvent, true],
  ['numeric = another value', { detail: { 'x-limit': [{ numeric: ['=', 301] }] } }, contentEvent, false],
  ['numeric never matches a numeric string', { detail: { count: [{ numeric: ['>', 0] }] } }, withDetail({ count: '5' }), false],
  ['numeric on any element of an event array', { detail: { readings: [{ numeric: ['>', 40] }] } }, contentEvent, true],
  ['numeric on a missing field', { detail: { 'e-count': [{ numeric: ['>', 0] }] } }, contentEvent, false],
  ['guide example: every numeric field must match', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, contentEvent, true],

  // exists
  ['exists true on a present field', { detail: { state: [{ exists: true }] } }, contentEvent, true],
  ['exists true on a missing field', { detail: { reason: [{ exists: true }] } }, contentEvent, false],
  ['exists false on a missing field', { detail: { reason: [{ exists: false }] } }, contentEvent, true],
  ['exists false on a present field', { detail: { state: [{ exists: false }] } }, contentEvent, false],
  ['exists true on a null field (null is a value)', { detail: { responseElements: [{ exists: true }] } }, autoScalingEvent, true],
  ['exists false on a null field', { detail: { responseElements: [{ exists: false }] } }, autoScalingEvent, false],
  ['exists false on an object field (not a leaf)', { detail: { 'c-object': [{ exists: false }] } }, contentEvent, true],
  ['exists true on an object field (not a leaf)', { detail: { 'c-object': [{ exists: true }] } }, contentEvent, false],
  ['exists false on an empty array', { detail: { emptyList: [{ exists: false }] } }, contentEvent, true],
  ['exists false when the parent object is missing too', { requestParameters: { bucket: [{ exists: false }] } }, contentEvent, true],
  ['exists combined with other fields', { source: ['aws.ec2'], detail: { state: [{ exists: true }], 'c-count': [{ numeric: ['<', 5] }] } }, contentEvent, true],

  // wildcard
  ['wildcard around a directory', { detail: { FilePath: [{ wildcard: '*/lib/*' }] } }, contentEvent, true],
  ['wildcard at the start', { detail: { FilePath: [{ wildcard: '*.so' }] } }, contentEvent, true],
  ['wildcard in the middle', { detail: { FilePath: [{ wildcard: '/usr/*/libc.so' }] } }, contentEvent, true],
  ['wildcard with a different anchor', { detail: { FilePath: [{ wildcard: '/opt/*' }] } }, contentEvent, false],
  ['wildcard must match the whole value', { detail: { FilePath: [{ wildcard: '*/lib' }] } }, contentEvent, false],
  ['wildcard without stars is an exact match', { detail: { state: [{ wildcard: 'running' }] } }, contentEvent, true],
  ['escaped star is a literal star', { detail: { Literal: [{ wildcard: 'a\\*b' }] } }, contentEvent, true],
  ['escaped star does not match other characters', { detail: { Literal: [{ wildcard: 'a\\*b' }] } }, withDetail({ Literal: 'axb' }), false],
  ['wildcard never matches a number', { detail: { 'risk-score': [{ wildcard: '8*' }] } }, contentEvent, false],

  // cidr
  ['cidr IPv4 range contains the address', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, contentEvent, true],
  ['cidr IPv4 range excludes the address', { detail: { sourceIPAddress: [{ cidr: '10.0.1.0/24' }] } }, contentEvent, false],
  ['cidr /32 is one address', { detail: { sourceIPAddress: [{ cidr: '10.0.0.123/32' }] } }, contentEvent, true],
  ['cidr IPv6 range', { detail: { sourceIPv6: [{ cidr: '2001:db8::/32' }] } }, contentEvent, true],
  ['cidr IPv6 range excluding the address', { detail: { sourceIPv6: [{ cidr: '2001:db9::/32' }] } }, contentEvent, false],
  ['cidr IPv4 range never matches an IPv6 address', { detail: { sourceIPv6: [{ cidr: '0.0.0.0/0' }] } }, contentEvent, false],
  ['cidr never matches a non-address', { detail: { state: [{ cidr: '0.0.0.0/0' }] } }, contentEvent, false],

  // Nested objects in event arrays
  ['nested pattern against an array of objects', { detail: { items: { name: ['b'] } } }, contentEvent, true],
  ['nested conditions must hold in the same array element', { detail: { items: { name: ['a'], qty: [5] } } }, contentEvent, false],
  ['nested conditions held by one element', { detail: { items: { name: ['b'], qty: [{ numeric: ['>', 4] }] } } }, contentEvent, true],

  // $or
  ['top-level $or (guide example)', { $or: [{ detail: { 'c-count': [{ numeric: ['>', 10] }] } }, { detail: { 'd-count': [{ numeric: ['<', 10] }] } }] }, contentEvent, true],
  ['top-level $or with no matching alternative', { $or: [{ source: ['aws.s3'] }, { 'detail-type': ['Object Created'] }] }, contentEvent, false],
  ['$or nested in detail', { source: ['aws.ec2'], detail: { $or: [{ state: ['stopped'] }, { 'c-count': [3] }] } }, contentEvent, true],
  ['$or with a sibling field that fails', { source: ['aws.s3'], detail: { $or: [{ state: ['running'] }, { 'c-count': [3] }] } }, contentEvent, false],
  ['$or alternative using exists false', { detail: { $or: [{ reason: [{ exists: false }] }, { reason: ['shutdown'] }] } }, contentEvent, true],
  ['$or inside a $or alternative', { $or: [{ source: ['aws.s3'] }, { $or: [{ region: ['eu-west-1'] }, { region: ['us-east-1'] }] }] }, contentEvent, true],
  ['guide complex example', { time: [{ prefix: '2017-10-02' }], detail: { state: [{ 'anything-but': 'initializing' }], 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, contentEvent, true],
];

describe('matchesEventPattern — EventBridge documentation cases', () => {
  it('has a broad table', () => expect(cases.length).toBeGreaterThanOrEqual(70));

  it.each(cases)('%s', (_name, pattern, event, expected) => {
    expect(validateEventPattern(pattern)).toEqual([]);
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  it('never throws on malformed patterns; they just do not match', () => {
    const malformed: unknown[] = [
      { detail: { state: [{ foo: 'x' }] } },
      { detail: { state: 'running' } },
      { detail: { state: [{ numeric: ['>'] }] } },
      { detail: { state: [{ wildcard: 'a**' }] } },
      { detail: { sourceIPAddress: [{ cidr: 'not-a-range' }] } },
      { $or: 'nope' },
    ];
    for (const pattern of malformed) {
      expect(matchesEventPattern(pattern as EventPattern, contentEvent)).toBe(false);
    }
  });

  it('matches non-object events only with patterns that need no fields', () => {
    expect(matchesEventPattern({}, 'text')).toBe(true);
    expect(matchesEventPattern({ source: [{ exists: false }] }, null)).toBe(true);
    expect(matchesEventPattern({ source: ['aws.ec2'] }, null)).toBe(false);
  });
});

describe('matchesEventPattern — Herald CloudEvents envelopes', () => {
  const envelope = {
    specversion: '1.0',
    id: '01J9Z3K7Q8W4XG2M5N6P7R8S9T',
    source: 'herald/tenants/acme',
    type: 'order.ready_to_ship',
    time: '2025-03-01T12:00:00Z',
    subject: 'orders/PO-1042',
    tenantid: 'acme',
    data: { facilityId: 'LF500', orderId: 'PO-1042', lines: [{ sku: 'SKU-1', qty: 2 }, { sku: 'SKU-9', qty: 1 }], priority: 2 },
  };

  const domainCases: Case[] = [
    ['facility filter matches', { data: { facilityId: ['LF500'] } }, envelope, true],
    ['facility filter for another facility', { data: { facilityId: ['LF501'] } }, envelope, false],
    ['facility list', { data: { facilityId: ['LF400', 'LF500'] } }, envelope, true],
    ['facility filter on an envelope without data', { data: { facilityId: ['LF500'] } }, { ...envelope, data: undefined }, false],
    ['facility filter on a data-less envelope with exists false', { data: { facilityId: [{ exists: false }] } }, { ...envelope, data: undefined }, true],
    ['type prefix and tenant', { type: [{ prefix: 'order.' }], tenantid: ['acme'] }, envelope, true],
    ['another tenant', { tenantid: ['globex'], data: { facilityId: ['LF500'] } }, envelope, false],
    ['subject wildcard', { subject: [{ wildcard: 'orders/PO-*' }] }, envelope, true],
    ['line items by sku', { data: { lines: { sku: ['SKU-9'] } } }, envelope, true],
    ['priority range', { data: { priority: [{ numeric: ['>=', 1, '<', 3] }] } }, envelope, true],
    ['facility or urgent priority', { $or: [{ data: { facilityId: ['LF999'] } }, { data: { priority: [{ numeric: ['<=', 2] }] } }] }, envelope, true],
  ];

  it.each(domainCases)('%s', (_name, pattern, event, expected) => {
    expect(validateEventPattern(pattern)).toEqual([]);
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const fieldKey = fc.string({ maxLength: 8 }).filter((key) => key !== '$or');
const jsonScalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const { jsonEvent } = fc.letrec<{ jsonEvent: Record<string, unknown>; member: unknown }>((tie) => ({
  jsonEvent: fc.dictionary(fieldKey, tie('member'), { maxKeys: 5 }),
  member: fc.oneof({ depthSize: 'small' }, jsonScalar, fc.array(jsonScalar, { maxLength: 3 }), tie('jsonEvent')),
}));

/** A pattern naming one leaf value of every field the event has, at the same nesting. */
function exactPatternFor(event: Record<string, unknown>): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(event)) {
    if (Array.isArray(value)) {
      if (value.length > 0) entries.push([key, [value[0]]]);
    } else if (typeof value === 'object' && value !== null) {
      const nested = exactPatternFor(value as Record<string, unknown>);
      if (Object.keys(nested).length > 0) entries.push([key, nested]);
    } else {
      entries.push([key, [value]]);
    }
  }
  return Object.fromEntries(entries);
}

const smallValue = fc.constantFrom<unknown>('x', 'y', 'xy', 'yx', 1, 2, 3, true, null);
const smallCondition = fc.oneof(
  smallValue,
  fc.record({ prefix: fc.constantFrom('x', 'y') }),
  fc.record({ suffix: fc.constantFrom('x', 'y') }),
  fc.record({ 'anything-but': fc.constantFrom<unknown>('x', 1, ['x', 'y'], { prefix: 'x' }) }),
  fc.record({ numeric: fc.constantFrom<unknown[]>(['>', 1], ['<=', 2], ['>=', 1, '<', 3]) }),
  fc.record({ exists: fc.boolean() }),
  fc.record({ wildcard: fc.constantFrom('x*', '*y', '*') }),
);
const smallField = fc.constantFrom('a', 'b', 'c');
// Within the cost limit on wildcards (lambdas/core/event-pattern.ts PATTERN_LIMITS), tested on its own.
const smallPattern = fc
  .dictionary(smallField, fc.array(smallCondition, { minLength: 1, maxLength: 3 }), { minKeys: 1, maxKeys: 3 })
  .filter((pattern) => JSON.stringify(pattern).split('"wildcard"').length - 1 <= PATTERN_LIMITS.wildcards);
const smallEvent = fc.record(
  { a: fc.oneof(smallValue, fc.array(smallValue, { maxLength: 3 })), b: smallValue, c: smallValue },
  { requiredKeys: [] },
);

const presentScalar = fc.oneof(smallValue, fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 5 }));
const excludable = fc.oneof(fc.constantFrom<string | number>('x', 'y', 1, 2), fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 5 }));
const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: 12 });
const numericBound = fc.double({ min: -5e9, max: 5e9, noNaN: true });

function escapeWildcard(text: string): string {
  return text.replace(/[\\*]/g, (char) => `\\${char}`);
}

describe('matchesEventPattern — properties', () => {
  it('an event matches the exact pattern built from its own leaf values', () => {
    fc.assert(
      fc.property(jsonEvent, (event) => {
        const pattern = exactPatternFor(event);
        expect(validateEventPattern(pattern)).toEqual([]);
        expect(matchesEventPattern(pattern, event)).toBe(true);
      }),
    );
  });

  it('the empty pattern matches anything', () => {
    fc.assert(fc.property(fc.anything(), (event) => matchesEventPattern({}, event)));
  });

  it('anything-but [v] is the negation of [v] for a present scalar field', () => {
    fc.assert(
      fc.property(excludable, presentScalar, (excluded, value) => {
        const event = { field: value };
        const positive = matchesEventPattern({ field: [excluded] }, event);
        const negative = matchesEventPattern({ field: [{ 'anything-but': [excluded] }] }, event);
        expect(negative).toBe(!positive);
      }),
    );
  });

  it('anything-but prefix is the negation of prefix for a present string field', () => {
    fc.assert(
      fc.property(ascii, ascii, (prefix, value) => {
        const event = { field: value };
        expect(matchesEventPattern({ field: [{ 'anything-but': { prefix } }] }, event)).toBe(
          !matchesEventPattern({ field: [{ prefix }] }, event),
        );
      }),
    );
  });

  it('a $or of two patterns matches exactly when either pattern does', () => {
    fc.assert(
      fc.property(smallPattern, smallPattern, smallEvent, (left, right, event) => {
        const either = { $or: [left, right] };
        // Two valid patterns stay valid together, unless together they pass the cost limits.
        const costLimit = /operator conditions|wildcard conditions/;
        expect(validateEventPattern(either).filter((problem) => !costLimit.test(problem.message))).toEqual([]);
        expect(matchesEventPattern(either, event)).toBe(matchesEventPattern(left, event) || matchesEventPattern(right, event));
      }),
    );
  });

  it('fields of a pattern combine with AND', () => {
    fc.assert(
      fc.property(smallPattern, smallPattern, smallEvent, (left, right, event) => {
        const both = { detail: left, extra: right };
        const wrapped = { detail: event, extra: event };
        expect(matchesEventPattern(both, wrapped)).toBe(matchesEventPattern(left, event) && matchesEventPattern(right, event));
      }),
    );
  });

  it('numeric [">=", a, "<", b] matches exactly the numbers in [a, b)', () => {
    const boundedCheck = (a: number, b: number, x: number) => {
      fc.pre(a < b);
      const pattern = { n: [{ numeric: ['>=', a, '<', b] }] };
      expect(validateEventPattern(pattern)).toEqual([]);
      expect(matchesEventPattern(pattern, { n: x })).toBe(x >= a && x < b);
    };
    const small = fc.integer({ min: -10, max: 10 });
    fc.assert(fc.property(small, small, small, boundedCheck));
    fc.assert(fc.property(numericBound, numericBound, numericBound, boundedCheck));
  });

  it('numeric never matches a string, whatever it spells', () => {
    fc.assert(fc.property(fc.integer(), (n) => !matchesEventPattern({ n: [{ numeric: ['=', n] }] }, { n: String(n) })));
  });

  it('a string matches a prefix or suffix cut from itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.nat(), (value, cut) => {
        const at = cut % (value.length + 1);
        expect(matchesEventPattern({ f: [{ prefix: value.slice(0, at) }] }, { f: value })).toBe(true);
        expect(matchesEventPattern({ f: [{ suffix: value.slice(at) }] }, { f: value })).toBe(true);
      }),
    );
  });

  it('ignore-case prefix and equality hold across casings', () => {
    fc.assert(
      fc.property(ascii, fc.nat(), (value, cut) => {
        const at = cut % (value.length + 1);
        const event = { f: value };
        expect(matchesEventPattern({ f: [{ prefix: { 'equals-ignore-case': value.slice(0, at).toUpperCase() } }] }, event)).toBe(true);
        expect(matchesEventPattern({ f: [{ 'equals-ignore-case': value.toUpperCase() }] }, event)).toBe(true);
      }),
    );
  });

  it('exists: false and exists: true are complementary', () => {
    fc.assert(
      fc.property(jsonEvent, fieldKey, (event, key) => {
        const present = matchesEventPattern(Object.fromEntries([[key, [{ exists: true }]]]), event);
        const absent = matchesEventPattern(Object.fromEntries([[key, [{ exists: false }]]]), event);
        expect(present).toBe(!absent);
      }),
    );
  });

  it('an escaped wildcard matches exactly its text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (text, other) => {
        const pattern = { f: [{ wildcard: escapeWildcard(text) }] };
        expect(validateEventPattern(pattern)).toEqual([]);
        expect(matchesEventPattern(pattern, { f: text })).toBe(true);
        expect(matchesEventPattern(pattern, { f: other })).toBe(other === text);
      }),
    );
  });

  it('a star between two pieces of a string still matches it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.nat(), fc.string({ maxLength: 4 }), (value, cut, filler) => {
        const at = cut % (value.length + 1);
        const pattern = { f: [{ wildcard: `${escapeWildcard(value.slice(0, at))}*${escapeWildcard(value.slice(at))}` }] };
        expect(matchesEventPattern(pattern, { f: value })).toBe(true);
        expect(matchesEventPattern(pattern, { f: value.slice(0, at) + filler + value.slice(at) })).toBe(true);
      }),
    );
  });

  it('an IPv4 address lies in its own /32, in 0.0.0.0/0, and in a prefix iff the leading bits agree', () => {
    const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
    const toText = (parts: number[]) => parts.join('.');
    const toNumber = (parts: number[]) => parts.reduce((value, part) => value * 256 + part, 0);
    fc.assert(
      fc.property(octets, octets, fc.integer({ min: 0, max: 32 }), (address, network, length) => {
        const event = { ip: toText(address) };
        expect(matchesEventPattern({ ip: [{ cidr: `${toText(address)}/32` }] }, event)).toBe(true);
        expect(matchesEventPattern({ ip: [{ cidr: '0.0.0.0/0' }] }, event)).toBe(true);
        const size = 2 ** (32 - length);
        const sameNetwork = Math.floor(toNumber(address) / size) === Math.floor(toNumber(network) / size);
        expect(matchesEventPattern({ ip: [{ cidr: `${toText(network)}/${length}` }] }, event)).toBe(sameNetwork);
      }),
    );
  });

  it('generated small patterns are valid', () => {
    fc.assert(fc.property(smallPattern, (pattern) => validateEventPattern(pattern).length === 0));
  });
});

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

describe('validateEventPattern', () => {
  const validPatterns: EventPattern[] = [
    {},
    { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } },
    { detail: { responseElements: [null], eventVersion: [''], enabled: [false], 'risk-score': [80] } },
    { time: [{ prefix: '2017-10-02' }], detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    { FileName: [{ suffix: '.png' }, { suffix: { 'equals-ignore-case': '.jpg' } }] },
    { Name: [{ 'equals-ignore-case': 'alice' }] },
    {
      detail: {
        a: [{ 'anything-but': 'initializing' }],
        b: [{ 'anything-but': 123 }],
        c: [{ 'anything-but': ['stopped', 'overloaded'] }],
        d: [{ 'anything-but': [100, 200, 300] }],
        e: [{ 'anything-but': { prefix: 'us-' } }],
        f: [{ 'anything-but': { suffix: '.png' } }],
        g: [{ 'anything-but': { 'equals-ignore-case': ['a', 'B'] } }],
        h: [{ 'anything-but': { wildcard: '*/lib/*' } }],
      },
    },
    { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] } },
    { detail: { 'c-count': [{ exists: false }], state: [{ exists: true }] } },
    { FilePath: [{ wildcard: '*/lib/*' }], Literal: [{ wildcard: 'a\\*b\\\\c' }] },
    { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8::/32' }, { cidr: '192.0.2.7' }] } },
    { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] },
    { data: { facilityId: ['LF500'] } },
  ];

  it.each(validPatterns)('accepts %j', (pattern) => {
    expect(validateEventPattern(pattern)).toEqual([]);
  });

  type Invalid = [pattern: unknown, path: string, message: string];
  const invalidPatterns: Invalid[] = [
    ['source: aws.ec2', '', 'must be a JSON object'],
    [[{ source: ['aws.ec2'] }], '', 'must be a JSON object'],
    [{ source: 'aws.ec2' }, 'source', 'pattern leaves must be arrays'],
    [{ detail: { state: 7 } }, 'detail.state', 'pattern leaves must be arrays'],
    [{ source: [] }, 'source', 'at least one allowed value'],
    [{ detail: {} }, 'detail', 'empty object'],
    [{ data: { facilityId: [['LF500']] } }, 'data.facilityId[0]', 'nested arrays are not allowed'],
    [{ data: { facilityId: [{}] } }, 'data.facilityId[0]', 'exactly one operator'],
    [{ data: { facilityId: ['LF500', { prefix: 'LF', suffix: '00' }] } }, 'data.facilityId[1]', "exactly one operator"],
    [{ detail: { state: [{ foo: 'x' }] } }, 'detail.state[0].foo', "unknown operator 'foo'"],
    [{ detail: { price: [{ numeric: ['>', 0, '<='] }] } }, 'detail.price[0].numeric', 'numeric operator needs pairs of comparison and number'],
    [{ detail: { price: [{ numeric: ['>', 'zero'] }] } }, 'detail.price[0].numeric', 'numeric operator needs pairs of comparison and number'],
    [{ detail: { price: [{ numeric: 5 }] } }, 'detail.price[0].numeric', 'numeric operator needs pairs of comparison and number'],
    [{ detail: { price: [{ numeric: ['~', 5] }] } }, 'detail.price[0].numeric', "unrecognized numeric range operator '~'"],
    // EventBridge's numeric operator has =, <, <=, > and >= only; "not equal" is anything-but
    // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
    // Herald used to accept '!=' as an extension; a pattern moved to EventBridge would be refused.
    [{ detail: { price: [{ numeric: ['!=', 4] }] } }, 'detail.price[0].numeric', "unrecognized numeric range operator '!='"],
    [{ detail: { price: [{ numeric: ['>', 10, '<', 5] }] } }, 'detail.price[0].numeric', 'numeric range is empty'],
    [{ detail: { price: [{ numeric: ['>', 1, '>=', 2] }] } }, 'detail.price[0].numeric', 'one lower bound'],
    [{ detail: { price: [{ numeric: ['=', 1, '<', 5] }] } }, 'detail.price[0].numeric', 'cannot be combined'],
    [{ detail: { price: [{ numeric: ['>', 0, '<', 5, '=', 3] }] } }, 'detail.price[0].numeric', 'at most two comparisons'],
    [{ detail: { price: [{ numeric: ['>', 6e9] }] } }, 'detail.price[0].numeric', 'outside the supported range'],
    [{ time: [{ prefix: 2017 }] }, 'time[0].prefix', 'prefix must be a string'],
    [{ FileName: [{ suffix: { 'equals-ignore-case': 1 } }] }, 'FileName[0].suffix', 'suffix must be a string'],
    [{ Name: [{ 'equals-ignore-case': ['alice'] }] }, 'Name[0].equals-ignore-case', 'equals-ignore-case must be a string'],
    [{ detail: { state: [{ exists: 'yes' }] } }, 'detail.state[0].exists', 'exists must be true or false'],
    [{ FilePath: [{ wildcard: '*/lib/**' }] }, 'FilePath[0].wildcard', 'consecutive'],
    [{ FilePath: [{ wildcard: 'C:\\temp' }] }, 'FilePath[0].wildcard', 'invalid escape'],
    [{ ip: [{ cidr: '10.0.0.0/33' }] }, 'ip[0].cidr', 'cidr must be an IPv4 or IPv6 range'],
    [{ ip: [{ cidr: '300.0.0.0/8' }] }, 'ip[0].cidr', 'cidr must be an IPv4 or IPv6 range'],
    [{ state: [{ 'anything-but': ['stopped', 3] }] }, 'state[0].anything-but', 'only strings or only numbers'],
    [{ state: [{ 'anything-but': [] }] }, 'state[0].anything-but', 'must not be empty'],
    [{ state: [{ 'anything-but': true }] }, 'state[0].anything-but', 'anything-but needs a string, a number'],
    // A list of prefixes or suffixes is valid in anything-but (see the documentation table below);
    // an empty one is not: EventBridge refuses a "null prefix/suffix".
    [{ state: [{ 'anything-but': { prefix: '' } }] }, 'state[0].anything-but', 'must not be empty'],
    [{ state: [{ 'anything-but': { suffix: ['.png', ''] } }] }, 'state[0].anything-but', 'must not be empty'],
    [{ state: [{ 'anything-but': { prefix: [] } }] }, 'state[0].anything-but', 'list must not be empty'],
    [{ state: [{ 'anything-but': { prefix: ['a', 1] } }] }, 'state[0].anything-but', 'values must be strings'],
    [{ state: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'state[0].anything-but', "does not support 'numeric'"],
    [{ state: [{ 'anything-but': { wildcard: ['ok*', 'a**'] } }] }, 'state[0].anything-but', 'consecutive'],
    [{ $or: [{ source: ['aws.ec2'] }] }, '$or', '$or needs at least two alternatives'],
    [{ $or: { source: ['aws.ec2'] } }, '$or', '$or must be an array'],
    [{ $or: [{ source: ['aws.ec2'] }, {}] }, '$or[1]', 'empty object'],
    [{ detail: { $or: [{ state: ['x'] }, 'running'] } }, 'detail.$or[1]', 'each $or alternative must be a pattern object'],
    [{ detail: { $or: [{ state: ['x'] }, { state: [{ prefix: 1 }] }] } }, 'detail.$or[1].state[0].prefix', 'prefix must be a string'],
    [{ 'a.b': [{ bogus: 1 }] }, '["a.b"][0].bogus', "unknown operator 'bogus'"],
  ];

  it('still evaluates numeric != in filters stored before EventBridge parity, though it no longer validates', () => {
    expect(matchesEventPattern({ detail: { 'c-count': [{ numeric: ['!=', 4] }] } }, contentEvent)).toBe(true);
    expect(matchesEventPattern({ detail: { 'c-count': [{ numeric: ['!=', 3] }] } }, contentEvent)).toBe(false);
  });

  it('has a broad table of invalid patterns', () => expect(invalidPatterns.length).toBeGreaterThanOrEqual(12));

  it.each(invalidPatterns)('rejects %j at %s', (pattern, path, message) => {
    const problems = validateEventPattern(pattern);
    expect(problems).toContainEqual({ path, message: expect.stringContaining(message) });
  });

  it('reports every problem, not just the first', () => {
    const problems = validateEventPattern({
      source: 'aws.ec2',
      detail: { state: [{ foo: 1 }], price: [{ numeric: ['>'] }] },
      $or: [{ a: ['x'] }],
    });
    expect(problems.map((problem) => problem.path)).toEqual(['source', 'detail.state[0].foo', 'detail.price[0].numeric', '$or']);
  });

  it('writes messages a person can act on', () => {
    for (const [pattern] of invalidPatterns) {
      for (const { message } of validateEventPattern(pattern)) {
        expect(message.length).toBeGreaterThan(15);
        expect(message).not.toMatch(/undefined|\[object Object\]/);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// EventBridge parity: the user guide's own examples, both ways, and its documented invalid forms
// ---------------------------------------------------------------------------------------------

const OPERATORS_URL = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html';
const PATTERN_URL = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html';
const ARRAYS_URL = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html';
const NULLS_URL = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html';
const FILTERING_URL = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html';

type DocRow = [source: string, name: string, pattern: EventPattern, event: unknown, expected: boolean];

const d = (detail: Record<string, unknown>) => ({ source: 'aws.ec2', detail });

const docRows: DocRow[] = [
  // anything-but with lists of prefixes / suffixes (operators page, "Anything-but (begins with)/(ends with)")
  [OPERATORS_URL, 'anything-but prefix list: another region', { detail: { Region: [{ 'anything-but': { prefix: ['us-', 'eu-'] } }] } }, d({ Region: 'ap-south-1' }), true],
  [OPERATORS_URL, 'anything-but prefix list: an excluded prefix', { detail: { Region: [{ 'anything-but': { prefix: ['us-', 'eu-'] } }] } }, d({ Region: 'eu-west-1' }), false],
  [OPERATORS_URL, 'anything-but suffix list: another extension', { detail: { FileName: [{ 'anything-but': { suffix: ['.png', '.jpg'] } }] } }, d({ FileName: 'a.txt' }), true],
  [OPERATORS_URL, 'anything-but suffix list: an excluded extension', { detail: { FileName: [{ 'anything-but': { suffix: ['.png', '.jpg'] } }] } }, d({ FileName: 'a.jpg' }), false],
  // A null or a number is not a string, so it never has the prefix: anything-but prefix matches it.
  [OPERATORS_URL, 'anything-but prefix matches null', { detail: { Region: [{ 'anything-but': { prefix: 'us-' } }] } }, d({ Region: null }), true],
  [OPERATORS_URL, 'anything-but prefix list matches a number', { detail: { Region: [{ 'anything-but': { prefix: ['1', 'us-'] } }] } }, d({ Region: 12 }), true],
  [OPERATORS_URL, 'anything-but suffix matches a boolean', { detail: { FileName: [{ 'anything-but': { suffix: 'e' } }] } }, d({ FileName: true }), true],
  [OPERATORS_URL, 'anything-but prefix never matches a missing field', { detail: { Region: [{ 'anything-but': { prefix: 'us-' } }] } }, d({}), false],
  // anything-but with equals-ignore-case and wildcard lists
  [OPERATORS_URL, 'anything-but ignore-case list: another state', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] } }, d({ state: 'running' }), true],
  [OPERATORS_URL, 'anything-but ignore-case list: excluded in another casing', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] } }, d({ state: 'OVERLOADED' }), false],
  [OPERATORS_URL, 'anything-but wildcard list: not a jar or class', { detail: { FilePath: [{ 'anything-but': { wildcard: ['*/bin/*.jar', '*/bin/*.class'] } }] } }, d({ FilePath: '/usr/bin/x.sh' }), true],
  [OPERATORS_URL, 'anything-but wildcard list: a class file', { detail: { FilePath: [{ 'anything-but': { wildcard: ['*/bin/*.jar', '*/bin/*.class'] } }] } }, d({ FilePath: '/opt/bin/A.class' }), false],
  // prefix / suffix with equals-ignore-case
  [OPERATORS_URL, 'prefix ignore-case: EVENTBRIDGE begins with eventb', { detail: { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] } }, d({ service: 'EVENTBRIDGE' }), true],
  [OPERATORS_URL, 'prefix ignore-case: another service', { detail: { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] } }, d({ service: 'lambda' }), false],
  [OPERATORS_URL, 'suffix ignore-case: .PNG ends with .png', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, d({ FileName: 'A.PNG' }), true],
  [OPERATORS_URL, 'suffix ignore-case: .gif', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, d({ FileName: 'a.gif' }), false],
  // cidr, exists, numeric
  [OPERATORS_URL, 'cidr: inside 10.0.0.0/24', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, d({ 'source-ip': '10.0.0.255' }), true],
  [OPERATORS_URL, 'cidr: outside 10.0.0.0/24', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, d({ 'source-ip': '10.0.1.1' }), false],
  [OPERATORS_URL, 'exists true: field present', { detail: { 'c-count': [{ exists: true }] } }, d({ 'c-count': 1 }), true],
  [OPERATORS_URL, 'exists false: field present', { detail: { 'c-count': [{ exists: false }] } }, d({ 'c-count': 1 }), false],
  [OPERATORS_URL, 'exists false: only an intermediate (object) node', { detail: { 'c-count': [{ exists: false }] } }, d({ 'c-count': { c1: 100 } }), true],
  [OPERATORS_URL, 'numeric range holds', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, d({ 'c-count': 5 }), true],
  [OPERATORS_URL, 'numeric range fails', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, d({ 'c-count': 0 }), false],
  // wildcard, with escapes
  [OPERATORS_URL, 'wildcard *.png', { detail: { FileName: [{ wildcard: '*.png' }] } }, d({ FileName: 'dir/a.png' }), true],
  [OPERATORS_URL, 'wildcard *.png on .jpg', { detail: { FileName: [{ wildcard: '*.png' }] } }, d({ FileName: 'dir/a.jpg' }), false],
  [OPERATORS_URL, 'wildcard escaped star is literal', { detail: { name: [{ wildcard: 'file\\*' }] } }, d({ name: 'file*' }), true],
  [OPERATORS_URL, 'wildcard escaped star does not match more', { detail: { name: [{ wildcard: 'file\\*' }] } }, d({ name: 'file1' }), false],
  [OPERATORS_URL, 'wildcard escaped backslash', { detail: { name: [{ wildcard: 'a\\\\*' }] } }, d({ name: 'a\\bc' }), true],
  // $or
  [OPERATORS_URL, '$or: one alternative holds', { $or: [{ detail: { 'c-count': [{ numeric: ['>', 5] }] } }, { detail: { 'd-count': [{ numeric: ['<', 10] }] } }] }, d({ 'c-count': 1, 'd-count': 3 }), true],
  [OPERATORS_URL, '$or: none holds', { $or: [{ detail: { 'c-count': [{ numeric: ['>', 5] }] } }, { detail: { 'd-count': [{ numeric: ['<', 10] }] } }] }, d({ 'c-count': 1, 'd-count': 30 }), false],
  // arrays on either side
  [ARRAYS_URL, 'pattern array and event array intersect', { resources: ['x', 'y'] }, { resources: ['z', 'y'] }, true],
  [ARRAYS_URL, 'pattern array and event array do not intersect', { resources: ['x', 'y'] }, { resources: ['z'] }, false],
  [ARRAYS_URL, 'an operator matches any element of an event array', { resources: [{ prefix: 'arn:aws:ec2' }] }, { resources: ['arn:aws:s3:::b', 'arn:aws:ec2:i'] }, true],
  // nulls and empty values
  [NULLS_URL, 'null matches null', { detail: { responseElements: [null] } }, d({ responseElements: null }), true],
  [NULLS_URL, 'null does not match a missing field', { detail: { responseElements: [null] } }, d({}), false],
  [NULLS_URL, 'empty string matches empty string', { detail: { eventVersion: [''] } }, d({ eventVersion: '' }), true],
  [NULLS_URL, 'empty string does not match null', { detail: { eventVersion: [''] } }, d({ eventVersion: null }), false],
  // dotted keys: EventBridge joins keys with "." when it compiles a pattern, so these are one field
  [PATTERN_URL, 'dotted pattern key matches the nested event field', { 'detail.state': ['running'] }, d({ state: 'running' }), true],
  [PATTERN_URL, 'dotted pattern key, another value', { 'detail.state': ['running'] }, d({ state: 'stopped' }), false],
  [PATTERN_URL, 'nested pattern matches a dotted event key', { detail: { state: { status: ['running'] } } }, d({ 'state.status': 'running' }), true],
  [PATTERN_URL, 'dotted pattern key matches a dotted event key', { detail: { 'state.status': ['running'] } }, d({ 'state.status': 'running' }), true],
  [PATTERN_URL, 'dotted pattern key matches the nested event', { detail: { 'state.status': ['running'] } }, d({ state: { status: 'running' } }), true],
  [PATTERN_URL, 'dotted key: exists false when neither spelling is present', { 'detail.reason': [{ exists: false }] }, d({ state: 'x' }), true],
];

describe('EventBridge parity — documentation examples', () => {
  it.each(docRows)('%s: %s', (_source, _name, pattern, event, expected) => {
    expect(validateEventPattern(pattern)).toEqual([]);
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  type DocInvalid = [source: string, pattern: unknown, message: RegExp];
  const documentedInvalid: DocInvalid[] = [
    [OPERATORS_URL, { a: [{ 'anything-but': { prefix: '' } }] }, /null \(empty\) prefix\/suffix is not allowed/],
    [OPERATORS_URL, { a: [{ 'anything-but': { suffix: '' } }] }, /null \(empty\) prefix\/suffix is not allowed/],
    [OPERATORS_URL, { a: [{ 'anything-but': { prefix: ['x', ''] } }] }, /null \(empty\) prefix\/suffix is not allowed/],
    [OPERATORS_URL, { a: [{ 'anything-but': ['a', 1] }] }, /only strings or only numbers/],
    [OPERATORS_URL, { a: [{ 'anything-but': { numeric: ['>', 1] } }] }, /unsupported anything-but pattern/],
    [OPERATORS_URL, { a: [{ wildcard: 'a**b' }] }, /consecutive/],
    [OPERATORS_URL, { a: [{ wildcard: 'a\\b' }] }, /invalid escape/],
    [OPERATORS_URL, { a: [{ numeric: ['!=', 1] }] }, /unrecognized numeric range operator/],
    [OPERATORS_URL, { a: [{ exists: 'true' }] }, /exists must be true or false/],
    [OPERATORS_URL, { a: [{ cidr: '10.0.0.0/40' }] }, /cidr must be/],
    [OPERATORS_URL, { a: [{ prefix: 'a', suffix: 'b' }] }, /exactly one operator/],
    [PATTERN_URL, { a: 'x' }, /must be arrays/],
    [PATTERN_URL, { a: [] }, /at least one allowed value/],
    [PATTERN_URL, { a: {} }, /empty object/],
    [PATTERN_URL, { 'a.b': ['x'], a: { b: ['y'] } }, /cannot be allowed multiple times/],
    [FILTERING_URL, { $or: [{ a: ['x'] }] }, /at least two alternatives/],
    // Over 1000 $or combinations: 11 x 10 x 10 alternatives.
    [FILTERING_URL, { $or: Array.from({ length: 11 }, (_, i) => ({ a: [i] })), b: { $or: Array.from({ length: 10 }, (_, i) => ({ b: [i] })) }, c: { $or: Array.from({ length: 10 }, (_, i) => ({ c: [i] })) } }, /more than 1000 rule combinations/],
    // Wildcards too complex: one string can keep too many prefixes of the pattern alive.
    [OPERATORS_URL, { a: [{ wildcard: '*a*a*a*a*a*' }] }, /rule is too complex/],
    [OPERATORS_URL, { a: [{ wildcard: '*aaaaaaaaaaaa' }] }, /rule is too complex/],
  ];

  it.each(documentedInvalid)('%s refuses %j', (_source, pattern, message) => {
    const problems = validateEventPattern(pattern, { costLimits: false });
    expect(problems.map((p) => p.message).join('\n')).toMatch(message);
  });

  it('accepts exactly 1000 $or combinations', () => {
    const pattern = { $or: Array.from({ length: 10 }, (_, i) => ({ a: [i] })), b: { $or: Array.from({ length: 10 }, (_, i) => ({ b: [i] })) }, c: { $or: Array.from({ length: 10 }, (_, i) => ({ c: [i] })) } };
    expect(validateEventPattern(pattern, { costLimits: false })).toEqual([]);
  });

  it('measures wildcard complexity the way the matching engine does', async () => {
    const { wildcardComplexity } = await import('../../lambdas/core/event-pattern.ts');
    expect(wildcardComplexity(['*'])).toBe(1);
    expect(wildcardComplexity(['*aa'])).toBe(3);
    expect(wildcardComplexity(['*ab*ad'])).toBe(4);
    expect(wildcardComplexity(['a*b*bb'])).toBe(5);
    expect(wildcardComplexity(['*/lib/*', '*.png'])).toBeLessThanOrEqual(10);
  });
});

describe('EventBridge parity — properties', () => {
  const words = fc.string({ unit: fc.constantFrom('a', 'b', '.', '-'), maxLength: 5 });
  const presentValue = fc.oneof(words, fc.integer({ min: -3, max: 3 }), fc.boolean(), fc.constant(null));

  it('anything-but {prefix|suffix: [list]} never matches what the prefix/suffix matches, on a present field', () => {
    fc.assert(
      fc.property(fc.constantFrom('prefix', 'suffix'), fc.array(words.filter((w) => w !== ''), { minLength: 1, maxLength: 3 }), fc.oneof(presentValue, fc.array(presentValue, { minLength: 1, maxLength: 3 })), (side, affixes, value) => {
        const event = { f: value };
        const positive = matchesEventPattern({ f: affixes.map((a) => ({ [side]: a })) }, event);
        const negative = matchesEventPattern({ f: [{ 'anything-but': { [side]: affixes } }] }, event);
        // On a scalar field exactly one holds; on an array each element is tested on its own.
        if (!Array.isArray(value)) expect(negative).toBe(!positive);
        else expect(negative).toBe(value.some((one) => !matchesEventPattern({ f: affixes.map((a) => ({ [side]: a })) }, { f: one })));
      }),
    );
  });

  it('anything-but {equals-ignore-case|wildcard: [list]} is the negation on a present scalar', () => {
    fc.assert(
      fc.property(fc.constantFrom('equals-ignore-case', 'wildcard'), fc.array(words, { minLength: 1, maxLength: 2 }), presentValue, (name, operands, value) => {
        const pattern = { f: operands.map((o) => ({ [name]: o })) };
        fc.pre(validateEventPattern(pattern).length === 0);
        const event = { f: value };
        expect(matchesEventPattern({ f: [{ 'anything-but': { [name]: operands } }] }, event)).toBe(!matchesEventPattern(pattern, event));
      }),
    );
  });

  it('a dotted key and the nested form are the same pattern, against either event spelling', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', 'b'), fc.constantFrom('x', 'y'), fc.constantFrom('x', 'y'), fc.boolean(), (outer, expected, actual, dottedEvent) => {
        const event = dottedEvent ? { [`${outer}.k`]: actual } : { [outer]: { k: actual } };
        const dotted = matchesEventPattern({ [`${outer}.k`]: [expected] }, event);
        const nested = matchesEventPattern({ [outer]: { k: [expected] } }, event);
        expect(dotted).toBe(nested);
        expect(dotted).toBe(expected === actual);
      }),
    );
  });

  it('validation never throws and the matcher never throws on what validation accepts', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }), (pattern, event) => {
        const problems = validateEventPattern(pattern);
        if (problems.length === 0) matchesEventPattern(pattern as EventPattern, event);
      }),
    );
  });
});
