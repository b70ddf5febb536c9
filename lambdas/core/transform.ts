import type jsonataModule from 'jsonata';
import { INPUT_LIMITS } from './input-limits.ts';

/**
 * JSONata transforms that shape an event into a third-party API's format. The deliver function
 * runs them through a TransformRunner (ports.ts): deployed, a worker thread with its own memory
 * limit and a wall-clock deadline (adapters/transform-runner.ts), so one subscription's
 * expression can neither exhaust the function's memory nor stall its batch. The API checks
 * expressions with transform-check.ts, under the same JSONata options.
 */

/** JSONata's own guards (loops, recursion, sequences), the same for checking and running an expression. */
export const JSONATA_OPTIONS = { timeout: 1000, stack: 200, sequence: 100_000 } as jsonataModule.JsonataOptions;

/** The limits around one evaluation, outside JSONata's own. */
export const TRANSFORM_LIMITS = {
  /** Wall clock per evaluation; past it the worker is stopped (JSONata's `timeout` is the inner guard). */
  deadlineMs: 2000,
  /** The worker's heap: old generation, young generation, stack. */
  memoryMb: 64,
  youngGenerationMb: 16,
  stackMb: 4,
  /** The transformed body, serialized: the same limit as request bodies. */
  maxOutputBytes: INPUT_LIMITS.bodyBytes,
  /** No string may grow past this in one step (one V8 allocation can go past the heap limit). */
  maxStringChars: 1024 * 1024,
  /** Compiled expressions kept per worker. */
  maxCached: 500,
} as const;

/** The transformed body as JSON text, or why there is none. */
export type TransformResult = { ok: true; body: string } | { ok: false; reason: string };
