/**
 * The run's PostgreSQL: a throwaway PostgreSQL 15 cluster (test/support/postgres-server.ts, run as
 * the `postgres` user when we are root, removed at the end) with one database created for the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type PostgresServer, startPostgres } from '../../test/support/postgres-server.js';
import { withRunMarkerInEnvironment } from './child.js';

export interface BenchDatabase {
  server: PostgresServer;
  /** URL of the database created for this run. */
  url: string;
  /** Runs one statement on the run's database. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<T>>;
  close(): Promise<void>;
}

export async function startBenchDatabase(): Promise<BenchDatabase> {
  const server = await withRunMarkerInEnvironment(() => startPostgres());
  try {
    const name = `bench_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    const url = new URL(server.adminUrl);
    url.pathname = `/${name}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    pool.on('error', () => undefined);
    return {
      server,
      url: url.toString(),
      query: (text, values) => pool.query(text, values),
      close: async () => {
        await pool.end().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Projects inserted for the run: a third each active, completed and archived, one second apart. */
export const SEED_PROJECTS_SQL = `
insert into projects (name, description, status, sparc_mode, metadata, created_at, updated_at)
select 'project ' || g,
       'seeded project number ' || g,
       (array['active', 'completed', 'archived'])[1 + g % 3],
       (array['specification', 'pseudocode', 'architecture', 'refinement', 'completion'])[1 + g % 5],
       jsonb_build_object('team', 'team-' || (g % 10), 'seq', g),
       now() - make_interval(secs => g),
       now() - make_interval(secs => g)
from generate_series(1, $1::int) as g`;
