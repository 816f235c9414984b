/**
 * A batch of writes as one SQL statement (see write-batcher.ts): every item's row change, audit
 * record and event, with one bump of the event counter for all of them, in one round trip and one
 * commit. The single-write form is write-statement.ts; this one differs in that each item brings
 * its own actor and gets its own answer.
 *
 * The change is written as common table expressions: `input`, one row per item with at least
 * `(n, key_id, ip, user_agent)`, `n` numbering the items from 1 (`unnest … with ordinality`), and
 * last `changes`, one row per event:
 * `(n, ordinal, type, topic, topics, data, action, resource, resource_id, changed_fields)`, where
 * `n` names the item and `ordinal` numbers the events from 1 in the order of their items. Events
 * take their ids in that order, after the counter row is locked last, as in appendEvents.
 */
import {
  type ChangeRow,
  changeColumns,
  counterAndEventsSql,
  loggedEventJson,
} from './write-statement.js';

/**
 * The SQL of a batch: `changeSql` (CTEs, without `with`, from `input` to `changes`), then the
 * audit, counter and event parts, then one row per item in item order:
 * `n, [<resultSql>,] event` (the item's logged event as JSON, or null). `resultSql` may read the
 * item as `i`.
 */
export function batchStatementText(changeSql: string, resultSql?: string): string {
  return `with ${changeSql},
audit as (
  insert into audit_log (key_id, action, resource, resource_id, changed_fields, ip, user_agent)
  select i.key_id, c.action, c.resource, c.resource_id, c.changed_fields, i.ip, i.user_agent
  from changes c join input i on i.n = c.n
  order by c.ordinal
), ${counterAndEventsSql()}, logged_by_item as (
  select c.n, ${loggedEventJson('l')} as event
  from logged l, counter, changes c
  where l.id = counter.before_id + c.ordinal
)
select i.n, ${resultSql === undefined ? '' : `${resultSql}, `}e.event
from input i left join logged_by_item e on e.n = i.n
order by i.n`;
}

/** One event per changed row of `from`: a relation whose rows carry their item's `n`. */
export type BatchChange = Omit<ChangeRow, 'ordinal'>;

/** The `changes` CTE of a batch: an event per changed row, numbered in item order. */
export function batchChangesCte(change: BatchChange): string {
  const rows = change.from;
  return `changes as (
  select ${rows}.n, (row_number() over (order by ${rows}.n))::int as ordinal,
    ${changeColumns(change)}
  from ${rows}
)`;
}
