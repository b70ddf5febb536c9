import jsonata from 'jsonata';
import { JSONATA_OPTIONS } from './transform.ts';

/** Why a transform expression cannot be used, or undefined when it compiles (the API's check). */
export function transformProblem(expression: string): string | undefined {
  try {
    jsonata(expression, JSONATA_OPTIONS);
    return undefined;
  } catch (error) {
    const err = error as { message?: string; position?: number };
    return `is not a valid JSONata expression: ${err.message ?? String(error)}${err.position !== undefined ? ` (at ${err.position})` : ''}`;
  }
}
