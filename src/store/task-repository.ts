import {
  type SQL,
  and,
  arrayContains,
  asc,
  desc,
  eq,
  inArray,
  lte,
  notExists,
  notInArray,
  sql,
} from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Page } from '../domain/common.js';
import { UnprocessableError } from '../domain/errors.js';
import type {
  Task,
  TaskInput,
  TaskListQuery,
  TaskPatch,
  TaskStatus,
  TaskTemplate,
} from '../domain/task.js';
import { type Reference, translateForeignKeys } from './database-errors.js';
import type { Executor } from './database.js';
import { agents, tasks } from './schema.js';
import { nextVersion, selectPage } from './versioning.js';

type TaskRow = typeof tasks.$inferSelect;

/** A timestamp from a raw SQL fragment: text on node-postgres, a Date on PGlite. */
export function toDate(value: unknown): Date {
  return new Date(value as string | Date);
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** Maps a row to the wire shape. */
export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    project_id: row.projectId,
    title: row.title,
    kind: row.kind,
    input: row.input ?? null,
    required_capabilities: row.requiredCapabilities,
    agent_type: row.agentType as Task['agent_type'],
    agent_id: row.agentId,
    priority: row.priority,
    run_at: row.runAt.toISOString(),
    depends_on: row.dependsOn,
    max_attempts: row.maxAttempts,
    backoff: { base_ms: row.backoffBaseMs, max_ms: row.backoffMaxMs },
    timeout_ms: row.timeoutMs,
    lease_ms: row.leaseMs,
    status: row.status as TaskStatus,
    progress:
      row.progressValue === null
        ? null
        : { value: row.progressValue, message: row.progressMessage },
    result: row.result ?? null,
    error: row.error,
    cancel_reason: row.cancelReason,
    attempts: row.attempts,
    schedule_id: row.scheduleId,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    finished_at: iso(row.finishedAt),
  };
}

/** The columns of a task definition, from the API's field names. */
function definitionColumns(fields: Partial<TaskTemplate> & Pick<TaskPatch, 'run_at'>) {
  return {
    title: fields.title,
    kind: fields.kind,
    input: fields.input,
    requiredCapabilities: fields.required_capabilities,
    agentType: fields.agent_type,
    agentId: fields.agent_id,
    priority: fields.priority,
    runAt: fields.run_at === undefined ? undefined : new Date(fields.run_at),
    maxAttempts: fields.max_attempts,
    backoffBaseMs: fields.backoff?.base_ms,
    backoffMaxMs: fields.backoff?.max_ms,
    timeoutMs: fields.timeout_ms,
    leaseMs: fields.lease_ms,
  };
}

/** Everything an insert needs: the input with its defaults, where it starts, who made it. */
export interface NewTask extends Omit<TaskInput, 'run_at'> {
  run_at: Date;
  status: TaskStatus;
  schedule_id?: string | null;
}

type TaskColumns = Omit<typeof tasks.$inferInsert, 'id' | 'version'>;
/** Column changes a service applies to a task it holds locked: values, or SQL such as `now()`. */
export type TaskChanges = { [K in keyof TaskColumns]?: TaskColumns[K] | SQL };

/** A dependency as the checks need it. */
export interface DependencyRow {
  id: string;
  projectId: string;
  status: TaskStatus;
  dependsOn: string[];
}

function listFilters(query: TaskListQuery, scope: readonly string[] | null): SQL | undefined {
  return and(
    scope === null ? undefined : inArray(tasks.projectId, [...scope]),
    query.project_id === undefined ? undefined : eq(tasks.projectId, query.project_id),
    query.status === undefined ? undefined : inArray(tasks.status, query.status),
    query.agent_id === undefined ? undefined : eq(tasks.agentId, query.agent_id),
    query.kind === undefined ? undefined : eq(tasks.kind, query.kind),
    query.capability === undefined
      ? undefined
      : arrayContains(tasks.requiredCapabilities, query.capability),
    query.schedule_id === undefined ? undefined : eq(tasks.scheduleId, query.schedule_id),
  );
}

const sortColumns = {
  created_at: tasks.createdAt,
  updated_at: tasks.updatedAt,
  priority: tasks.priority,
  run_at: tasks.runAt,
};

function listOrder(sort: TaskListQuery['sort']): SQL[] {
  const direction = sort.startsWith('-') ? desc : asc;
  const column = sortColumns[sort.replace(/^-/, '') as keyof typeof sortColumns];
  return [direction(column), direction(tasks.id)];
}

/** The projects a write's key may see; null: every project. */
export type WriterScope = readonly string[] | null;

const noAgent = 'names no agent';

/**
 * True when an agent of `agentProject` (null: none) could claim a task of `projectId` and the
 * writer's key may see it: an agent of that project, or (for a key of every project) one without
 * a project, which claims in every project its own key sees (docs/tasks.md, "Claims"). A scoped
 * key sees no agent without a project, so for it only the task's project's agents qualify.
 */
function couldClaim(agentProject: string | null, projectId: string, scope: WriterScope) {
  return agentProject === null ? scope === null : agentProject === projectId;
}

/** The references a task names: its project and its pinned agent. */
function taskReferences(projectId: string | undefined): Reference[] {
  return [
    // Only an agent deleted in a race with the insert gets here: assertPinnable() checks first.
    // Stryker disable next-line ObjectLiteral,StringLiteral: no test can time that race
    { constraint: 'agent_id', path: '/agent_id', message: noAgent },
    {
      // Stryker disable next-line StringLiteral: the other of the two foreign keys, tried last
      constraint: 'project_id',
      path: '/project_id',
      message: `Project ${projectId} does not exist`,
    },
  ];
}

/** SQL access to the `tasks` table; every method runs on the executor the service chooses. */
export class TaskRepository {
  /**
   * Inserts a task. A pinned `agent_id` must name an agent that could claim it (see
   * {@link assertPinnable}); `scope` is the writing key's projects (null: every project).
   */
  async insert(executor: Executor, task: NewTask, scope: WriterScope = null): Promise<Task> {
    await this.assertPinnable(executor, task.agent_id, task.project_id, scope);
    const [row] = await translateForeignKeys(taskReferences(task.project_id), () =>
      executor
        .insert(tasks)
        .values({
          ...definitionColumns({ ...task, run_at: undefined }),
          title: task.title,
          projectId: task.project_id,
          runAt: task.run_at,
          dependsOn: task.depends_on,
          status: task.status,
          scheduleId: task.schedule_id ?? null,
        })
        .returning(),
    );
    return toTask(row!);
  }

  async findById(
    executor: Executor,
    id: string,
    options: { lock?: boolean } = {},
  ): Promise<Task | null> {
    const query = executor.select().from(tasks).where(eq(tasks.id, id));
    const [row] = options.lock === true ? await query.for('update') : await query;
    return row === undefined ? null : toTask(row);
  }

  async list(
    executor: Executor,
    query: TaskListQuery,
    scope: readonly string[] | null,
  ): Promise<Page<Task>> {
    const where = listFilters(query, scope);
    return selectPage(executor, tasks, where, query, toTask, listOrder(query.sort));
  }

  /**
   * Applies a patch of the definition to a task of `place.projectId`; `status` is the task's
   * status after it. A new pinned agent is checked as {@link insert} checks it.
   */
  async update(
    executor: Executor,
    id: string,
    patch: TaskPatch,
    status: TaskStatus,
    place: { projectId: string; scope: WriterScope },
  ): Promise<Task> {
    await this.assertPinnable(executor, patch.agent_id, place.projectId, place.scope);
    const { depends_on: dependsOn, ...definition } = patch;
    return translateForeignKeys(taskReferences(undefined), () =>
      this.change(executor, id, { ...definitionColumns(definition), dependsOn, status }),
    );
  }

  /**
   * Applies column changes and bumps the version; the row must exist (the caller holds it locked).
   */
  async change(executor: Executor, id: string, changes: TaskChanges): Promise<Task> {
    const [row] = await executor
      .update(tasks)
      .set({ ...changes, ...nextVersion(tasks) })
      .where(eq(tasks.id, id))
      .returning();
    return toTask(row!);
  }

  /**
   * 422, exactly as for an agent that does not exist, unless `agentId` (none: nothing to check)
   * names an agent that could claim a task of `projectId` and that `scope` shows: a task pinned
   * to any other agent could never run, and a scoped key must not learn that another project's
   * agent exists (docs/security.md). The foreign key still catches an agent deleted meanwhile.
   */
  async assertPinnable(
    executor: Executor,
    agentId: string | null | undefined,
    projectId: string,
    scope: WriterScope,
  ): Promise<void> {
    if (agentId === null || agentId === undefined) return;
    const [agent] = await executor
      .select({ projectId: agents.projectId })
      .from(agents)
      .where(eq(agents.id, agentId));
    if (agent !== undefined && couldClaim(agent.projectId, projectId, scope)) return;
    throw new UnprocessableError(noAgent, [{ path: '/agent_id', message: noAgent }]);
  }

  /** The tasks `ids` names, for the dependency checks. */
  async dependencies(executor: Executor, ids: readonly string[]): Promise<DependencyRow[]> {
    // Stryker disable next-line ConditionalExpression: drizzle's inArray([]) is false: no rows
    if (ids.length === 0) return [];
    const rows = await executor
      .select({
        id: tasks.id,
        projectId: tasks.projectId,
        status: tasks.status,
        dependsOn: tasks.dependsOn,
      })
      .from(tasks)
      .where(inArray(tasks.id, [...ids]));
    return rows.map((row) => ({ ...row, status: row.status as TaskStatus }));
  }

  /**
   * Every task reachable from `ids` along `depends_on`, with its own dependencies: the part of
   * the graph a new edge could close a cycle in. Bounded to 10 000 rows.
   */
  async dependencyClosure(
    executor: Executor,
    ids: readonly string[],
  ): Promise<Array<{ id: string; dependsOn: string[] }>> {
    // Stryker disable next-line ConditionalExpression: `= any('{}')` reaches no row: no rows either
    if (ids.length === 0) return [];
    const result = await executor.execute(sql`
      with recursive reach(id, depends_on) as (
        select id, depends_on from ${tasks} where id = any(${sql.param([...ids])}::uuid[])
        union
        select t.id, t.depends_on from ${tasks} t join reach r on t.id = any(r.depends_on)
      )
      select id, depends_on from reach limit 10000`);
    // Both drivers parse a uuid[] into an array (node-postgres through pg-types, PGlite itself).
    const rows = (result as { rows: Array<{ id: string; depends_on: string[] }> }).rows;
    return rows.map((row) => ({ id: row.id, dependsOn: row.depends_on }));
  }

  /**
   * The blocked tasks that depend on `id`, locked for the caller to move on once `id` ends. They
   * are all its unfinished dependents: a task waits blocked while any dependency is unfinished
   * (a create or PATCH naming one blocks it), and a retried dependency had its dependents
   * cancelled when it failed or was cancelled.
   */
  async dependents(executor: Executor, id: string): Promise<Task[]> {
    const rows = await executor
      .select()
      .from(tasks)
      .where(and(arrayContains(tasks.dependsOn, [id]), eq(tasks.status, 'blocked')))
      .orderBy(asc(tasks.createdAt), asc(tasks.id))
      .for('update');
    return rows.map(toTask);
  }

  /**
   * The oldest unfinished task, running included, that depends on `id`, locked; null when none
   * does. While one does, `id` may not be deleted: a dependency deleted under a running task
   * would dangle in its `depends_on` once a failure sent it back to wait.
   */
  async unfinishedDependent(executor: Executor, id: string): Promise<string | null> {
    const [row] = await executor
      .select({ id: tasks.id })
      .from(tasks)
      .where(
        and(
          arrayContains(tasks.dependsOn, [id]),
          inArray(tasks.status, ['blocked', 'scheduled', 'queued', 'running']),
        ),
      )
      .orderBy(asc(tasks.createdAt), asc(tasks.id))
      .limit(1)
      .for('update');
    return row?.id ?? null;
  }

  /** Scheduled tasks whose time has come, made claimable; rows others hold are left for later. */
  async promoteDue(executor: Executor, limit: number): Promise<Task[]> {
    const due = executor
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(eq(tasks.status, 'scheduled'), lte(tasks.runAt, sql`now()`)))
      .orderBy(asc(tasks.runAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    const rows = await executor
      .update(tasks)
      .set({ status: 'queued', ...nextVersion(tasks) })
      .where(inArray(tasks.id, due))
      .returning();
    return rows.map(toTask);
  }

  /**
   * Blocked tasks none of whose dependencies is still unfinished, oldest first, locked (rows
   * others hold are left for later): tasks whose dependency finished while they were being
   * created, which the completion's snapshot could not see (docs/tasks.md, the maintenance loop).
   */
  async settledBlocked(executor: Executor, limit: number): Promise<Task[]> {
    const dependency = alias(tasks, 'dependency');
    // `not exists` reads none of the columns its subquery selects.
    const unfinished = executor
      .select()
      .from(dependency)
      .where(
        and(
          sql`${dependency.id} = any(${tasks.dependsOn})`,
          notInArray(dependency.status, ['succeeded', 'failed', 'cancelled']),
        ),
      );
    const rows = await executor
      .select()
      .from(tasks)
      .where(and(eq(tasks.status, 'blocked'), notExists(unfinished)))
      .orderBy(asc(tasks.createdAt), asc(tasks.id))
      .limit(limit)
      .for('update', { skipLocked: true });
    return rows.map(toTask);
  }

  /** Counts of the unfinished runs a schedule made, for its `overlap: skip`. */
  async unfinishedOfSchedule(executor: Executor, scheduleId: string): Promise<number> {
    const [row] = await executor
      .select({ value: sql<number>`count(*)::int` })
      .from(tasks)
      .where(
        and(
          eq(tasks.scheduleId, scheduleId),
          inArray(tasks.status, ['blocked', 'scheduled', 'queued', 'running']),
        ),
      );
    return row!.value;
  }

  /** The attempt count at the task's last manual retry: `max_attempts` counts from there. */
  async retryBase(executor: Executor, id: string): Promise<number> {
    const [row] = await executor
      .select({ value: tasks.retryBase })
      .from(tasks)
      .where(eq(tasks.id, id));
    // Stryker disable next-line OptionalChaining: its callers hold the task locked: the row exists
    return row?.value ?? 0;
  }

  /** When the task's last progress event was emitted, for the coalescing of progress reports. */
  async progressEventAt(executor: Executor, id: string): Promise<Date | null> {
    const [row] = await executor
      .select({ value: tasks.progressEventAt })
      .from(tasks)
      .where(eq(tasks.id, id));
    // Stryker disable next-line OptionalChaining: its callers hold the task locked: the row exists
    return row?.value ?? null;
  }

  /** The database's clock: every instance measures leases by this one. */
  async databaseNow(executor: Executor): Promise<Date> {
    const result = await executor.execute(sql`select now() as now`);
    return toDate((result as { rows: Array<{ now: unknown }> }).rows[0]!.now);
  }

  async delete(executor: Executor, id: string): Promise<void> {
    await executor.delete(tasks).where(eq(tasks.id, id));
  }
}
