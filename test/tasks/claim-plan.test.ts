import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import * as schema from '../../src/store/schema.js';
import { type ClaimFilter, TaskRepository } from '../../src/store/task-repository.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { taskApi } from '../support/tasks.js';

/**
 * The claim query must read its project's queue in claim order (`tasks_project_claim_idx`) and
 * stop at the first task it may take. A sort key spelled unlike the index (`priority DESC`
 * against `DESC NULLS LAST`) made PostgreSQL scan and sort the whole queue on every claim (with
 * 100 000 queued tasks, 200 ms a claim instead of 7), and with only the queue-wide index a
 * project's claim walked every other project's queued tasks, or sorted its own whole history
 * (bench/README.md, tasks).
 */
let t: TestApp;
let pool: pg.Pool;
beforeAll(async () => {
  t = await createTestApp();
  pool = new pg.Pool({ connectionString: t.databaseUrl!, max: 1 });
});
afterAll(async () => {
  await pool?.end();
  await t?.close();
});

/** The plan of the claim statement the repository sends, run and rolled back. */
async function claimPlan(filter: ClaimFilter): Promise<string> {
  const sent: Array<{ query: string; params: unknown[] }> = [];
  const logger = { logQuery: (query: string, params: unknown[]) => sent.push({ query, params }) };
  const db = drizzle({ client: pool, schema, logger }) as unknown as Database;
  await db
    .transaction(async (tx) => {
      await new TaskRepository().claim(tx, filter);
      tx.rollback();
    })
    .catch(() => undefined);
  const claim = sent.find((entry) => entry.query.startsWith('update "tasks"'))!;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query(`explain (analyze) ${claim.query}`, claim.params);
    return rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.query('rollback');
    client.release();
  }
}

/** Inserts `count` tasks of `status` into the project, in claim order by priority and age. */
async function insertTasks(projectId: string, status: string, count: number): Promise<void> {
  await t.database.db.execute(sql`
    insert into tasks (project_id, title, status, priority, run_at)
    select ${projectId}::uuid, 'task ' || g, ${status}, g % 10, now() - g * interval '1 ms'
    from generate_series(1, ${count}::int) as g`);
}

const filterOf = (agent: { id: string }, projectId: string): ClaimFilter => ({
  agentId: agent.id,
  agentType: 'coder',
  capabilities: [],
  projectIds: [projectId],
});

describe('the claim query', () => {
  it('reads its project in claim order, on a deep queue and beside one, with no sort', async () => {
    const api = taskApi(t);
    const [deep, beside] = [await api.project('Deep'), await api.project('Beside')];
    await insertTasks(deep.id, 'queued', 20_000);
    await insertTasks(beside.id, 'succeeded', 20_000);
    await insertTasks(beside.id, 'queued', 1);
    await t.database.db.execute(sql`analyze tasks`);
    for (const project of [deep, beside]) {
      const plan = await claimPlan(filterOf(await api.agent(project.id), project.id));
      expect(plan).toContain('Index Scan using tasks_project_claim_idx');
      expect(plan).toContain(`Index Cond: (project_id = '${project.id}'::uuid)`);
      expect(plan).not.toMatch(/\bSort\b|Rows Removed by Filter/);
    }
  });
});
