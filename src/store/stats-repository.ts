import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import { RECENT_ATTEMPTS, type AgentFigures, type StatusCounts } from '../domain/stats.js';
import type { Executor } from './database.js';
import {
  agents,
  memoryEntries,
  memoryReplayQueue,
  projects,
  taskAttempts,
  tasks,
} from './schema.js';

/** The counts of {@link StatsRepository.counts}, as the database computed them. */
export interface StoredCounts {
  projects: StatusCounts;
  agents: StatusCounts;
  tasks: StatusCounts;
  /** Attempts that ended in the last hour, by outcome. */
  runsLastHour: StatusCounts;
  memoryEntries: number;
  queuedWrites: number;
}

/** `column` within `scope` (null: no limit); a null column (no project) is outside every scope. */
function inScope(column: AnyColumn, scope: readonly string[] | null): SQL {
  if (scope === null) return sql`true`;
  const ids = sql.join(
    scope.map((id) => sql`${id}`),
    sql`, `,
  );
  return sql`${column} = any(array[${ids}]::uuid[])`;
}

/** `{ value: count }` of `column` over `from` (a FROM … WHERE …), as one jsonb value. */
function countsBy(column: AnyColumn, from: SQL): SQL {
  return sql`(select coalesce(jsonb_object_agg(value, n), '{}'::jsonb)
    from (select ${column} as value, count(*)::int as n from ${from} group by ${column}) as counted)`;
}

function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** Aggregates for `GET /api/v1/stats`: each read is one statement, whatever the table sizes. */
export class StatsRepository {
  async counts(executor: Executor, scope: readonly string[] | null): Promise<StoredCounts> {
    const result = await executor.execute(sql`select
      ${countsBy(projects.status, sql`${projects} where ${inScope(projects.id, scope)}`)} as projects,
      ${countsBy(agents.status, sql`${agents} where ${inScope(agents.projectId, scope)}`)} as agents,
      ${countsBy(tasks.status, sql`${tasks} where ${inScope(tasks.projectId, scope)}`)} as tasks,
      ${countsBy(
        taskAttempts.outcome,
        sql`${taskAttempts} join ${tasks} on ${tasks.id} = ${taskAttempts.taskId}
          where ${taskAttempts.endedAt} > now() - interval '1 hour'
            and ${inScope(tasks.projectId, scope)}`,
      )} as runs,
      (select count(*)::int from ${memoryEntries} where ${inScope(memoryEntries.projectId, scope)})
        as memory_entries,
      (select count(*)::int from ${memoryReplayQueue}) as queued_writes`);
    const [row] = rowsOf<{
      projects: StatusCounts;
      agents: StatusCounts;
      tasks: StatusCounts;
      runs: StatusCounts;
      memory_entries: number;
      queued_writes: number;
    }>(result);
    return {
      projects: row!.projects,
      agents: row!.agents,
      tasks: row!.tasks,
      runsLastHour: row!.runs,
      memoryEntries: row!.memory_entries,
      queuedWrites: row!.queued_writes,
    };
  }

  /**
   * Figures of the agents `ids` that lie within `scope`: the task of the agent's live attempt,
   * and over its latest finished attempts (read backwards along the agent's claim index) the
   * successes and the mean time from claim to end.
   */
  async agentFigures(
    executor: Executor,
    ids: readonly string[],
    scope: readonly string[] | null,
  ): Promise<AgentFigures[]> {
    const wanted = sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    );
    const result = await executor.execute(sql`
      select ${agents.id} as agent_id,
        (select jsonb_build_object('id', t.id, 'title', t.title)
           from ${taskAttempts} live join ${tasks} t on t.id = live.task_id
           where live.agent_id = ${agents.id} and live.ended_at is null
           order by live.claimed_at desc limit 1) as current_task,
        count(recent.outcome)::int as recent_attempts,
        (count(*) filter (where recent.outcome = 'succeeded'))::int as succeeded,
        round(avg(recent.ms))::int as mean_duration_ms
      from ${agents}
      left join lateral (
        select done.outcome,
          extract(epoch from (done.ended_at - done.claimed_at)) * 1000 as ms
        from ${taskAttempts} done
        where done.agent_id = ${agents.id} and done.ended_at is not null
        order by done.claimed_at desc
        limit ${RECENT_ATTEMPTS}
      ) recent on true
      where ${agents.id} = any(array[${wanted}]::uuid[]) and ${inScope(agents.projectId, scope)}
      group by ${agents.id}`);
    const rows = rowsOf<Omit<AgentFigures, 'success_rate'>>(result);
    const byId = new Map(rows.map((row) => [row.agent_id, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      if (row === undefined) return [];
      const rate = row.recent_attempts === 0 ? null : row.succeeded / row.recent_attempts;
      return [{ ...row, success_rate: rate }];
    });
  }
}
