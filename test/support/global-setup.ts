/**
 * Vitest global setup: one Postgres 15 and one Redis for the whole test run, shared by every
 * project through `inject('postgresAdminUrl')` / `inject('redisUrl')`.
 *
 * Vitest 4 runs a root-level `globalSetup` once for the root project AND once more for every
 * project declared with `extends: true` (verified experimentally), so only the root project
 * starts servers; the other projects inherit the root's provided context.
 *
 * Interrupted runs (SIGINT/SIGTERM) are covered by the synchronous emergency hooks in
 * ./process.ts, because vitest calls process.exit() on those signals without running teardowns.
 *
 * Set TEST_SERVERS=off (scripts/run-tests.sh does this for `unit`) to skip starting servers.
 */
import type { TestProject } from 'vitest/node';
import { buildChildBundles } from './child-bundles.js';
import { createMigratedTemplate } from './database.js';
import { startPgliteSnapshot } from './pglite-snapshot.js';
import { type PostgresServer, startPostgres } from './postgres-server.js';
import { startRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL (over its Unix socket) of the shared test cluster; use createTestDatabase() instead of using it directly. */
    postgresAdminUrl: string;
    /** URL of the shared Redis, e.g. redis://127.0.0.1:6390 */
    redisUrl: string;
    /** Where the migrated PGlite data directory (tar file) that PGlite test databases start from appears; see readPgliteSnapshot(). */
    pgliteSnapshotPath: string;
    /** The service compiled to JavaScript, for tests that run it as a process: `node <serviceEntry>` (see child-bundles.ts). */
    serviceEntry: string;
  }
}

/** Test databases are copies of a migrated template (see createTestDatabase()); a failed migration stops the server it started. */
async function withMigratedTemplate(server: PostgresServer): Promise<PostgresServer> {
  try {
    await createMigratedTemplate(server.socketUrl);
    return server;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Starts the shared servers (root project only) and returns the teardown that stops them. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!project.isRootProject() || process.env.TEST_SERVERS === 'off') return undefined;
  const bundles = await buildChildBundles();
  const snapshot = startPgliteSnapshot(bundles.pgliteSnapshot);
  const [postgres, redis] = await Promise.allSettled([startPostgres().then(withMigratedTemplate), startRedis()]);
  if (postgres.status === 'rejected' || redis.status === 'rejected') {
    await Promise.allSettled([snapshot.stop(), bundles.remove(), ...[postgres, redis].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined))]);
    throw postgres.status === 'rejected' ? postgres.reason : (redis as PromiseRejectedResult).reason;
  }
  project.provide('pgliteSnapshotPath', snapshot.path);
  project.provide('serviceEntry', bundles.service);
  project.provide('postgresAdminUrl', postgres.value.socketUrl);
  project.provide('redisUrl', redis.value.url);
  return async () => {
    await Promise.allSettled([postgres.value.stop(), redis.value.stop(), snapshot.stop().then(() => bundles.remove())]);
  };
}
