import { type SQL, and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { Page } from '../domain/common.js';
import type { Schedule, ScheduleInput, ScheduleListQuery } from '../domain/schedule.js';
import type { Executor } from './database.js';
import { translateForeignKeys } from './database-errors.js';
import { projects, schedules } from './schema.js';
import { nextVersion, orderTerms, selectPage } from './versioning.js';

type ScheduleRow = typeof schedules.$inferSelect;
type ScheduleColumns = Omit<typeof schedules.$inferInsert, 'id' | 'version'>;
/** Column changes a service applies to a schedule it holds locked. */
export type ScheduleChanges = { [K in keyof ScheduleColumns]?: ScheduleColumns[K] | SQL };

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** Maps a row to the wire shape. */
export function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    project_id: row.projectId,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    task: row.task,
    enabled: row.enabled,
    overlap: row.overlap as Schedule['overlap'],
    next_run_at: iso(row.nextRunAt),
    last_run_at: iso(row.lastRunAt),
    last_task_id: row.lastTaskId,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function filters(query: ScheduleListQuery, scope: readonly string[] | null): SQL | undefined {
  return and(
    scope === null ? undefined : inArray(schedules.projectId, [...scope]),
    query.project_id === undefined ? undefined : eq(schedules.projectId, query.project_id),
    query.enabled === undefined ? undefined : eq(schedules.enabled, query.enabled),
  );
}

/** SQL access to `schedules`. */
export class ScheduleRepository {
  async insert(executor: Executor, input: ScheduleInput, nextRunAt: Date | null) {
    const message = `Project ${input.project_id} does not exist`;
    // Stryker disable next-line StringLiteral: the one foreign key; any other maps to the first too
    const references = [{ constraint: 'project_id', path: '/project_id', message }];
    const [row] = await translateForeignKeys(references, () =>
      executor
        .insert(schedules)
        .values({
          projectId: input.project_id,
          name: input.name,
          cron: input.cron,
          timezone: input.timezone,
          task: input.task as Record<string, unknown>,
          enabled: input.enabled,
          overlap: input.overlap,
          nextRunAt,
        })
        .returning(),
    );
    return toSchedule(row!);
  }

  async findById(executor: Executor, id: string, options: { lock?: boolean } = {}) {
    const query = executor.select().from(schedules).where(eq(schedules.id, id));
    const [row] = options.lock === true ? await query.for('update') : await query;
    return row === undefined ? null : toSchedule(row);
  }

  async list(
    executor: Executor,
    query: ScheduleListQuery,
    scope: readonly string[] | null,
  ): Promise<Page<Schedule>> {
    const order = orderTerms(schedules, query.sort);
    return selectPage(executor, schedules, filters(query, scope), query, toSchedule, order);
  }

  /** Applies changes and bumps the version; the caller holds the row locked. */
  async change(executor: Executor, id: string, changes: ScheduleChanges): Promise<Schedule> {
    const [row] = await executor
      .update(schedules)
      .set({ ...changes, ...nextVersion(schedules) })
      .where(eq(schedules.id, id))
      .returning();
    return toSchedule(row!);
  }

  /** Ids of enabled schedules whose next tick has come, earliest first. */
  async dueIds(executor: Executor, limit: number): Promise<string[]> {
    const rows = await executor
      .select({ id: schedules.id })
      .from(schedules)
      .where(isDue())
      .orderBy(asc(schedules.nextRunAt))
      .limit(limit);
    return rows.map((row) => row.id);
  }

  /**
   * The schedule, locked, if it is still due; null when another instance holds it or has
   * already moved its next tick on — so each tick fires once, whatever the instances. Its
   * project is locked first (`FOR KEY SHARE`, which the task insert's foreign key takes anyway),
   * in the order a project delete takes them: otherwise a tick holding the schedule and waiting
   * for the project, and a delete holding the project and waiting for the schedule, deadlock.
   */
  async lockIfDue(executor: Executor, id: string): Promise<Schedule | null> {
    const projectOf = executor
      .select({ projectId: schedules.projectId })
      .from(schedules)
      .where(eq(schedules.id, id));
    // Stryker disable next-line ObjectLiteral: only the lock is wanted, no column
    const lockOnly = { id: projects.id };
    await executor
      .select(lockOnly)
      .from(projects)
      .where(eq(projects.id, projectOf))
      .for('key share');
    const [row] = await executor
      .select()
      .from(schedules)
      .where(and(eq(schedules.id, id), isDue()))
      .for('update', { skipLocked: true });
    return row === undefined ? null : toSchedule(row);
  }

  async delete(executor: Executor, id: string): Promise<void> {
    await executor.delete(schedules).where(eq(schedules.id, id));
  }
}

function isDue(): SQL | undefined {
  return and(eq(schedules.enabled, true), lte(schedules.nextRunAt, sql`now()`));
}
