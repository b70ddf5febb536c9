import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';
import type { LambdaHandler } from './lambda-context.ts';

/**
 * Which function the code running now belongs to (its Lambda name, e.g. `herald-deliver`), kept
 * across every await of an invocation. Deployed, each function has its own process and role; here
 * they share one process, so anything that must tell them apart (the IAM coverage test attributes
 * each AWS call to the role that would make it) reads this.
 */
const scope = new AsyncLocalStorage<string>();

export function currentFunction(): string | undefined {
  return scope.getStore();
}

/** Runs `work` as the function named `functionName` (nested runs take the inner name). */
export function runAsFunction<T>(functionName: string, work: () => T): T {
  return scope.run(functionName, work);
}

/** The handler, each invocation running as the function its Lambda context names. */
export function asFunction<E, R>(handler: LambdaHandler<E, R>): LambdaHandler<E, R> {
  return (event: E, context: Context) => runAsFunction(context.functionName, () => handler(event, context));
}
