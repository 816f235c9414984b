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
 * The claim query must read `tasks_claim_idx` in order and stop at the first task it may take.
 * A sort key spelled unlike the index (`priority DESC` against `DESC NULLS LAST`) makes
 * PostgreSQL scan and sort the whole queue on every claim instead: with 100 000 queued tasks a
 * claim took 200 ms instead of 7 (bench/README.md, tasks).
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

describe('the claim query', () => {
  it('reads the claim index in order on a deep queue, with no sort', async () => {
    const api = taskApi(t);
    const project = await api.project();
    const agent = await api.agent(project.id);
    await t.database.db.execute(sql`
      insert into tasks (project_id, title, status, priority, run_at)
      select ${project.id}::uuid, 'queued ' || g, 'queued', g % 10, now() - g * interval '1 ms'
      from generate_series(1, 20000) as g`);
    await t.database.db.execute(sql`analyze tasks`);
    const plan = await claimPlan({
      agentId: agent.id,
      agentType: 'coder',
      capabilities: [],
      projectIds: [project.id],
    });
    expect(plan).toContain('Index Scan using tasks_claim_idx');
    expect(plan).not.toMatch(/\bSort\b/);
  });
});
