import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  UnauthorizedError,
  UnavailableError,
  UnprocessableError,
} from '../../../src/domain/errors.js';

describe('domain errors', () => {
  it.each([
    { Kind: UnauthorizedError, status: 401, title: 'Unauthorized' },
    { Kind: ForbiddenError, status: 403, title: 'Forbidden' },
    { Kind: ConflictError, status: 409, title: 'Conflict' },
    { Kind: PayloadTooLargeError, status: 413, title: 'Content Too Large' },
    { Kind: UnavailableError, status: 503, title: 'Service Unavailable' },
  ])('$Kind.name carries status $status and title "$title"', ({ Kind, status, title }) => {
    const error = new Kind('what happened');
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ status, title, message: 'what happened' });
  });

  it('names the missing resource and its id in a 404', () => {
    const error = new NotFoundError('Project', 'p-1');
    expect(error).toMatchObject({ status: 404, title: 'Not Found' });
    expect(error.message).toBe('Project p-1 not found');
  });

  it('tells the client which version the resource is at in a 412', () => {
    const error = new PreconditionFailedError('Agent', 'a-1', 7);
    expect(error).toMatchObject({ status: 412, title: 'Precondition Failed' });
    expect(error.message).toBe('Agent a-1 is at version 7, which If-Match does not name');
  });

  it('keeps the detail and the invalid fields of a 422', () => {
    const errors = [{ path: '/project_id', message: 'is unknown', in: 'body' }];
    const error = new UnprocessableError('project_id is unknown', errors);
    expect(error).toMatchObject({ status: 422, title: 'Unprocessable Content', errors });
    expect(error.message).toBe('project_id is unknown');
  });
});
