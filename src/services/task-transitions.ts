import { sql } from 'drizzle-orm';
import type { Principal } from '../domain/auth.js';
import { inScope } from '../domain/auth.js';
import { ConflictError, UnprocessableError } from '../domain/errors.js';
import { agentEvent, taskEvent } from '../domain/event.js';
import type { ExpectedVersions } from '../domain/common.js';
import type { AttemptOutcome, ExecutionPhase, Task, TaskStatus } from '../domain/task.js';
import { AgentRepository } from '../store/agent-repository.js';
import { AttemptRepository } from '../store/attempt-repository.js';
import type { Executor } from '../store/database.js';
import { type DependencyRow, TaskRepository } from '../store/task-repository.js';
import { createsCycle, dependencyState, pendingStatus } from '../tasks/dependencies.js';
import { retryDelay } from '../tasks/backoff.js';
import { lockForWrite } from './versioned-write.js';
import type { Audit, Emit } from '../store/write-transaction.js';

/** The callbacks of the write in progress. */
export interface WriteContext {
  tx: Executor;
  emit: Emit;
  audit: Audit;
}

/** The attempt an execution step belongs to, as events carry it. */
export interface AttemptRef {
  number: number;
  agent_id: string | null;
  outcome?: AttemptOutcome;
}

const now = () => sql`now()`;
const inMilliseconds = (ms: number) => sql`now() + ${ms}::int * interval '1 millisecond'`;

function dependencyError(message: string): UnprocessableError {
  return new UnprocessableError(message, [{ path: '/depends_on', message }]);
}

/** Where a task that has not started stands. */
type PendingStatus = 'blocked' | 'scheduled' | 'queued';

/**
 * The status a task not started takes among its dependencies `found`: `broken` makes the error
 * when one of them failed or was cancelled.
 */
function statusAmong(
  found: readonly DependencyRow[],
  runAt: Date,
  broken: (message: string) => Error,
): PendingStatus {
  const state = dependencyState(found.map((row) => row.status));
  if (state === 'broken') {
    const dead = found.find((row) => row.status === 'failed' || row.status === 'cancelled')!;
    throw broken(`Task ${dead.id} is ${dead.status}; retry it first`);
  }
  return pendingStatus(state, runAt, new Date());
}

/**
 * The moves of the task state machine that several use cases share (docs/tasks.md): locking a
 * task the caller may see, checking dependencies, what follows an attempt's end, and the agent's
 * busy/idle status. Each runs inside the caller's write transaction.
 */
export class TaskTransitions {
  constructor(
    readonly tasks = new TaskRepository(),
    readonly attempts = new AttemptRepository(),
    readonly agents = new AgentRepository(),
    private readonly random: () => number = Math.random,
  ) {}

  /** Locks a task: 404 when missing or outside the caller's scope, 412 on a stale If-Match. */
  lock(tx: Executor, id: string, principal: Principal, expected: ExpectedVersions = null) {
    return lockForWrite(this.tasks, {
      executor: tx,
      resource: 'Task',
      id,
      expected,
      visible: (task) => inScope(principal, task.project_id),
    });
  }

  /**
   * Checks `dependsOn` for a task of `projectId` being defined (its id, for an existing task):
   * each must exist in the same project, none may have failed or been cancelled, and no cycle
   * may form (422 naming the field, since the caller named them). Returns the status the task
   * should have now.
   */
  async pendingStatusFor(
    tx: Executor,
    task: { id?: string; project_id: string; run_at: Date },
    dependsOn: readonly string[],
  ): Promise<PendingStatus> {
    const found = await this.tasks.dependencies(tx, dependsOn);
    const missing = dependsOn.find(
      (id) => !found.some((row) => row.id === id && row.projectId === task.project_id),
    );
    if (missing !== undefined)
      throw dependencyError(`Task ${missing} does not exist in project ${task.project_id}`);
    const status = statusAmong(found, task.run_at, dependencyError);
    // Stryker disable next-line ConditionalExpression: a task being created is in no graph yet
    if (task.id !== undefined) await this.assertAcyclic(tx, task.id, dependsOn);
    return status;
  }

  /**
   * The status of a task retried now with the dependencies `dependsOn` it had, and those it
   * keeps: the ones that still exist. A dependency deleted since (allowed once both finished)
   * can never block it again (docs/tasks.md, "Retry"). One that failed or was cancelled is a
   * 409: the caller named none of them, and retrying that one first resolves it.
   */
  async retriedStatus(
    tx: Executor,
    dependsOn: readonly string[],
  ): Promise<{ status: PendingStatus; dependsOn: string[] }> {
    const found = await this.tasks.dependencies(tx, dependsOn);
    const kept = dependsOn.filter((id) => found.some((row) => row.id === id));
    const status = statusAmong(found, new Date(), (message) => new ConflictError(message));
    return { status, dependsOn: kept };
  }

  private async assertAcyclic(tx: Executor, id: string, dependsOn: readonly string[]) {
    const edges = await this.tasks.dependencyClosure(tx, dependsOn);
    if (createsCycle(id, dependsOn, edges))
      throw dependencyError(`Depending on these tasks would make task ${id} depend on itself`);
  }

  /**
   * Marks the agent busy (and seen) when it takes an attempt; AGENT_STATUS when that changes it.
   */
  async agentTookWork(context: WriteContext, agentId: string): Promise<void> {
    const taken = await this.agents.takeWork(context.tx, agentId);
    // The attempt's agent exists: its delete is a 409 while it holds one (docs/tasks.md).
    // Stryker disable next-line ConditionalExpression: so `taken === null` is never true here
    if (taken === null || taken.before === 'busy') return;
    const { agent } = taken;
    const changed = ['status'];
    context.emit(
      agentEvent('AGENT_STATUS', agentId, [agent.project_id], { agent, changed_fields: changed }),
    );
    context.audit({
      action: 'status',
      resource: 'agent',
      resourceId: agentId,
      changedFields: changed,
    });
  }

  /**
   * Marks a busy agent idle once it holds no attempt any more (with `version`, only while it is
   * still at that version).
   */
  async agentReleased(context: WriteContext, agentId: string | null, version?: number) {
    // Stryker disable next-line ConditionalExpression: a null id releases no row either
    if (agentId === null) return;
    const agent = await this.agents.releaseIfIdle(context.tx, agentId, version);
    if (agent === null) return;
    const changedFields = ['status'];
    context.emit(
      agentEvent('AGENT_STATUS', agentId, [agent.project_id], {
        agent,
        changed_fields: changedFields,
      }),
    );
    context.audit({ action: 'status', resource: 'agent', resourceId: agentId, changedFields });
  }

  /** Emits one execution step of a task. */
  step(context: WriteContext, task: Task, attempt: AttemptRef | null, phase: ExecutionPhase) {
    const agentId = attempt?.agent_id ?? null;
    context.emit(taskEvent('TASK_EXECUTION', task, agentId, { task, attempt, phase }));
  }

  /** A task finished well: its result is stored and its waiting dependents may run. */
  async succeed(context: WriteContext, task: Task, attempt: AttemptRef, result: unknown) {
    const done = await this.tasks.change(context.tx, task.id, {
      status: 'succeeded',
      result: result ?? null,
      error: null,
      finishedAt: now(),
    });
    this.step(context, done, attempt, 'succeeded');
    await this.agentReleased(context, attempt.agent_id);
    await this.releaseDependents(context, done);
    return done;
  }

  /**
   * After an attempt failed, timed out or was lost: another attempt after the backoff while the
   * budget lasts and the failure is retryable, else the dead-letter state `failed`, which also
   * cancels every dependent.
   */
  async afterFailure(
    context: WriteContext,
    task: Task,
    attempt: AttemptRef & { outcome: AttemptOutcome },
    failure: { error: string; retryable: boolean },
  ): Promise<Task> {
    const phase: ExecutionPhase = attempt.outcome;
    const used = task.attempts - (await this.tasks.retryBase(context.tx, task.id));
    if (failure.retryable && used < task.max_attempts) {
      const delay = retryDelay(used, task.backoff, this.random);
      const retried = await this.tasks.change(context.tx, task.id, {
        status: delay > 0 ? 'scheduled' : 'queued',
        runAt: inMilliseconds(delay),
        error: failure.error,
      });
      this.step(context, retried, attempt, phase);
      this.step(context, retried, attempt, 'retry_scheduled');
      await this.agentReleased(context, attempt.agent_id);
      return retried;
    }
    const failed = await this.tasks.change(context.tx, task.id, {
      status: 'failed',
      error: failure.error,
      finishedAt: now(),
    });
    this.step(context, failed, attempt, phase);
    await this.agentReleased(context, attempt.agent_id);
    await this.cancelDependents(context, failed);
    return failed;
  }

  /** Cancels a task that has not finished, ending its live attempt; dependents follow. */
  async cancel(context: WriteContext, task: Task, reason: string): Promise<Task> {
    const live = await this.attempts.live(context.tx, task.id);
    if (live !== null)
      await this.attempts.end(context.tx, task.id, live.number, { outcome: 'cancelled' });
    const cancelled = await this.tasks.change(context.tx, task.id, {
      status: 'cancelled',
      cancelReason: reason,
      finishedAt: now(),
    });
    const attempt =
      live === null
        ? null
        : { number: live.number, agent_id: live.agent_id, outcome: 'cancelled' as const };
    this.step(context, cancelled, attempt, 'cancelled');
    await this.agentReleased(context, live?.agent_id ?? null);
    await this.cancelDependents(context, cancelled);
    return cancelled;
  }

  /** Dependents of a task that failed or was cancelled can never run: they are cancelled too. */
  private async cancelDependents(context: WriteContext, task: Task): Promise<void> {
    for (const dependent of await this.tasks.dependents(context.tx, task.id))
      await this.cancelForDependency(context, dependent);
  }

  /**
   * Cancels a task that can never run (`dependency_failed`) with its own `cancel` audit record,
   * by the actor of the write that caused it (the service's, for the maintenance loop): each
   * cancellation is a change of its own, as a cancel by hand is.
   */
  private cancelForDependency(context: WriteContext, task: Task): Promise<Task> {
    context.audit({ action: 'cancel', resource: 'task', resourceId: task.id });
    return this.cancel(context, task, 'dependency_failed');
  }

  /** Blocked dependents whose every dependency has now succeeded become scheduled or queued. */
  private async releaseDependents(context: WriteContext, task: Task): Promise<void> {
    for (const dependent of await this.tasks.dependents(context.tx, task.id))
      await this.settle(context, dependent);
  }

  /**
   * Moves a locked blocked task on as its dependencies now stand: scheduled or queued once they
   * all succeeded, cancelled (`dependency_failed`) when one failed or was cancelled, else left
   * blocked.
   */
  async settle(context: WriteContext, blocked: Task): Promise<void> {
    const found = await this.tasks.dependencies(context.tx, blocked.depends_on);
    const state = dependencyState(found.map((row) => row.status));
    if (state === 'broken') {
      await this.cancelForDependency(context, blocked);
      return;
    }
    const status: TaskStatus = pendingStatus(state, new Date(blocked.run_at), new Date());
    if (status === 'blocked') return;
    const released = await this.tasks.change(context.tx, blocked.id, { status });
    this.statusChanged(context, released);
  }

  /**
   * A task's status moved on by the queue itself (blocked → scheduled or queued, scheduled →
   * queued): TASK_UPDATE and a `status` audit record by the actor of the write that caused it,
   * or by the service.
   */
  statusChanged(context: WriteContext, task: Task): void {
    const changedFields = ['status'];
    context.emit(taskEvent('TASK_UPDATE', task, null, { task, changed_fields: changedFields }));
    context.audit({ action: 'status', resource: 'task', resourceId: task.id, changedFields });
  }

  /** 409 unless attempt `number` is the one holding the running task. */
  assertHolds(task: Pick<Task, 'id' | 'status' | 'attempts'>, number: number): void {
    if (task.status === 'running' && task.attempts === number) return;
    throw new ConflictError(
      `Attempt ${number} does not hold task ${task.id}: the task is ${task.status} at attempt ` +
        `${task.attempts}`,
    );
  }
}
