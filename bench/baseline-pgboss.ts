/**
 * The task benchmark's baseline: pg-boss 10 in its own process, on its own database of the
 * run's PostgreSQL server, driven over IPC by the orchestrator (bench/suites/tasks.ts).
 *
 * - `{ type: 'prepare', jobs }` inserts that many jobs into the queue `bench` (one statement per
 *   1 000) and answers `{ type: 'prepared', queued }`.
 * - `{ type: 'run', jobs, workers }` runs `workers` loops of `fetch()` + `complete()` in this
 *   process until `jobs` jobs are done, and answers `{ type: 'result', completed, elapsedMs }`.
 *
 * Environment: PGBOSS_URL (the database), DATABASE_POOL_SIZE (pg-boss's pool, as the service's).
 * pg-boss's maintenance and cron supervision are off, so only the measured loops touch the queue.
 */
import { performance } from 'node:perf_hooks';
import PgBoss from 'pg-boss';
import { announceReady } from './lib/ready.js';

const QUEUE = 'bench';

type Command = { type: 'prepare'; jobs: number } | { type: 'run'; jobs: number; workers: number };

async function prepare(boss: PgBoss, jobs: number): Promise<number> {
  for (let done = 0; done < jobs; done += 1_000) {
    const count = Math.min(1_000, jobs - done);
    const batch = Array.from({ length: count }, (_, index) => ({
      name: QUEUE,
      data: { title: `bench job ${done + index}` },
    }));
    await boss.insert(batch);
  }
  return boss.getQueueSize(QUEUE);
}

/** One worker: takes jobs until `jobs` were handed out in total, as an agent's claim loop does. */
async function worker(boss: PgBoss, budget: { left: number }): Promise<number> {
  let completed = 0;
  while (budget.left > 0) {
    budget.left -= 1;
    const [job] = await boss.fetch(QUEUE);
    if (job === undefined) throw new Error('pg-boss fetch found no job while some were left');
    await boss.complete(QUEUE, job.id);
    completed += 1;
  }
  return completed;
}

async function run(boss: PgBoss, jobs: number, workers: number) {
  const budget = { left: jobs };
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: workers }, () => worker(boss, budget)));
  const elapsedMs = performance.now() - started;
  return { completed: counts.reduce((a, b) => a + b, 0), elapsedMs };
}

async function main(): Promise<void> {
  const boss = new PgBoss({
    connectionString: process.env.PGBOSS_URL,
    max: Number(process.env.DATABASE_POOL_SIZE ?? 20),
    supervise: false,
    schedule: false,
    migrate: true,
  });
  boss.on('error', (error) => process.stderr.write(`pg-boss error: ${String(error)}\n`));
  await boss.start();
  await boss.createQueue(QUEUE);
  process.on('message', (command: Command) => {
    const answer =
      command.type === 'prepare'
        ? prepare(boss, command.jobs).then((queued) => ({ type: 'prepared', queued }))
        : run(boss, command.jobs, command.workers).then((result) => ({
            type: 'result',
            ...result,
          }));
    answer.then(
      (reply) => process.send?.(reply),
      (error: unknown) => process.send?.({ type: 'error', message: String(error) }),
    );
  });
  process.on('SIGTERM', () => void boss.stop({ graceful: false }).finally(() => process.exit(0)));
  announceReady({ pid: process.pid });
}

main().catch((error: unknown) => {
  process.stderr.write(`baseline-pgboss failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
