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
import { rm } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { writePgliteSnapshot } from './pglite-snapshot.js';
import { startPostgres } from './postgres-server.js';
import { startRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the shared test cluster; use createTestDatabase() instead of using it directly. */
    postgresAdminUrl: string;
    /** URL of the shared Redis, e.g. redis://127.0.0.1:6390 */
    redisUrl: string;
    /** A migrated PGlite data directory (tar file) that PGlite test databases start from. */
    pgliteSnapshotPath: string;
  }
}

/** Starts the shared servers (root project only) and returns the teardown that stops them. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!project.isRootProject() || process.env.TEST_SERVERS === 'off') return undefined;
  const [postgres, redis, snapshot] = await Promise.allSettled([startPostgres(), startRedis(), writePgliteSnapshot()]);
  if (snapshot.status === 'fulfilled') project.provide('pgliteSnapshotPath', snapshot.value);
  if (postgres.status === 'rejected' || redis.status === 'rejected') {
    await Promise.allSettled([postgres, redis].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw postgres.status === 'rejected' ? postgres.reason : (redis as PromiseRejectedResult).reason;
  }
  project.provide('postgresAdminUrl', postgres.value.adminUrl);
  project.provide('redisUrl', redis.value.url);
  return async () => {
    await Promise.allSettled([postgres.value.stop(), redis.value.stop(), snapshot.status === 'fulfilled' ? rm(snapshot.value, { force: true }) : undefined]);
  };
}
