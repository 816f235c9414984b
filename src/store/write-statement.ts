/**
 * A whole write as one SQL statement: the row change, its audit records, the bump of the event
 * counter and its events, as data-modifying parts of one query that commits on its own. Agent
 * heartbeats and task claims and completions take this path, one round trip in all, where
 * {@link WriteTransactions.run} needs five (docs/architecture.md, "Writes"); concurrent project
 * writes share one statement of the batch form (batch-statement.ts), built from the parts here.
 *
 * The change is written as common table expressions ending in one named `changes`, a row per
 * event, each with its audit record:
 * `(ordinal, type, topic, topics, data, action, resource, resource_id, changed_fields)`, ordinals
 * counting from 1. The tail appended here inserts the audit rows, bumps `event_log_state.last_id`
 * only once every row of `changes` is known (its condition reads them all, so the counter's lock
 * is the last one the statement takes, as in appendEvents) and inserts the events with ids from
 * the counter; the counter stays locked only while the statement commits, never across a round
 * trip. Parameters `$1`–`$3` are the actor's key id, IP and user agent; a change's own start at
 * `$4`.
 */
import type { Actor } from '../domain/auth.js';

/** The actor's parameters, in the order the tail reads them. */
export function actorValues(actor: Actor): unknown[] {
  return [actor.principal.keyId, actor.ip, actor.userAgent];
}

/**
 * The counter's bump, taken once every row of `changes` is known, and the events with ids from
 * it in `ordinal` order: CTEs `counter` (`before_id`, the last id before them) and `logged`.
 */
export function counterAndEventsSql(): string {
  return `counter as (
  update event_log_state set last_id = last_id + (select count(*) from changes)
  where singleton and (select count(*) from changes) > 0
  returning last_id - (select count(*) from changes) as before_id
), logged as (
  insert into events (id, type, topic, topics, data)
  select counter.before_id + c.ordinal, c.type, c.topic, c.topics, c.data
  from counter, changes c
  returning id, type, topic, topics, data, created_at
)`;
}

/** SQL of a row of `logged` (alias `row`) as the JSON the write runners read back. */
export function loggedEventJson(row: string): string {
  return `jsonb_build_object('id', ${row}.id, 'type', ${row}.type, 'topic', ${row}.topic,
      'topics', ${row}.topics, 'data', ${row}.data, 'created_at', ${row}.created_at)`;
}

/**
 * The SQL of a write: `changeSql` (CTEs, without `with`, ending with `changes`), then the audit,
 * counter and event parts, then `select <resultSql>, <the logged events as a JSON array>`.
 */
export function writeStatementText(changeSql: string, resultSql: string): string {
  return `with ${changeSql},
audit as (
  insert into audit_log (key_id, action, resource, resource_id, changed_fields, ip, user_agent)
  select $1::uuid, action, resource, resource_id, changed_fields, $2::text, $3::text from changes
  order by ordinal
), ${counterAndEventsSql()}
select ${resultSql},
  (select coalesce(jsonb_agg(${loggedEventJson('l')} order by l.id), '[]'::jsonb)
    from logged l) as logged_events`;
}

/** One row of `changes`: an event and its audit record, selected `from` a changed row. */
export interface ChangeRow {
  /**
   * Its place among the statement's events (default 1). The rows of one statement must number
   * 1, 2, … with no gap whichever occur: a later row may only occur with every earlier one.
   */
  ordinal?: number;
  type: string;
  /** SQL of the event's topic, e.g. `'project:' || u.id`. */
  topic: string;
  /** SQL of its topics array. */
  topics: string;
  /** SQL of its data, a jsonb. */
  data: string;
  action: string;
  resource: string;
  /** SQL of the changed row's id. */
  resourceId: string;
  /** SQL of the audit's changed fields (text[]), or null. */
  changedFields: string | null;
  /** `from …` (and `where …`) naming the changed rows. */
  from: string;
}

/**
 * The `changes` CTE: one event (and audit record) per row each of `rows` selects, in the order
 * given. Several rows let a statement log several kinds of event, e.g. a task's step and its
 * agent's new status.
 */
export function changesCte(...rows: ChangeRow[]): string {
  return `changes as (\n${rows.map(changeSelect).join('\n  union all\n')}\n)`;
}

function changeSelect(row: ChangeRow): string {
  return `  select ${row.ordinal ?? 1}::int as ordinal, ${changeColumns(row)}
  from ${row.from}`;
}

/** The columns of a row of `changes` after its ordinal: the event's and its audit record's. */
export function changeColumns(row: Omit<ChangeRow, 'ordinal' | 'from'>): string {
  return `'${row.type}'::text as type,
    ${row.topic} as topic, ${row.topics}::text[] as topics, ${row.data} as data,
    '${row.action}'::text as action, '${row.resource}'::text as resource,
    ${row.resourceId}::text as resource_id, ${row.changedFields ?? 'null'}::text[] as changed_fields`;
}

/** SQL that renders a `timestamp(3)` column as `Date.prototype.toISOString()` does. */
export function isoText(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** SQL of a jsonb object: wire name → SQL expression. */
function jsonDocument(fields: Record<string, string>): string {
  const pairs = Object.entries(fields).map(([name, value]) => `'${name}', ${value}`);
  return `jsonb_build_object(${pairs.join(', ')})`;
}

/**
 * SQL of the names among `fields` (wire names equal to column names) whose values differ between
 * the rows `before` and `after`, in the order given: the audit's and the event's changed fields.
 */
export function changedFieldsSql(before: string, after: string, fields: readonly string[]): string {
  const terms = fields.map(
    (field) =>
      `case when ${after}.${field} is distinct from ${before}.${field} then '${field}' end`,
  );
  return `array_remove(array[${terms.join(', ')}]::text[], null)`;
}

/**
 * SQL of a PATCH's value for one column: the field of the jsonb parameter `patch` when present
 * (even null), else the row's value. `json` keeps a jsonb field as jsonb, otherwise it is text.
 */
// Stryker disable next-line BooleanLiteral: called only while modules load (static SQL, which a mutation run cannot activate); the API tests prove the SQL
export function patchedColumn(patch: string, row: string, field: string, json = false): string {
  const value = json ? `${patch}->'${field}'` : `${patch}->>'${field}'`;
  return `case when ${patch} ? '${field}' then ${value} else ${row}.${field} end`;
}

/**
 * SQL of a row as the API shows it: `columns` as they are (their wire names are their column
 * names), `timestamps` as ISO text, then `computed` (wire name → SQL) for the fields whose shape
 * differs from the row's.
 */
export function rowDocument(
  row: string,
  columns: readonly string[],
  timestamps: readonly string[],
  computed: Record<string, string> = {},
): string {
  const fields: Record<string, string> = {};
  for (const column of columns) fields[column] = `${row}.${column}`;
  for (const column of timestamps) fields[column] = isoText(`${row}.${column}`);
  return jsonDocument({ ...fields, ...computed });
}
