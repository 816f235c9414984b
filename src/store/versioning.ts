import { type AnyColumn, type SQL, asc, desc, sql } from 'drizzle-orm';
import type { SortOrder } from '../domain/common.js';

/** The columns every versioned resource table shares. */
export interface VersionedColumns {
  id: AnyColumn;
  name: AnyColumn;
  version: AnyColumn;
  createdAt: AnyColumn;
  updatedAt: AnyColumn;
}

/**
 * Versions an `If-Match` header accepts: `null` when the write is unconditional (no header or
 * `*`), otherwise the listed versions (empty when nothing in the header parses, so it never matches).
 */
export type ExpectedVersions = readonly number[] | null;

/** Column assignments that record one more change: version + 1 and an `updated_at` that always moves forward. */
export function nextVersion(table: VersionedColumns) {
  return {
    version: sql`${table.version} + 1`,
    updatedAt: sql`greatest(now(), ${table.updatedAt} + interval '1 millisecond')`,
  };
}


/** ORDER BY terms for a sort order, ending with the id so that pages never overlap or skip. */
export function orderTerms(table: VersionedColumns, sort: SortOrder): SQL[] {
  const direction = sort.startsWith('-') ? desc : asc;
  const field = sort.replace(/^-/, '');
  const column =
    field === 'name' ? sql`${table.name} collate "C"` : field === 'updated_at' ? table.updatedAt : table.createdAt;
  return [direction(column), direction(table.id)];
}
