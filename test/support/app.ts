import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'drizzle-orm';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { type DatabaseHandle, openDatabase } from '../../src/store/database.js';
import { inject } from 'vitest';
import { createTestDatabase } from './database.js';
import { readPgliteSnapshot } from './pglite-snapshot.js';
import { type RegisteredRoute, routesOfNextApp } from './routes.js';

/** The database engines the integration suite runs on. */
export type TestEngine = 'pglite' | 'postgres';

/**
 * The engine of the test databases: `TEST_DB`, which the `pglite` project of vitest.config.ts sets
 * to `pglite` (the same files then run on the embedded engine); unset, PostgreSQL.
 */
export function testEngine(): TestEngine {
  const engine = process.env.TEST_DB ?? 'postgres';
  if (engine !== 'postgres' && engine !== 'pglite')
    throw new Error(`TEST_DB must be postgres or pglite, not ${engine}`);
  return engine;
}

/**
 * One database and one app per test file; `reset()` empties the tables between tests. Event ids
 * keep growing across resets (as in production), so a running dispatcher never sees them go back.
 */
export interface TestApp {
  app: FastifyInstance;
  database: DatabaseHandle;
  /** The PostgreSQL URL of the test database (null on PGlite). */
  databaseUrl: string | null;
  /** Sends a request through the app without a socket. */
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  reset(): Promise<void>;
  /** Every route the app registered, so a test can prove each one is covered. */
  routes: readonly RegisteredRoute[];
  /** Listens on a free loopback port and returns the base URL (`http://127.0.0.1:<port>`). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens a fresh database on the engine under test: a new PostgreSQL database, or an in-memory
 * PGlite.
 */
export async function openTestDatabase(): Promise<{
  database: DatabaseHandle;
  url: string | null;
  drop: () => Promise<void>;
}> {
  if (testEngine() === 'pglite') {
    const snapshot = await readPgliteSnapshot(inject('pgliteSnapshotPath'));
    const database = await openDatabase({ engine: 'pglite', dataDir: null, snapshot });
    return { database, url: null, drop: async () => undefined };
  }
  const created = await createTestDatabase();
  const database = await openDatabase({ engine: 'postgres', url: created.url, poolSize: 20 });
  return { database, url: created.url, drop: created.drop };
}

/**
 * The service configuration with test-friendly overrides (environment-variable names and string
 * values, as in production): no MCP server, no authentication and no practical rate limit unless
 * a test asks for them.
 */
export function testConfig(overrides: Record<string, string> = {}) {
  return loadConfig({
    LOG_LEVEL: 'silent',
    MEMORY_MCP: 'off',
    AUTH: 'off',
    RATE_LIMIT_MAX: '10000000',
    ...overrides,
  });
}

/** Every table a test may write; emptied between tests and before a database is recycled. */
const testTables = [
  'task_attempts',
  'tasks',
  'schedules',
  'agents',
  'projects',
  'events',
  'memory_entries',
  'memory_replay_queue',
  'audit_log',
  'api_keys',
];

/**
 * Empties every table in one statement. DELETE rather than TRUNCATE: on tables of a few rows it
 * takes about 1 ms where TRUNCATE takes 20 to 50 ms (new files for every table), and the suite
 * resets hundreds of times. Foreign keys are checked at the end of the statement, so order does not
 * matter.
 */
async function resetTables(database: DatabaseHandle): Promise<void> {
  const deletes = testTables
    .map((table, index) => `t${index} as (delete from ${table})`)
    .join(', ');
  await database.db.execute(
    sql.raw(
      `with ${deletes}, state as (update event_log_state set pruned_through_id = 0) select 1`,
    ),
  );
}

/**
 * Databases that closed test apps gave back, for the next file in this worker. Emptying one, with
 * its ids and counters restarted so it is as good as new, takes about 20 ms; a new one costs about
 * 2 s of CPU on PGlite (loading the snapshot) and about 300 ms on PostgreSQL (CREATE DATABASE under
 * load) plus a pool of new connections. Only test apps recycle: a test that opens a database itself
 * may close it for real, and gets its own. Idle databases are never dropped: they go with the
 * throwaway cluster (or process) at the end of the run.
 */
const idleDatabases: OpenedTestDatabase[] = [];

type OpenedTestDatabase = Awaited<ReturnType<typeof openTestDatabase>>;

async function recycledTestDatabase(): Promise<OpenedTestDatabase> {
  const recycled = idleDatabases.pop();
  if (recycled === undefined) return openTestDatabase();
  await recycled.database.db.execute(
    sql.raw(`truncate table ${testTables.join(', ')} restart identity cascade`),
  );
  await recycled.database.db.execute(
    sql`update event_log_state set last_id = 0, pruned_through_id = 0`,
  );
  return recycled;
}

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  /** Where the app logs (as in production, at the configured LOG_LEVEL); default: no log at all. */
  logStream?: DestinationStream;
}

/** Builds the real app on a real database of the engine under test. */
export async function createTestApp(
  overrides: Record<string, string> = {},
  { logStream }: TestAppOptions = {},
): Promise<TestApp> {
  const opened = await recycledTestDatabase();
  const { database, url } = opened;
  // The first-start admin key (AUTH=on on an empty database) is not printed into the test output.
  const announce = () => undefined;
  const logging = logStream === undefined ? { logger: false as const } : { logStream };
  const config = testConfig(overrides);
  const routes = routesOfNextApp();
  const app = await buildApp({ config, database: { handle: database }, announce, ...logging });
  await app.ready();
  return {
    app,
    database,
    databaseUrl: url,
    routes,
    request: (options) => app.inject(options),
    listen: () => app.listen({ host: '127.0.0.1', port: 0 }),
    reset: () => resetTables(database),
    close: async () => {
      await app.close();
      idleDatabases.push(opened);
    },
  };
}
