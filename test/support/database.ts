/**
 * Per-test-file databases on the shared Postgres started by global-setup.ts, so parallel
 * workers never see each other's rows. Typical use:
 *
 *   let db: TestDatabase;
 *   beforeAll(async () => { db = await createTestDatabase(); });
 *   afterAll(() => db.drop());
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { sql } from 'drizzle-orm';
import { type Executor, openDatabase } from '../../src/store/database.js';

/**
 * A freshly created database (tables, no rows, unless made with `migrated: false`) owned by the
 * test that created it.
 */
export interface TestDatabase {
  /** Connection URL for the new database (superuser, trust auth). */
  url: string;
  name: string;
  /** Disconnects every session still using the database and drops it. Idempotent. */
  drop(): Promise<void>;
}

let counter = 0;

/**
 * The database on the shared cluster that the global setup migrates once; test databases are
 * copies of it, so an app's start finds every migration applied instead of running them all.
 */
export const MIGRATED_TEMPLATE = 'swarm_migrated_template';

/** Options of {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /**
   * Copy the migrated template (default) or start from an empty database, to exercise the
   * migrations themselves.
   */
  migrated?: boolean;
  adminUrl?: string;
}

/**
 * Creates a uniquely named database (`t_<pid>_<n>_<random>`) on the shared test cluster. Under the
 * suite's load this takes ≈ 300 ms (FILE_COPY was no faster: its checkpoint flushes every other
 * file's writes), which is why test apps recycle their databases (see createTestApp()).
 */
export async function createTestDatabase({
  migrated = true,
  adminUrl = inject('postgresAdminUrl'),
}: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (!adminUrl) {
    throw new Error(
      'No test Postgres: run through vitest with test/support/global-setup.ts (and not TEST_SERVERS=off)',
    );
  }
  const name = `t_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  const template = migrated ? MIGRATED_TEMPLATE : 'template1';
  await withAdmin(adminUrl, (client) =>
    client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    // WITH (FORCE) terminates remaining sessions (pg_terminate_backend) atomically with the drop.
    drop: () =>
      withAdmin(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      ),
  };
}

/**
 * Creates {@link MIGRATED_TEMPLATE} on the cluster at `adminUrl` and applies every migration to it
 * (global setup).
 */
export async function createMigratedTemplate(adminUrl: string): Promise<void> {
  await withAdmin(adminUrl, (client) =>
    client.query(`CREATE DATABASE "${MIGRATED_TEMPLATE}" IS_TEMPLATE true`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${MIGRATED_TEMPLATE}`;
  const database = await openDatabase({ engine: 'postgres', url: url.toString(), poolSize: 1 });
  await database.close();
}

async function withAdmin(
  adminUrl: string,
  work: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A connection of its own to a test app's PostgreSQL database: it stands for another instance
 * (row locks it holds, `SKIP LOCKED` passing over them). The caller ends it.
 */
export async function connectAnotherInstance(databaseUrl: string | null): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl! });
  await client.connect();
  return client;
}

/**
 * Resolves once a statement on this test's database waits for a lock another transaction holds
 * (a race test's signal that the write it started reached the lock); throws after 5 s.
 */
export async function someoneWaitsForALock(db: Executor): Promise<void> {
  const waiting = async () => {
    const result = await db.execute(
      sql`select count(*)::int as n from pg_stat_activity
        where wait_event_type = 'Lock' and datname = current_database()`,
    );
    return (result as { rows: Array<{ n: number }> }).rows[0]!.n;
  };
  const options = { timeout: 5_000, interval: 10, message: 'no statement waits for a lock' };
  await expect.poll(waiting, options).toBeGreaterThan(0);
}
