import jsonata from 'jsonata';

/**
 * JSONata transforms that shape an event into a third-party API's format. Expressions are
 * compiled once and cached; evaluation is bounded in time and depth (JSONata's own guardrails)
 * so one subscription's expression cannot stall the worker.
 */
type Expression = ReturnType<typeof jsonata>;

const compiled = new Map<string, Expression>();
const MAX_CACHED = 500;
const TIME_LIMIT_MS = 1000;
const DEPTH_LIMIT = 200;
const MAX_SEQUENCE = 100_000;

function compile(expression: string): Expression {
  let found = compiled.get(expression);
  if (!found) {
    found = jsonata(expression, { timeout: TIME_LIMIT_MS, stack: DEPTH_LIMIT, sequence: MAX_SEQUENCE } as jsonata.JsonataOptions);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(expression, found);
  }
  return found;
}

/** Why an expression cannot be used, or undefined when it compiles. */
export function transformProblem(expression: string): string | undefined {
  try {
    compile(expression);
    return undefined;
  } catch (error) {
    const err = error as { message?: string; position?: number };
    return `is not a valid JSONata expression: ${err.message ?? String(error)}${err.position !== undefined ? ` (at ${err.position})` : ''}`;
  }
}

export type TransformResult = { ok: true; value: unknown } | { ok: false; reason: string };

/** Applies the expression to `input`. `undefined` (no match) is a failure: there is nothing to send. */
export async function applyTransform(expression: string, input: unknown): Promise<TransformResult> {
  try {
    const value = await compile(expression).evaluate(input);
    if (value === undefined) return { ok: false, reason: 'the transform produced nothing (no field matched)' };
    return { ok: true, value };
  } catch (error) {
    const err = error as { message?: string; code?: string };
    return { ok: false, reason: `the transform failed: ${err.message ?? String(error)}${err.code ? ` (${err.code})` : ''}` };
  }
}
