/**
 * The one statement every write ends with: its audit records, the bump of the event counter and
 * its events, appended together. It belongs to the store because it is SQL over three tables;
 * {@link WriteTransactions} calls it, the event log only reads what it wrote.
 */
import type { EventDraft, LoggedEvent } from '../domain/event.js';
import type { AuditDraft } from './audit-repository.js';
import type { CommitWith } from './database.js';
import type { events } from './schema.js';

/** An event row as drizzle selects it. */
export type EventRow = Pick<
  typeof events.$inferSelect,
  'id' | 'type' | 'topic' | 'topics' | 'data' | 'createdAt'
>;
/**
 * A row as the append statement returns it, with SQL column names. On PostgreSQL, drizzle's
 * node-postgres driver hands the timestamp of a raw statement over as text, so both forms are
 * taken.
 */
export type AppendedRow = Omit<EventRow, 'createdAt'> & { created_at: Date | string };

/** The event as readers see it, from either row form (selected or just appended). */
export function toLoggedEvent(row: EventRow | AppendedRow): LoggedEvent {
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
 * A value as a SQL literal of its JSON text: exactly what `pg.escapeLiteral(JSON.stringify(value))`
 * gives (quotes doubled; with a backslash, backslashes doubled too and the literal prefixed with
 * ` E`), built with native replaces instead of pg's loop that appends one character at a time.
 * That loop's cost grows faster than the text: it blocked the event loop, and every request and
 * WebSocket of the instance with it, for most of a second on a write of 2 MiB of JSON
 * (bench/README.md, `literal`).
 */
export function jsonLiteral(value: unknown): string {
  const text = JSON.stringify(value);
  const quoted = `'${text.replaceAll("'", "''")}'`;
  return text.includes('\\') ? ` E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}

/**
 * The statement that appends the events of one write together with its audit records (one round
 * trip instead of three): the audit rows, the counter bump and the event rows are data-modifying
 * parts of the same query. The events take their ids by bumping `event_log_state.last_id`; that
 * row stays locked until commit, so ids are handed out in commit order and a rolled-back write
 * gives its ids back: the log is gapless, and once id N is visible no event below N can still
 * appear. With no events the counter row is left alone (and unlocked). Values are literals: the
 * statement is sent with the COMMIT (see {@link appendEventsAndCommit}).
 */
function appendText(drafts: readonly EventDraft[], audit: readonly AuditDraft[]): string {
  const count = drafts.length;
  return `with audit as (
  insert into audit_log (key_id, action, resource, resource_id, changed_fields, ip, user_agent)
  select key_id, action, resource, resource_id, changed_fields, ip, user_agent
  from jsonb_to_recordset(${jsonLiteral(audit.map(auditRow))}::jsonb)
    as a(key_id uuid, action text, resource text, resource_id text, changed_fields text[],
         ip text, user_agent text)
), state as (
  update event_log_state set last_id = last_id + ${count}
  where singleton and ${count} > 0 returning last_id
)
insert into events (id, type, topic, topics, data)
select state.last_id - ${count} + e.position, e.type, e.topic, e.topics, e.data
from state, jsonb_to_recordset(${jsonLiteral(drafts.map(eventRow))}::jsonb)
  as e(position int, type text, topic text, topics text[], data jsonb)
returning id::float8 as id, type, topic, topics, data, created_at`;
}

/**
 * Ends a write's transaction: appends its events and audit records and commits, in one round
 * trip, so the event-log counter the append locks is released as soon as PostgreSQL commits
 * rather than after another round trip to the service. Call it as the last step of a
 * transaction, which also keeps that lock the last one taken and rules out lock-order deadlocks.
 * With nothing to append it does nothing (the transaction runner commits).
 */
export async function appendEventsAndCommit(
  commitWith: CommitWith,
  drafts: readonly EventDraft[],
  audit: readonly AuditDraft[] = [],
): Promise<LoggedEvent[]> {
  // Stryker disable next-line ConditionalExpression,ArrayDeclaration: the empty append returns no rows too; the bus's one listener drops entries without a new id
  if (drafts.length === 0 && audit.length === 0) return [];
  const rows = (await commitWith(appendText(drafts, audit))) as AppendedRow[];
  // Stryker disable next-line MethodExpression,ArrowFunction,ArithmeticOperator: PostgreSQL returns inserted rows in insertion order (by id) but does not promise it
  return rows.map(toLoggedEvent).sort((a, b) => a.id - b.id);
}
