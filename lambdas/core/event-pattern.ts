/**
 * Amazon EventBridge event patterns: matching and validation.
 *
 * A pattern is an object whose keys name event fields. A nested object matches a nested field;
 * an array lists the values a leaf field may take (any one will do). Array entries are literal
 * JSON values or single-key operator objects: prefix, suffix, equals-ignore-case, wildcard,
 * anything-but, numeric, exists and cidr. `"$or": [pattern, pattern, ...]` may appear at any
 * object level and needs one of its alternatives to match there.
 *
 * Semantics follow the EventBridge user guide ("Event patterns", "Content filtering",
 * "Arrays in event patterns", "Matching null values and empty strings"). Where the guide is
 * silent the choice is noted beside the code.
 *
 * `matchesEventPattern` never throws: a construct it does not understand simply fails to match.
 * Run `validateEventPattern` first to tell the author what is wrong.
 */

export type EventPattern = Readonly<Record<string, unknown>>;

export interface PatternProblem {
  /** Where the problem is, e.g. `data.facilityId[0]` or `detail.price[0].numeric`; `''` is the pattern itself. */
  path: string;
  message: string;
}

type JsonObject = Readonly<Record<string, unknown>>;
type LeafValue = string | number | boolean | null;

const OR_KEY = '$or';
const IGNORE_CASE = 'equals-ignore-case';

/** EventBridge documents numeric matching for values in [-5.0e9, +5.0e9] only. */
const NUMERIC_LIMIT = 5e9;

const LOWER_BOUNDS = new Set(['>', '>=']);
const UPPER_BOUNDS = new Set(['<', '<=']);
// EventBridge's numeric operator knows =, <, <=, > and >= only; "not equal" is anything-but
// (eb-create-pattern-operators.html). `!=` is refused by validation like EventBridge refuses it;
// the matcher still evaluates it so that filters stored before this rule keep their meaning.
const EQUALITIES = new Set(['=']);
const LEGACY_NOT_EQUAL = '!=';

const OPERATORS = ['prefix', 'suffix', IGNORE_CASE, 'wildcard', 'anything-but', 'numeric', 'exists', 'cidr'];
const ANYTHING_BUT_OPERATORS = ['prefix', 'suffix', IGNORE_CASE, 'wildcard'];

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  return isPlainObject(pattern) && matchesNestedPattern(normalisedPattern(pattern), event);
}

/**
 * EventBridge joins the keys of a pattern and of an event with "." when it compiles them, so
 * `{"detail.state": [...]}` is the same pattern as `{"detail": {"state": [...]}}`, and both match
 * an event field `"detail": {"state": ...}` as well as a field literally named `"detail.state"`
 * (eb-create-pattern.html, "considerations": dot as the joining character). Patterns are
 * rewritten once into the nested form (cached); events are read through `fieldValue`.
 */
const normalisedPatterns = new WeakMap<object, JsonObject>();

function normalisedPattern(pattern: JsonObject): JsonObject {
  let normalised = normalisedPatterns.get(pattern);
  if (!normalised) {
    normalised = hasDottedKeyDeep(pattern) ? nestDottedKeys(pattern) : pattern;
    normalisedPatterns.set(pattern, normalised);
  }
  return normalised;
}

function hasDottedKey(object: JsonObject): boolean {
  for (const key in object) if (key.includes('.')) return true;
  return false;
}

function hasDottedKeyDeep(pattern: JsonObject): boolean {
  return Object.entries(pattern).some(([key, value]) =>
    key.includes('.') ||
    (isPlainObject(value) && hasDottedKeyDeep(value)) ||
    (key === OR_KEY && Array.isArray(value) && value.some((alt) => isPlainObject(alt) && hasDottedKeyDeep(alt))),
  );
}

/** The pattern with every dotted key split into nested objects (leaf arrays are kept as they are). */
function nestDottedKeys(pattern: JsonObject): JsonObject {
  const out: Record<string, unknown> = {};
  for (const [key, condition] of Object.entries(pattern)) {
    if (key === OR_KEY) {
      out[key] = Array.isArray(condition) ? condition.map((alt) => (isPlainObject(alt) ? nestDottedKeys(alt) : alt)) : condition;
      continue;
    }
    const segments = key.split('.');
    let level = out;
    for (const segment of segments.slice(0, -1)) {
      const next = level[segment];
      level = (level[segment] = isPlainObject(next) ? next : {}) as Record<string, unknown>;
    }
    const last = segments[segments.length - 1]!;
    const value = isPlainObject(condition) ? nestDottedKeys(condition) : condition;
    const existing = level[last];
    level[last] = isPlainObject(existing) && isPlainObject(value) ? mergePatterns(existing, value) : value;
  }
  return out;
}

function mergePatterns(left: JsonObject, right: JsonObject): JsonObject {
  const out: Record<string, unknown> = { ...left };
  for (const [key, value] of Object.entries(right)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? mergePatterns(existing, value) : value;
  }
  return out;
}

/**
 * The event's value at `key`, reading keys with dots as paths the way EventBridge does. An event
 * object without dotted keys (the usual case) is read directly; one with dotted keys is expanded
 * once into nested form (cached per object, so every subscription shares the work). When both
 * spellings carry a value, both count, as an array does.
 */
const expandedEvents = new WeakMap<object, JsonObject>();

function fieldValue(object: JsonObject, key: string): unknown {
  let expanded = expandedEvents.get(object);
  if (expanded === undefined) {
    expanded = hasDottedKey(object) ? expandDottedEventKeys(object) : object;
    expandedEvents.set(object, expanded);
  }
  return Object.hasOwn(expanded, key) ? expanded[key] : undefined;
}

function expandDottedEventKeys(object: JsonObject): JsonObject {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    const segments = key.split('.');
    let level = out;
    for (const segment of segments.slice(0, -1)) level = childObject(level, segment);
    const last = segments[segments.length - 1]!;
    level[last] = combineValues(level[last], value);
  }
  return out;
}

/** The object at `level[segment]`, created (or set beside a value already there) as needed. */
function childObject(level: Record<string, unknown>, segment: string): Record<string, unknown> {
  const existing = level[segment];
  if (isPlainObject(existing)) return (level[segment] = { ...existing }) as Record<string, unknown>;
  const child: Record<string, unknown> = {};
  level[segment] = existing === undefined ? child : [...(Array.isArray(existing) ? existing : [existing]), child];
  return child;
}

/** Two values at one path: objects merge; anything else is kept side by side, like array elements. */
function combineValues(existing: unknown, value: unknown): unknown {
  if (existing === undefined) return value;
  if (isPlainObject(existing) && isPlainObject(value)) {
    const merged: Record<string, unknown> = { ...existing };
    for (const [key, inner] of Object.entries(value)) merged[key] = combineValues(merged[key], inner);
    return merged;
  }
  return [...(Array.isArray(existing) ? existing : [existing]), ...(Array.isArray(value) ? value : [value])];
}

/**
 * A nested pattern applies to an object field. When the field is an array, the pattern must match
 * one element as a whole, so conditions on two sub-fields are satisfied by the same element.
 * When the field is missing or a scalar its sub-fields are all missing, which still lets
 * `exists: false` (and `$or` alternatives built from it) match.
 */
function matchesNestedPattern(pattern: JsonObject, value: unknown): boolean {
  if (Array.isArray(value)) {
    const elements = flattenArray(value).filter(isPlainObject);
    if (elements.length > 0) return elements.some((element) => matchesObjectLevel(pattern, element));
  }
  return matchesObjectLevel(pattern, isPlainObject(value) ? value : undefined);
}

/** Every field condition holds (AND) and each `$or` has a matching alternative. */
function matchesObjectLevel(pattern: JsonObject, object: JsonObject | undefined): boolean {
  return Object.entries(pattern).every(([key, condition]) =>
    key === OR_KEY
      ? matchesAnyAlternative(condition, object)
      : matchesField(condition, object !== undefined ? fieldValue(object, key) : undefined),
  );
}

function matchesAnyAlternative(alternatives: unknown, object: JsonObject | undefined): boolean {
  return (
    Array.isArray(alternatives) &&
    alternatives.some((alternative) => isPlainObject(alternative) && matchesObjectLevel(alternative, object))
  );
}

function matchesField(condition: unknown, value: unknown): boolean {
  if (Array.isArray(condition)) return matchesLeaf(condition, value);
  if (isPlainObject(condition)) return matchesNestedPattern(condition, value);
  return false;
}

/**
 * A leaf matches when any listed condition matches. Exact values are looked up in a set (built
 * once per pattern), so a pattern listing hundreds of values against a field of thousands costs
 * one pass over the field; operator conditions are tested per value.
 */
function matchesLeaf(conditions: readonly unknown[], value: unknown): boolean {
  const { exact, operators } = compiledLeaf(conditions);
  const values = leafValues(value);
  if (exact.size > 0 && values.some((one) => exact.has(one))) return true;
  if (operators.length === 0) return false;
  const leaves = values.map((one) => new Leaf(one));
  return operators.some((condition) => matchesCondition(condition, leaves));
}

interface CompiledLeaf {
  exact: ReadonlySet<unknown>;
  operators: readonly JsonObject[];
}

const compiledLeaves = new WeakMap<readonly unknown[], CompiledLeaf>();

function compiledLeaf(conditions: readonly unknown[]): CompiledLeaf {
  let compiled = compiledLeaves.get(conditions);
  if (!compiled) {
    // A Set compares by SameValueZero, which for JSON values is exactly ===.
    compiled = { exact: new Set(conditions.filter((c) => !isPlainObject(c))), operators: conditions.filter(isPlainObject) };
    compiledLeaves.set(conditions, compiled);
  }
  return compiled;
}

function matchesCondition(condition: JsonObject, leaves: readonly Leaf[]): boolean {
  const operator = singleEntry(condition);
  if (operator === undefined) return false;
  const [name, operand] = operator;
  // exists looks at the field as a whole; an empty array or an object counts as absent because
  // EventBridge only sees leaf values ("exists matching only works on leaf nodes").
  if (name === 'exists') return typeof operand === 'boolean' && operand === (leaves.length > 0);
  // Every other operator is tested per leaf value, so an array field matches when any element
  // does. That includes anything-but: ["stopped", "running"] matches anything-but "stopped".
  const test = compiledTest(condition, name, operand);
  return test !== undefined && leaves.some(test);
}

/**
 * One leaf value with the forms the operators compare, derived once however many conditions
 * look at it: the case-folded text and the parsed IP address. This keeps a filter's cost per
 * event proportional to (conditions x leaves), never re-folding a long string per condition.
 */
class Leaf {
  readonly text: string | undefined;
  private folded: string | undefined = undefined;
  private address: IpAddress | null | undefined = undefined;
  constructor(readonly value: LeafValue) {
    this.text = typeof value === 'string' ? value : undefined;
  }

  lower(): string | undefined {
    if (this.text === undefined) return undefined;
    return (this.folded ??= foldCase(this.text));
  }

  ip(): IpAddress | undefined {
    // The longest IPv6 text form is 45 characters; anything longer is not an address.
    if (this.address === undefined) this.address = this.text !== undefined && this.text.length <= 45 ? (parseIpAddress(this.text) ?? null) : null;
    return this.address ?? undefined;
  }
}

/**
 * The values EventBridge compares against a leaf condition: the field itself when it is a JSON
 * scalar, the scalars of an array (nested arrays flattened), and nothing for a missing field or
 * an object. `null` is a value, so `exists: true` matches a field that is present but null.
 */
function leafValues(value: unknown): LeafValue[] {
  if (Array.isArray(value)) return (value.flat(Infinity) as unknown[]).filter(isLeafValue);
  return isLeafValue(value) ? [value] : [];
}

type LeafTest = (leaf: Leaf) => boolean;

/** Operator objects are compiled once (patterns are reused for every event) and remembered. */
const compiledTests = new WeakMap<object, LeafTest | null>();

function compiledTest(condition: object, name: string, operand: unknown): LeafTest | undefined {
  let test = compiledTests.get(condition);
  if (test === undefined) {
    test = leafTest(name, operand) ?? null;
    compiledTests.set(condition, test);
  }
  return test ?? undefined;
}

function leafTest(operator: string, operand: unknown): LeafTest | undefined {
  switch (operator) {
    case 'prefix':
      return affixTest(operand, 'prefix');
    case 'suffix':
      return affixTest(operand, 'suffix');
    case IGNORE_CASE:
      return typeof operand === 'string' ? ignoreCaseTest(operand) : undefined;
    case 'wildcard':
      return typeof operand === 'string' ? wildcardTest(operand) : undefined;
    case 'numeric':
      return numericTest(operand);
    case 'cidr':
      return typeof operand === 'string' ? cidrTest(operand) : undefined;
    case 'anything-but':
      return anythingButTest(operand);
    default:
      return undefined;
  }
}

/** Exact values: strings, booleans and null by identity; numbers by numeric value (3.0 equals 3). */
function equalsExactly(expected: unknown, value: LeafValue): boolean {
  // JSON.parse already turns 300, 300.0 and 3.0e2 into the same number, so the guide's note that
  // EventBridge compares their textual forms cannot apply to parsed events; numeric equality is
  // the only consistent reading here.
  return expected === value;
}

function affixTest(operand: unknown, side: 'prefix' | 'suffix'): LeafTest | undefined {
  if (typeof operand === 'string') {
    return side === 'prefix' ? (leaf) => leaf.text?.startsWith(operand) === true : (leaf) => leaf.text?.endsWith(operand) === true;
  }
  const ignoringCase = isPlainObject(operand) ? singleEntry(operand) : undefined;
  if (ignoringCase === undefined || ignoringCase[0] !== IGNORE_CASE || typeof ignoringCase[1] !== 'string') {
    return undefined;
  }
  const affix = foldCase(ignoringCase[1]);
  // Case folding never shortens text, so the first (last) affix.length characters of a value
  // decide a folded prefix (suffix): only those are folded, however long the value is.
  // Short values are folded once per event (cached on the leaf); long ones only at the ends.
  const folded = (leaf: Leaf, end: () => string) => (leaf.text!.length <= 256 ? leaf.lower()! : foldCase(end()));
  return side === 'prefix'
    ? (leaf) => leaf.text !== undefined && folded(leaf, () => leaf.text!.slice(0, affix.length)).startsWith(affix)
    : (leaf) => leaf.text !== undefined && folded(leaf, () => leaf.text!.slice(-affix.length || leaf.text!.length)).endsWith(affix);
}

function ignoreCaseTest(expected: string): LeafTest {
  const folded = foldCase(expected);
  // A value longer than the folded expectation folds to something longer still: no match.
  return (leaf) => leaf.text !== undefined && leaf.text.length <= folded.length && leaf.lower() === folded;
}

function foldCase(text: string): string {
  return text.toLowerCase();
}

function wildcardTest(pattern: string): LeafTest | undefined {
  const segments = wildcardSegments(pattern);
  if (segments === undefined) return undefined;
  return (leaf) => leaf.text !== undefined && matchesWildcardSegments(segments, leaf.text);
}

/**
 * Splits a wildcard pattern into the literal runs between unescaped `*`s. `\*` is a literal star
 * and `\\` a literal backslash; any other escape, or two stars in a row, is invalid (undefined).
 */
function wildcardSegments(pattern: string): string[] | undefined {
  const segments: string[] = [];
  let current = '';
  let previousWasStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (previousWasStar) return undefined;
      segments.push(current);
      current = '';
      previousWasStar = true;
      continue;
    }
    previousWasStar = false;
    if (char === '\\') {
      const escaped = pattern[i + 1];
      if (escaped !== '*' && escaped !== '\\') return undefined;
      current += escaped;
      i++;
    } else {
      current += char;
    }
  }
  segments.push(current);
  return segments;
}

/**
 * Literal runs separated by "any run of characters": the first run anchors the start, the last
 * the end, and the ones between are found left to right. Taking the earliest occurrence of each
 * middle run is always safe, and keeps matching linear (no regular expression to backtrack).
 */
function matchesWildcardSegments(segments: readonly string[], value: string): boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return value === first;
  const last = segments[segments.length - 1] ?? '';
  if (first.length + last.length > value.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  const end = value.length - last.length;
  let position = first.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    const found = value.indexOf(segment, position);
    if (found === -1 || found + segment.length > end) return false;
    position = found + segment.length;
  }
  return true;
}

type Comparison = { operator: string; bound: number };

function numericTest(operand: unknown): LeafTest | undefined {
  const comparisons = numericComparisons(operand);
  if (comparisons === undefined) return undefined;
  // Numeric matching only applies to JSON numbers; the string "5" is not 5.
  return ({ value }) => typeof value === 'number' && comparisons.every((c) => compareNumbers(value, c));
}

function numericComparisons(operand: unknown): Comparison[] | undefined {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0) return undefined;
  const comparisons: Comparison[] = [];
  for (let i = 0; i < operand.length; i += 2) {
    const operator: unknown = operand[i];
    const bound: unknown = operand[i + 1];
    if (typeof operator !== 'string' || typeof bound !== 'number' || !Number.isFinite(bound)) return undefined;
    comparisons.push({ operator, bound });
  }
  return comparisons;
}

function compareNumbers(value: number, { operator, bound }: Comparison): boolean {
  switch (operator) {
    case '=':
      return value === bound;
    case '!=':
      return value !== bound;
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
    default:
      return false;
  }
}

function cidrTest(cidr: string): LeafTest | undefined {
  const range = parseCidr(cidr);
  if (range === undefined) return undefined;
  return (leaf) => {
    const address = leaf.ip();
    return address !== undefined && isInRange(address, range);
  };
}

/**
 * anything-but matches a present value that the inner condition would not match. A missing field
 * has no value, so it never matches anything-but (use exists: false for that).
 */
function anythingButTest(operand: unknown): LeafTest | undefined {
  const excluded = anythingButExclusion(operand);
  return excluded === undefined ? undefined : (leaf) => !excluded(leaf);
}

function anythingButExclusion(operand: unknown): LeafTest | undefined {
  if (isLeafValue(operand)) return ({ value }) => equalsExactly(operand, value);
  if (Array.isArray(operand)) return ({ value }) => operand.some((excluded) => equalsExactly(excluded, value));
  const inner = isPlainObject(operand) ? singleEntry(operand) : undefined;
  if (inner === undefined) return undefined;
  const [name, innerOperand] = inner;
  // Each inner operator takes one string or a list of strings (eb-create-pattern-operators.html:
  // "anything-but" with prefix, suffix, equals-ignore-case and wildcard lists). An empty prefix or
  // suffix would exclude every string; EventBridge refuses it, so it never compiles here either.
  if (name !== IGNORE_CASE && name !== 'wildcard' && name !== 'prefix' && name !== 'suffix') return undefined;
  const operands = Array.isArray(innerOperand) ? innerOperand : [innerOperand];
  const affix = name === 'prefix' || name === 'suffix';
  const tests = operands.map((one) => (typeof one === 'string' && !(affix && one === '') ? leafTest(name, one) : undefined));
  if (tests.length === 0 || !tests.every(isDefined)) return undefined;
  // A null, a number or a boolean is not a string, so it never has the excluded prefix, suffix,
  // casing or shape: anything-but matches it (the inner tests all answer false for non-strings).
  return tests.length === 1 ? tests[0] : (leaf) => tests.some((test) => test(leaf));
}

// ---------------------------------------------------------------------------------------------
// IP addresses
// ---------------------------------------------------------------------------------------------

interface IpAddress {
  bits: 32 | 128;
  value: bigint;
}

interface IpRange extends IpAddress {
  prefixLength: number;
}

/** `10.0.0.0/24`, `2001:db8::/32`, or a bare address meaning just that address. */
function parseCidr(cidr: string): IpRange | undefined {
  const [addressText, lengthText, ...rest] = cidr.split('/');
  if (addressText === undefined || rest.length > 0) return undefined;
  const address = parseIpAddress(addressText);
  if (address === undefined) return undefined;
  if (lengthText === undefined) return { ...address, prefixLength: address.bits };
  if (!/^\d{1,3}$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  return prefixLength <= address.bits ? { ...address, prefixLength } : undefined;
}

function isInRange(address: IpAddress, range: IpRange): boolean {
  if (address.bits !== range.bits) return false;
  const hostBits = BigInt(range.bits - range.prefixLength);
  return address.value >> hostBits === range.value >> hostBits;
}

function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6(text);
    return value === undefined ? undefined : { bits: 128, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { bits: 32, value };
}

function parseIpv4(text: string): bigint | undefined {
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  let value = 0n;
  for (const octet of octets) {
    if (!/^\d{1,3}$/.test(octet) || Number(octet) > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = ipv6Groups(halves[0] ?? '', !compressed);
  const tail = compressed ? ipv6Groups(halves[1] ?? '', true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** Colon-separated hex groups; a trailing dotted IPv4 part (`::ffff:10.0.0.1`) counts as two groups. */
function ipv6Groups(text: string, mayEndInIpv4: boolean): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (const [index, part] of parts.entries()) {
    if (mayEndInIpv4 && index === parts.length - 1 && part.includes('.')) {
      const ipv4 = parseIpv4(part);
      if (ipv4 === undefined) return undefined;
      groups.push(Number(ipv4 >> 16n), Number(ipv4 & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

export interface ValidateOptions {
  /**
   * Herald's own per-filter cost limits (`PATTERN_LIMITS.operators` and `.wildcards`), on by
   * default for subscription filters, which Herald matches itself. Static enterprise targets are
   * matched by EventBridge, so they are held to EventBridge's rules only.
   */
  costLimits?: boolean;
}

/**
 * Every problem in `pattern`, each with the path to the offending part; `[]` when it is valid.
 * Refuses what EventBridge's PutRule refuses (InvalidEventPatternException), then, unless
 * `costLimits: false`, what passes Herald's cost limits.
 */
export function validateEventPattern(pattern: unknown, options: ValidateOptions = {}): PatternProblem[] {
  if (!isPlainObject(pattern)) {
    return [{ path: '', message: `an event pattern must be a JSON object, got ${describe(pattern)}` }];
  }
  const size = JSON.stringify(pattern).length;
  if (size > PATTERN_LIMITS.characters) {
    return [{ path: '', message: `the pattern is ${size} characters; at most ${PATTERN_LIMITS.characters} are allowed` }];
  }
  // An empty top-level pattern is Herald's "every event"; only nested empty objects are errors.
  const problems: PatternProblem[] = [];
  validateObjectLevel(pattern, '', problems);
  if (problems.length === 0) problems.push(...duplicatePathProblems(pattern), ...orCombinationProblems(pattern));
  if (problems.length === 0) problems.push(...wildcardComplexityProblems(pattern));
  if (problems.length === 0 && options.costLimits !== false) problems.push(...patternCostProblems(pattern));
  return problems;
}

/**
 * "a.b" and {"a": {"b"}} name the same field once EventBridge joins keys with "." (see
 * `normalisedPattern`); naming one field twice at the same level is refused, as EventBridge
 * refuses a path "allowed multiple times".
 */
function duplicatePathProblems(pattern: JsonObject): PatternProblem[] {
  const problems: PatternProblem[] = [];
  const visit = (level: JsonObject, prefix: string, seen: Map<string, string>): void => {
    for (const [key, value] of Object.entries(level)) {
      if (key === OR_KEY) {
        if (Array.isArray(value)) for (const alt of value) if (isPlainObject(alt)) visit(alt, prefix, new Map(seen));
        continue;
      }
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (isPlainObject(value)) {
        visit(value, path, seen);
      } else if (seen.has(path)) {
        problems.push({ path: seen.get(path)!, message: `the field path \`${path}\` cannot be allowed multiple times (EventBridge joins keys with ".", so "a.b" and {"a": {"b"}} are the same field)` });
      } else {
        seen.set(path, path);
      }
    }
  };
  visit(pattern, '', new Map());
  return problems;
}

/** EventBridge refuses a pattern whose `$or`s expand to more than 1000 rule combinations. */
export const MAX_OR_COMBINATIONS = 1000;

/**
 * The number of plain patterns the `$or`s expand to: sibling `$or`s (and `$or`s in sibling
 * fields) multiply, alternatives of one `$or` add. Without nesting this is the guide's rule
 * "multiply the number of arguments of each $or array".
 */
function orCombinations(level: JsonObject): number {
  let combinations = 1;
  for (const [key, value] of Object.entries(level)) {
    if (key === OR_KEY && Array.isArray(value)) {
      combinations *= value.reduce<number>((sum, alt) => sum + (isPlainObject(alt) ? orCombinations(alt) : 1), 0);
    } else if (isPlainObject(value)) {
      combinations *= orCombinations(value);
    }
    if (combinations > MAX_OR_COMBINATIONS) return combinations;
  }
  return combinations;
}

function orCombinationProblems(pattern: JsonObject): PatternProblem[] {
  const combinations = orCombinations(pattern);
  if (combinations <= MAX_OR_COMBINATIONS) return [];
  return [{ path: '', message: `the pattern's $or conditions expand to more than ${MAX_OR_COMBINATIONS} rule combinations, which EventBridge does not allow` }];
}

/**
 * EventBridge refuses a pattern whose wildcards are too complex ("Rule is too complex";
 * eb-create-pattern-operators.html, "Wildcards and event pattern complexity"). Its measure,
 * published with the matching engine (aws/event-ruler, MachineComplexityEvaluator), is how many
 * prefixes of the wildcard patterns on one field a single worst-case string can match at once:
 * `*a*a` against "aaa" keeps "*", "*a", "*a*", "*a*a" all alive. The guide does not publish
 * the ceiling; Herald uses `MAX_WILDCARD_COMPLEXITY` (see the report in docs) and measures
 * exactly, by exploring every string over the patterns' own characters. The ceiling, 10, is the
 * per-rule figure the engine's documentation gives for limiting a single rule.
 */
export const MAX_WILDCARD_COMPLEXITY = 10;

function wildcardComplexityProblems(pattern: JsonObject): PatternProblem[] {
  const byField = new Map<string, string[]>();
  const collect = (level: JsonObject, prefix: string): void => {
    for (const [key, value] of Object.entries(level)) {
      if (key === OR_KEY) {
        if (Array.isArray(value)) for (const alt of value) if (isPlainObject(alt)) collect(alt, prefix);
        continue;
      }
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (isPlainObject(value)) collect(value, path);
      else if (Array.isArray(value)) {
        for (const condition of value) {
          const [name, operand] = (isPlainObject(condition) ? singleEntry(condition) : undefined) ?? [];
          const inner = name === 'anything-but' && isPlainObject(operand) ? singleEntry(operand) : undefined;
          const wildcards = name === 'wildcard' ? [operand] : inner?.[0] === 'wildcard' ? [inner[1]].flat() : [];
          for (const wildcard of wildcards) if (typeof wildcard === 'string') byField.set(path, [...(byField.get(path) ?? []), wildcard]);
        }
      }
    }
  };
  collect(pattern, '');
  const problems: PatternProblem[] = [];
  for (const [path, wildcards] of byField) {
    const complexity = wildcardComplexity(wildcards);
    if (complexity > MAX_WILDCARD_COMPLEXITY) {
      problems.push({
        path,
        message: `rule is too complex: the wildcard patterns on this field have complexity ${complexity > MAX_WILDCARD_COMPLEXITY * 2 ? `over ${MAX_WILDCARD_COMPLEXITY}` : complexity} (EventBridge refuses more than ${MAX_WILDCARD_COMPLEXITY}); use fewer '*' characters, avoid repeated characters after a '*', or a more specific prefix`,
      });
    }
  }
  return problems;
}

const STAR = -1;

/**
 * The largest number of distinct wildcard-pattern prefixes that one input string matches
 * completely. Tokens are character codes or STAR; a state is the set of live prefixes, keyed by
 * their text so that patterns sharing a prefix share it (as the engine's automaton does).
 */
export function wildcardComplexity(wildcards: readonly string[]): number {
  const patterns = wildcards.map((w) => wildcardTokens(w)).filter(isDefined);
  const keys = patterns.map((tokens) => tokens.map((_, i) => JSON.stringify(tokens.slice(0, i + 1))));
  const alphabet = [...new Set(patterns.flat().filter((t) => t !== STAR)), 0x10ffff];
  const close = (states: Set<number>[]) => {
    patterns.forEach((tokens, p) => {
      for (const position of [...states[p]!].sort((a, b) => a - b)) {
        let at = position;
        while (tokens[at] === STAR) states[p]!.add(++at);
      }
    });
    return states;
  };
  const measure = (states: Set<number>[]) => {
    const live = new Set<string>();
    states.forEach((set, p) => set.forEach((position) => position > 0 && live.add(keys[p]![position - 1]!)));
    return live.size;
  };
  const signature = (states: Set<number>[]) => states.map((set) => [...set].sort((a, b) => a - b).join(',')).join('|');
  const start = close(patterns.map(() => new Set([0])));
  const seen = new Set([signature(start)]);
  const queue = [start];
  let worst = measure(start);
  while (queue.length > 0) {
    const states = queue.shift()!;
    for (const char of alphabet) {
      const next = close(
        patterns.map((tokens, p) => {
          const out = new Set<number>();
          for (const position of states[p]!) {
            if (tokens[position] === char) out.add(position + 1);
            if (position > 0 && tokens[position - 1] === STAR) out.add(position);
          }
          return out;
        }),
      );
      const key = signature(next);
      if (seen.has(key)) continue;
      seen.add(key);
      worst = Math.max(worst, measure(next));
      // Exploring stops early once the answer is clear (or the automaton itself is too large).
      if (worst > MAX_WILDCARD_COMPLEXITY) return worst;
      if (seen.size > 10_000) return Number.POSITIVE_INFINITY;
      queue.push(next);
    }
  }
  return worst;
}

/** A valid wildcard pattern as tokens (escapes resolved), or undefined. */
function wildcardTokens(pattern: string): number[] | undefined {
  const segments = wildcardSegments(pattern);
  if (segments === undefined) return undefined;
  const tokens: number[] = [];
  segments.forEach((segment, i) => {
    if (i > 0) tokens.push(STAR);
    for (const char of segment) tokens.push(char.codePointAt(0)!);
  });
  return tokens;
}

/**
 * What one pattern may cost per event. Exact values are cheap whatever their number; each
 * operator condition is tested against every leaf value of its field (up to the event's size),
 * and a wildcard scans the whole text of each, so both are counted.
 */
export const PATTERN_LIMITS = {
  /** EventBridge's own limit on an event pattern's length. */
  characters: 4096,
  /** Measured by `npm run bench` (bench/hostile-filters.ts): the worst pair costs a few ms per event. */
  operators: 10,
  wildcards: 3,
} as const;

function patternCostProblems(pattern: JsonObject): PatternProblem[] {
  let operators = 0;
  let wildcards = 0;
  const countConditions = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const condition of value) {
        if (!isPlainObject(condition)) continue;
        operators++;
        const [name, operand] = singleEntry(condition) ?? [];
        const inner = name === 'anything-but' && isPlainObject(operand) ? singleEntry(operand) : undefined;
        if (name === 'wildcard') wildcards++;
        else if (inner?.[0] === 'wildcard') wildcards += Array.isArray(inner[1]) ? inner[1].length : 1;
      }
    } else if (isPlainObject(value)) {
      for (const [key, nested] of Object.entries(value)) {
        if (key === OR_KEY && Array.isArray(nested)) nested.forEach(countConditions);
        else countConditions(nested);
      }
    }
  };
  countConditions(pattern);
  const problems: PatternProblem[] = [];
  if (operators > PATTERN_LIMITS.operators) {
    problems.push({ path: '', message: `the pattern has ${operators} operator conditions; at most ${PATTERN_LIMITS.operators} are allowed (exact values are not limited)` });
  }
  if (wildcards > PATTERN_LIMITS.wildcards) {
    problems.push({ path: '', message: `the pattern has ${wildcards} wildcard conditions; at most ${PATTERN_LIMITS.wildcards} are allowed` });
  }
  return problems;
}

function validateObjectLevel(pattern: JsonObject, path: string, problems: PatternProblem[]): void {
  for (const [key, condition] of Object.entries(pattern)) {
    const fieldPath = joinPath(path, key);
    if (key === OR_KEY) validateOr(condition, fieldPath, problems);
    else if (Array.isArray(condition)) validateLeaf(condition, fieldPath, problems);
    else if (isPlainObject(condition)) validateNestedPattern(condition, fieldPath, problems);
    else {
      problems.push({
        path: fieldPath,
        message: `pattern leaves must be arrays of allowed values (e.g. [${JSON.stringify(condition) ?? '"value"'}]) or nested objects, got ${describe(condition)}`,
      });
    }
  }
}

function validateNestedPattern(pattern: JsonObject, path: string, problems: PatternProblem[]): void {
  if (Object.keys(pattern).length === 0) {
    problems.push({ path, message: 'empty object: a nested pattern must name at least one field' });
    return;
  }
  validateObjectLevel(pattern, path, problems);
}

function validateOr(alternatives: unknown, path: string, problems: PatternProblem[]): void {
  if (!Array.isArray(alternatives)) {
    problems.push({ path, message: `$or must be an array of patterns, got ${describe(alternatives)}` });
    return;
  }
  if (alternatives.length < 2) {
    problems.push({ path, message: `$or needs at least two alternatives, got ${alternatives.length}` });
  }
  alternatives.forEach((alternative, index) => {
    const alternativePath = `${path}[${index}]`;
    if (isPlainObject(alternative)) validateNestedPattern(alternative, alternativePath, problems);
    else problems.push({ path: alternativePath, message: `each $or alternative must be a pattern object, got ${describe(alternative)}` });
  });
}

function validateLeaf(conditions: readonly unknown[], path: string, problems: PatternProblem[]): void {
  if (conditions.length === 0) {
    problems.push({ path, message: 'pattern leaves must list at least one allowed value' });
    return;
  }
  conditions.forEach((condition, index) => validateCondition(condition, `${path}[${index}]`, problems));
}

function validateCondition(condition: unknown, path: string, problems: PatternProblem[]): void {
  if (typeof condition === 'number' && !Number.isFinite(condition)) {
    problems.push({ path, message: 'numbers in a pattern must be finite' });
  } else if (Array.isArray(condition)) {
    problems.push({ path, message: 'nested arrays are not allowed inside a pattern leaf' });
  } else if (isPlainObject(condition)) {
    validateOperator(condition, path, problems);
  } else if (!isLeafValue(condition)) {
    problems.push({ path, message: `allowed values must be strings, numbers, booleans, null or operators, got ${describe(condition)}` });
  }
}

function validateOperator(condition: JsonObject, path: string, problems: PatternProblem[]): void {
  const keys = Object.keys(condition);
  if (keys.length !== 1) {
    const found = keys.length === 0 ? 'an empty object' : keys.map((key) => `'${key}'`).join(', ');
    problems.push({ path, message: `an operator object must have exactly one operator (${OPERATORS.join(', ')}), got ${found}` });
    return;
  }
  const name = keys[0] ?? '';
  const operand = condition[name];
  const operandPath = joinPath(path, name);
  const problem = operatorProblem(name, operand);
  if (problem !== undefined) problems.push({ path: operandPath, message: problem });
}

/** What is wrong with one operator and its operand, or undefined when it is fine. */
function operatorProblem(name: string, operand: unknown): string | undefined {
  switch (name) {
    case 'prefix':
    case 'suffix':
      return affixProblem(name, operand);
    case IGNORE_CASE:
      return typeof operand === 'string' ? undefined : `${IGNORE_CASE} must be a string, got ${describe(operand)}`;
    case 'wildcard':
      return wildcardProblem(operand);
    case 'numeric':
      return numericProblem(operand);
    case 'exists':
      return typeof operand === 'boolean' ? undefined : `exists must be true or false, got ${describe(operand)}`;
    case 'cidr':
      return typeof operand === 'string' && parseCidr(operand) !== undefined
        ? undefined
        : `cidr must be an IPv4 or IPv6 range such as "10.0.0.0/24", got ${describe(operand)}`;
    case 'anything-but':
      return anythingButProblem(operand);
    default:
      return `unknown operator '${name}'; expected one of ${OPERATORS.join(', ')}`;
  }
}

function affixProblem(name: string, operand: unknown): string | undefined {
  if (typeof operand === 'string') return undefined;
  const inner = isPlainObject(operand) ? singleEntry(operand) : undefined;
  if (inner !== undefined && inner[0] === IGNORE_CASE && typeof inner[1] === 'string') return undefined;
  return `${name} must be a string or {"${IGNORE_CASE}": string}, got ${describe(operand)}`;
}

function wildcardProblem(operand: unknown): string | undefined {
  if (typeof operand !== 'string') return `wildcard must be a string, got ${describe(operand)}`;
  if (wildcardSegments(operand) !== undefined) return undefined;
  return operand.includes('**')
    ? `wildcard ${JSON.stringify(operand)} has consecutive '*' characters, which EventBridge does not allow`
    : `wildcard ${JSON.stringify(operand)} has an invalid escape: only \\* and \\\\ may follow a backslash`;
}

function numericProblem(operand: unknown): string | undefined {
  const comparisons = numericComparisons(operand);
  if (comparisons === undefined) {
    return `numeric operator needs pairs of comparison and number, e.g. [">", 0, "<=", 5], got ${describe(operand)}`;
  }
  const unknown = comparisons.find((c) => !LOWER_BOUNDS.has(c.operator) && !UPPER_BOUNDS.has(c.operator) && !EQUALITIES.has(c.operator));
  if (unknown !== undefined) {
    return unknown.operator === LEGACY_NOT_EQUAL
      ? `unrecognized numeric range operator '!='; EventBridge spells "not equal" as {"anything-but": number}`
      : `unrecognized numeric range operator '${unknown.operator}'; use =, <, <=, > or >=`;
  }
  const outOfRange = comparisons.find((c) => Math.abs(c.bound) > NUMERIC_LIMIT);
  if (outOfRange !== undefined) return `numeric bound ${outOfRange.bound} is outside the supported range -5e9 to 5e9`;
  if (comparisons.length > 2) return `numeric takes at most two comparisons (a lower and an upper bound), got ${comparisons.length}`;
  const [first, second] = comparisons;
  if (first === undefined || second === undefined) return undefined;
  return numericRangeProblem(first, second);
}

function numericRangeProblem(first: Comparison, second: Comparison): string | undefined {
  if (EQUALITIES.has(first.operator) || EQUALITIES.has(second.operator)) {
    return `'=' cannot be combined with another comparison`;
  }
  const lower = LOWER_BOUNDS.has(first.operator) ? first : second;
  const upper = UPPER_BOUNDS.has(second.operator) ? second : first;
  if (lower === upper || !LOWER_BOUNDS.has(lower.operator) || !UPPER_BOUNDS.has(upper.operator)) {
    return 'a numeric range needs one lower bound (> or >=) and one upper bound (< or <=)';
  }
  if (lower.bound >= upper.bound) {
    return `numeric range is empty: the lower bound ${lower.bound} must be below the upper bound ${upper.bound}`;
  }
  return undefined;
}

function anythingButProblem(operand: unknown): string | undefined {
  if (typeof operand === 'string') return undefined;
  if (typeof operand === 'number') return Number.isFinite(operand) ? undefined : 'numbers in a pattern must be finite';
  if (Array.isArray(operand)) return anythingButListProblem(operand);
  const inner = isPlainObject(operand) ? singleEntry(operand) : undefined;
  if (inner === undefined) {
    return `anything-but needs a string, a number, a list of strings or of numbers, or one of {${ANYTHING_BUT_OPERATORS.join(', ')}}, got ${describe(operand)}`;
  }
  const [name, innerOperand] = inner;
  if (!ANYTHING_BUT_OPERATORS.includes(name)) {
    return `anything-but does not support '${name}' (unsupported anything-but pattern); use a value, a list, or one of ${ANYTHING_BUT_OPERATORS.join(', ')}`;
  }
  // Every inner operator takes a string or a non-empty list of strings
  // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
  const operands = Array.isArray(innerOperand) ? innerOperand : [innerOperand];
  if (operands.length === 0) return `anything-but ${name} list must not be empty`;
  for (const one of operands) {
    if (typeof one !== 'string') return `anything-but ${name} values must be strings, got ${describe(one)}`;
    // EventBridge refuses an empty prefix or suffix here ("null prefix/suffix not allowed").
    if ((name === 'prefix' || name === 'suffix') && one === '') return `anything-but ${name} must not be empty: a null (empty) prefix/suffix is not allowed`;
    const problem = operatorProblem(name, one);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function anythingButListProblem(list: readonly unknown[]): string | undefined {
  if (list.length === 0) return 'anything-but list must not be empty';
  const allStrings = list.every((item) => typeof item === 'string');
  const allNumbers = list.every((item) => typeof item === 'number' && Number.isFinite(item));
  return allStrings || allNumbers ? undefined : 'anything-but list must contain only strings or only numbers';
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLeafValue(value: unknown): value is LeafValue {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

function singleEntry(object: JsonObject): [string, unknown] | undefined {
  const entries = Object.entries(object);
  return entries.length === 1 ? entries[0] : undefined;
}

function flattenArray(values: readonly unknown[]): unknown[] {
  return values.flatMap((value) => (Array.isArray(value) ? flattenArray(value) : [value]));
}

/** `detail` + `state` → `detail.state`; keys that would be ambiguous in dotted form are quoted. */
function joinPath(path: string, key: string): string {
  if (/^[A-Za-z0-9_$-]+$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty object' : 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}
