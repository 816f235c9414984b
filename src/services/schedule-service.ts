import {
  type Actor,
  type Principal,
  assertAssignable,
  inScope,
  systemActor,
} from '../domain/auth.js';
import type { ExpectedVersions, Page } from '../domain/common.js';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors.js';
import { scheduleEvent, taskEvent } from '../domain/event.js';
import type {
  Schedule,
  ScheduleInput,
  ScheduleListQuery,
  SchedulePatch,
} from '../domain/schedule.js';
import type { Task, TaskTemplate } from '../domain/task.js';
import type { Database, Executor } from '../store/database.js';
import { ScheduleRepository } from '../store/schedule-repository.js';
import { TaskRepository } from '../store/task-repository.js';
import { cronProblems, nextTick } from '../tasks/cron.js';
import type { WriteContext } from './task-transitions.js';
import { changedFields, lockForWrite } from './versioned-write.js';
import type { WriteTransactions } from '../store/write-transaction.js';

const writableFields = ['name', 'cron', 'timezone', 'task', 'enabled', 'overlap'] as const;

/** 422 when croner cannot read the expression or the time zone is unknown. */
function assertValidCron(cron: string, timezone: string): void {
  const problems = cronProblems(cron, timezone);
  if (problems.length === 0) return;
  throw new UnprocessableError(`${problems[0]!.path.slice(1)} ${problems[0]!.message}`, problems);
}

/** The template's field errors, placed under the request body's `task`. */
function underTask(error: UnprocessableError): UnprocessableError {
  const errors = error.errors.map((field) => ({ ...field, path: `/task${field.path}` }));
  return new UnprocessableError(error.message, errors);
}

/** The next tick after now, or null for a disabled schedule (it has none). */
function nextRun(schedule: Pick<Schedule, 'cron' | 'timezone' | 'enabled'>, after: Date) {
  return schedule.enabled ? nextTick(schedule.cron, schedule.timezone, after) : null;
}

/**
 * Use cases on schedules, and their firing. Each due tick makes exactly one task, however many
 * instances run: the schedule row is locked (`SKIP LOCKED`) and its next tick moved on in the
 * transaction that makes the task. Ticks missed while no instance ran collapse into one run.
 */
export class ScheduleService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly schedules = new ScheduleRepository(),
    private readonly tasks = new TaskRepository(),
  ) {}

  create(input: ScheduleInput, actor: Actor): Promise<Schedule> {
    assertAssignable(actor.principal, input.project_id);
    assertValidCron(input.cron, input.timezone);
    return this.writes.run(actor, async (tx, emit, audit) => {
      await this.assertPinnable(tx, input.task, input.project_id, actor.principal);
      const schedule = await this.schedules.insert(tx, input, nextRun(input, new Date()));
      emit(scheduleEvent('SCHEDULE_CREATED', schedule, { schedule }));
      audit({ action: 'create', resource: 'schedule', resourceId: schedule.id });
      return schedule;
    });
  }

  async get(id: string, principal: Principal): Promise<Schedule> {
    const schedule = await this.schedules.findById(this.db, id);
    if (schedule === null || !inScope(principal, schedule.project_id))
      throw new NotFoundError('Schedule', id);
    return schedule;
  }

  list(query: ScheduleListQuery, principal: Principal): Promise<Page<Schedule>> {
    return this.schedules.list(this.db, query, principal.projectIds);
  }

  patch(
    id: string,
    patch: SchedulePatch,
    expected: ExpectedVersions,
    actor: Actor,
  ): Promise<Schedule> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const before = await this.lock(tx, id, actor.principal, expected);
      const after = { ...before, ...patch };
      assertValidCron(after.cron, after.timezone);
      if (patch.task !== undefined)
        await this.assertPinnable(tx, patch.task, before.project_id, actor.principal);
      const schedule = await this.schedules.change(tx, id, {
        ...patch,
        task: patch.task,
        nextRunAt: nextRun(after, new Date()),
      });
      const changed = changedFields(before, schedule, writableFields);
      emit(scheduleEvent('SCHEDULE_UPDATE', schedule, { schedule, changed_fields: changed }));
      audit({ action: 'update', resource: 'schedule', resourceId: id, changedFields: changed });
      return schedule;
    });
  }

  delete(id: string, expected: ExpectedVersions, actor: Actor): Promise<void> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const schedule = await this.lock(tx, id, actor.principal, expected);
      await this.schedules.delete(tx, id);
      emit(scheduleEvent('SCHEDULE_DELETED', schedule, { id, project_id: schedule.project_id }));
      audit({ action: 'delete', resource: 'schedule', resourceId: id });
    });
  }

  /**
   * Makes the schedule's task now, whatever its overlap policy; its next tick stays as it was.
   * 409 when the template pins an agent that can no longer claim the task (deleted or moved
   * since the schedule was written): the request is sound, the stored template is not.
   */
  runNow(id: string, actor: Actor): Promise<Task> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const schedule = await this.lock(tx, id, actor.principal, null);
      await this.assertStillPinnable(tx, schedule);
      audit({ action: 'run', resource: 'schedule', resourceId: id });
      // Stryker disable next-line ObjectLiteral: drizzle's set() skips an undefined, as a missing key
      return this.makeTask({ tx, emit, audit }, schedule, new Date(), { lastRunAt: undefined });
    });
  }

  /**
   * 422 unless the template's pinned agent, if any, could claim the tasks it makes and the
   * writer's key shows it: the check a task create makes, at the time the template is written.
   */
  private async assertPinnable(
    tx: Executor,
    template: TaskTemplate,
    projectId: string,
    principal: Principal,
  ): Promise<void> {
    try {
      await this.tasks.assertPinnable(tx, template.agent_id, projectId, principal.projectIds);
    } catch (error) {
      throw error instanceof UnprocessableError ? underTask(error) : error;
    }
  }

  /** 409 when the stored template's pinned agent was deleted or moved since it was written. */
  private async assertStillPinnable(tx: Executor, schedule: Schedule): Promise<void> {
    const agentId = (schedule.task as TaskTemplate).agent_id;
    try {
      await this.tasks.assertPinnable(tx, agentId, schedule.project_id, null);
    } catch (error) {
      if (!(error instanceof UnprocessableError)) throw error;
      throw new ConflictError(
        `Schedule ${schedule.id}'s task is pinned to agent ${agentId}, which can no longer ` +
          'claim it (deleted or moved to another project); change the task with PATCH first',
      );
    }
  }

  /**
   * Fires every due schedule once (one task per tick), each in a transaction of its own; returns
   * how many fired. A schedule whose task cannot be made (its template names an agent deleted
   * since) skips the tick, so it cannot hold the others up; the errors are thrown together after.
   */
  async fireDue(limit = 100): Promise<number> {
    const errors: unknown[] = [];
    let fired = 0;
    for (const id of await this.schedules.dueIds(this.db, limit)) {
      try {
        if (await this.fireOne(id)) fired += 1;
      } catch (error) {
        errors.push(error);
        await this.skipTick(id);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'some schedules could not fire');
    return fired;
  }

  private fireOne(id: string): Promise<boolean> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const schedule = await this.schedules.lockIfDue(tx, id);
      if (schedule === null) return false;
      const now = await this.tasks.databaseNow(tx);
      await this.fire({ tx, emit, audit }, schedule, now);
      return true;
    });
  }

  private skipTick(id: string): Promise<void> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const schedule = await this.schedules.lockIfDue(tx, id);
      if (schedule === null) return;
      const nextRunAt = nextRun(schedule, await this.tasks.databaseNow(tx));
      await this.skip({ tx, emit, audit }, schedule, nextRunAt);
    });
  }

  /** Moves the next tick on without a task: a `skip` by the service, announced. */
  private async skip(context: WriteContext, schedule: Schedule, nextRunAt: Date | null) {
    const skipped = await this.schedules.change(context.tx, schedule.id, { nextRunAt });
    context.audit({ action: 'skip', resource: 'schedule', resourceId: schedule.id });
    this.announce(context, skipped, ['next_run_at']);
  }

  /** One tick: a task unless `overlap: skip` finds the last run unfinished; then the next tick. */
  private async fire(context: WriteContext, schedule: Schedule, now: Date): Promise<void> {
    const tick = new Date(schedule.next_run_at!);
    const busy =
      schedule.overlap === 'skip' &&
      (await this.tasks.unfinishedOfSchedule(context.tx, schedule.id)) > 0;
    const nextRunAt = nextRun(schedule, now);
    if (busy) return this.skip(context, schedule, nextRunAt);
    await this.makeTask(context, schedule, tick, { lastRunAt: tick, nextRunAt });
    context.audit({ action: 'run', resource: 'schedule', resourceId: schedule.id });
  }

  private async makeTask(
    context: WriteContext,
    schedule: Schedule,
    runAt: Date,
    timing: { lastRunAt?: Date; nextRunAt?: Date | null },
  ): Promise<Task> {
    const template = schedule.task as TaskTemplate;
    const task = await this.tasks.insert(context.tx, {
      ...template,
      project_id: schedule.project_id,
      depends_on: [],
      run_at: runAt,
      status: 'queued',
      schedule_id: schedule.id,
    });
    context.emit(taskEvent('TASK_CREATED', task, null, { task }));
    const updated = await this.schedules.change(context.tx, schedule.id, {
      lastTaskId: task.id,
      ...timing,
    });
    const changed = ['last_task_id', ...(timing.lastRunAt ? ['last_run_at', 'next_run_at'] : [])];
    this.announce(context, updated, changed);
    return task;
  }

  private announce(context: WriteContext, schedule: Schedule, changed: string[]): void {
    context.emit(scheduleEvent('SCHEDULE_UPDATE', schedule, { schedule, changed_fields: changed }));
  }

  private lock(tx: Executor, id: string, principal: Principal, expected: ExpectedVersions) {
    return lockForWrite(this.schedules, {
      executor: tx,
      resource: 'Schedule',
      id,
      expected,
      visible: (schedule) => inScope(principal, schedule.project_id),
    });
  }
}
