import { z } from 'zod';

/** Largest serialized size of a `metadata` object, in bytes of UTF-8 JSON. */
export const METADATA_MAX_BYTES = 16 * 1024;
/** Deepest nesting of arrays and objects in `metadata`, the object itself being level 1. */
export const METADATA_MAX_DEPTH = 32;
/** Most object members and array items `metadata` may hold, counted at every level. */
export const METADATA_MAX_MEMBERS = 1_000;

function missingValueMessage(issue: {
  code?: string;
  input?: unknown;
  expected?: string;
}): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  if (issue.input === null && issue.expected === 'object')
    return 'must be a JSON object (a missing body arrives as null)';
  return undefined;
}

z.config({ customError: missingValueMessage });

/**
 * True for text that is stored and read back unchanged on every engine: no NUL character and no
 * lone UTF-16 surrogate, which PostgreSQL rejects with an error (or the driver turns into U+FFFD),
 * and no U+FEFF at the start, which PGlite drops when it reads text back (it decodes every value
 * with a TextDecoder that strips a byte order mark, and it cannot be configured not to).
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed() && !value.startsWith('\ufeff');
}

export const unstorableText =
  'must not contain NUL or unpaired surrogate characters, nor start with U+FEFF';

/**
 * True when every string in a JSON value, object member names included, is storable text. The
 * walk uses no recursion; callers bound the value's size first.
 */
export function holdsStorableText(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (!isStorableText(next)) return false;
    } else if (
      next !== null &&
      // Stryker disable next-line ConditionalExpression: a number or boolean has no keys or values
      typeof next === 'object'
    ) {
      if (!Array.isArray(next) && !Object.keys(next).every(isStorableText)) return false;
      for (const item of Object.values(next)) pending.push(item);
    }
  }
  return true;
}

/** A string every engine stores and gives back unchanged (see {@link isStorableText}). */
export const storableString = () => z.string().refine(isStorableText, { message: unstorableText });

/**
 * A non-blank name of 1–255 characters, trimmed first: white space as JavaScript defines it,
 * U+FEFF included, is dropped from both ends, and the rest must be storable.
 */
export const nameSchema = z
  .string()
  .trim()
  .refine(isStorableText, { message: unstorableText })
  .min(1, { message: 'must not be blank' })
  .max(255, { message: 'must be at most 255 characters' });

const metadataMessages = {
  text: `${unstorableText}, in names or values`,
  depth: `must nest at most ${METADATA_MAX_DEPTH} levels of arrays and objects`,
  members: `must hold at most ${METADATA_MAX_MEMBERS} members (object members and array items)`,
  bytes: `must serialize to at most ${METADATA_MAX_BYTES} bytes`,
};

/** One metadata value checked: a problem, or the items of a container to walk next. */
interface Visit {
  problem?: string;
  children?: Array<[unknown, number]>;
}

function visitMetadata(value: unknown, depth: number): Visit {
  if (typeof value === 'string') {
    return isStorableText(value) ? {} : { problem: metadataMessages.text };
  }
  if (value === null || typeof value !== 'object') return {};
  if (depth > METADATA_MAX_DEPTH) return { problem: metadataMessages.depth };
  const entries = Object.entries(value);
  // Stryker disable next-line ArrayDeclaration: any name in place of an array's indices is storable
  const names = Array.isArray(value) ? [] : entries.map(([name]) => name);
  if (!names.every(isStorableText)) return { problem: metadataMessages.text };
  return { children: entries.map(([, item]) => [item, depth + 1]) };
}

/**
 * Why `metadata` cannot be stored as sent, or undefined when it can. The walk uses no recursion
 * and stops at the first problem, so its cost is bounded by the limits, not by the input; the
 * size is measured last, once nesting and member count are known to be small.
 */
export function metadataProblem(metadata: Record<string, unknown>): string | undefined {
  const pending: Array<[unknown, number]> = [[metadata, 1]];
  let members = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const visit = visitMetadata(...next);
    if (visit.problem !== undefined) return visit.problem;
    members += visit.children?.length ?? 0;
    if (members > METADATA_MAX_MEMBERS) return metadataMessages.members;
    pending.push(...(visit.children ?? []));
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  return bytes > METADATA_MAX_BYTES ? metadataMessages.bytes : undefined;
}

/**
 * A JSON object of at most {@link METADATA_MAX_BYTES} bytes, {@link METADATA_MAX_DEPTH} levels
 * and {@link METADATA_MAX_MEMBERS} members, holding only storable text ({@link metadataProblem}).
 */
export const metadataSchema = z.record(z.string(), z.unknown()).check((context) => {
  const message = metadataProblem(context.value);
  // Stryker disable next-line StringLiteral: a client sees an issue's path and message, not its code
  if (message !== undefined) context.issues.push({ code: 'custom', message, input: context.value });
});

const DECIMAL_INTEGER = /^(0|-?[1-9][0-9]*)$/;

/**
 * A query parameter holding an integer from `min` to `max`, written in plain decimal digits
 * (`20`, `-1`). `z.coerce.number()` read `0x10` as 16, an empty value as 0, and `1e1`, ` 5` and
 * `+5` as numbers too; every list endpoint shares this one rule instead, and the rest is 422.
 */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(DECIMAL_INTEGER, { message: 'must be an integer in plain decimal digits, such as 20' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** Path parameter holding a resource id. */
export const idParamsSchema = z.strictObject({ id: z.uuid({ message: 'must be a UUID' }) });

/** The sort orders every list endpoint accepts; a leading `-` means descending. */
export const sortValues = [
  'created_at',
  '-created_at',
  'updated_at',
  '-updated_at',
  'name',
  '-name',
] as const;
/** One of {@link sortValues}, or one a list adds (e.g. agents' `last_active_at`). */
export type SortOrder = (typeof sortValues)[number] | `${'' | '-'}last_active_at`;

/** Query fields shared by every list endpoint. */
export const pageQueryShape = {
  limit: queryInteger(1, 100).default(20),
  offset: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  sort: z.enum(sortValues).default('-created_at'),
};

/** Pagination and ordering as the repositories receive them. */
export interface PageRequest {
  limit: number;
  offset: number;
  sort: SortOrder;
}

/** A page of a list endpoint. */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** The response schema of a page of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  });
}

/** Accepts `?key=a` and `?key=a&key=b` alike and yields an array. */
export function repeatable<T extends z.ZodType>(item: T) {
  const asArray = (value: unknown): unknown[] =>
    Array.isArray(value) ? (value as unknown[]) : [value];
  return z.preprocess(asArray, z.array(item).max(64)).optional();
}

/** An RFC 9457 problem document, the body of every error response. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string(), in: z.string().optional() }))
      .optional(),
  })
  .meta({ id: 'Problem' });

/** ISO 8601 UTC timestamp as it appears on the wire. */
export const timestampSchema = z.iso.datetime();

/**
 * Versions an `If-Match` header accepts: `null` when the write is unconditional (no header or
 * `*`), otherwise the listed versions (empty when nothing in the header parses, so it never
 * matches).
 */
export type ExpectedVersions = readonly number[] | null;
