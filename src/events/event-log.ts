import { and, arrayOverlaps, asc, desc, gt, lt, max, sql } from 'drizzle-orm';
import type { Retention } from '../config.js';
import type { EventDraft, LoggedEvent } from '../domain/event.js';
import type { Executor } from '../store/database.js';
import type { AuditDraft } from '../store/audit-repository.js';
import { auditLog, eventLogState, events } from '../store/schema.js';

type EventRow = Pick<
  typeof events.$inferSelect,
  'id' | 'type' | 'topic' | 'topics' | 'data' | 'createdAt'
>;
/**
 * A row as the append statement returns it, with SQL column names. On PostgreSQL, drizzle's
 * node-postgres driver hands the timestamp of a raw statement over as text, so both forms are taken.
 */
type AppendedRow = Omit<EventRow, 'createdAt'> & { created_at: Date | string };

function toEvent(row: EventRow | AppendedRow): LoggedEvent {
  const createdAt = 'createdAt' in row ? row.createdAt : new Date(row.created_at);
  return {
    id: Number(row.id),
    type: row.type as LoggedEvent['type'],
    topic: row.topic,
    topics: row.topics,
    timestamp: createdAt.toISOString(),
    data: row.data,
  };
}

function eventRow(draft: EventDraft, index: number) {
  return {
    position: index + 1,
    type: draft.type,
    topic: draft.topic,
    topics: draft.topics,
    data: draft.data,
  };
}

function auditRow(draft: AuditDraft) {
  return {
    key_id: draft.keyId,
    action: draft.action,
    resource: draft.resource,
    resource_id: draft.resourceId,
    changed_fields: draft.changedFields,
    ip: draft.ip,
    user_agent: draft.userAgent,
  };
}

/**
 * The durable, ordered log every write appends to inside its own transaction. An append takes
 * its ids by bumping `event_log_state.last_id`; that row stays locked until commit, so ids are
 * handed out in commit order and a rolled-back write gives its ids back: the log is gapless, and
 * once id N is visible no event below N can still appear. Callers append as the last step of a
 * transaction, which keeps that lock the last one taken and rules out lock-order deadlocks.
 */
export class EventLog {
  /**
   * Appends the events of one write together with its audit records in a single statement (one
   * round trip instead of three): the audit rows, the counter bump and the event rows are data-
   * modifying parts of the same query. With no events the counter row is left alone (and unlocked).
   */
  async append(
    executor: Executor,
    drafts: EventDraft[],
    audit: AuditDraft[] = [],
  ): Promise<LoggedEvent[]> {
    if (drafts.length === 0 && audit.length === 0) return [];
    const result = await executor.execute(sql`
      with audit as (
        insert into ${auditLog} (key_id, action, resource, resource_id, changed_fields, ip, user_agent)
        select key_id, action, resource, resource_id, changed_fields, ip, user_agent
        from jsonb_to_recordset(${JSON.stringify(audit.map(auditRow))}::jsonb)
          as a(key_id uuid, action text, resource text, resource_id text, changed_fields text[], ip text, user_agent text)
      ), state as (
        update ${eventLogState} set last_id = last_id + ${drafts.length}::int
        where singleton and ${drafts.length}::int > 0 returning last_id
      )
      insert into ${events} (id, type, topic, topics, data)
      select state.last_id - ${drafts.length}::int + e.position, e.type, e.topic, e.topics, e.data
      from state, jsonb_to_recordset(${JSON.stringify(drafts.map(eventRow))}::jsonb)
        as e(position int, type text, topic text, topics text[], data jsonb)
      returning id::float8 as id, type, topic, topics, data, created_at`);
    return (result as { rows: AppendedRow[] }).rows.map(toEvent).sort((a, b) => a.id - b.id);
  }

  /** Events after `afterId`, oldest first, limited to those delivered to any of `topics` (null: all). */
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
    return rows.map(toEvent);
  }

  /** The id of the newest committed event (0 for a new log), whether or not retention has pruned it since. */
  async latestId(executor: Executor): Promise<number> {
    return (await this.state(executor)).lastId;
  }

  /** Every id up to this one has been deleted by retention; a resume from before it cannot be served. */
  async prunedThroughId(executor: Executor): Promise<number> {
    return (await this.state(executor)).prunedThroughId;
  }

  private async state(executor: Executor): Promise<{ lastId: number; prunedThroughId: number }> {
    const [row] = await executor
      .select({ lastId: eventLogState.lastId, prunedThroughId: eventLogState.prunedThroughId })
      .from(eventLogState);
    return row ?? { lastId: 0, prunedThroughId: 0 };
  }

  /** Deletes events older than the retention age or beyond its count, in one statement; returns how many went. */
  async prune(executor: Executor, retention: Retention, now: Date = new Date()): Promise<number> {
    const cutoff = await this.pruneCutoff(executor, retention, now);
    if (cutoff === null) return 0;
    const [row] = await executor
      .execute<{ deleted: number }>(
        sql`
      with deleted as (delete from ${events} where ${events.id} <= ${cutoff} returning 1)
      update ${eventLogState} set pruned_through_id = greatest(${eventLogState.prunedThroughId}, ${cutoff})
      returning (select count(*)::int from deleted) as deleted`,
      )
      .then((result) => (result as { rows: Array<{ deleted: number }> }).rows);
    return row?.deleted ?? 0;
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
