import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/store/database.js';
import type { Task } from '../../src/domain/task.js';
import { type TaskChanges, TaskRepository } from '../../src/store/task-repository.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { connectAnotherInstance } from '../support/database.js';
import { taskApi } from '../support/tasks.js';

/**
 * What the maintenance loop and the task services rely on from `tasks` on PostgreSQL: which
 * scheduled tasks are due and which blocked ones are settled, in which order and up to which
 * limit, that rows another instance holds are passed over rather than waited for, the unfinished
 * runs of a schedule, the reach of the dependency graph, row locks and the database's clock. The
 * app's own loop is slowed down so that it changes nothing meanwhile.
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
let db: Executor;
let other: pg.Client;
let projectId: string;
const repository = new TaskRepository();
const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1_000);
const hourAhead = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  api = taskApi(t);
  db = t.database.db;
  other = await connectAnotherInstance(t.databaseUrl);
});
afterAll(async () => {
  await other?.end();
  await t?.close();
});
beforeEach(async () => {
  await t.reset();
  projectId = (await api.project()).id;
});

/** A task made through the API, then given `changes` straight in its row. */
async function task(fields: object = {}, changes: TaskChanges = {}): Promise<Task> {
  const created = (await api.task(projectId, fields)) as unknown as Task;
  return Object.keys(changes).length === 0 ? created : repository.change(db, created.id, changes);
}

/** Runs `work` in a transaction while `other` holds the row of task `id`; nobody waits long. */
async function whileHeld<T>(id: string, work: (tx: Executor) => Promise<T>): Promise<T> {
  await other.query('begin');
  try {
    await other.query('select id from tasks where id = $1 for update', [id]);
    return await t.database.db.transaction(async (tx) => {
      await tx.execute("set local lock_timeout = '500ms'");
      return work(tx);
    });
  } finally {
    await other.query('rollback');
  }
}

const ids = (rows: Array<{ id: string }>) => rows.map((row) => row.id);

describe('TaskRepository on PostgreSQL', () => {
  it('queues the scheduled tasks whose run_at came, earliest first, up to the limit', async () => {
    const later = await task({ run_at: hourAhead() }, { runAt: secondsAgo(5) });
    const earliest = await task({ run_at: hourAhead() }, { runAt: secondsAgo(60) });
    const ahead = await task({ run_at: hourAhead() });
    const queued = await task();
    const first = await repository.promoteDue(db, 1);
    expect(first).toEqual([
      { ...earliest, status: 'queued', version: 3, updated_at: first[0]!.updated_at },
    ]);
    expect(ids(await repository.promoteDue(db, 10))).toEqual([later.id]);
    expect(await repository.promoteDue(db, 10)).toEqual([]);
    expect((await api.get(ahead.id)).status).toBe('scheduled');
    expect(await api.get(queued.id)).toEqual(queued);
  });

  it('passes over a due task another transaction holds, and queues it once free', async () => {
    const held = await task({ run_at: hourAhead() }, { runAt: secondsAgo(60) });
    const free = await task({ run_at: hourAhead() }, { runAt: secondsAgo(5) });
    const promoted = await whileHeld(held.id, (tx) => repository.promoteDue(tx, 10));
    expect(ids(promoted)).toEqual([free.id]);
    expect(ids(await repository.promoteDue(db, 10))).toEqual([held.id]);
  });

  it('finds the blocked tasks none of whose dependencies is unfinished, oldest first', async () => {
    const [succeeded, failed, cancelled, running] = [
      await task(),
      await task(),
      await task(),
      await task(),
    ];
    const waitsOnSuccess = await task({ depends_on: [succeeded.id] });
    const waitsOnFailure = await task({ depends_on: [failed.id] });
    const waitsOnCancel = await task({ depends_on: [cancelled.id, succeeded.id] });
    const waitsOnRunning = await task({ depends_on: [succeeded.id, running.id] });
    const waitsOnQueued = await task({ depends_on: [(await task()).id] });
    for (const [dependency, status] of [
      [succeeded, 'succeeded'],
      [failed, 'failed'],
      [cancelled, 'cancelled'],
      [running, 'running'],
    ] as const)
      await repository.change(db, dependency.id, { status });
    for (const blocked of [waitsOnSuccess, waitsOnFailure, waitsOnRunning, waitsOnQueued])
      expect(blocked.status).toBe('blocked');
    const settled = [waitsOnSuccess.id, waitsOnFailure.id, waitsOnCancel.id];
    expect(ids(await repository.settledBlocked(db, 10))).toEqual(settled);
    expect(ids(await repository.settledBlocked(db, 2))).toEqual(settled.slice(0, 2));
    const passed = await whileHeld(waitsOnSuccess.id, (tx) => repository.settledBlocked(tx, 10));
    expect(ids(passed)).toEqual(settled.slice(1));
  });

  it("counts a schedule's unfinished runs, not its finished ones nor another's", async () => {
    const scheduleId = '11111111-1111-4111-8111-111111111111';
    const unfinished = ['blocked', 'scheduled', 'queued', 'running'] as const;
    const finished = ['succeeded', 'failed', 'cancelled'] as const;
    expect(await repository.unfinishedOfSchedule(db, scheduleId)).toBe(0);
    for (const status of finished) await task({}, { scheduleId, status });
    await task({}, { scheduleId: '22222222-2222-4222-8222-222222222222', status: 'queued' });
    await task();
    expect(await repository.unfinishedOfSchedule(db, scheduleId)).toBe(0);
    for (const [index, status] of unfinished.entries()) {
      await task({}, { scheduleId, status });
      expect(await repository.unfinishedOfSchedule(db, scheduleId)).toBe(index + 1);
    }
  });

  it('reaches every task a dependency list leads to, each with its own dependencies', async () => {
    const a = await task();
    const b = await task({ depends_on: [a.id] });
    const c = await task({ depends_on: [a.id, b.id] });
    const d = await task({ depends_on: [c.id] });
    const aside = await task({ depends_on: [a.id] });
    const reach = async (from: string[]) =>
      (await repository.dependencyClosure(db, from)).sort((x, y) => x.id.localeCompare(y.id));
    const edges = (...tasks: Task[]) =>
      tasks
        .map(({ id, depends_on }) => ({ id, dependsOn: depends_on }))
        .sort((x, y) => x.id.localeCompare(y.id));
    expect(await reach([d.id])).toEqual(edges(a, b, c, d));
    expect(await reach([b.id, aside.id])).toEqual(edges(a, b, aside));
    expect(await reach([a.id])).toEqual(edges(a));
    expect(await reach([])).toEqual([]);
  });

  it('holds the row it reads with `lock` until its transaction ends, and only then', async () => {
    const held = await task();
    for (const lock of [true, false]) {
      await t.database.db.transaction(async (tx) => {
        expect(await repository.findById(tx, held.id, { lock })).toEqual(held);
        const write = other
          .query("set lock_timeout = '200ms'")
          .then(() => other.query('update tasks set title = $1 where id = $2', ['x', held.id]));
        if (lock) await expect(write).rejects.toThrow(/lock timeout/);
        else await write;
      });
    }
    await other.query('reset lock_timeout');
  });

  it("reads the database's clock, the same all through a transaction", async () => {
    const before = Date.now();
    const now = await repository.databaseNow(db);
    expect(now).toBeInstanceOf(Date);
    expect(now.getTime()).toBeGreaterThan(before - 5_000);
    expect(now.getTime()).toBeLessThan(Date.now() + 5_000);
    await t.database.db.transaction(async (tx) => {
      const start = await repository.databaseNow(tx);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await repository.databaseNow(tx)).toEqual(start);
    });
  });
});
