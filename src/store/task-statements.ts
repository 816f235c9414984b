/**
 * A claim and a completion, each as one statement (write-statement.ts): the hot path of the
 * queue, which agents run once per task each. As transactions of drizzle-built queries a cycle
 * took thirteen round trips (bench/README.md, tasks); here each is one prepared statement that
 * locks, changes, audits and logs its events, and builds the task and agent documents the API
 * answers with (docs/tasks.md, "Claims"). Parameters `$1`–`$3` are the actor (the tail's).
 */
import type { Claimed, Completion, Task, TaskStatus } from '../domain/task.js';
import { agentDocument } from './agent-repository.js';
import type { Statement } from './database.js';
import { changesCte, isoText, rowDocument, writeStatementText } from './write-statement.js';

/** SQL of a task as the API shows it (`toTask()` in task-repository.ts says the same in TS). */
function taskDocument(row: string): string {
  const columns = ['id', 'project_id', 'title', 'kind', 'input', 'required_capabilities'];
  const more = ['agent_type', 'agent_id', 'priority', 'depends_on', 'max_attempts', 'timeout_ms'];
  const state = ['lease_ms', 'status', 'result', 'error', 'cancel_reason', 'attempts'];
  return rowDocument(
    row,
    [...columns, ...more, ...state, 'schedule_id', 'version'],
    ['run_at', 'created_at', 'updated_at', 'finished_at'],
    {
      backoff: `jsonb_build_object('base_ms', ${row}.backoff_base_ms,
        'max_ms', ${row}.backoff_max_ms)`,
      progress: `case when ${row}.progress_value is null then null else jsonb_build_object(
        'value', ${row}.progress_value, 'message', ${row}.progress_message) end`,
    },
  );
}

/** `task:<id>`, `tasks`, its project and, when an agent holds the attempt, `agent:<agent>`. */
function taskTopics(task: string, agent: string): string {
  return `array['tasks', 'task:' || ${task}.id, 'project:' || ${task}.project_id] ||
    case when ${agent} is null then '{}'::text[] else array['agent:' || ${agent}] end`;
}

/** The AGENT_STATUS row of `changes` for the agent rows `u` (as `agentEvent()` topics them). */
function agentStatusChange(ordinal: number, changed: readonly string[], from: string) {
  const fields = changed.map((field) => `'${field}'`).join(', ');
  return {
    ordinal,
    type: 'AGENT_STATUS',
    topic: `'agent:' || u.id`,
    topics: `array['agents', 'agent:' || u.id] ||
      case when u.project_id is null then '{}'::text[] else array['project:' || u.project_id] end`,
    data: `jsonb_build_object('agent', ${agentDocument('u')},
      'changed_fields', jsonb_build_array(${fields}))`,
    action: 'status',
    resource: 'agent',
    resourceId: 'u.id',
    changedFields: `array[${fields}]`,
    from,
  };
}

/** Which tasks an agent `a` may take (docs/tasks.md, "Claims", points 2 and 3). */
const fits = `t.status = 'queued' and t.required_capabilities <@ a.capabilities
      and (t.agent_type is null or t.agent_type = a.agent_type)
      and (t.agent_id is null or t.agent_id = a.id)`;

/** The best task of `where` for agent `a`, locked, as `tasks_*claim_idx` orders the queue. */
function bestTask(where: string): string {
  return `select c.id from agent a cross join lateral (
    select t.id from tasks t
    where ${where} and ${fits}
    order by t.priority desc nulls last, t.run_at, t.created_at, t.id
    limit 1 for update of t skip locked
  ) c`;
}

/**
 * The claim. `agent`: the agent, if the key's scope (`$5`, null: all) shows it. `candidate`: the
 * best task it may take, in its project (an index scan of `tasks_project_claim_idx` bounded by
 * the project: the lateral join makes the agent's project a constant of the scan) or, for an
 * agent without one, in the key's projects (`tasks_claim_idx`); the arm that does not apply is
 * not run. Rows other claims hold are skipped. Then the task runs with one more attempt, the
 * attempt opens with its lease and deadline, and the agent, locked after the task as in every
 * write, becomes busy and seen: an AGENT_STATUS event when it was not busy already.
 */
const claimText = writeStatementText(
  `agent as (
  select id, agent_type, capabilities, project_id from agents
  where id = $4::uuid and ($5::uuid[] is null or project_id = any($5::uuid[]))
), candidate as (
  ${bestTask('t.project_id = a.project_id')}
  union all
  ${bestTask(`a.project_id is null and ($5::uuid[] is null or t.project_id = any($5::uuid[]))`)}
), claimed as (
  update tasks t set status = 'running', attempts = t.attempts + 1, version = t.version + 1,
    updated_at = greatest(now(), t.updated_at + interval '1 millisecond')
  from candidate c
  where t.id = c.id
  returning t.*
), attempt as (
  insert into task_attempts
    (task_id, number, agent_id, claimed_at, heartbeat_at, lease_expires_at, deadline)
  select id, attempts, $4::uuid, now(), now(),
    least(now() + lease_ms * interval '1 ms', now() + timeout_ms * interval '1 ms'),
    now() + timeout_ms * interval '1 ms'
  from claimed
  returning task_id, number, agent_id, lease_expires_at
), held as (
  select g.id, g.status from agents g, claimed where g.id = $4::uuid for update of g
), u as (
  update agents g set status = 'busy', last_active_at = now(), version = g.version + 1,
    updated_at = greatest(now(), g.updated_at + interval '1 millisecond')
  from held h
  where g.id = $4::uuid and g.id = h.id
  returning g.*, h.status as before
), ${changesCte(
    {
      type: 'TASK_EXECUTION',
      topic: `'task:' || t.id`,
      topics: taskTopics('t', 'n.agent_id'),
      data: `jsonb_build_object('task', ${taskDocument('t')}, 'phase', 'claimed',
        'attempt', jsonb_build_object('number', n.number, 'agent_id', n.agent_id))`,
      action: 'claim',
      resource: 'task',
      resourceId: 't.id',
      changedFields: null,
      from: 'claimed t, attempt n',
    },
    agentStatusChange(2, ['status'], `u where u.before <> 'busy'`),
  )}`,
  `exists (select from agent) as agent_visible,
  (select data->'task' from changes where ordinal = 1) as task,
  (select jsonb_build_object('number', number, 'lease_expires_at', ${isoText('lease_expires_at')})
    from attempt) as attempt`,
);

/** What the claim statement's row says. */
export interface ClaimRow {
  /** False: no such agent in the key's scope (nothing was claimed). */
  agent_visible: boolean;
  /** The task now running and its attempt, or null when none was free. */
  task: Task | null;
  attempt: Claimed['attempt'] | null;
}

/**
 * The completion. `target`: the task, locked, if the key's scope (`$6`) shows it. `waiting`:
 * whether blocked tasks depend on it; their promotion reads the other dependencies' states,
 * which one statement would read in its snapshot, before a concurrent completion of one of them
 * commits, so such a task is completed by the transactional path instead (the statement changes
 * nothing). Else when attempt `$5` holds the task: the attempt ends `succeeded`, the task takes
 * its result, and its agent becomes idle if it holds no other live attempt and has not changed
 * since the statement's snapshot (the version the subquery reads there: a claim it made meanwhile,
 * whose attempt the snapshot cannot see, leaves it busy).
 */
const completeText = writeStatementText(
  `target as (
  select id, status, attempts from tasks
  where id = $4::uuid and ($6::uuid[] is null or project_id = any($6::uuid[]))
  for update
), waiting as (
  select exists (
    select from tasks d
    where d.depends_on @> array[$4::uuid] and d.status = 'blocked'
  ) as dependents
), ended as (
  update task_attempts a set ended_at = greatest(now(), a.claimed_at), outcome = 'succeeded',
    output = $7::text, error = null
  from target t, waiting w
  where a.task_id = $4::uuid and a.number = $5::int and a.ended_at is null
    and t.status = 'running' and t.attempts = $5::int and not w.dependents
  returning a.task_id, a.number, a.agent_id
), done as (
  update tasks k set status = 'succeeded', result = $8::jsonb, error = null, finished_at = now(),
    version = k.version + 1, updated_at = greatest(now(), k.updated_at + interval '1 millisecond')
  from ended e
  where k.id = e.task_id
  returning k.*, e.number as attempt_number, e.agent_id as holder
), u as (
  update agents g set status = 'idle', version = g.version + 1,
    updated_at = greatest(now(), g.updated_at + interval '1 millisecond')
  from ended e
  where g.id = e.agent_id and g.status = 'busy'
    and g.version = (select s.version from agents s where s.id = e.agent_id)
    and not exists (
      select from task_attempts l
      where l.agent_id = e.agent_id and l.ended_at is null and l.task_id <> e.task_id
    )
  returning g.*
), ${changesCte(
    {
      type: 'TASK_EXECUTION',
      topic: `'task:' || t.id`,
      topics: taskTopics('t', 't.holder'),
      data: `jsonb_build_object('task', ${taskDocument('t')}, 'phase', 'succeeded',
        'attempt', jsonb_build_object('number', t.attempt_number, 'agent_id', t.holder,
          'outcome', 'succeeded'))`,
      action: 'complete',
      resource: 'task',
      resourceId: 't.id',
      changedFields: null,
      from: 'done t',
    },
    agentStatusChange(2, ['status'], 'u'),
  )}`,
  `(select status from target) as status, (select attempts from target) as attempts,
  (select dependents from waiting) as dependents,
  (select data->'task' from changes where ordinal = 1) as task`,
);

/** What the completion statement's row says. */
export interface CompleteRow {
  /** The task's status and attempt count under the lock; null: no such task in scope. */
  status: TaskStatus | null;
  attempts: number | null;
  /** True when blocked tasks depend on it: the statement changed nothing. */
  dependents: boolean | null;
  /** The succeeded task, or null when nothing changed. */
  task: Task | null;
}

/** The claim of agent `agentId` for a key of `scope` (null: every project). */
export function claimStatement(agentId: string, scope: readonly string[] | null): Statement {
  // Stryker disable next-line StringLiteral: an unnamed statement claims the same, re-planned
  return { name: 'task_claim', text: claimText, values: [agentId, scope] };
}

/**
 * The completion of task `id` by attempt `completion.attempt`, for a key of `scope`. A result
 * of null or none is stored as SQL NULL, as the transactional path stores it.
 */
export function completeStatement(
  id: string,
  completion: Completion,
  scope: readonly string[] | null,
): Statement {
  const { attempt, result, output } = completion;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: jsonb 'null' reads back as null
  const json = result === undefined || result === null ? null : JSON.stringify(result);
  return {
    // Stryker disable next-line StringLiteral: an unnamed statement completes the same, re-planned
    name: 'task_complete',
    text: completeText,
    values: [id, attempt, scope, output ?? null, json],
  };
}
