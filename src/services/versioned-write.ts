import { NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import type { Executor } from '../store/database.js';
import type { ExpectedVersions } from '../store/versioning.js';

/** What a service needs from a repository to explain a refused write. */
export interface VersionReader {
  lockVersion(executor: Executor, id: string): Promise<number | null>;
}

/**
 * Returns the written resource, or explains why a guarded write touched nothing: the row is
 * gone (404) or its version is not the one `If-Match` named (412).
 */
export async function writtenOrExplain<T>(
  written: T | null,
  context: { executor: Executor; repository: VersionReader; resource: string; id: string },
): Promise<T> {
  if (written !== null) return written;
  const version = await context.repository.lockVersion(context.executor, context.id);
  if (version === null) throw new NotFoundError(context.resource, context.id);
  throw new PreconditionFailedError(context.resource, context.id, version);
}

/** Checks a locked row's version against `If-Match` before a write that cannot carry the guard itself. */
export async function assertVersion(
  expected: ExpectedVersions,
  context: { executor: Executor; repository: VersionReader; resource: string; id: string },
): Promise<void> {
  const version = await context.repository.lockVersion(context.executor, context.id);
  if (version === null) throw new NotFoundError(context.resource, context.id);
  if (expected !== null && !expected.includes(version)) {
    throw new PreconditionFailedError(context.resource, context.id, version);
  }
}
