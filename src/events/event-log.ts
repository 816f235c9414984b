import { and, arrayOverlaps, asc, desc, gt, lt, max, sql } from 'drizzle-orm';
import type { Retention } from '../config.js';
import type { LoggedEvent } from '../domain/event.js';
import type { Executor } from '../store/database.js';
import { toLoggedEvent } from '../store/event-append.js';
import { eventLogState, events } from '../store/schema.js';

/**
 * The durable, ordered log, as readers and retention see it. Writes append to it inside their
 * own transaction through the store (`appendEvents` in store/event-append.ts), which keeps ids
 * gapless and in commit order: once id N is visible no event below N can still appear.
 */
export class EventLog {
  /**
   * Events after `afterId`, oldest first, limited to those delivered to any of `topics` (null:
   * all).
   */
  async readAfter(
    executor: Executor,
    afterId: number,
    topics: readonly string[] | null,
    limit: number,
  ): Promise<LoggedEvent[]> {
    const rows = await executor
      .select()
      .from(events)
      .where(
        and(
          gt(events.id, afterId),
          topics === null ? undefined : arrayOverlaps(events.topics, [...topics]),
        ),
      )
      .orderBy(asc(events.id))
      .limit(limit);
    return rows.map(toLoggedEvent);
  }

  /**
   * The id of the newest committed event (0 for a new log), whether or not retention has pruned it
   * since.
   */
  async latestId(executor: Executor): Promise<number> {
    return (await this.state(executor)).lastId;
  }

  /**
   * Every id up to this one has been deleted by retention; a resume from before it cannot be
   * served.
   */
  async prunedThroughId(executor: Executor): Promise<number> {
    return (await this.state(executor)).prunedThroughId;
  }

  // An emptied body fails every app's start in beforeAll, which vitest reports as skipped tests.
  // Stryker disable next-line BlockStatement: no test of the group can fail on it, all skip
  private async state(executor: Executor): Promise<{ lastId: number; prunedThroughId: number }> {
    const [row] = await executor
      .select({ lastId: eventLogState.lastId, prunedThroughId: eventLogState.prunedThroughId })
      .from(eventLogState);
    // The first migration inserts the one row and nothing deletes it (appends update it).
    return row!;
  }

  /**
   * Deletes events older than the retention age or beyond its count, in one statement; returns how
   * many went.
   */
  async prune(executor: Executor, retention: Retention, now: Date = new Date()): Promise<number> {
    const cutoff = await this.pruneCutoff(executor, retention, now);
    // Stryker disable next-line ConditionalExpression: a null cutoff deletes nothing either
    if (cutoff === null) return 0;
    const [row] = await executor
      .execute<{ deleted: number }>(
        sql`
      with deleted as (delete from ${events} where ${events.id} <= ${cutoff} returning 1)
      update ${eventLogState}
      set pruned_through_id = greatest(${eventLogState.prunedThroughId}, ${cutoff})
      returning (select count(*)::int from deleted) as deleted`,
      )
      .then((result) => (result as { rows: Array<{ deleted: number }> }).rows);
    return row!.deleted; // the update of the one state row returns one row
  }

  /** The highest id retention removes, or null when nothing is due. */
  private async pruneCutoff(
    executor: Executor,
    retention: Retention,
    now: Date,
  ): Promise<number | null> {
    const candidates: number[] = [];
    if (retention.maxAgeMs !== null) {
      const [old] = await executor
        .select({ value: max(events.id) })
        .from(events)
        .where(lt(events.createdAt, new Date(now.getTime() - retention.maxAgeMs)));
      // max() returns one row; a null max, pushed, would act as 0, below every id.
      // Stryker disable next-line ConditionalExpression,OptionalChaining: equivalent, see above
      if (old?.value != null) candidates.push(old.value);
    }
    if (retention.maxEvents !== null) {
      const [beyond] = await executor
        .select({ id: events.id })
        .from(events)
        .orderBy(desc(events.id))
        .offset(retention.maxEvents)
        .limit(1);
      if (beyond !== undefined) candidates.push(beyond.id);
    }
    return candidates.length === 0 ? null : Math.max(...candidates);
  }
}
