/**
 * The servers and files of a run's server-backed tests (see global-setup.ts, which starts them).
 */
import type { TestProject } from 'vitest/node';
import { createMigratedTemplate } from './database.js';
import { pgliteSnapshot } from './pglite-snapshot.js';
import { buildService } from './programs.js';
import {
  type PostgresCluster,
  type PostgresServer,
  initPostgresCluster,
  startPostgres,
} from './postgres-server.js';
import { startRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Superuser URL (over its Unix socket) of the shared test cluster; use createTestDatabase()
     * instead of using it directly.
     */
    postgresAdminUrl: string;
    /** URL of the shared Redis, e.g. redis://127.0.0.1:6390 */
    redisUrl: string;
    /**
     * The migrated PGlite data directory (a tar file) that PGlite test databases and the process
     * tests start from (see pglite-snapshot.ts).
     */
    pgliteSnapshotPath: string;
    /**
     * The service compiled by the project's build, for tests that run it as a process (see
     * programs.ts).
     */
    distDirectory: string;
    /**
     * Data directory of a PostgreSQL cluster made by initdb and never started, for tests that start
     * a server of their own: `startPostgres({ copyOf })`.
     */
    postgresClusterDataDir: string;
  }
}

/**
 * Test databases are copies of a migrated template (see createTestDatabase()); a failed migration
 * stops the server it started.
 */
async function withMigratedTemplate(server: PostgresServer): Promise<PostgresServer> {
  try {
    await createMigratedTemplate(server.socketUrl);
    return server;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The shared PostgreSQL, a copy of a cluster made once that tests starting their own server copy
 * too.
 */
async function startSharedPostgres(): Promise<PostgresServer & { cluster: PostgresCluster }> {
  const cluster = await initPostgresCluster();
  try {
    const server = await startPostgres({ copyOf: cluster.dataDir }).then(withMigratedTemplate);
    const stopServer = server.stop.bind(server);
    return Object.assign(server, { cluster, stop: () => stopServer().finally(cluster.remove) });
  } catch (error) {
    cluster.remove();
    throw error;
  }
}

/**
 * Starts the shared servers and what else the server-backed tests need; returns the teardown that
 * stops them.
 */
export async function startTestServers(project: TestProject): Promise<() => Promise<void>> {
  const [dist, postgres, redis, snapshot] = await Promise.allSettled([
    buildService(),
    startSharedPostgres(),
    startRedis(),
    pgliteSnapshot(),
  ]);
  if (
    postgres.status === 'rejected' ||
    redis.status === 'rejected' ||
    snapshot.status === 'rejected' ||
    dist.status === 'rejected'
  ) {
    if (dist.status === 'fulfilled') dist.value.remove();
    await Promise.allSettled(
      [postgres, redis].flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])),
    );
    throw [postgres, redis, snapshot, dist].flatMap((r) =>
      r.status === 'rejected' ? [r.reason] : [],
    )[0];
  }
  project.provide('postgresClusterDataDir', postgres.value.cluster.dataDir);
  project.provide('pgliteSnapshotPath', snapshot.value);
  project.provide('distDirectory', dist.value.directory);
  project.provide('postgresAdminUrl', postgres.value.socketUrl);
  project.provide('redisUrl', redis.value.url);
  return async () => {
    dist.value.remove();
    await Promise.allSettled([postgres.value.stop(), redis.value.stop()]);
  };
}
