import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });
/**
 * A jsonb column holding any JSON value. Both drivers already parse jsonb; drizzle's own `jsonb`
 * parses a string value once more, which turned a stored string such as "0" or "true" into a
 * number or a boolean on reading.
 */
const jsonValue = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => 'jsonb',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => value,
});

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
};

/** Projects: the unit a team organises its agents by. */
export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description'),
    status: text('status').notNull().default('active'),
    sparcMode: text('sparc_mode').notNull().default('specification'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    index('projects_created_at_idx').on(table.createdAt, table.id),
    index('projects_updated_at_idx').on(table.updatedAt, table.id),
    index('projects_status_idx').on(table.status),
  ],
);

/**
 * Agents: workers that may belong to one project. A name is unique within its project; agents
 * without a project share one namespace (NULLS NOT DISTINCT, PostgreSQL 15).
 */
export const agents = pgTable(
  'agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    agentType: text('agent_type').notNull(),
    capabilities: text('capabilities')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    status: text('status').notNull().default('idle'),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    lastActiveAt: timestamp('last_active_at', { withTimezone: true, precision: 3 }),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    unique('agents_project_name_unique').on(table.projectId, table.name).nullsNotDistinct(),
    index('agents_created_at_idx').on(table.createdAt, table.id),
    index('agents_capabilities_idx').using('gin', table.capabilities),
  ],
);

/**
 * The durable, ordered event log. Ids come from `event_log_state.last_id`, bumped inside the
 * appending transaction: the row lock orders appends by commit and a rollback gives its ids
 * back, so ids are gapless and a reader that sees id N has seen every event below N.
 */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey(),
    type: text('type').notNull(),
    topic: text('topic').notNull(),
    topics: text('topics').array().notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    index('events_topics_idx').using('gin', table.topics),
    index('events_created_at_idx').on(table.createdAt),
  ],
);

/**
 * One row: the last event id handed out, and the highest one retention has deleted (resumes from
 * before it get REPLAY_GAP).
 */
export const eventLogState = pgTable('event_log_state', {
  singleton: boolean('singleton').primaryKey().default(true),
  lastId: bigint('last_id', { mode: 'number' }).notNull().default(0),
  prunedThroughId: bigint('pruned_through_id', { mode: 'number' }).notNull().default(0),
});

/**
 * Local copy of every memory entry written through the service: the fallback when the MCP server
 * is away. A key is unique within its project; entries without a project share one namespace.
 */
export const memoryEntries = pgTable(
  'memory_entries',
  {
    key: text('key').notNull(),
    content: text('content').notNull(),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    projectId: uuid('project_id'),
    agentId: uuid('agent_id'),
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('simple'::regconfig, key || ' ' || content)`),
    ...timestamps,
  },
  (table) => [
    unique('memory_entries_project_key_unique').on(table.projectId, table.key).nullsNotDistinct(),
    index('memory_entries_search_idx').using('gin', table.search),
  ],
);

/** Writes the MCP server has not acknowledged yet, replayed in id order when it is back. */
export const memoryReplayQueue = pgTable('memory_replay_queue', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  key: text('key').notNull(),
  record: jsonb('record').$type<Record<string, unknown>>().notNull(),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/**
 * API keys. The secret is never stored: only its SHA-256 (the secret is 256 random bits, so a
 * fast hash is safe). `project_ids` null means every project.
 */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  projectIds: uuid('project_ids').array(),
  secretHash: text('secret_hash').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
});

/** Who changed what, written in the same transaction as the change. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    keyId: uuid('key_id'),
    action: text('action').notNull(),
    resource: text('resource').notNull(),
    resourceId: text('resource_id'),
    changedFields: text('changed_fields').array(),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (table) => [
    index('audit_log_at_idx').on(table.at),
    index('audit_log_resource_idx').on(table.resource, table.resourceId),
  ],
);

/**
 * Tasks: work handed to agents. `status` is the state machine of docs/tasks.md; `attempts`
 * counts claims and gives each attempt its number (the fencing token); `retry_base` is the
 * attempt count at the last manual retry, so `max_attempts` counts from there.
 */
export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    kind: text('kind').notNull().default(''),
    input: jsonValue('input'),
    requiredCapabilities: text('required_capabilities')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    agentType: text('agent_type'),
    agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    priority: integer('priority').notNull().default(0),
    runAt: timestamp('run_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    dependsOn: uuid('depends_on')
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    maxAttempts: integer('max_attempts').notNull().default(3),
    backoffBaseMs: integer('backoff_base_ms').notNull().default(1_000),
    backoffMaxMs: integer('backoff_max_ms').notNull().default(300_000),
    timeoutMs: integer('timeout_ms'),
    leaseMs: integer('lease_ms').notNull().default(30_000),
    status: text('status').notNull(),
    progressValue: doublePrecision('progress_value'),
    progressMessage: text('progress_message'),
    progressEventAt: timestamp('progress_event_at', { withTimezone: true, precision: 3 }),
    result: jsonValue('result'),
    error: text('error'),
    cancelReason: text('cancel_reason'),
    attempts: integer('attempts').notNull().default(0),
    retryBase: integer('retry_base').notNull().default(0),
    scheduleId: uuid('schedule_id'),
    version: integer('version').notNull().default(1),
    ...timestamps,
    finishedAt: timestamp('finished_at', { withTimezone: true, precision: 3 }),
  },
  (table) => [
    index('tasks_claim_idx')
      .on(table.priority.desc(), table.runAt, table.createdAt, table.id)
      .where(sql`status = 'queued'`),
    // The claims of an agent that belongs to a project: its queue in claim order, whatever other
    // projects hold queued or the project holds finished (bench/README.md, tasks).
    index('tasks_project_claim_idx')
      .on(table.projectId, table.priority.desc(), table.runAt, table.createdAt, table.id)
      .where(sql`status = 'queued'`),
    index('tasks_due_idx')
      .on(table.runAt)
      .where(sql`status = 'scheduled'`),
    // The maintenance loop's look for blocked tasks whose dependencies all finished.
    index('tasks_blocked_idx')
      .on(table.createdAt, table.id)
      .where(sql`status = 'blocked'`),
    index('tasks_project_created_idx').on(table.projectId, table.createdAt, table.id),
    index('tasks_created_at_idx').on(table.createdAt, table.id),
    index('tasks_depends_on_idx').using('gin', table.dependsOn),
    index('tasks_schedule_idx').on(table.scheduleId, table.createdAt),
  ],
);

/**
 * Attempts: one per claim. At most one is live (not ended) per task, which a partial unique
 * index enforces whatever the code does; the sweeper finds expired leases by the second index.
 */
export const taskAttempts = pgTable(
  'task_attempts',
  {
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    claimedAt: timestamp('claimed_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow(),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, precision: 3 }).notNull(),
    deadline: timestamp('deadline', { withTimezone: true, precision: 3 }),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }),
    outcome: text('outcome'),
    output: text('output'),
    error: text('error'),
  },
  (table) => [
    primaryKey({ columns: [table.taskId, table.number] }),
    uniqueIndex('task_attempts_live_idx')
      .on(table.taskId)
      .where(sql`ended_at is null`),
    index('task_attempts_lease_idx')
      .on(table.leaseExpiresAt)
      .where(sql`ended_at is null`),
    index('task_attempts_deadline_idx')
      .on(table.deadline)
      .where(sql`ended_at is null and deadline is not null`),
    index('task_attempts_agent_idx').on(table.agentId, table.claimedAt),
  ],
);

/** Schedules: a cron expression in a time zone that makes one task from `task` on each tick. */
export const schedules = pgTable(
  'schedules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    cron: text('cron').notNull(),
    timezone: text('timezone').notNull(),
    task: jsonb('task').$type<Record<string, unknown>>().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    overlap: text('overlap').notNull().default('skip'),
    nextRunAt: timestamp('next_run_at', { withTimezone: true, precision: 3 }),
    lastRunAt: timestamp('last_run_at', { withTimezone: true, precision: 3 }),
    lastTaskId: uuid('last_task_id'),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    index('schedules_due_idx')
      .on(table.nextRunAt)
      .where(sql`enabled`),
    index('schedules_created_at_idx').on(table.createdAt, table.id),
  ],
);
