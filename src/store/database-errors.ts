import { UnprocessableError } from '../domain/errors.js';

/** SQLSTATE codes the repositories turn into domain errors. */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
} as const;

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'ENOENT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const unavailableMessages = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /after calling end on the pool/i,
  /client has encountered a connection error/i,
  /PGlite is closed/i,
];

function* causeChain(error: unknown): Generator<unknown> {
  let current = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth += 1) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/**
 * The SQLSTATE (or socket error code) of a database error, looking through wrappers such as
 * DrizzleQueryError.
 */
export function databaseErrorCode(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** True when the error means the database could not be reached, as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = databaseErrorCode(error);
  if (code !== undefined && unavailableCodes.has(code)) return true;
  return [...causeChain(error)].some(
    (link) =>
      link instanceof Error && unavailableMessages.some((pattern) => pattern.test(link.message)),
  );
}

/** The constraint a database error names, looking through wrappers such as DrizzleQueryError. */
export function databaseErrorConstraint(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const constraint = (link as { constraint?: unknown }).constraint;
    if (typeof constraint === 'string') return constraint;
  }
  return undefined;
}

/** A reference a write may name that must exist: its foreign key and the body field naming it. */
export interface Reference {
  /** Part of the foreign key's name, e.g. `agent_id`. */
  constraint: string;
  path: string;
  message: string;
}

/**
 * Runs a write and turns a foreign-key violation into the 422 the API promises for a reference
 * to something that does not exist, on the field that names it.
 */
export async function translateForeignKeys<T>(
  references: readonly Reference[],
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (databaseErrorCode(error) !== SqlState.foreignKeyViolation) throw error;
    const constraint = databaseErrorConstraint(error) ?? '';
    const field = references.find((ref) => constraint.includes(ref.constraint)) ?? references[0];
    if (field === undefined) throw error;
    const { path, message } = field;
    throw new UnprocessableError(message, [{ path, message }]);
  }
}
