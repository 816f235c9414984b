import { type AnyColumn, type SQL, asc, count, desc, eq, getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Page, PageRequest } from '../domain/common.js';

import type { Executor } from './database.js';
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
 * Column assignments that record one more change: version + 1 and an `updated_at` that always moves
 * forward.
 */
export function nextVersion(table: Pick<VersionedColumns, 'version' | 'updatedAt'>) {
  return {
    version: sql`${table.version} + 1`,
    updatedAt: sql`greatest(now(), ${table.updatedAt} + interval '1 millisecond')`,
  };
}

/** A column a list may sort by besides the shared ones; missing values sort last either way. */
export type ExtraSortColumns = Partial<Record<string, AnyColumn>>;

/** ORDER BY terms for a sort order, ending with the id so that pages never overlap or skip. */
export function orderTerms(
  table: VersionedColumns,
  sort: SortOrder,
  extra: ExtraSortColumns = {},
): SQL[] {
  const descending = sort.startsWith('-');
  const direction = descending ? desc : asc;
  // Stryker disable next-line Regex: no sort field has a '-' but the leading one (routes check)
  const field = sort.replace(/^-/, '');
  const nullable = extra[field];
  if (nullable !== undefined)
    return [
      // Stryker disable next-line StringLiteral: ascending is PostgreSQL's default order anyway
      sql`${nullable} ${sql.raw(descending ? 'desc' : 'asc')} nulls last`,
      direction(table.id),
    ];
  const column =
    field === 'name'
      ? sql`${table.name} collate "C"`
      : field === 'updated_at'
        ? table.updatedAt
        : table.createdAt;
  return [direction(column), direction(table.id)];
}

/** A table with the shared versioned columns, as the generic helpers below need it. */
export type VersionedTable = PgTable & VersionedColumns;

/**
 * One page of `table` under `where`, in `order` (by default the shared orders of `page.sort`),
 * with the total count; rows mapped by `map`.
 */
export async function selectPage<Row, T>(
  executor: Executor,
  table: PgTable,
  where: SQL | undefined,
  page: Omit<PageRequest, 'sort'> & { sort: string },
  map: (row: Row) => T,
  order: SQL[],
): Promise<Page<T>> {
  const rows = await executor
    .select()
    .from(table)
    .where(where)
    .orderBy(...order)
    .limit(page.limit)
    .offset(page.offset);
  const [total] = await executor.select({ value: count() }).from(table).where(where);
  return {
    items: (rows as Row[]).map(map),
    total: total!.value,
    limit: page.limit,
    offset: page.offset,
  };
}

type PreparedLookup = { execute(values: { id: string }): Promise<unknown[]> };
const preparedLookups = new WeakMap<Executor, Map<VersionedTable, PreparedLookup>>();

/**
 * A prepared `select … where id = $1` per executor and table: the hot read skips building SQL (and
 * PostgreSQL re-planning it).
 */
function preparedLookup(executor: Executor, table: VersionedTable): PreparedLookup {
  const byTable = preparedLookups.get(executor) ?? new Map<VersionedTable, PreparedLookup>();
  preparedLookups.set(executor, byTable);
  let lookup = byTable.get(table);
  // Stryker disable next-line ConditionalExpression: preparing anew reads the same, only slower
  if (lookup === undefined) {
    lookup = executor
      .select()
      .from(table)
      .where(eq(table.id, sql.placeholder('id')))
      .prepare(
        // Stryker disable next-line StringLiteral: an unnamed statement reads the same, re-planned
        `${getTableName(table)}_by_id`,
      );
    byTable.set(table, lookup);
  }
  return lookup;
}

/** The row with `id`, or null; with `lock` it stays locked until the transaction ends. */
export async function selectById<Row>(
  executor: Executor,
  table: VersionedTable,
  id: string,
  lock = false,
): Promise<Row | null> {
  const [row] = lock
    ? await executor.select().from(table).where(eq(table.id, id)).for('update')
    : await preparedLookup(executor, table).execute({ id });
  return (row as Row | undefined) ?? null;
}
