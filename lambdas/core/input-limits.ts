import { formatFieldPath, type FieldError, type PathPart } from './errors.ts';

/**
 * What Herald accepts at its boundaries, decided once. Every JSON document that comes in (API
 * bodies, so event `data`, filters, transforms, headers and metadata; events read off the bus)
 * passes `jsonDocumentProblems` before anything recursive (zod, ajv, the pattern matcher, the
 * DynamoDB marshaller) touches it. The walk itself is iterative, so depth cannot overflow it.
 */
export const INPUT_LIMITS = {
  /** Request bodies (API Gateway allows 10 MB; Herald keeps items well under DynamoDB's 400 KB). */
  bodyBytes: 256 * 1024,
  /**
   * Nesting, counting the body itself as level 1. DynamoDB stores at most 32 levels; event `data`
   * sits one level inside the body and is stored one level inside an item, so it fits exactly.
   */
  depth: 32,
  stringLength: 65_536,
  keyLength: 1024,
  arrayItems: 10_000,
  objectKeys: 10_000,
  /** Integers beyond 2^53 have already lost digits when parsed; send them as strings. */
  maxSafeInteger: Number.MAX_SAFE_INTEGER,
  /** DynamoDB's number range: magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125. */
  maxMagnitude: 9.9999999999999999999999999999999999999e125,
  minMagnitude: 1e-130,
  /** Problems reported at most per document; the rest are implied. */
  reportedProblems: 10,
} as const;

/**
 * Keys that name JavaScript's object machinery. Parsers and schema libraries disagree on them
 * (some drop them, some follow them), so a key silently vanishing could widen a filter to match
 * everything. Herald refuses them anywhere in a document instead.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Why a JSON number cannot be kept exactly, or undefined when it can. */
export function numberProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return 'is beyond the range of a number';
  const magnitude = Math.abs(value);
  if (magnitude > INPUT_LIMITS.maxMagnitude) return 'is beyond the largest number Herald stores (9.99E+125)';
  if (magnitude !== 0 && magnitude < INPUT_LIMITS.minMagnitude) return 'is closer to zero than the smallest number Herald stores (1E-130)';
  if (Number.isInteger(value) && magnitude > INPUT_LIMITS.maxSafeInteger) {
    return 'is an integer beyond 2^53 and cannot be kept exactly; send it as a string';
  }
  return undefined;
}

/**
 * Every limit a JSON document breaks, with the path to the offending part (at most
 * `reportedProblems`). A container deeper than the limit is reported and not entered. A document
 * that carries documents `nestedAt` levels down (a batch's events) allows that many more levels,
 * so each carried document nests as deep as it could alone.
 */
export function jsonDocumentProblems(document: unknown, basePath: readonly PathPart[] = [], nestedAt = 0): FieldError[] {
  const problems: FieldError[] = [];
  const report = (path: readonly PathPart[], message: string) => {
    if (problems.length < INPUT_LIMITS.reportedProblems) problems.push({ path: formatFieldPath(path), message });
  };
  // Depth-first with an explicit stack: each entry is a value, its path and its nesting level.
  const stack: [unknown, PathPart[], number][] = [[document, [...basePath], basePath.length + 1]];
  while (stack.length > 0 && problems.length < INPUT_LIMITS.reportedProblems) {
    const [value, path, level] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.length > INPUT_LIMITS.stringLength) report(path, `is longer than ${INPUT_LIMITS.stringLength} characters`);
      continue;
    }
    if (typeof value === 'number') {
      const problem = numberProblem(value);
      if (problem) report(path, problem);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (level > INPUT_LIMITS.depth + nestedAt) {
      report(path, `nests deeper than ${INPUT_LIMITS.depth} levels`);
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length > INPUT_LIMITS.arrayItems) {
        report(path, `has more than ${INPUT_LIMITS.arrayItems} items`);
        continue;
      }
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], [...path, i], level + 1]);
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > INPUT_LIMITS.objectKeys) {
      report(path, `has more than ${INPUT_LIMITS.objectKeys} fields`);
      continue;
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (RESERVED_KEYS.has(key)) report([...path, key], `'${key}' is reserved and cannot be used as a field name`);
      else if (key.length > INPUT_LIMITS.keyLength) report([...path, key], `field names are at most ${INPUT_LIMITS.keyLength} characters`);
      else stack.push([(value as Record<string, unknown>)[key], [...path, key], level + 1]);
    }
  }
  return problems;
}
