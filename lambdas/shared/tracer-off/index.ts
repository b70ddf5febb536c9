/**
 * What a function bundles instead of `@aws-lambda-powertools/tracer` when the stack runs with
 * `herald:tracing=off` (lib/constructs/herald-function.ts aliases the package here): the same
 * calls Herald makes, doing nothing, so the bundle carries no X-Ray SDK and its init loads none.
 */
export class Tracer {
  constructor(_options?: unknown) {}

  /** The client itself: nothing records its calls. */
  captureAWSv3Client<T>(client: T): T {
    return client;
  }
}
