/**
 * Typed domain errors. Core code throws these; one place (lambdas/shared/http.ts) maps them to
 * application/problem+json responses, so no handler invents its own status codes.
 */
export interface FieldError {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
    this.name = new.target.name;
  }
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

export class ConflictError extends DomainError {
  constructor(detail: string) {
    super(409, 'Conflict', detail);
  }
}
