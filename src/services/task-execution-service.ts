import { type Actor, systemActor } from '../domain/auth.js';
import { ConflictError, NotFoundError, PayloadTooLargeError } from '../domain/errors.js';
import { taskEvent } from '../domain/event.js';
import {
  type Attempt,
  type AttemptOutcome,
  type ClaimRequest,
  type Claimed,
  type Completion,
  type Failure,
  type Lease,
  OUTPUT_MAX_BYTES,
  type Task,
  type TaskHeartbeat,
} from '../domain/task.js';
import type { AttemptEnd, ExpiredAttempt } from '../store/attempt-repository.js';
import type { Database } from '../store/database.js';
import {
  type ClaimRow,
  type CompleteRow,
  claimStatement,
  completeStatement,
} from '../store/task-statements.js';
import type { ClaimWaiters } from '../tasks/claim-waiters.js';
import { expiredOutcome } from '../tasks/leases.js';
import { type AttemptRef, TaskTransitions, type WriteContext } from './task-transitions.js';

type EndedAttempt = AttemptRef & { outcome: AttemptOutcome };
import type { WriteTransactions } from '../store/write-transaction.js';

/**
 * Shortest time between two progress events of one task; reports between them only update the row.
 */
export const PROGRESS_EVENT_INTERVAL_MS = 500;

function assertOutputSize(output: string | undefined): void {
  if (output === undefined || Buffer.byteLength(output) <= OUTPUT_MAX_BYTES) return;
  throw new PayloadTooLargeError(`output must be at most ${OUTPUT_MAX_BYTES} bytes of UTF-8`);
}

/**
 * Execution of tasks by agents: claims (with a long poll woken by events), heartbeats that
 * extend leases and carry progress, results and failures fenced by the attempt number, and the
 * sweeper's work on expired leases and due tasks (docs/tasks.md).
 */
export class TaskExecutionService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly waiters: ClaimWaiters,
    private readonly transitions = new TaskTransitions(),
  ) {}

  /**
   * The best task the agent may run, as attempt N of it, or null when none came within
   * `wait_ms`. A waiting claim is woken by any task that becomes queued, on any instance; it
   * gives up early when `signal` aborts (the client went away) or the service closes.
   */
  async claim(request: ClaimRequest, actor: Actor, signal?: AbortSignal): Promise<Claimed | null> {
    const deadline = Date.now() + request.wait_ms;
    for (;;) {
      const ticket = this.waiters.ticket();
      const claimed = await this.claimOnce(request.agent_id, actor).catch((error: unknown) => {
        ticket.release();
        throw error;
      });
      const remaining = deadline - Date.now();
      if (claimed !== null || remaining <= 0 || signal?.aborted === true) {
        ticket.release();
        return claimed;
      }
      if (!(await ticket.wait(remaining, signal))) return null;
    }
  }

  /** Lets every waiting claim look again: a task became queued. */
  wakeClaims(): void {
    this.waiters.wake();
  }

  /** Answers every waiting claim "no work" and refuses to wait any more: the service is closing. */
  closeClaims(): void {
    this.waiters.close();
  }

  /**
   * One look for work, as one statement (store/task-statements.ts): 404 when the key's scope
   * does not show the agent; null when no task it may take is queued.
   */
  private async claimOnce(agentId: string, actor: Actor): Promise<Claimed | null> {
    const statement = claimStatement(agentId, actor.principal.projectIds);
    const row = (await this.writes.runStatement(actor, statement)) as unknown as ClaimRow;
    if (!row.agent_visible) throw new NotFoundError('Agent', agentId);
    return row.task === null ? null : { task: row.task, attempt: row.attempt! };
  }

  /**
   * Extends the lease of attempt N and records its progress; says `cancel_requested` once the
   * task was cancelled during the attempt. A progress event is emitted at most every
   * {@link PROGRESS_EVENT_INTERVAL_MS} per task; the task row always holds the latest report.
   */
  heartbeat(id: string, body: TaskHeartbeat, actor: Actor): Promise<Lease> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const task = await this.transitions.lock(tx, id, actor.principal);
      const cancelled = await this.cancelledAttempt(tx, task, body.attempt);
      if (cancelled !== null) return cancelled;
      this.transitions.assertHolds(task, body.attempt);
      const attempt = await this.transitions.attempts.extend(tx, id, body.attempt, task.lease_ms);
      if (attempt === null) throw new ConflictError(`Attempt ${body.attempt} of task ${id} ended`);
      const context: WriteContext = { tx, emit, audit };
      // Stryker disable next-line ConditionalExpression: a deleted agent's null id matches no row
      if (attempt.agent_id !== null)
        await this.transitions.agentTookWork(context, attempt.agent_id);
      if (body.progress !== undefined || body.message !== undefined)
        await this.recordProgress(context, task, body, attempt);
      return { lease_expires_at: attempt.lease_expires_at, cancel_requested: false };
    });
  }

  /** The answer to a heartbeat for an attempt that a cancel ended, or null for any other. */
  private async cancelledAttempt(tx: WriteContext['tx'], task: Task, number: number) {
    if (task.status !== 'cancelled') return null;
    const attempt = await this.transitions.attempts.find(tx, task.id, number);
    if (attempt?.outcome !== 'cancelled') return null;
    return { lease_expires_at: attempt.lease_expires_at, cancel_requested: true };
  }

  /** Stores the report on the task; a progress event too, unless one went out too recently. */
  private async recordProgress(
    context: WriteContext,
    task: Task,
    body: TaskHeartbeat,
    extended: Attempt,
  ) {
    const now = new Date(extended.heartbeat_at);
    const lastEvent = await this.transitions.tasks.progressEventAt(context.tx, task.id);
    const due =
      lastEvent === null || now.getTime() - lastEvent.getTime() >= PROGRESS_EVENT_INTERVAL_MS;
    const updated = await this.transitions.tasks.change(context.tx, task.id, {
      progressValue: body.progress ?? task.progress?.value ?? 0,
      progressMessage: body.message ?? null,
      ...(due ? { progressEventAt: now } : {}),
    });
    if (!due) return;
    const attempt = { number: extended.number, agent_id: extended.agent_id };
    context.emit(
      taskEvent('TASK_EXECUTION', updated, attempt.agent_id, {
        task: updated,
        attempt,
        phase: 'progress',
      }),
    );
  }

  /**
   * Ends attempt N as succeeded with its result; 409 when N no longer holds the task. One
   * statement does it (store/task-statements.ts), unless blocked tasks wait on this one: their
   * promotion takes the transactional path.
   */
  async complete(id: string, body: Completion, actor: Actor): Promise<Task> {
    assertOutputSize(body.output);
    const statement = completeStatement(id, body, actor.principal.projectIds);
    const row = (await this.writes.runStatement(actor, statement)) as unknown as CompleteRow;
    if (row.task !== null) return row.task;
    if (row.status === null) throw new NotFoundError('Task', id);
    this.transitions.assertHolds({ id, status: row.status, attempts: row.attempts! }, body.attempt);
    const end = { outcome: 'succeeded' as const, output: body.output };
    return this.endHeldAttempt(id, body.attempt, actor, end, (context, task, attempt) =>
      this.transitions.succeed(context, task, attempt, body.result),
    );
  }

  /**
   * Ends attempt N as failed, or as `timed_out` when the report comes at or after the attempt's
   * deadline (claim + `timeout_ms`, by the database's clock): whoever notices a timeout first,
   * the agent or the sweeper, it is recorded as one. The task is retried after its backoff (as
   * `retryable` says) or goes to `failed`.
   */
  fail(id: string, body: Failure, actor: Actor): Promise<Task> {
    const end = {
      outcome: 'failed' as const,
      pastDeadline: 'timed_out' as const,
      output: body.output,
      error: body.error,
    };
    return this.endHeldAttempt(id, body.attempt, actor, end, (context, task, attempt) =>
      this.transitions.afterFailure(context, task, attempt, body),
    );
  }

  /**
   * Ends the attempt an agent reports on, if it still holds the task, then moves the task on
   * with the outcome the attempt got.
   */
  private endHeldAttempt(
    id: string,
    number: number,
    actor: Actor,
    end: AttemptEnd & { output?: string },
    next: (context: WriteContext, task: Task, attempt: EndedAttempt) => Promise<Task>,
  ): Promise<Task> {
    assertOutputSize(end.output);
    return this.writes.run(actor, async (tx, emit, audit) => {
      const task = await this.transitions.lock(tx, id, actor.principal);
      this.transitions.assertHolds(task, number);
      const ended = (await this.transitions.attempts.end(tx, id, number, end))!;
      const action = end.outcome === 'succeeded' ? 'complete' : 'fail';
      audit({ action, resource: 'task', resourceId: id });
      const attempt = { number, agent_id: ended.agent_id, outcome: ended.outcome! };
      return next({ tx, emit, audit }, task, attempt);
    });
  }

  /**
   * Ends attempts whose lease ran out (`lost`) or whose `timeout_ms` passed (`timed_out`), each
   * in a transaction of its own; a heartbeat that extended the lease meanwhile wins. Returns how
   * many ended.
   */
  async expireLeases(limit = 100): Promise<number> {
    const expired = await this.transitions.attempts.expired(this.db, limit);
    let ended = 0;
    for (const candidate of expired) if (await this.expire(candidate)) ended += 1;
    return ended;
  }

  private expire(candidate: ExpiredAttempt): Promise<boolean> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const task = await this.transitions.tasks.findById(tx, candidate.taskId, { lock: true });
      const current = await this.transitions.attempts.find(tx, candidate.taskId, candidate.number);
      if (task === null || current === null || current.ended_at !== null) return false;
      const clock = {
        leaseExpiresAt: new Date(current.lease_expires_at),
        deadline: candidate.deadline,
      };
      const outcome = expiredOutcome(clock, await this.transitions.tasks.databaseNow(tx));
      if (outcome === null) return false;
      await this.transitions.attempts.end(tx, task.id, candidate.number, { outcome });
      audit({ action: outcome, resource: 'task', resourceId: task.id });
      const attempt = { number: candidate.number, agent_id: current.agent_id, outcome };
      const error = outcome === 'lost' ? 'lease expired without a heartbeat' : 'timed out';
      await this.transitions.afterFailure({ tx, emit, audit }, task, attempt, {
        error,
        retryable: true,
      });
      return true;
    });
  }

  /**
   * Settles blocked tasks whose dependencies all finished (released, or cancelled after a
   * failed one) and marks idle the busy agents that hold no attempt: what two writes at the same
   * moment can leave behind, each having read the database before the other committed
   * (docs/tasks.md, the maintenance loop). Returns how many tasks and agents it looked at.
   */
  settleRaces(limit = 100): Promise<number> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const context = { tx, emit, audit };
      const blocked = await this.transitions.tasks.settledBlocked(tx, limit);
      for (const task of blocked) await this.transitions.settle(context, task);
      const agents = await this.transitions.agents.busyWithoutWork(tx, limit);
      for (const { id, version } of agents)
        await this.transitions.agentReleased(context, id, version);
      return blocked.length + agents.length;
    });
  }

  /** Makes scheduled tasks whose time has come claimable, each announced (which wakes claims). */
  promoteDue(limit = 500): Promise<number> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const promoted = await this.transitions.tasks.promoteDue(tx, limit);
      for (const task of promoted) this.transitions.statusChanged({ tx, emit, audit }, task);
      return promoted.length;
    });
  }
}
