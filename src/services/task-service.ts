import { sql } from 'drizzle-orm';
import { type Actor, type Principal, assertAssignable, inScope } from '../domain/auth.js';
import type { ExpectedVersions, Page } from '../domain/common.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { taskEvent } from '../domain/event.js';
import {
  type Attempt,
  type Task,
  type TaskInput,
  type TaskListQuery,
  type TaskPatch,
  finishedStatuses,
  pendingStatuses,
} from '../domain/task.js';
import type { Database } from '../store/database.js';
import { TaskTransitions, type WriteContext } from './task-transitions.js';
import { changedFields } from './versioned-write.js';
import type { WriteTransactions } from '../store/write-transaction.js';

const definitionFields = [
  'title',
  'kind',
  'input',
  'required_capabilities',
  'agent_type',
  'agent_id',
  'priority',
  'run_at',
  'depends_on',
  'max_attempts',
  'backoff',
  'timeout_ms',
  'lease_ms',
  'status',
] as const;

/**
 * Use cases on task definitions: create, read, change, delete, cancel and retry (docs/tasks.md).
 * Execution — claims, heartbeats, results — is {@link TaskExecutionService}'s. Every write is one
 * transaction with its events and audit records; a task is in a key's scope when its project is.
 */
export class TaskService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly transitions = new TaskTransitions(),
  ) {}

  create(input: TaskInput, actor: Actor): Promise<Task> {
    assertAssignable(actor.principal, input.project_id);
    return this.writes.run(actor, async (tx, emit, audit) => {
      const runAt = input.run_at === undefined ? new Date() : new Date(input.run_at);
      const place = { project_id: input.project_id, run_at: runAt };
      const status = await this.transitions.pendingStatusFor(tx, place, input.depends_on);
      const scope = actor.principal.projectIds;
      const task = await this.transitions.tasks.insert(
        tx,
        { ...input, run_at: runAt, status },
        scope,
      );
      emit(taskEvent('TASK_CREATED', task, null, { task }));
      audit({ action: 'create', resource: 'task', resourceId: task.id });
      return task;
    });
  }

  async get(id: string, principal: Principal): Promise<Task> {
    const task = await this.transitions.tasks.findById(this.db, id);
    if (task === null || !inScope(principal, task.project_id)) throw new NotFoundError('Task', id);
    return task;
  }

  list(query: TaskListQuery, principal: Principal): Promise<Page<Task>> {
    return this.transitions.tasks.list(this.db, query, principal.projectIds);
  }

  /** Every attempt of a visible task, oldest first. */
  async attempts(id: string, principal: Principal): Promise<Attempt[]> {
    await this.get(id, principal);
    return this.transitions.attempts.list(this.db, id);
  }

  /** Changes the definition of a task that has not started; its status follows the new fields. */
  patch(id: string, patch: TaskPatch, expected: ExpectedVersions, actor: Actor): Promise<Task> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const before = await this.transitions.lock(tx, id, actor.principal, expected);
      if (!pendingStatuses.includes(before.status))
        throw new ConflictError(`Task ${id} is ${before.status}; only a task not started changes`);
      const runAt = new Date(patch.run_at ?? before.run_at);
      const dependsOn = patch.depends_on ?? before.depends_on;
      const place = { id, project_id: before.project_id, run_at: runAt };
      const status = await this.transitions.pendingStatusFor(tx, place, dependsOn);
      const scope = actor.principal.projectIds;
      const where = { projectId: before.project_id, scope };
      const task = await this.transitions.tasks.update(tx, id, patch, status, where);
      const changed = changedFields(before, task, definitionFields);
      emit(taskEvent('TASK_UPDATE', task, null, { task, changed_fields: changed }));
      audit({ action: 'update', resource: 'task', resourceId: id, changedFields: changed });
      return task;
    });
  }

  /** Deletes a task that is not running and that no unfinished task depends on. */
  delete(id: string, expected: ExpectedVersions, actor: Actor): Promise<void> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const task = await this.transitions.lock(tx, id, actor.principal, expected);
      if (task.status === 'running')
        throw new ConflictError(`Task ${id} is running; cancel it before deleting it`);
      const dependent = await this.transitions.tasks.unfinishedDependent(tx, id);
      if (dependent !== null)
        throw new ConflictError(
          `Task ${id} cannot be deleted: unfinished task ${dependent} depends on it`,
        );
      await this.transitions.tasks.delete(tx, id);
      emit(taskEvent('TASK_DELETED', task, null, { id, project_id: task.project_id }));
      audit({ action: 'delete', resource: 'task', resourceId: id });
    });
  }

  /**
   * Cancels a task that has not finished. A running attempt ends at once as `cancelled`; its
   * agent learns it from its next heartbeat. Tasks depending on it are cancelled too.
   */
  cancel(id: string, actor: Actor): Promise<Task> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const context: WriteContext = { tx, emit, audit };
      const task = await this.transitions.lock(tx, id, actor.principal);
      if (finishedStatuses.includes(task.status))
        throw new ConflictError(`Task ${id} is already ${task.status}`);
      audit({ action: 'cancel', resource: 'task', resourceId: id });
      return this.transitions.cancel(context, task, 'cancelled');
    });
  }

  /**
   * Gives a failed or cancelled task a fresh run: `max_attempts` counts again from here, and it
   * waits for unfinished dependencies; one that failed or was cancelled must be retried first.
   * Dependencies deleted since (allowed once both had finished) can never block it again: they
   * leave its `depends_on`, and the TASK_UPDATE and the audit record name that field too.
   */
  retry(id: string, actor: Actor): Promise<Task> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const before = await this.transitions.lock(tx, id, actor.principal);
      if (before.status !== 'failed' && before.status !== 'cancelled')
        throw new ConflictError(
          `Task ${id} is ${before.status}; only a failed or cancelled task is retried`,
        );
      const { status, dependsOn } = await this.transitions.retriedStatus(tx, before.depends_on);
      const pruned = dependsOn.length < before.depends_on.length;
      const task = await this.transitions.tasks.change(tx, id, {
        status,
        dependsOn,
        runAt: sql`now()`,
        retryBase: before.attempts,
        error: null,
        result: null,
        cancelReason: null,
        finishedAt: null,
        progressValue: null,
        progressMessage: null,
      });
      const changed = pruned ? ['status', 'depends_on'] : ['status'];
      emit(taskEvent('TASK_UPDATE', task, null, { task, changed_fields: changed }));
      audit({
        action: 'retry',
        resource: 'task',
        resourceId: id,
        changedFields: pruned ? changed : null,
      });
      return task;
    });
  }
}
