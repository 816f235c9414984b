import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimStatement } from '../../src/store/task-statements.js';
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

/** The part of a plan that finds the task: the `candidate` CTE, up to the next one. */
function candidatePart(lines: string[]): string {
  const start = lines.findIndex((line) => line.trim() === 'CTE candidate');
  const indent = lines[start]!.indexOf('CTE');
  const end = lines.findIndex((line, at) => at > start && line.indexOf('CTE ') === indent);
  return lines.slice(start, end).join('\n');
}

/**
 * How the claim statement finds the agent's task, run and rolled back: prepared as the service
 * prepares it, with PostgreSQL's plan for these values (`custom`) or the one it settles on once
 * a connection has run it a few times (`generic`).
 */
async function claimPlan(agentId: string, mode: 'custom' | 'generic'): Promise<string> {
  const { text } = claimStatement(agentId, null);
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local plan_cache_mode = force_${mode}_plan`);
    await client.query(`prepare claim_plan(uuid, text, text, uuid, uuid[]) as ${text}`);
    const agent = pg.escapeLiteral(agentId);
    const explain = `explain (analyze) execute claim_plan(null, null, null, ${agent}, null)`;
    const { rows } = await client.query(explain);
    return candidatePart(rows.map((row: Record<string, string>) => row['QUERY PLAN']!));
  } finally {
    await client.query('rollback');
    await client.query('deallocate all');
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

describe('the claim query', () => {
  it('reads its project in claim order, on a deep queue and beside one, with no sort', async () => {
    const api = taskApi(t);
    const [deep, beside] = [await api.project('Deep'), await api.project('Beside')];
    await insertTasks(deep.id, 'queued', 20_000);
    await insertTasks(beside.id, 'succeeded', 20_000);
    await insertTasks(beside.id, 'queued', 1);
    await t.database.db.execute(sql`analyze tasks`);
    for (const project of [deep, beside]) {
      const agent = await api.agent(project.id);
      for (const mode of ['custom', 'generic'] as const) {
        const plan = await claimPlan(agent.id, mode);
        expect(plan).toContain('Index Scan using tasks_project_claim_idx');
        expect(plan).toContain('Index Cond: (project_id = a.project_id)');
        expect(plan).not.toMatch(/\bSort\b|Rows Removed by Filter/);
      }
    }
    const free = await api.agent(null);
    const plan = await claimPlan(free.id, 'custom');
    expect(plan).toContain('Index Scan using tasks_claim_idx');
    expect(plan).not.toMatch(/\bSort\b|Rows Removed by Filter/);
  });
});
