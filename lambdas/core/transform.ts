import type jsonataModule from 'jsonata';

/**
 * JSONata transforms that shape an event into a third-party API's format. Expressions are
 * compiled once and cached; evaluation is bounded in time and depth (JSONata's own guardrails)
 * so one subscription's expression cannot stall the worker. JSONata itself is loaded the first
 * time a transform runs, not at the deliver function's start (most deliveries have none); the
 * API checks expressions with transform-check.ts.
 */
type Jsonata = typeof jsonataModule;
type Expression = ReturnType<Jsonata>;

let loaded: Jsonata | undefined;
async function load(): Promise<Jsonata> {
  return (loaded ??= (await import('jsonata')).default);
}

const compiled = new Map<string, Expression>();
const MAX_CACHED = 500;
const TIME_LIMIT_MS = 1000;
const DEPTH_LIMIT = 200;
const MAX_SEQUENCE = 100_000;

/** JSONata's guardrails, the same for checking and running an expression. */
export const JSONATA_OPTIONS = { timeout: TIME_LIMIT_MS, stack: DEPTH_LIMIT, sequence: MAX_SEQUENCE } as jsonataModule.JsonataOptions;

function compile(jsonata: Jsonata, expression: string): Expression {
  let found = compiled.get(expression);
  if (!found) {
    found = jsonata(expression, JSONATA_OPTIONS);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(expression, found);
  }
  return found;
}

export type TransformResult = { ok: true; value: unknown } | { ok: false; reason: string };

/** Applies the expression to `input`. `undefined` (no match) is a failure: there is nothing to send. */
export async function applyTransform(expression: string, input: unknown): Promise<TransformResult> {
  try {
    const value = await compile(await load(), expression).evaluate(input);
    if (value === undefined) return { ok: false, reason: 'the transform produced nothing (no field matched)' };
    return { ok: true, value };
  } catch (error) {
    const err = error as { message?: string; code?: string };
    return { ok: false, reason: `the transform failed: ${err.message ?? String(error)}${err.code ? ` (${err.code})` : ''}` };
  }
}
