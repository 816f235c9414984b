/**
 * Data of the task benchmark: projects and agents made through the API (as an operator would),
 * queued tasks inserted with SQL (100 000 through the API would take minutes and measure
 * nothing the benchmark asks about), pg-boss's own database, and the claim query's plan.
 */
import pg from 'pg';
import { claimStatement } from '../../src/store/task-statements.js';
import type { JsonHttp } from './json-http.js';
import type { BenchDatabase } from './postgres.js';

/** A project of its own for one case, and its agents (type `coder`, no capabilities). */
export interface TaskFixture {
  projectId: string;
  agentIds: string[];
}

/** Creates a project and `agents` agents in it through the API. */
export async function createFixture(
  api: JsonHttp,
  name: string,
  agents: number,
): Promise<TaskFixture> {
  const project = await api.expect<{ id: string }>(201, 'POST', '/api/v1/projects', { name });
  const agentIds: string[] = [];
  for (let index = 0; index < agents; index++) {
    const body = { name: `${name}-agent-${index}`, agent_type: 'coder', project_id: project.id };
    agentIds.push((await api.expect<{ id: string }>(201, 'POST', '/api/v1/agents', body)).id);
  }
  return { projectId: project.id, agentIds };
}

/**
 * Inserts `count` queued tasks into the project in one statement: priorities 0–9 and `run_at`
 * spread over the past, so the claim index orders them as it would a real backlog; every one is
 * claimable by the project's agents.
 */
export async function insertQueuedTasks(
  db: BenchDatabase,
  projectId: string,
  count: number,
): Promise<void> {
  await db.query(
    `insert into tasks (project_id, title, status, priority, run_at, created_at, updated_at)
     select $1::uuid, 'bench task ' || g, 'queued', g % 10,
            now() - make_interval(secs => g / 1000.0), now(), now()
     from generate_series(1, $2::int) as g`,
    [projectId, count],
  );
}

/** Inserts `count` succeeded tasks into the project: a long-lived project's history. */
export async function insertFinishedTasks(
  db: BenchDatabase,
  projectId: string,
  count: number,
): Promise<void> {
  await db.query(
    `insert into tasks (project_id, title, status, attempts, created_at, updated_at, finished_at)
     select $1::uuid, 'finished task ' || g, 'succeeded', 1,
            now() - make_interval(secs => g), now(), now()
     from generate_series(1, $2::int) as g`,
    [projectId, count],
  );
}

/** Creates pg-boss's database on the run's server; returns its URL. */
export async function createPgBossDatabase(db: BenchDatabase): Promise<string> {
  const url = new URL(db.url);
  const name = `${url.pathname.slice(1)}_pgboss`;
  await db.query(`create database "${name}"`);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `text` on the database at `url` with a connection of its own (VACUUM, counts). */
export async function queryAt(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of the claim statement the service sends for `agentId` (an admin
 * key: every project), prepared as the service prepares it and with the generic plan PostgreSQL
 * settles on once a connection has run it a few times; run in a transaction that is rolled back
 * (ANALYZE executes the statement). Returns the SQL and the plan's lines.
 */
export async function explainClaim(
  url: string,
  agentId: string,
): Promise<{ sql: string; plan: string[] }> {
  const { text } = claimStatement(agentId, null);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('begin');
    await client.query('set local plan_cache_mode = force_generic_plan');
    await client.query(`prepare claim(uuid, text, text, uuid, uuid[]) as ${text}`);
    const agent = pg.escapeLiteral(agentId);
    const result = await client.query(
      `explain (analyze, buffers) execute claim(null, null, null, ${agent}, null)`,
    );
    await client.query('rollback');
    return {
      sql: text,
      plan: result.rows.map((row: Record<string, string>) => row['QUERY PLAN']!),
    };
  } finally {
    await client.end();
  }
}
