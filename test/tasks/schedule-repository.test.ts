import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnprocessableError } from '../../src/domain/errors.js';
import type { ScheduleInput } from '../../src/domain/schedule.js';
import type { Executor } from '../../src/store/database.js';
import { ScheduleRepository } from '../../src/store/schedule-repository.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { connectAnotherInstance, someoneWaitsForALock } from '../support/database.js';

/**
 * What the schedule loop relies on from `schedules` on PostgreSQL: which schedules are due and in
 * which order, that a schedule another instance holds or already moved on is not fired again, and
 * the wire shape of a row. The app's own loop is slowed down so that it fires nothing meanwhile.
 */
let t: TestApp;
let db: Executor;
let other: pg.Client;
const repository = new ScheduleRepository();
const past = (seconds: number) => new Date(Date.now() - seconds * 1_000);

beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  db = t.database.db;
  other = await connectAnotherInstance(t.databaseUrl);
});
afterAll(async () => {
  await other?.end();
  await t?.close();
});
beforeEach(() => t.reset());

async function project(name: string): Promise<string> {
  const response = await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name } });
  return response.json().id;
}

const input = (projectId: string, fields: Partial<ScheduleInput> = {}): ScheduleInput => ({
  project_id: projectId,
  name: 'nightly',
  cron: '0 3 * * *',
  timezone: 'Europe/Paris',
  task: { title: 'Nightly build' } as ScheduleInput['task'],
  enabled: true,
  overlap: 'allow',
  ...fields,
});

describe('ScheduleRepository on PostgreSQL', () => {
  it('stores a schedule and reads it back in the wire shape, runs included', async () => {
    const projectId = await project('Shape');
    const tick = new Date('2030-01-01T02:00:00.000Z');
    const created = await repository.insert(db, input(projectId), tick);
    expect(created).toEqual({
      id: expect.any(String),
      project_id: projectId,
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
      task: { title: 'Nightly build' },
      enabled: true,
      overlap: 'allow',
      next_run_at: '2030-01-01T02:00:00.000Z',
      last_run_at: null,
      last_task_id: null,
      version: 1,
      created_at: expect.any(String),
      updated_at: created.created_at,
    });
    const task = await t.request({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { project_id: projectId, title: 'x' },
    });
    const ran = await repository.change(db, created.id, {
      lastRunAt: tick,
      lastTaskId: task.json().id,
      nextRunAt: null,
    });
    expect(ran).toMatchObject({
      last_run_at: tick.toISOString(),
      last_task_id: task.json().id,
      next_run_at: null,
      version: 2,
    });
    expect(await repository.findById(db, created.id)).toEqual(ran);
    await repository.delete(db, created.id);
    expect(await repository.findById(db, created.id)).toBeNull();
  });

  it('refuses a schedule of a project that does not exist with a 422 on project_id', async () => {
    const missing = '99999999-9999-4999-8999-999999999999';
    const error = await repository.insert(db, input(missing), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as UnprocessableError).errors).toEqual([
      { path: '/project_id', message: `Project ${missing} does not exist` },
    ]);
  });

  it('lets a tick wait for a delete of its project instead of deadlocking with it', async () => {
    const projectId = await project('Deleted');
    await repository.insert(db, input(projectId), past(1));
    // A project delete's order (services/project-service.ts): the project, then its contents.
    await other.query('begin');
    await other.query('select id from projects where id = $1 for update', [projectId]);
    const firing = t.app.services.schedules.fireDue();
    await someoneWaitsForALock(db);
    await other.query('delete from schedules where project_id = $1', [projectId]);
    await other.query('delete from projects where id = $1', [projectId]);
    await other.query('commit');
    await expect(firing).resolves.toBe(0);
  });

  it('lists by project, enabled and scope', async () => {
    const [a, b] = [await project('A'), await project('B')];
    await repository.insert(db, input(a, { name: 'on' }), past(1));
    await repository.insert(db, input(a, { name: 'off', enabled: false }), null);
    await repository.insert(db, input(b, { name: 'b' }), past(1));
    const names = async (query: object, scope: string[] | null = null) =>
      (
        await repository.list(db, { limit: 20, offset: 0, sort: 'name', ...query }, scope)
      ).items.map((schedule) => schedule.name);
    expect(await names({})).toEqual(['b', 'off', 'on']);
    expect(await names({ project_id: a })).toEqual(['off', 'on']);
    expect(await names({ enabled: false })).toEqual(['off']);
    expect(await names({ enabled: true })).toEqual(['b', 'on']);
    expect(await names({}, [b])).toEqual(['b']);
    expect(await names({}, [])).toEqual([]);
  });

  it('finds the enabled schedules whose tick has come, earliest first, up to the limit', async () => {
    const projectId = await project('Due');
    const later = await repository.insert(db, input(projectId), past(5));
    const earliest = await repository.insert(db, input(projectId), past(60));
    await repository.insert(db, input(projectId), new Date(Date.now() + 60_000));
    await repository.insert(db, input(projectId, { enabled: false }), past(120));
    await repository.insert(db, input(projectId), null);
    expect(await repository.dueIds(db, 10)).toEqual([earliest.id, later.id]);
    expect(await repository.dueIds(db, 1)).toEqual([earliest.id]);
  });

  it('locks a schedule only while it is due and nobody else holds it', async () => {
    const projectId = await project('Lock');
    const due = await repository.insert(db, input(projectId), past(1));
    const ahead = await repository.insert(db, input(projectId), new Date(Date.now() + 60_000));
    const off = await repository.insert(db, input(projectId, { enabled: false }), past(1));
    expect(await repository.lockIfDue(db, due.id)).toEqual(due);
    expect(await repository.lockIfDue(db, ahead.id)).toBeNull();
    expect(await repository.lockIfDue(db, off.id)).toBeNull();
    await other.query('begin');
    try {
      await other.query('select id from schedules where id = $1 for update', [due.id]);
      expect(await repository.lockIfDue(db, due.id)).toBeNull();
    } finally {
      await other.query('rollback');
    }
  });

  it('holds the row it reads with `lock` until its transaction ends', async () => {
    const projectId = await project('Hold');
    const held = await repository.insert(db, input(projectId), null);
    await other.query('begin');
    try {
      await other.query("set local lock_timeout = '200ms'");
      await t.database.db.transaction(async (tx) => {
        await repository.findById(tx, held.id, { lock: true });
        await expect(
          other.query('update schedules set name = $1 where id = $2', ['x', held.id]),
        ).rejects.toThrow(/lock timeout/);
      });
    } finally {
      await other.query('rollback');
    }
    await other.query('begin');
    try {
      await other.query("set local lock_timeout = '200ms'");
      await t.database.db.transaction(async (tx) => {
        await repository.findById(tx, held.id);
        await other.query('update schedules set name = $1 where id = $2', ['y', held.id]);
      });
    } finally {
      await other.query('rollback');
    }
  });
});
