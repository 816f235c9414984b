import { type SQL, and, count, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Actor } from '../domain/auth.js';
import type { Page } from '../domain/common.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import type { Executor, Statement } from './database.js';
import { projects, schedules, tasks } from './schema.js';
import { orderTerms, selectById, selectPage } from './versioning.js';
import { batchChangesCte, batchStatementText } from './batch-statement.js';
import { actorValues, changedFieldsSql, patchedColumn, rowDocument } from './write-statement.js';

type ProjectRow = typeof projects.$inferSelect;

/** Maps a row to the wire shape: snake_case names and ISO timestamps. */
export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status as Project['status'],
    sparc_mode: row.sparcMode as Project['sparc_mode'],
    metadata: row.metadata,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function filters(query: ProjectListQuery, scope: readonly string[] | null): SQL | undefined {
  const needle = query.q?.toLowerCase();
  return and(
    scope === null ? undefined : inArray(projects.id, [...scope]),
    query.status === undefined ? undefined : inArray(projects.status, query.status),
    query.sparc_mode === undefined ? undefined : inArray(projects.sparcMode, query.sparc_mode),
    needle === undefined
      ? undefined
      : sql`(strpos(lower(${projects.name}), ${needle}) > 0
          or strpos(lower(coalesce(${projects.description}, '')), ${needle}) > 0)`,
  );
}

/** The fields a write may change, in the order events and audit records list them. */
export const projectWritableFields = [
  'name',
  'description',
  'status',
  'sparc_mode',
  'metadata',
] as const;

const projectDocument = (row: string) =>
  rowDocument(row, ['id', ...projectWritableFields, 'version'], ['created_at', 'updated_at']);

/** An event per changed row `u`, with the project as its data (and `extraData`, jsonb pairs). */
function projectChanges(type: string, action: string, extraData = '', changed = 'null') {
  return batchChangesCte({
    type,
    topic: `'project:' || u.id`,
    topics: `array['projects', 'project:' || u.id]`,
    data: `jsonb_build_object('project', ${projectDocument('u')}${extraData})`,
    action,
    resource: 'project',
    resourceId: 'u.id',
    changedFields: changed,
    from: 'u',
  });
}

/**
 * The actor's columns of a batch's `input`: key ids, IPs and user agents from parameter `first`.
 */
const actorInput = (first: number) =>
  `$${first}::uuid[], $${first + 1}::text[], $${first + 2}::text[]`;

const insertText = batchStatementText(
  `input as (
  select gen_random_uuid() as id, i.*
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], ${actorInput(6)})
    with ordinality as i(name, description, status, sparc_mode, metadata, key_id, ip, user_agent, n)
), inserted as (
  insert into projects (id, name, description, status, sparc_mode, metadata)
  select id, name, description, status, sparc_mode, metadata from input order by n
  returning *
), u as (
  select inserted.*, input.n from inserted join input on input.id = inserted.id
), ${projectChanges('PROJECT_CREATED', 'create')}`,
);

const updateText = batchStatementText(
  `input as (
  select * from unnest($1::uuid[], $2::jsonb[], $3::jsonb[], $4::jsonb[], ${actorInput(5)})
    with ordinality as i(id, patch, expected, scope, key_id, ip, user_agent, n)
), target as (
  select p.*, i.n from projects p join input i on i.id = p.id
  where i.scope is null or i.scope @> to_jsonb(p.id::text)
  order by p.id
  for update of p
), u as (
  update projects p set
    ${projectWritableFields
      .map((field) => `${field} = ${patchedColumn('i.patch', 'p', field, field === 'metadata')}`)
      .join(',\n    ')},
    version = p.version + 1,
    updated_at = greatest(now(), p.updated_at + interval '1 millisecond')
  from target t join input i on i.n = t.n
  where p.id = t.id and (i.expected is null or i.expected @> to_jsonb(t.version))
  returning p.*, t.n, ${changedFieldsSql('t', 'p', projectWritableFields)} as changed_fields
), ${projectChanges(
    'PROJECT_UPDATE',
    'update',
    `, 'changed_fields', to_jsonb(u.changed_fields)`,
    'u.changed_fields',
  )}`,
  '(select t.version from target t where t.n = i.n) as current_version',
);

/** A PATCH or PUT for {@link ProjectRepository.updateBatch}. */
export interface ProjectUpdate {
  id: string;
  fields: ProjectPatch;
  /** Versions `If-Match` accepts; null: any. */
  expected: readonly number[] | null;
  /** The projects the actor's key may change; null: every project. */
  scope: readonly string[] | null;
  actor: Actor;
}

/** A POST for {@link ProjectRepository.insertBatch}. */
export interface ProjectCreation {
  input: ProjectInput;
  actor: Actor;
}

/** The actor parameters of a batch: key ids, IPs and user agents, one per item. */
function actorColumns(actors: readonly Actor[]): unknown[][] {
  const values = actors.map(actorValues);
  return [0, 1, 2].map((column) => values.map((row) => row[column]));
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

/**
 * SQL access to the `projects` table. Every method runs on the executor it is given, so services
 * choose the transaction.
 */
export class ProjectRepository {
  /**
   * Creations as one statement (batch-statement.ts): the rows, their PROJECT_CREATED events and
   * audit records. A row per item, in order: `event` (its data holds the project).
   */
  insertBatch(items: readonly ProjectCreation[]): Statement {
    const inputs = items.map((item) => item.input);
    return {
      // Stryker disable next-line StringLiteral: an unnamed statement writes the same, re-planned
      name: 'project_insert_batch',
      text: insertText,
      values: [
        inputs.map((input) => input.name),
        inputs.map((input) => input.description),
        inputs.map((input) => input.status),
        inputs.map((input) => input.sparc_mode),
        inputs.map((input) => JSON.stringify(input.metadata)),
        ...actorColumns(items.map((item) => item.actor)),
      ],
    };
  }

  /**
   * Updates as one statement: each row locked (in id order, so that concurrent batches cannot
   * deadlock), checked against its `expected` versions and `scope`, changed, with its
   * PROJECT_UPDATE event and audit record. A row per item, in order: `current_version` (null: no
   * such project in scope) and `event` (null: the version did not match, nothing changed). No two
   * items may name the same project.
   */
  updateBatch(items: readonly ProjectUpdate[]): Statement {
    return {
      // Stryker disable next-line StringLiteral: an unnamed statement writes the same, re-planned
      name: 'project_update_batch',
      text: updateText,
      values: [
        items.map((item) => item.id),
        items.map((item) => JSON.stringify(item.fields)),
        items.map((item) => json(item.expected)),
        items.map((item) => json(item.scope)),
        ...actorColumns(items.map((item) => item.actor)),
      ],
    };
  }

  /**
   * The row, or null; with `lock` the row stays locked until the transaction ends, so a write can
   * check it first.
   */
  async findById(
    executor: Executor,
    id: string,
    options: { lock?: boolean } = {},
  ): Promise<Project | null> {
    const row = await selectById<ProjectRow>(executor, projects, id, options.lock);
    return row === null ? null : toProject(row);
  }

  /** A page of the projects matching `query` among those in `scope` (null: all). */
  async list(
    executor: Executor,
    query: ProjectListQuery,
    scope: readonly string[] | null = null,
  ): Promise<Page<Project>> {
    const order = orderTerms(projects, query.sort);
    return selectPage(executor, projects, filters(query, scope), query, toProject, order);
  }

  /**
   * Deletes the project's tasks (their attempts go with them) unless they are running; returns
   * the ids deleted and how many running tasks are left. A task claimed while this runs is
   * waited for and then kept: the re-check of a row another write changed sees its new status.
   */
  async deleteTasks(
    executor: Executor,
    projectId: string,
  ): Promise<{ deleted: string[]; running: number }> {
    const deleted = await executor
      .delete(tasks)
      .where(and(eq(tasks.projectId, projectId), ne(tasks.status, 'running')))
      .returning({ id: tasks.id });
    const [left] = await executor
      .select({ count: count() })
      .from(tasks)
      .where(eq(tasks.projectId, projectId));
    return { deleted: deleted.map((row) => row.id), running: left!.count };
  }

  /** Deletes the project's schedules; returns their ids. */
  async deleteSchedules(executor: Executor, projectId: string): Promise<string[]> {
    const deleted = await executor
      .delete(schedules)
      .where(eq(schedules.projectId, projectId))
      .returning({ id: schedules.id });
    return deleted.map((row) => row.id);
  }

  /** Deletes the row; null when it is missing. */
  async delete(executor: Executor, id: string): Promise<Project | null> {
    const [row] = await executor.delete(projects).where(eq(projects.id, id)).returning();
    return row === undefined ? null : toProject(row);
  }
}
