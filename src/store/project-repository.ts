import { type SQL, and, eq, inArray, sql } from 'drizzle-orm';
import type { Page } from '../domain/common.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import type { Executor } from './database.js';
import { projects } from './schema.js';
import { nextVersion, orderTerms, selectById, selectPage } from './versioning.js';

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

function toColumns(fields: ProjectPatch) {
  return {
    name: fields.name,
    description: fields.description,
    status: fields.status,
    sparcMode: fields.sparc_mode,
    metadata: fields.metadata,
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

/**
 * SQL access to the `projects` table. Every method runs on the executor it is given, so services
 * choose the transaction.
 */
export class ProjectRepository {
  async insert(executor: Executor, input: ProjectInput): Promise<Project> {
    const [row] = await executor
      .insert(projects)
      .values({ ...toColumns(input), name: input.name })
      .returning();
    return toProject(row!);
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

  /** Applies `fields` and bumps the version; null when the row is missing. */
  async update(executor: Executor, id: string, fields: ProjectPatch): Promise<Project | null> {
    const [row] = await executor
      .update(projects)
      .set({ ...toColumns(fields), ...nextVersion(projects) })
      .where(eq(projects.id, id))
      .returning();
    return row === undefined ? null : toProject(row);
  }

  /** Deletes the row; null when it is missing. */
  async delete(executor: Executor, id: string): Promise<Project | null> {
    const [row] = await executor.delete(projects).where(eq(projects.id, id)).returning();
    return row === undefined ? null : toProject(row);
  }
}
