import { z } from 'zod';

/** Largest serialized size of a `metadata` object, in bytes of UTF-8 JSON. */
export const METADATA_MAX_BYTES = 16 * 1024;
/** Deepest nesting accepted in `metadata`; deeper documents are rejected before PostgreSQL sees them. */
export const METADATA_MAX_DEPTH = 32;

function missingValueMessage(issue: { code?: string; input?: unknown; expected?: string }): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  if (issue.input === null && issue.expected === 'object') return 'must be a JSON object (a missing body arrives as null)';
  return undefined;
}

z.config({ customError: missingValueMessage });

/**
 * True for text PostgreSQL can store: no NUL character and no lone UTF-16 surrogate. Both
 * would otherwise be rejected by the database and surface as a server error.
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/** A string PostgreSQL can store (see {@link isStorableText}). */
export const storableString = () =>
  z.string().refine(isStorableText, { message: 'must not contain NUL or unpaired surrogate characters' });

/** A trimmed, non-blank name of 1–255 characters. */
export const nameSchema = storableString()
  .trim()
  .min(1, { message: 'must not be blank' })
  .max(255, { message: 'must be at most 255 characters' });

function storableJson(value: unknown, depth: number): boolean {
  if (depth > METADATA_MAX_DEPTH) return false;
  if (typeof value === 'string') return isStorableText(value);
  if (value === null || typeof value !== 'object') return true;
  const entries = Array.isArray(value) ? value.map((item) => ['', item] as const) : Object.entries(value);
  return entries.every(([key, item]) => isStorableText(key) && storableJson(item, depth + 1));
}

/** A JSON object of at most {@link METADATA_MAX_BYTES} bytes and {@link METADATA_MAX_DEPTH} levels. */
export const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES, {
    message: `must serialize to at most ${METADATA_MAX_BYTES} bytes`,
  })
  .refine((value) => storableJson(value, 1), {
    message: `must nest at most ${METADATA_MAX_DEPTH} levels and hold no NUL or unpaired surrogate characters`,
  });

/** Path parameter holding a resource id. */
export const idParamsSchema = z.strictObject({ id: z.uuid({ message: 'must be a UUID' }) });

/** The sort orders every list endpoint accepts; a leading `-` means descending. */
export const sortValues = ['created_at', '-created_at', 'updated_at', '-updated_at', 'name', '-name'] as const;
/** One of {@link sortValues}. */
export type SortOrder = (typeof sortValues)[number];

/** Query fields shared by every list endpoint. */
export const pageQueryShape = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
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
  return z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(item).max(64)).optional();
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
