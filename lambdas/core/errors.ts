/**
 * Typed domain errors. Core code throws these; one place (lambdas/shared/http.ts) maps them to
 * application/problem+json responses, so no handler invents its own status codes.
 */
export interface FieldError {
  path: string;
  message: string;
}

export type PathPart = string | number;

/** `data.items[3].sku`: the one spelling of a field path in problem details (long keys shortened). */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    const text = String(part);
    const name = text.length > 64 ? `${text.slice(0, 64)}…` : text;
    return acc ? `${acc}.${name}` : name;
  }, '');
}

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    /** Extra members of the problem document (RFC 9457 extensions), e.g. the quota and its limit. */
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

/** An RFC 9457 problem document, as the API answers errors (application/problem+json). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** The one spelling of a problem document: the API's error bodies and the items of a batch answer. */
export function problemDocument(status: number, title: string, detail: string, errors?: FieldError[], extensions?: Record<string, unknown>): ProblemDocument {
  return { type: 'about:blank', title, status, detail, ...(errors?.length ? { errors } : {}), ...extensions };
}

export function problemOf(error: DomainError): ProblemDocument {
  return problemDocument(error.status, error.title, error.message, error.errors, error.extensions);
}

export class ValidationError extends DomainError {
  constructor(errors: FieldError[], detail?: string) {
    super(400, 'Invalid request', detail ?? errors.map((e) => `${e.path || '(body)'}: ${e.message}`).join('; '), errors);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(404, 'Not found', `${what} '${id}' does not exist`);
  }
}

export class ForbiddenError extends DomainError {
  constructor(detail: string) {
    super(403, 'Forbidden', detail);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(detail = 'missing or invalid API key') {
    super(401, 'Unauthorized', detail);
  }
}
