import { z } from 'zod';
import { pageSchema, queryInteger, storableString, timestampSchema } from './common.js';

/** Longest memory key, in characters (UTF-16 code units, like every other length in the API). */
export const MEMORY_KEY_MAX_LENGTH = 255;
/** Largest `content`, in bytes of UTF-8. */
export const MEMORY_CONTENT_MAX_BYTES = 64 * 1024;
/** Most tags one entry may carry. */
export const MEMORY_TAGS_MAX_ITEMS = 64;
/** Longest tag, in characters. */
export const MEMORY_TAG_MAX_LENGTH = 64;
/** Longest search text, in characters. */
export const MEMORY_QUERY_MAX_LENGTH = 1000;

/** Prefix of the entity names of project entries; a key without a project may not look like one. */
const PROJECT_NAME_PATTERN = /^@[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\//i;

/** The entity that holds an entry on the server: unique per project and key. */
export function memoryEntityName(entry: { key: string; project_id: string | null }): string {
  return entry.project_id === null ? entry.key : `@${entry.project_id}/${entry.key}`;
}

/**
 * True for a key that would read as another project's entity name if stored without a project
 * (`@<uuid>/…`); the API refuses such keys for entries without a project.
 */
export function looksLikeProjectEntityName(key: string): boolean {
  return PROJECT_NAME_PATTERN.test(key);
}

/**
 * Keys that `GET /memory/{key}` can never reach, because the router sends those paths to
 * `/memory/search` and `/memory/circuit`; refused at write so that every stored key is readable.
 */
export const RESERVED_MEMORY_KEYS: readonly string[] = ['search', 'circuit'];

/** A memory key: 1–255 characters, stored exactly as given (not trimmed), never a reserved one. */
export const memoryKeySchema = storableString()
  .min(1, { message: 'must not be empty' })
  .max(MEMORY_KEY_MAX_LENGTH, { message: `must be at most ${MEMORY_KEY_MAX_LENGTH} characters` })
  .refine((key) => !RESERVED_MEMORY_KEYS.includes(key), {
    message:
      `must not be ${RESERVED_MEMORY_KEYS.map((key) => `"${key}"`).join(' or ')} ` +
      '(reserved by the API)',
  });

const contentSchema = storableString()
  .min(1, { message: 'must not be empty' })
  .refine((content) => Buffer.byteLength(content) <= MEMORY_CONTENT_MAX_BYTES, {
    message: `must be at most ${MEMORY_CONTENT_MAX_BYTES} bytes of UTF-8`,
  });

const tagSchema = storableString()
  .min(1, { message: 'must not be empty' })
  .max(MEMORY_TAG_MAX_LENGTH, { message: `must be at most ${MEMORY_TAG_MAX_LENGTH} characters` });

const tagsSchema = z
  .array(tagSchema)
  .max(MEMORY_TAGS_MAX_ITEMS, { message: `must hold at most ${MEMORY_TAGS_MAX_ITEMS} items` })
  .refine((tags) => new Set(tags).size === tags.length, { message: 'must not repeat a tag' });

const ownerIdSchema = z.uuid({ message: 'must be a UUID' }).nullable();

/**
 * Body of `POST /memory`; the result is exactly the record sent to the MCP server. The key is
 * unique within `project_id` (null: the namespace of entries without a project).
 */
export const memoryInputSchema = z
  .strictObject({
    key: memoryKeySchema,
    content: contentSchema,
    tags: tagsSchema.default([]),
    project_id: ownerIdSchema.default(null).describe('The project the key belongs to; null: none'),
    agent_id: ownerIdSchema.default(null),
  })
  .refine((input) => input.project_id !== null || !looksLikeProjectEntityName(input.key), {
    path: ['key'],
    message: 'must not start with "@<uuid>/" in an entry without a project_id',
  })
  .meta({ id: 'MemoryWrite' });
export type MemoryInput = z.infer<typeof memoryInputSchema>;

/** Path parameters of `GET /memory/{key}`. */
export const memoryKeyParamsSchema = z.strictObject({ key: memoryKeySchema });

/** Query of `GET /memory/{key}`: which project's key it is. */
export const memoryEntryQuerySchema = z.strictObject({
  project_id: z
    .uuid({ message: 'must be a UUID' })
    .optional()
    .describe('The project the key belongs to; absent: the entry without a project'),
});
export type MemoryEntryQuery = z.infer<typeof memoryEntryQuerySchema>;

/** Where `GET` finds an entry: its key and its project (null: none). */
export function memoryEntryPath(entry: { key: string; project_id: string | null }): string {
  const project = entry.project_id === null ? '' : `?project_id=${entry.project_id}`;
  return `/api/v1/memory/${encodeURIComponent(entry.key)}${project}`;
}

/** Query of `GET /memory/search`. */
export const memorySearchQuerySchema = z.strictObject({
  q: storableString()
    .min(1, { message: 'must not be empty' })
    .max(MEMORY_QUERY_MAX_LENGTH, {
      message: `must be at most ${MEMORY_QUERY_MAX_LENGTH} characters`,
    })
    .describe('Case-insensitive text to find in the key, the content or a tag'),
  project_id: z
    .uuid({ message: 'must be a UUID' })
    .optional()
    .describe('Only entries of this project'),
  limit: queryInteger(1, 100).default(20),
});
export type MemorySearchQuery = z.infer<typeof memorySearchQuerySchema>;

/** How memory entries can be listed in order. */
export const memorySortValues = [
  'key',
  '-key',
  'created_at',
  '-created_at',
  'updated_at',
  '-updated_at',
] as const;
export type MemorySortOrder = (typeof memorySortValues)[number];

/** Query of `GET /memory`: a page of entries, optionally of one project, agent or tag. */
export const memoryListQuerySchema = z.strictObject({
  limit: queryInteger(1, 100).default(20),
  offset: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  sort: z.enum(memorySortValues).default('-updated_at'),
  project_id: z
    .uuid({ message: 'must be a UUID' })
    .optional()
    .describe('Only entries of this project'),
  agent_id: z
    .uuid({ message: 'must be a UUID' })
    .optional()
    .describe('Only entries written for this agent'),
  tag: tagSchema.optional().describe('Only entries carrying this tag'),
});
export type MemoryListQuery = z.infer<typeof memoryListQuerySchema>;

/**
 * Response fields are plain strings rather than the input rules: search results may come from
 * the MCP server, which other clients can write to as well.
 */
const recordShape = {
  key: z.string(),
  content: z.string(),
  tags: z.array(z.string()),
  project_id: z.string().nullable(),
  agent_id: z.string().nullable(),
};

/** An entry as `GET /memory/{key}` returns it from local storage. */
export const memoryEntrySchema = z
  .object({ ...recordShape, created_at: timestampSchema, updated_at: timestampSchema })
  .meta({ id: 'MemoryEntry' });
export type MemoryEntry = z.infer<typeof memoryEntrySchema>;

/** A page of `GET /memory`. */
export const memoryEntryPageSchema = pageSchema(memoryEntrySchema).meta({ id: 'MemoryEntryPage' });

/** One search hit; `score` (text-search rank) is present only for answers from local storage. */
export const memorySearchItemSchema = z
  .object({ ...recordShape, score: z.number().optional() })
  .meta({ id: 'MemorySearchItem' });
export type MemorySearchItem = z.infer<typeof memorySearchItemSchema>;

/** Where a search answer came from; see docs/memory.md. */
export const memorySources = ['mcp', 'fallback_cache', 'fallback_storage'] as const;
export type MemorySource = (typeof memorySources)[number];

/** Response of `GET /memory/search`. */
export const memorySearchResultSchema = z
  .object({ items: z.array(memorySearchItemSchema), source: z.enum(memorySources) })
  .meta({ id: 'MemorySearchResult' });
export type MemorySearchResult = z.infer<typeof memorySearchResultSchema>;

/**
 * `mcp`: the server acknowledged the write; `queued`: it is stored locally and waits in the replay
 * queue.
 */
export const memoryStoredIn = ['mcp', 'queued'] as const;

/** Response of `POST /memory`. */
export const memoryStoreResultSchema = z
  .object({ key: z.string(), project_id: z.string().nullable(), stored_in: z.enum(memoryStoredIn) })
  .meta({ id: 'MemoryStoreResult' });
export type MemoryStoreResult = z.infer<typeof memoryStoreResultSchema>;

/** Response of `GET /memory/circuit` and `POST /memory/circuit/reset`. */
export const memoryCircuitSchema = z
  .object({
    state: z.enum(['CLOSED', 'OPEN', 'HALF_OPEN']),
    failure_count: z.number().int(),
    success_count: z.number().int(),
    consecutive_failures: z.number().int(),
    last_failure_at: timestampSchema.nullable(),
    last_success_at: timestampSchema.nullable(),
    opened_at: timestampSchema.nullable(),
    next_attempt_at: timestampSchema.nullable(),
    rejected_count: z.number().int(),
    fallback_count: z
      .number()
      .int()
      .describe(
        'Searches answered from a fallback and writes answered "queued" since the last reset',
      ),
    queued_writes: z
      .number()
      .int()
      .describe('Rows waiting in the replay queue (shared by every instance)'),
  })
  .meta({ id: 'MemoryCircuit' });
export type MemoryCircuit = z.infer<typeof memoryCircuitSchema>;
