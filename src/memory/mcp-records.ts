/**
 * Mapping between the service's memory records and server-memory's knowledge
 * graph entities.
 *
 * One memory entry is one entity (`entityType` = {@link MEMORY_ENTITY_TYPE}) named by
 * {@link memoryEntityName}: the key for an entry without a project, `@<project id>/<key>` for an
 * entry of a project, so keys of different projects never meet on the server. The record's
 * fields are stored as a single JSON observation so they can be parsed back losslessly.
 */
import { z } from 'zod';
import { type MemorySearchItem, looksLikeProjectEntityName } from '../domain/memory.js';

export { memoryEntityName } from '../domain/memory.js';

/** A memory entry as the service stores and reads it. */
export interface MemoryRecord {
  key: string;
  content: string;
  tags: string[];
  project_id: string | null;
  agent_id: string | null;
}

/**
 * A search result. `score` is optional because server-memory's search is a
 * boolean substring match and has no relevance signal; this client omits it.
 */
export type MemorySearchHit = MemorySearchItem;

/** Entity type used for memory entries; other entity types in the graph are ignored. */
export const MEMORY_ENTITY_TYPE = 'memory';

/** True when two records are the same entry: same project, same key. */
export function sameEntry(
  a: Pick<MemoryRecord, 'key' | 'project_id'>,
  b: Pick<MemoryRecord, 'key' | 'project_id'>,
): boolean {
  return a.key === b.key && a.project_id === b.project_id;
}

/** Version marker inside every encoded observation, so the format can evolve. */
const RECORD_FORMAT_VERSION = 1;

const EncodedRecordSchema = z.object({
  v: z.literal(RECORD_FORMAT_VERSION),
  content: z.string(),
  tags: z.array(z.string()),
  project_id: z.string().nullable(),
  agent_id: z.string().nullable(),
});

/** An entity as returned by server-memory's tools. */
export const GraphEntitySchema = z.object({
  name: z.string(),
  entityType: z.string(),
  observations: z.array(z.string()),
});

export type GraphEntity = z.infer<typeof GraphEntitySchema>;

/** The `{ entities: [...] }` part of search_nodes/open_nodes/read_graph/create_entities results. */
export const EntityListSchema = z.object({ entities: z.array(GraphEntitySchema) });

/**
 * Encodes a record as one observation string.
 *
 * The field order is fixed, so the same record always yields the same string;
 * the client relies on that to detect "already stored" and skip writes.
 */
export function encodeRecord(record: MemoryRecord): string {
  return JSON.stringify({
    v: RECORD_FORMAT_VERSION,
    content: record.content,
    tags: record.tags,
    project_id: record.project_id,
    agent_id: record.agent_id,
  });
}

/**
 * Decodes one observation of the entity `name`, or returns undefined when it is not a record
 * written by this client, or when the name does not match the record's project (an entity
 * written under another name, e.g. by a version that did not namespace keys per project).
 */
export function decodeObservation(name: string, observation: string): MemoryRecord | undefined {
  const parsed = EncodedRecordSchema.safeParse(parseJson(observation));
  if (!parsed.success) {
    return undefined;
  }
  const { content, tags, project_id, agent_id } = parsed.data;
  const prefix = project_id === null ? '' : `@${project_id}/`;
  if (!name.startsWith(prefix) || (prefix === '' && looksLikeProjectEntityName(name))) {
    return undefined;
  }
  return { key: name.slice(prefix.length), content, tags, project_id, agent_id };
}

/**
 * Turns a graph entity back into a record, or undefined when the entity is not a memory entry.
 *
 * When several encoded observations exist (a store was interrupted between
 * adding the new observation and deleting the old one) the last one wins,
 * because add_observations appends.
 */
export function entityToRecord(entity: GraphEntity): MemoryRecord | undefined {
  if (entity.entityType !== MEMORY_ENTITY_TYPE) {
    return undefined;
  }
  // Stryker disable next-line ArithmeticOperator: past the end it decodes '' twice, to nothing
  for (let index = entity.observations.length - 1; index >= 0; index -= 1) {
    // Stryker disable next-line StringLiteral: the index is always in range
    const record = decodeObservation(entity.name, entity.observations[index] ?? '');
    if (record) {
      return record;
    }
  }
  return undefined;
}

/**
 * Client-side re-check of a server-memory search hit.
 *
 * server-memory matches the query against the raw observation text, i.e. our
 * JSON, so "content", "tags" or "null" would match every entry. This applies
 * the same case-insensitive substring rule to the decoded key, content and tags only.
 */
export function recordMatchesQuery(record: MemoryRecord, query: string): boolean {
  const needle = query.toLowerCase();
  const fields = [record.key, record.content, ...record.tags];
  return fields.some((field) => field.toLowerCase().includes(needle));
}

/**
 * Project filter for search: `undefined` means every project, `null` means only
 * entries without a project, a string means exactly that project.
 */
export function recordMatchesProject(
  record: MemoryRecord,
  projectId: string | null | undefined,
): boolean {
  return projectId === undefined || record.project_id === projectId;
}

/**
 * True when server-memory's substring search can be trusted for this query.
 *
 * Characters that JSON escapes (quotes, backslashes, control characters) appear
 * escaped inside our JSON observation, so the server would miss them; such
 * queries must be answered from the full graph instead.
 */
export function isServerSearchable(query: string): boolean {
  return JSON.stringify(query) === `"${query}"`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } /* Stryker disable next-line BlockStatement: an empty catch returns undefined too */ catch {
    return undefined;
  }
}

/** Options of {@link selectSearchHits}, mirroring the service's search options. */
export interface MemorySearchOptions {
  limit: number;
  project_id?: string | null;
}

/**
 * Turns server search results into hits: decodes memory entities, re-checks
 * the query and the project, and caps the list at `limit`.
 *
 * server-memory returns entities in file order, which is creation order, so
 * the list is reversed to prefer the most recently created entries when capping.
 */
export function selectSearchHits(
  entities: readonly GraphEntity[],
  query: string,
  selection: MemorySearchOptions,
): MemorySearchHit[] {
  const hits: MemorySearchHit[] = [];
  for (let index = entities.length - 1; index >= 0 && hits.length < selection.limit; index -= 1) {
    const record = entityToRecord(entities[index] as GraphEntity);
    if (
      record &&
      recordMatchesQuery(record, query) &&
      recordMatchesProject(record, selection.project_id)
    ) {
      hits.push(record);
    }
  }
  return hits;
}
