import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import type { StatusCounts } from '../domain/stats.js';
import type { Executor } from './database.js';
import { agents, memoryEntries, memoryReplayQueue, projects } from './schema.js';

/** The counts of {@link StatsRepository.counts}, as the database computed them. */
export interface StoredCounts {
  projects: StatusCounts;
  agents: StatusCounts;
  memoryEntries: number;
  queuedWrites: number;
}

/** `column` within `scope` (null: no limit); a column that is null (no project) is outside every scope. */
function inScope(column: AnyColumn, scope: readonly string[] | null): SQL {
  if (scope === null) return sql`true`;
  const ids = sql.join(
    scope.map((id) => sql`${id}`),
    sql`, `,
  );
  return sql`${column} = any(array[${ids}]::uuid[])`;
}

function countsByStatus(table: typeof projects | typeof agents, where: SQL): SQL {
  return sql`(select coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
    from (select ${table.status} as status, count(*)::int as n from ${table} where ${where}
          group by ${table.status}) as counted)`;
}

/** Aggregate counts for `GET /api/v1/stats`: one statement, one round trip, whatever the table sizes. */
export class StatsRepository {
  async counts(executor: Executor, scope: readonly string[] | null): Promise<StoredCounts> {
    const result = await executor.execute(sql`select
      ${countsByStatus(projects, inScope(projects.id, scope))} as projects,
      ${countsByStatus(agents, inScope(agents.projectId, scope))} as agents,
      (select count(*)::int from ${memoryEntries} where ${inScope(memoryEntries.projectId, scope)})
        as memory_entries,
      (select count(*)::int from ${memoryReplayQueue}) as queued_writes`);
    const [row] = (
      result as {
        rows: Array<{
          projects: StatusCounts;
          agents: StatusCounts;
          memory_entries: number;
          queued_writes: number;
        }>;
      }
    ).rows;
    return {
      projects: row!.projects,
      agents: row!.agents,
      memoryEntries: row!.memory_entries,
      queuedWrites: row!.queued_writes,
    };
  }
}
