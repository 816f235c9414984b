import { and, asc, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { Attempt, AttemptOutcome } from '../domain/task.js';
import type { Executor } from './database.js';
import { taskAttempts } from './schema.js';
import { toDate } from './task-repository.js';

type AttemptRow = typeof taskAttempts.$inferSelect;

/** Maps a row to the wire shape; the duration is measured from claim to end. */
export function toAttempt(row: AttemptRow): Attempt {
  return {
    task_id: row.taskId,
    number: row.number,
    agent_id: row.agentId,
    claimed_at: row.claimedAt.toISOString(),
    heartbeat_at: row.heartbeatAt.toISOString(),
    lease_expires_at: row.leaseExpiresAt.toISOString(),
    ended_at: row.endedAt?.toISOString() ?? null,
    outcome: row.outcome as AttemptOutcome | null,
    output: row.output,
    error: row.error,
    duration_ms: row.endedAt === null ? null : row.endedAt.getTime() - row.claimedAt.getTime(),
  };
}

/** How an attempt ends. */
export interface AttemptEnd {
  outcome: AttemptOutcome;
  /**
   * The outcome instead when the attempt ends at or after its deadline by the database's clock:
   * an agent's failure reported that late is the timeout the sweeper would have recorded.
   */
  pastDeadline?: AttemptOutcome;
  output?: string | null;
  error?: string | null;
}

/** A live attempt whose lease or deadline has passed, found by the sweeper. */
export interface ExpiredAttempt {
  taskId: string;
  number: number;
  leaseExpiresAt: Date;
  deadline: Date | null;
  now: Date;
}

/** SQL access to `task_attempts`: one row per claim, at most one live per task. */
export class AttemptRepository {
  async find(executor: Executor, taskId: string, number: number): Promise<Attempt | null> {
    const [row] = await executor
      .select()
      .from(taskAttempts)
      .where(and(eq(taskAttempts.taskId, taskId), eq(taskAttempts.number, number)));
    return row === undefined ? null : toAttempt(row);
  }

  /** Every attempt of a task, oldest first. */
  async list(executor: Executor, taskId: string): Promise<Attempt[]> {
    const rows = await executor
      .select()
      .from(taskAttempts)
      .where(eq(taskAttempts.taskId, taskId))
      .orderBy(asc(taskAttempts.number));
    return rows.map(toAttempt);
  }

  /** Extends a live attempt's lease by `leaseMs` from now, never past its deadline. */
  async extend(executor: Executor, taskId: string, number: number, leaseMs: number) {
    const [row] = await executor
      .update(taskAttempts)
      .set({
        heartbeatAt: sql`now()`,
        leaseExpiresAt: sql`least(now() + ${leaseMs}::int * interval '1 millisecond',
          coalesce(${taskAttempts.deadline}, 'infinity'))`,
      })
      .where(live(taskId, number))
      .returning();
    return row === undefined ? null : toAttempt(row);
  }

  /**
   * Ends the live attempt `number` of a task; null when it is not live. The row returned says
   * which outcome it got (see {@link AttemptEnd.pastDeadline}).
   */
  async end(executor: Executor, taskId: string, number: number, end: AttemptEnd) {
    const [row] = await executor
      .update(taskAttempts)
      .set({
        endedAt: sql`greatest(now(), ${taskAttempts.claimedAt})`,
        outcome: outcomeOf(end),
        output: end.output ?? null,
        error: end.error ?? null,
      })
      .where(live(taskId, number))
      .returning();
    return row === undefined ? null : toAttempt(row);
  }

  /** The live attempt of a task, if any. */
  async live(executor: Executor, taskId: string): Promise<Attempt | null> {
    const [row] = await executor
      .select()
      .from(taskAttempts)
      .where(and(eq(taskAttempts.taskId, taskId), isNull(taskAttempts.endedAt)));
    return row === undefined ? null : toAttempt(row);
  }

  /** Live attempts past their lease or deadline, oldest first, with the database's clock. */
  async expired(executor: Executor, limit: number): Promise<ExpiredAttempt[]> {
    const rows = await executor
      .select({
        taskId: taskAttempts.taskId,
        number: taskAttempts.number,
        leaseExpiresAt: taskAttempts.leaseExpiresAt,
        deadline: taskAttempts.deadline,
        now: sql`now()`,
      })
      .from(taskAttempts)
      .where(
        and(
          isNull(taskAttempts.endedAt),
          or(lte(taskAttempts.leaseExpiresAt, sql`now()`), lte(taskAttempts.deadline, sql`now()`)),
        ),
      )
      .orderBy(asc(taskAttempts.leaseExpiresAt))
      .limit(limit);
    return rows.map((row) => ({ ...row, now: toDate(row.now) }));
  }
}

/** The outcome to store, judged against the deadline in the statement that ends the attempt. */
function outcomeOf(end: AttemptEnd) {
  if (end.pastDeadline === undefined) return end.outcome;
  return sql`case when ${taskAttempts.deadline} <= now() then ${end.pastDeadline}::text
    else ${end.outcome}::text end`;
}

function live(taskId: string, number: number) {
  return and(
    eq(taskAttempts.taskId, taskId),
    eq(taskAttempts.number, number),
    isNull(taskAttempts.endedAt),
  );
}
