import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/store/database.js';
import { DatabaseReplayQueue } from '../../src/memory/memory-repository.js';
import { type PostgresServer, startPostgres } from '../support/postgres-server.js';

/**
 * The replay queue's delivery holds an advisory lock in a transaction, retried every second
 * during an outage. PostgreSQL stopped and started again under that loop must leave the pool
 * whole: every connection returned, and as many drains as connections can run afterwards.
 */
const POOL_SIZE = 3;
let server: PostgresServer;
let handle: DatabaseHandle;

beforeAll(async () => {
  server = await startPostgres({ copyOf: inject('postgresClusterDataDir') });
  handle = await openDatabase({ engine: 'postgres', url: server.adminUrl, poolSize: POOL_SIZE });
}, 60_000);
afterAll(async () => {
  // A leaked connection would keep the pool's end() waiting for ever; the assertions report it.
  await Promise.race([handle?.close(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ends every other session over and over, so that some die between checkout and BEGIN. */
async function terminateSessions(durationMs: number): Promise<void> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    for (const end = Date.now() + durationMs; Date.now() < end;) {
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity
        where pid <> pg_backend_pid() and backend_type = 'client backend'`);
    }
  } finally {
    await admin.end();
  }
}

async function drainLoop(
  queue: DatabaseReplayQueue,
  until: () => boolean,
  failures: unknown[],
): Promise<void> {
  while (!until()) {
    await queue
      .withLock(async (locked) => locked.oldest([], 1))
      .catch((error: unknown) => failures.push(error));
    await sleep(1);
  }
}

describe('the replay queue during a PostgreSQL outage', () => {
  it('returns every connection to the pool, whatever failed', async () => {
    const queue = new DatabaseReplayQueue(handle);
    const failures: unknown[] = [];
    let done = false;
    const loops = Array.from({ length: POOL_SIZE * 2 }, () =>
      drainLoop(queue, () => done, failures),
    );
    await sleep(100);
    await terminateSessions(1_500);
    await server.pause();
    await sleep(300);
    await server.resume();
    await sleep(200);
    done = true;
    await Promise.all(loops);

    expect(failures.length).toBeGreaterThan(0);
    await expect.poll(() => handle.poolStats(), { timeout: 5_000 }).toMatchObject({ waiting: 0 });
    const stats = handle.poolStats()!;
    expect(stats.idle).toBe(stats.total);
    const drains = Array.from({ length: POOL_SIZE * 2 }, () =>
      queue.withLock(async () => 'drained'),
    );
    const outcomes = await Promise.all(drains);
    expect(outcomes.filter((outcome) => outcome.acquired)).not.toHaveLength(0);
    expect(handle.poolStats()).toMatchObject({ idle: handle.poolStats()!.total, waiting: 0 });
  });
});
