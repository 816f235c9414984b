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
import { inject } from 'vitest';

/** A freshly created, empty database owned by the test that created it. */
export interface TestDatabase {
  /** Connection URL for the new database (superuser, trust auth). */
  url: string;
  name: string;
  /** Disconnects every session still using the database and drops it. Idempotent. */
  drop(): Promise<void>;
}

let counter = 0;

/** Creates a uniquely named empty database (`t_<pid>_<n>_<random>`) on the shared test cluster. */
export async function createTestDatabase(adminUrl: string = inject('postgresAdminUrl')): Promise<TestDatabase> {
  if (!adminUrl) {
    throw new Error('No test Postgres: run through vitest with test/support/global-setup.ts (and not TEST_SERVERS=off)');
  }
  const name = `t_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    // WITH (FORCE) terminates remaining sessions (pg_terminate_backend) atomically with the drop.
    drop: () => withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

async function withAdmin(adminUrl: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
