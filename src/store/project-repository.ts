import { type SQL, and, eq, inArray, sql } from 'drizzle-orm';
import type { Page } from '../domain/common.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import type { Executor, Statement } from './database.js';
import { projects } from './schema.js';
import { orderTerms, selectById, selectPage } from './versioning.js';
import {
  changedFieldsSql,
  changesCte,
  patchedColumn,
  rowDocument,
  writeStatementText,
} from './write-statement.js';

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
  return changesCte({
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

const insertText = writeStatementText(
  `u as (
  insert into projects (name, description, status, sparc_mode, metadata)
  values ($4::text, $5::text, $6::text, $7::text, $8::jsonb)
  returning *
), ${projectChanges('PROJECT_CREATED', 'create')}`,
  `(select data->'project' from changes) as project`,
);

const patch = '$5::jsonb';
const updateText = writeStatementText(
  `target as (
  select * from projects
  where id = $4::uuid and ($7::uuid[] is null or id = any($7::uuid[]))
  for update
), u as (
  update projects p set
    ${projectWritableFields
      .map((field) => `${field} = ${patchedColumn(patch, 'p', field, field === 'metadata')}`)
      .join(',\n    ')},
    version = p.version + 1,
    updated_at = greatest(now(), p.updated_at + interval '1 millisecond')
  from target t
  where p.id = t.id and ($6::int[] is null or t.version = any($6::int[]))
  returning p.*, ${changedFieldsSql('t', 'p', projectWritableFields)} as changed_fields
), ${projectChanges(
    'PROJECT_UPDATE',
    'update',
    `, 'changed_fields', to_jsonb(u.changed_fields)`,
    'u.changed_fields',
  )}`,
  `(select version from target) as current_version, (select data->'project' from changes) as project`,
);

/**
 * SQL access to the `projects` table. Every method runs on the executor it is given, so services
 * choose the transaction.
 */
export class ProjectRepository {
  /**
   * The whole creation as one statement (write-statement.ts): the row, its PROJECT_CREATED event
   * and audit record. Its row: `project`.
   */
  insertStatement(input: ProjectInput): Statement {
    const values = [input.name, input.description, input.status, input.sparc_mode];
    return {
      name: 'project_insert',
      text: insertText,
      values: [...values, JSON.stringify(input.metadata)],
    };
  }

  /**
   * The whole update as one statement: the row locked, checked against `expected` versions (null:
   * any) and `scope` (null: every project), changed, with its PROJECT_UPDATE event and audit
   * record. Its row: `current_version` (null: no such project in scope) and `project` (null: the
   * version did not match, nothing changed).
   */
  updateStatement(
    id: string,
    fields: ProjectPatch,
    expected: readonly number[] | null,
    scope: readonly string[] | null,
  ): Statement {
    return {
      name: 'project_update',
      text: updateText,
      values: [id, JSON.stringify(fields), expected, scope],
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

  /** Deletes the row; null when it is missing. */
  async delete(executor: Executor, id: string): Promise<Project | null> {
    const [row] = await executor.delete(projects).where(eq(projects.id, id)).returning();
    return row === undefined ? null : toProject(row);
  }
}
