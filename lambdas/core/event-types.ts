/**
 * Event type names and the subscription patterns that select them.
 *
 * A type is dot-separated lowercase segments (`order.ready_to_ship`, `order.si.generate`).
 * A subscription pattern is a type, `prefix.*`, `prefix.all` (the provider documents' spelling,
 * an alias of `prefix.*`) or `*`. Fan-out looks subscriptions up by key, so each pattern is
 * stored under its normalised form and an event type expands to the few keys that can match it.
 */
const SEGMENT = '[a-z0-9][a-z0-9_-]*';
const TYPE_RE = new RegExp(`^${SEGMENT}(\\.${SEGMENT})*$`);
const PATTERN_RE = new RegExp(`^(\\*|${SEGMENT}(\\.${SEGMENT})*(\\.\\*)?)$`);

export function isValidEventType(type: string): boolean {
  return type.length <= 128 && TYPE_RE.test(type) && !type.endsWith('.all');
}

/** `order.all` → `order.*`; other patterns unchanged. Returns undefined when not a pattern. */
export function normaliseTypePattern(pattern: string): string | undefined {
  const candidate = pattern.endsWith('.all') ? `${pattern.slice(0, -4)}.*` : pattern;
  return candidate.length <= 130 && PATTERN_RE.test(candidate) ? candidate : undefined;
}

/** Every normalised pattern that selects `type`: itself, each `prefix.*` above it, and `*`. */
export function patternKeysFor(type: string): string[] {
  const segments = type.split('.');
  const keys = [type];
  for (let i = segments.length - 1; i >= 1; i--) keys.push(`${segments.slice(0, i).join('.')}.*`);
  keys.push('*');
  return keys;
}

export function typeMatchesPattern(type: string, pattern: string): boolean {
  const normalised = normaliseTypePattern(pattern);
  return normalised !== undefined && patternKeysFor(type).includes(normalised);
}
