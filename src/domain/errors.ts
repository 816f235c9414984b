/** One invalid input field, named by its JSON pointer. */
export interface FieldError {
  path: string;
  message: string;
  /**
   * Which part of the request holds the field: `body`, `query`, `path` or `header`. Set by the
   * HTTP layer (src/http/error-place.ts, request validation), never by a service, which cannot
   * know which route called it.
   */
  in?: string;
}

/**
 * Base of the errors services raise on purpose. Each carries the HTTP status it maps to so
 * the single error handler can render it without knowing every subclass.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
}

/** The addressed resource does not exist (any more). */
export class NotFoundError extends DomainError {
  readonly status = 404;
  readonly title = 'Not Found';
  constructor(resource: string, id: string) {
    super(`${resource} ${id} not found`);
  }
}

/** The caller's `If-Match` names a version the resource no longer has. */
export class PreconditionFailedError extends DomainError {
  readonly status = 412;
  readonly title = 'Precondition Failed';
  constructor(resource: string, id: string, currentVersion: number) {
    super(`${resource} ${id} is at version ${currentVersion}, which If-Match does not name`);
  }
}

/** The caller is known but its key does not allow this. */
export class ForbiddenError extends DomainError {
  readonly status = 403;
  readonly title = 'Forbidden';
}

/** The caller could not be identified: no key, or one that is unknown or revoked. */
export class UnauthorizedError extends DomainError {
  readonly status = 401;
  readonly title = 'Unauthorized';
}

/** The change would break a uniqueness rule, such as two agents with one name. */
export class ConflictError extends DomainError {
  readonly status = 409;
  readonly title = 'Conflict';
}

/**
 * The input is well-formed but refers to something that does not hold (e.g. an unknown project).
 */
export class UnprocessableError extends DomainError {
  readonly status = 422;
  readonly title = 'Unprocessable Content';
  constructor(
    detail: string,
    readonly errors: FieldError[],
  ) {
    super(detail);
  }
}

/** The database cannot be reached; the request may succeed if retried later. */
export class UnavailableError extends DomainError {
  readonly status = 503;
  readonly title = 'Service Unavailable';
}

/** A part of the request is larger than the service stores (a task's output, for instance). */
export class PayloadTooLargeError extends DomainError {
  readonly status = 413;
  readonly title = 'Content Too Large';
}
