import { isDeepStrictEqual } from 'node:util';
import { NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import type { Executor } from '../store/database.js';
import type { ExpectedVersions } from '../domain/common.js';

/** What a service needs from a repository to lock a row before changing it. */
export interface LockingReader<T> {
  findById(executor: Executor, id: string, options: { lock: true }): Promise<T | null>;
}

/**
 * Locks the row a write is about to change and checks it against `If-Match`: 404 when it is
 * gone or outside the caller's scope (`visible`), 412 when its version is not one the caller
 * named. Returns the row as it was.
 */
export async function lockForWrite<T extends { version: number }>(
  repository: LockingReader<T>,
  context: {
    executor: Executor;
    resource: string;
    id: string;
    expected: ExpectedVersions;
    visible: (row: T) => boolean;
  },
): Promise<T> {
  const current = await repository.findById(context.executor, context.id, { lock: true });
  if (current === null || !context.visible(current))
    throw new NotFoundError(context.resource, context.id);
  if (context.expected !== null && !context.expected.includes(current.version)) {
    throw new PreconditionFailedError(context.resource, context.id, current.version);
  }
  return current;
}

/** Names of the `fields` whose values differ between two versions of a resource. */
export function changedFields<T extends object>(
  before: T,
  after: T,
  fields: ReadonlyArray<keyof T & string>,
): string[] {
  return fields.filter((field) => !isDeepStrictEqual(before[field], after[field]));
}
