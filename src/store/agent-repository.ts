import {
  type SQL,
  and,
  arrayContains,
  count,
  eq,
  getTableColumns,
  inArray,
  isNull,
  lt,
  lte,
  ne,
  notExists,
  notInArray,
  sql,
} from 'drizzle-orm';
import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import type { Page } from '../domain/common.js';
import { ConflictError, UnprocessableError } from '../domain/errors.js';
import { finishedStatuses } from '../domain/task.js';
import { SqlState, databaseErrorCode } from './database-errors.js';
import type { Executor, Statement } from './database.js';
import { agents, taskAttempts, tasks } from './schema.js';
import { nextVersion, orderTerms, selectById, selectPage } from './versioning.js';
import { changesCte, rowDocument, writeStatementText } from './write-statement.js';

type AgentRow = typeof agents.$inferSelect;

/** SQL of an agent as the API shows it (`toAgent()` says the same in TS). */
export const agentDocument = (row: string) =>
  rowDocument(
    row,
    ['id', 'name', 'agent_type', 'capabilities', 'status', 'project_id', 'metadata', 'version'],
    ['last_active_at', 'created_at', 'updated_at'],
  );

/**
 * A heartbeat: the agent just seen and, when it names a status (or comes back from `offline`,
 * which it leaves for `idle`), that status. Only a change of status is a versioned change with an
 * AGENT_STATUS event and an audit record; the last-seen time alone is liveness, neither.
 */
const heartbeatText = writeStatementText(
  `target as (
  select id, status from agents
  where id = $4::uuid and ($6::uuid[] is null or project_id = any($6::uuid[]))
  for update
), next as (
  select id, status as before,
    coalesce($5::text, case when status = 'offline' then 'idle' else status end) as status
  from target
), u as (
  update agents a set
    status = n.status,
    last_active_at = now(),
    version = a.version + (n.status <> n.before)::int,
    updated_at = case when n.status <> n.before
      then greatest(now(), a.updated_at + interval '1 millisecond') else a.updated_at end
  from next n
  where a.id = n.id
  returning a.*, n.before
), ${changesCte({
    type: 'AGENT_STATUS',
    topic: `'agent:' || u.id`,
    topics: `array['agents', 'agent:' || u.id] ||
      case when u.project_id is null then '{}'::text[] else array['project:' || u.project_id] end`,
    data: `jsonb_build_object('agent', ${agentDocument('u')},
      'changed_fields', '["status"]'::jsonb)`,
    action: 'status',
    resource: 'agent',
    resourceId: 'u.id',
    changedFields: `array['status']`,
    from: 'u where u.status <> u.before',
  })}`,
  `(select ${agentDocument('u')} from u) as agent`,
);

/** Maps a row to the wire shape: snake_case names and ISO timestamps. */
export function toAgent(row: AgentRow): Agent {
  return {
    id: row.id,
    name: row.name,
    agent_type: row.agentType as Agent['agent_type'],
    capabilities: row.capabilities,
    status: row.status as Agent['status'],
    project_id: row.projectId,
    metadata: row.metadata,
    last_active_at: row.lastActiveAt?.toISOString() ?? null,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toColumns(fields: AgentPatch) {
  return {
    name: fields.name,
    agentType: fields.agent_type,
    capabilities: fields.capabilities,
    status: fields.status,
    projectId: fields.project_id,
    metadata: fields.metadata,
  };
}

function filters(query: AgentListQuery, scope: readonly string[] | null): SQL | undefined {
  return and(
    scope === null ? undefined : inArray(agents.projectId, [...scope]),
    query.agent_type === undefined ? undefined : inArray(agents.agentType, query.agent_type),
    query.status === undefined ? undefined : inArray(agents.status, query.status),
    query.project_id === undefined ? undefined : eq(agents.projectId, query.project_id),
    query.name === undefined ? undefined : eq(agents.name, query.name),
    query.capability === undefined
      ? undefined
      : arrayContains(agents.capabilities, query.capability),
  );
}

/** Where an agent's name must be unique: its project, or the agents without a project. */
export type AgentPlace = Pick<Agent, 'name' | 'project_id'>;

function nameTaken({ name, project_id: projectId }: AgentPlace): ConflictError {
  const where =
    projectId === null ? 'among the agents without a project' : `in project ${projectId}`;
  return new ConflictError(`Agent name "${name}" is already taken ${where}`);
}

/**
 * Turns constraint violations into the domain errors the API promises: 409 for a name taken in
 * the agent's project (`place`, as it would be after the write), 422 for an unknown project.
 */
async function translateViolations<T>(place: AgentPlace, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const code = databaseErrorCode(error);
    if (code === SqlState.uniqueViolation) throw nameTaken(place);
    if (code === SqlState.foreignKeyViolation) {
      const message = `Project ${place.project_id} does not exist`;
      throw new UnprocessableError(message, [{ path: '/project_id', message }]);
    }
    throw error;
  }
}

/** Where the agent ends up: the fields a write names, else where it is now. */
function placeAfter(fields: AgentPatch, current: AgentPlace): AgentPlace {
  const projectId = fields.project_id === undefined ? current.project_id : fields.project_id;
  return { name: fields.name ?? current.name, project_id: projectId };
}

/**
 * SQL access to the `agents` table. Every method runs on the executor it is given, so services
 * choose the transaction.
 */
export class AgentRepository {
  async insert(executor: Executor, input: AgentInput): Promise<Agent> {
    const [row] = await translateViolations(input, () =>
      executor
        .insert(agents)
        .values({ ...toColumns(input), name: input.name, agentType: input.agent_type })
        .returning(),
    );
    return toAgent(row!);
  }

  /**
   * The row, or null; with `lock` the row stays locked until the transaction ends, so a write can
   * check it first.
   */
  async findById(
    executor: Executor,
    id: string,
    options: { lock?: boolean } = {},
  ): Promise<Agent | null> {
    const row = await selectById<AgentRow>(executor, agents, id, options.lock);
    return row === null ? null : toAgent(row);
  }

  /**
   * A page of the agents matching `query` among those assigned to a project in `scope` (null: all
   * agents).
   */
  async list(
    executor: Executor,
    query: AgentListQuery,
    scope: readonly string[] | null = null,
  ): Promise<Page<Agent>> {
    const order = orderTerms(agents, query.sort, { last_active_at: agents.lastActiveAt });
    return selectPage(executor, agents, filters(query, scope), query, toAgent, order);
  }

  /**
   * Applies `fields` and bumps the version; null when the row is missing. `current` is the
   * agent's name and project before the write, to say where a name is taken.
   */
  async update(
    executor: Executor,
    id: string,
    fields: AgentPatch,
    current: AgentPlace,
  ): Promise<Agent | null> {
    const [row] = await translateViolations(placeAfter(fields, current), () =>
      executor
        .update(agents)
        .set({ ...toColumns(fields), ...nextVersion(agents) })
        .where(eq(agents.id, id))
        .returning(),
    );
    return row === undefined ? null : toAgent(row);
  }

  /**
   * Records that the agent reported in (and optionally its status); null when it does not exist.
   */
  /**
   * A heartbeat as one statement (write-statement.ts), for an agent in `scope` (null: any). Its
   * row: `agent`, null when there is no such agent in scope.
   */
  heartbeatStatement(id: string, heartbeat: Heartbeat, scope: readonly string[] | null): Statement {
    return {
      // Stryker disable next-line StringLiteral: an unnamed statement writes the same, re-planned
      name: 'agent_heartbeat',
      text: heartbeatText,
      values: [id, heartbeat?.status ?? null, scope],
    };
  }

  /**
   * Unassigns every agent of a project that is about to be deleted, as one versioned change each.
   * An agent whose name an agent without a project already has makes it a 409: names are unique
   * among the agents without a project too.
   */
  async detachFromProject(executor: Executor, projectId: string): Promise<Agent[]> {
    const detach = executor
      .update(agents)
      .set({ projectId: null, ...nextVersion(agents) })
      .where(eq(agents.projectId, projectId))
      .returning();
    try {
      return (await detach).map(toAgent);
    } catch (error) {
      if (databaseErrorCode(error) !== SqlState.uniqueViolation) throw error;
      throw new ConflictError(
        `Project ${projectId} cannot be deleted: its agents would join the agents without a ` +
          'project, and one of them has the name of such an agent; rename or move that agent first',
      );
    }
  }

  /**
   * Marks the agent busy and just seen, in one statement; returns it with its status before, or
   * null when it does not exist. Used when it takes an attempt or heartbeats one.
   */
  async takeWork(executor: Executor, id: string): Promise<{ agent: Agent; before: string } | null> {
    const old = executor
      .select({ id: agents.id, before: sql<string>`${agents.status}`.as('before') })
      .from(agents)
      .where(eq(agents.id, id))
      .for('update')
      .as('old');
    const [row] = await executor
      .update(agents)
      .set({ status: 'busy', lastActiveAt: sql`now()`, ...nextVersion(agents) })
      .from(old)
      .where(eq(agents.id, old.id))
      .returning({ ...getTableColumns(agents), before: old.before });
    if (row === undefined) return null;
    const { before, ...agent } = row;
    return { agent: toAgent(agent), before };
  }

  /**
   * The busy agents that hold no live attempt, at most `limit`, with their versions: agents whose
   * attempts ended at the same moment, each completion seeing the other's attempt still live in
   * its snapshot (docs/tasks.md, the maintenance loop). Only agents last changed no later than
   * their last attempt ended: a busy status the agent set itself since is left alone (a heartbeat
   * repeating `busy` changes no `updated_at`, so it is not one).
   * Release each with {@link releaseIfIdle}.
   */
  async busyWithoutWork(
    executor: Executor,
    limit: number,
  ): Promise<Array<{ id: string; version: number }>> {
    return executor
      .select({ id: agents.id, version: agents.version })
      .from(agents)
      .where(
        and(
          eq(agents.status, 'busy'),
          notExists(this.liveAttempts(executor, agents.id)),
          lte(
            agents.updatedAt,
            sql`(select max(${taskAttempts.endedAt}) from ${taskAttempts}
              where ${taskAttempts.agentId} = ${agents.id})`,
          ),
        ),
      )
      .limit(limit);
  }

  /** The live attempts of the agent `agentId` (an id, or the outer query's column). */
  private liveAttempts(executor: Executor, agentId: typeof agents.id | string) {
    const live = and(eq(taskAttempts.agentId, agentId), isNull(taskAttempts.endedAt));
    // Stryker disable next-line ObjectLiteral,StringLiteral: EXISTS reads no column (`select from`)
    const query = executor.select({ one: sql`1` });
    return query.from(taskAttempts).where(live);
  }

  /**
   * Marks a busy agent idle once it holds no live attempt, in one statement; returns it when it
   * changed, else null. With `version`, only while the agent is still at that version: a claim
   * that commits while this statement waits for the row changes it, and its attempt is not in
   * this statement's snapshot.
   */
  async releaseIfIdle(executor: Executor, id: string, version?: number): Promise<Agent | null> {
    const [row] = await executor
      .update(agents)
      .set({ status: 'idle', ...nextVersion(agents) })
      .where(
        and(
          eq(agents.id, id),
          eq(agents.status, 'busy'),
          version === undefined ? undefined : eq(agents.version, version),
          notExists(this.liveAttempts(executor, id)),
        ),
      )
      .returning();
    return row === undefined ? null : toAgent(row);
  }

  /**
   * Marks offline the agents not heard from for `silentMs` (never-seen agents are left alone),
   * at most `limit` per call; returns them as changed.
   */
  async markSilentOffline(executor: Executor, silentMs: number, limit: number): Promise<Agent[]> {
    const silent = executor
      .select({ id: agents.id })
      .from(agents)
      .where(
        and(
          ne(agents.status, 'offline'),
          lt(agents.lastActiveAt, sql`now() - ${silentMs}::int * interval '1 millisecond'`),
        ),
      )
      .limit(limit)
      .for('update', { skipLocked: true });
    const rows = await executor
      .update(agents)
      .set({ status: 'offline', ...nextVersion(agents) })
      .where(inArray(agents.id, silent))
      .returning();
    return rows.map(toAgent);
  }

  /** The task of the agent's live attempt, or null: an agent deleted mid-run strands its task. */
  async runningTask(executor: Executor, id: string): Promise<string | null> {
    const [row] = await executor
      .select({ taskId: taskAttempts.taskId })
      .from(taskAttempts)
      .where(and(eq(taskAttempts.agentId, id), isNull(taskAttempts.endedAt)))
      .limit(1);
    return row?.taskId ?? null;
  }

  /**
   * Before the agent's deletion, lets go of its finished tasks: their `agent_id` becomes null, as
   * the foreign key would make it, without a new version (they are history, like the agent's
   * attempts). The update also locks them, so a retry cannot make one unfinished unseen by
   * {@link pinnedTasks}.
   */
  async unpinFinished(executor: Executor, id: string): Promise<void> {
    const finished = inArray(tasks.status, [...finishedStatuses]);
    await executor
      .update(tasks)
      .set({ agentId: null })
      .where(and(eq(tasks.agentId, id), finished));
  }

  /**
   * How many tasks are pinned to the agent: deleting it would make them anyone's work silently.
   * A count, not their ids: a task pinned before the agent moved may be in a project the caller
   * cannot see.
   */
  async pinnedTasks(executor: Executor, id: string): Promise<number> {
    const [row] = await executor
      .select({ count: count() })
      .from(tasks)
      .where(eq(tasks.agentId, id));
    return row!.count;
  }

  /**
   * How many unfinished tasks of projects other than `projectId` are pinned to the agent: moving
   * it there would leave them waiting for an agent that can no longer claim them.
   */
  async pinnedElsewhere(executor: Executor, id: string, projectId: string): Promise<number> {
    const unfinished = notInArray(tasks.status, [...finishedStatuses]);
    const [row] = await executor
      .select({ count: count() })
      .from(tasks)
      .where(and(eq(tasks.agentId, id), ne(tasks.projectId, projectId), unfinished));
    return row!.count;
  }

  /** Deletes the row; null when it is missing. */
  async delete(executor: Executor, id: string): Promise<Agent | null> {
    const [row] = await executor.delete(agents).where(eq(agents.id, id)).returning();
    return row === undefined ? null : toAgent(row);
  }
}
