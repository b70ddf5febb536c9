import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type * as z from 'zod';
import type { Principal } from '#core/api-keys';
import { DomainError, formatFieldPath, problemDocument, UnauthorizedError, ValidationError, type FieldError } from '#core/errors';
import { INPUT_LIMITS, jsonDocumentProblems } from '#core/input-limits';

/** The single mapping from domain outcomes to HTTP: JSON bodies and RFC 9457 problem details. */
const MAX_BODY_BYTES = INPUT_LIMITS.bodyBytes;

/** The console is served from another origin and authenticates with a bearer key (no cookies). */
const CORS = { 'access-control-allow-origin': '*' };

export function json(status: number, body: unknown): APIGatewayProxyResult {
  return { statusCode: status, headers: { 'content-type': 'application/json', ...CORS }, body: JSON.stringify(body) };
}

export function noContent(): APIGatewayProxyResult {
  return { statusCode: 204, headers: { ...CORS }, body: '' };
}

export function problem(status: number, title: string, detail: string, errors?: FieldError[], extensions?: Record<string, unknown>): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json', ...CORS },
    body: JSON.stringify(problemDocument(status, title, detail, errors, extensions)),
  };
}

export function errorResponse(error: unknown, log: (error: unknown) => void): APIGatewayProxyResult {
  if (error instanceof DomainError) return problem(error.status, error.title, error.message, error.errors, error.extensions);
  log(error);
  return problem(500, 'Internal error', 'Herald could not complete the request; it was logged and nothing was accepted');
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    // An unknown field is reported at its own path, so the client sees which one to remove.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatFieldPath([...issue.path, key]), message: 'is not a known field' }))
      : [{ path: formatFieldPath(issue.path), message: issue.message }],
  );
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(fieldErrors(result.error));
  return result.data;
}

/**
 * The body, parsed and checked against the input limits. `nestedAt` is for a body that carries
 * documents that many levels down (a batch's events): nesting is then counted from them, so a
 * document nests as deep in a batch as on its own.
 */
export function jsonBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded' | 'headers'>, options: { nestedAt?: number } = {}): unknown {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new DomainError(413, 'Payload too large', `request bodies are at most ${MAX_BODY_BYTES} bytes`);
  const contentType = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  if (raw && contentType && !/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new DomainError(415, 'Unsupported media type', 'send the body as application/json');
  }
  if (!raw.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (error) {
    throw new ValidationError([{ path: '', message: `body is not valid JSON (${(error as Error).message})` }]);
  }
  const problems = jsonDocumentProblems(body, [], options.nestedAt);
  if (problems.length > 0) throw new ValidationError(problems);
  return body;
}

/** The principal the authorizer resolved (API Gateway passes its context through). */
export function principalOf(event: APIGatewayProxyEvent): Principal {
  const ctx = (event.requestContext?.authorizer ?? {}) as Record<string, unknown>;
  const role = ctx.role;
  if (role === 'admin') return { role: 'admin' };
  if (role === 'tenant' && typeof ctx.tenantId === 'string') {
    // API Gateway hands authorizer context values on as strings.
    if (ctx.portal === true || ctx.portal === 'true') {
      return { role: 'tenant', tenantId: ctx.tenantId, portal: true, readOnly: ctx.readOnly === true || ctx.readOnly === 'true', expiresAt: String(ctx.expiresAt ?? '') };
    }
    return { role: 'tenant', tenantId: ctx.tenantId, keyPrefix: ctx.keyPrefix as string | undefined };
  }
  throw new UnauthorizedError();
}
