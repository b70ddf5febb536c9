import type { MiddlewareObj } from '@middy/core';

/** The `@aws-lambda-powertools/tracer/middleware` stand-in when tracing is off: a middleware that does nothing. */
export function captureLambdaHandler(_tracer: unknown, _options?: unknown): MiddlewareObj {
  return {};
}
