import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Actor, type Principal, systemActor, unrestricted } from '../../../src/domain/auth.js';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  UnprocessableError,
} from '../../../src/domain/errors.js';
import type { Schedule, ScheduleInput } from '../../../src/domain/schedule.js';
import type { Task } from '../../../src/domain/task.js';
import { ScheduleService } from '../../../src/services/schedule-service.js';
import type { ScheduleChanges } from '../../../src/store/schedule-repository.js';
import type { TaskRepository } from '../../../src/store/task-repository.js';
import { fakeWrites } from './fakes.js';

const actor: Actor = { principal: unrestricted, ip: '127.0.0.1', userAgent: 'test' };
const projectA = '33333333-3333-4333-8333-333333333333';
const projectB = '44444444-4444-4444-8444-444444444444';
const onlyB: Principal = { keyId: 'k', role: 'writer', projectIds: [projectB] };
const onlyB_actor: Actor = { ...actor, principal: onlyB };

/** The clock of the service (`new Date()`) and of the database (`databaseNow`). */
const now = new Date('2026-03-10T12:34:56.789Z');
const databaseNow = new Date('2026-03-10T12:40:10.000Z');

const schedule: Schedule = {
  id: '55555555-5555-4555-8555-555555555555',
  project_id: projectA,
  name: 'nightly',
  cron: '0 3 * * *',
  timezone: 'Europe/Paris',
  task: { title: 'Nightly build', kind: 'build', priority: 2 },
  enabled: true,
  overlap: 'skip',
  next_run_at: '2026-03-10T02:00:00.000Z',
  last_run_at: null,
  last_task_id: null,
  version: 1,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};
const task = { id: '66666666-6666-4666-8666-666666666666', project_id: projectA } as Task;
const agentId = '99999999-9999-4999-8999-999999999999';
/** What the task repository throws for a pin no agent of the project could hold. */
const noAgent = () =>
  new UnprocessableError('names no agent', [{ path: '/agent_id', message: 'names no agent' }]);

/** A ScheduleRepository whose `change` applies the changes to the row it holds, as SQL would. */
function setup(rows: Schedule[] = [schedule]) {
  const fakes = fakeWrites();
  const byId = new Map(rows.map((row) => [row.id, row]));
  const apply = (row: Schedule, changes: ScheduleChanges): Schedule => ({
    ...row,
    ...Object.fromEntries(
      Object.entries({
        name: changes.name,
        cron: changes.cron,
        timezone: changes.timezone,
        task: changes.task,
        enabled: changes.enabled,
        overlap: changes.overlap,
        next_run_at:
          changes.nextRunAt === undefined
            ? undefined
            : ((changes.nextRunAt as Date | null)?.toISOString() ?? null),
        last_run_at: (changes.lastRunAt as Date | undefined)?.toISOString(),
        last_task_id: changes.lastTaskId,
      }).filter(([, value]) => value !== undefined),
    ),
    version: row.version + 1,
  });
  const schedules = {
    insert: vi.fn(async (_tx: unknown, input: ScheduleInput, nextRunAt: Date | null) => ({
      ...schedule,
      ...input,
      next_run_at: nextRunAt?.toISOString() ?? null,
    })),
    findById: vi.fn(async (_tx: unknown, id: string) => byId.get(id) ?? null),
    list: vi.fn(async () => ({ items: [] as Schedule[], total: 0, limit: 20, offset: 0 })),
    change: vi.fn(async (_tx: unknown, id: string, changes: ScheduleChanges) =>
      apply(byId.get(id)!, changes),
    ),
    delete: vi.fn(async () => undefined),
    dueIds: vi.fn(async () => [...byId.keys()]),
    lockIfDue: vi.fn(async (_tx: unknown, id: string) => byId.get(id) ?? null),
  };
  const tasks = {
    insert: vi.fn(async () => task),
    databaseNow: vi.fn(async () => databaseNow),
    unfinishedOfSchedule: vi.fn(async () => 0),
    assertPinnable: vi.fn(async () => undefined),
  };
  const service = new ScheduleService(
    fakes.db,
    fakes.writes,
    schedules,
    tasks as unknown as TaskRepository,
  );
  return { ...fakes, schedules, tasks, service };
}

const topics = (id: string, project = projectA) => [
  'schedules',
  `schedule:${id}`,
  `project:${project}`,
];

beforeEach(() => void vi.useFakeTimers({ now, toFake: ['Date'] }));
afterEach(() => void vi.useRealTimers());

describe('ScheduleService: definitions', () => {
  const input: ScheduleInput = {
    project_id: projectA,
    name: 'nightly',
    cron: '0 3 * * *',
    timezone: 'Europe/Paris',
    task: { title: 'Nightly build' } as ScheduleInput['task'],
    enabled: true,
    overlap: 'skip',
  };

  it('creates with its first tick after now in its time zone, SCHEDULE_CREATED, an audit record', async () => {
    const { schedules, tasks, transaction, emitted, audited, writes, service } = setup();
    const created = await service.create(input, actor);
    // 03:00 in Paris (UTC+1 in March before DST) is 02:00 UTC, the day after 12:34 UTC.
    const tick = new Date('2026-03-11T02:00:00.000Z');
    expect(schedules.insert).toHaveBeenCalledWith(transaction, input, tick);
    expect(tasks.assertPinnable).toHaveBeenCalledWith(transaction, undefined, projectA, null);
    expect(created.next_run_at).toBe(tick.toISOString());
    expect(writes.run).toHaveBeenCalledWith(actor, expect.any(Function));
    expect(emitted).toEqual([
      {
        type: 'SCHEDULE_CREATED',
        topic: `schedule:${created.id}`,
        topics: topics(created.id),
        data: { schedule: created },
      },
    ]);
    expect(audited).toEqual([{ action: 'create', resource: 'schedule', resourceId: created.id }]);
  });

  it('creates a disabled schedule without a next tick', async () => {
    const { schedules, transaction, service } = setup();
    await service.create({ ...input, enabled: false }, actor);
    expect(schedules.insert).toHaveBeenCalledWith(transaction, { ...input, enabled: false }, null);
  });

  it('refuses a bad expression, an unknown zone or a foreign project with 422, writing nothing', async () => {
    const { schedules, writes, service } = setup();
    const refused = async (fields: Partial<ScheduleInput>, who = actor) => {
      const creating = async () => service.create({ ...input, ...fields }, who);
      const error = await creating().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnprocessableError);
      return error as UnprocessableError;
    };
    const zone = await refused({ timezone: 'Mars/Olympus' });
    expect(zone.message).toBe('timezone must be an IANA time zone, such as Europe/Paris');
    expect(zone.errors).toEqual([
      {
        path: '/timezone',
        message: 'must be an IANA time zone, such as Europe/Paris',
      },
    ]);
    const cron = await refused({ cron: '0 3 31 2 *' });
    expect(cron.message).toBe('cron never fires');
    expect(cron.errors).toEqual([{ path: '/cron', message: 'never fires' }]);
    expect((await refused({}, onlyB_actor)).errors[0]?.path).toBe('/project_id');
    expect(schedules.insert).not.toHaveBeenCalled();
    expect(writes.run).not.toHaveBeenCalled();
  });

  it('refuses a template pinned to an agent that could not claim its tasks, at /task/agent_id', async () => {
    const { schedules, tasks, transaction, service } = setup();
    const pinned = { ...input, task: { ...input.task, agent_id: agentId } };
    tasks.assertPinnable.mockRejectedValueOnce(noAgent());
    const onlyA: Actor = { ...actor, principal: { ...onlyB, projectIds: [projectA] } };
    const error = await service.create(pinned, onlyA).catch((e: unknown) => e);
    expect(tasks.assertPinnable).toHaveBeenCalledWith(transaction, agentId, projectA, [projectA]);
    expect(error).toEqual(
      new UnprocessableError('names no agent', [
        { path: '/task/agent_id', message: 'names no agent' },
      ]),
    );
    expect((error as UnprocessableError).errors[0]?.path).toBe('/task/agent_id');
    expect(schedules.insert).not.toHaveBeenCalled();
    const failure = new Error('connection lost');
    tasks.assertPinnable.mockRejectedValueOnce(failure);
    await expect(service.create(pinned, actor)).rejects.toBe(failure);
  });

  it("checks the pin of a new template on patch, against the schedule's project", async () => {
    const { schedules, tasks, transaction, service } = setup();
    await service.patch(schedule.id, { name: 'renamed' }, null, actor);
    expect(tasks.assertPinnable).not.toHaveBeenCalled();
    const template = { ...schedule.task, agent_id: agentId } as Schedule['task'];
    tasks.assertPinnable.mockRejectedValueOnce(noAgent());
    const patching = service.patch(schedule.id, { task: template } as never, null, onlyB_actor);
    await expect(patching).rejects.toBeInstanceOf(NotFoundError);
    const refused = service.patch(schedule.id, { task: template } as never, null, actor);
    await expect(refused).rejects.toMatchObject({ errors: [{ path: '/task/agent_id' }] });
    expect(tasks.assertPinnable).toHaveBeenCalledWith(transaction, agentId, projectA, null);
    expect(schedules.change).toHaveBeenCalledTimes(1);
  });

  it("gets within the caller's scope, 404 otherwise, and lists within it", async () => {
    const { db, schedules, service } = setup();
    await expect(service.get(schedule.id, unrestricted)).resolves.toBe(schedule);
    await expect(service.get(schedule.id, onlyB)).rejects.toThrow(
      new NotFoundError('Schedule', schedule.id),
    );
    await expect(service.get('missing', unrestricted)).rejects.toThrow(
      new NotFoundError('Schedule', 'missing'),
    );
    const query = { limit: 5, offset: 0, sort: 'name' as const };
    await service.list(query, onlyB);
    expect(schedules.list).toHaveBeenCalledWith(db, query, [projectB]);
  });

  it('patches under If-Match, moving the next tick to the new cron and naming what changed', async () => {
    const { schedules, transaction, emitted, audited, service } = setup();
    const changed = await service.patch(
      schedule.id,
      { cron: '0 * * * *', timezone: 'UTC', name: 'nightly' },
      [1],
      actor,
    );
    const tick = new Date('2026-03-10T13:00:00.000Z');
    expect(schedules.findById).toHaveBeenCalledWith(transaction, schedule.id, { lock: true });
    expect(schedules.change).toHaveBeenCalledWith(transaction, schedule.id, {
      cron: '0 * * * *',
      timezone: 'UTC',
      name: 'nightly',
      task: undefined,
      nextRunAt: tick,
    });
    expect(changed).toMatchObject({ next_run_at: tick.toISOString(), version: 2 });
    expect(emitted).toEqual([
      {
        type: 'SCHEDULE_UPDATE',
        topic: `schedule:${schedule.id}`,
        topics: topics(schedule.id),
        data: { schedule: changed, changed_fields: ['cron', 'timezone'] },
      },
    ]);
    expect(audited).toEqual([
      {
        action: 'update',
        resource: 'schedule',
        resourceId: schedule.id,
        changedFields: ['cron', 'timezone'],
      },
    ]);
  });

  it("keeps the cron and zone it has when a patch names neither, and clears a disabled one's tick", async () => {
    const { schedules, emitted, service } = setup();
    await service.patch(schedule.id, { enabled: false }, null, actor);
    expect(schedules.change).toHaveBeenLastCalledWith(expect.anything(), schedule.id, {
      enabled: false,
      task: undefined,
      nextRunAt: null,
    });
    expect(emitted[0]?.data.changed_fields).toEqual(['enabled']);
    await service.patch(schedule.id, { overlap: 'allow' }, null, actor);
    expect(schedules.change).toHaveBeenLastCalledWith(expect.anything(), schedule.id, {
      overlap: 'allow',
      task: undefined,
      nextRunAt: new Date('2026-03-11T02:00:00.000Z'),
    });
  });

  it('refuses a patch on a stale version (412), outside the scope (404) or to a bad cron (422)', async () => {
    const { schedules, emitted, audited, service } = setup();
    await expect(service.patch(schedule.id, { name: 'x' }, [7], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await expect(service.patch(schedule.id, { name: 'x' }, null, onlyB_actor)).rejects.toThrow(
      new NotFoundError('Schedule', schedule.id),
    );
    await expect(
      service.patch(schedule.id, { timezone: 'Nowhere/Land' }, null, actor),
    ).rejects.toBeInstanceOf(UnprocessableError);
    await expect(service.patch(schedule.id, { cron: '0 0 30 2 *' }, null, actor)).rejects.toThrow(
      'cron never fires',
    );
    expect(schedules.change).not.toHaveBeenCalled();
    expect([emitted, audited]).toEqual([[], []]);
  });

  it('deletes under If-Match with SCHEDULE_DELETED to its project and an audit record', async () => {
    const { schedules, transaction, emitted, audited, service } = setup();
    await expect(service.delete(schedule.id, [2], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await expect(service.delete(schedule.id, null, onlyB_actor)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(schedules.delete).not.toHaveBeenCalled();
    await service.delete(schedule.id, [1], actor);
    expect(schedules.delete).toHaveBeenCalledWith(transaction, schedule.id);
    expect(emitted).toEqual([
      {
        type: 'SCHEDULE_DELETED',
        topic: `schedule:${schedule.id}`,
        topics: topics(schedule.id),
        data: { id: schedule.id, project_id: projectA },
      },
    ]);
    expect(audited).toEqual([{ action: 'delete', resource: 'schedule', resourceId: schedule.id }]);
  });
});

describe('ScheduleService: runs', () => {
  const madeFrom = (row: Schedule, runAt: Date) => ({
    ...row.task,
    project_id: row.project_id,
    depends_on: [],
    run_at: runAt,
    status: 'queued',
    schedule_id: row.id,
  });

  it('runs now whatever the version and the overlap, keeping the next tick', async () => {
    const { schedules, tasks, transaction, emitted, audited, service } = setup();
    tasks.unfinishedOfSchedule.mockResolvedValue(3);
    await expect(service.runNow(schedule.id, actor)).resolves.toBe(task);
    expect(tasks.insert).toHaveBeenCalledWith(transaction, madeFrom(schedule, now));
    expect(schedules.change).toHaveBeenCalledWith(transaction, schedule.id, {
      lastTaskId: task.id,
      lastRunAt: undefined,
    });
    expect(emitted.map((event) => [event.type, event.topics])).toEqual([
      ['TASK_CREATED', ['tasks', `task:${task.id}`, `project:${projectA}`]],
      ['SCHEDULE_UPDATE', topics(schedule.id)],
    ]);
    expect(emitted[0]?.data).toEqual({ task });
    expect(emitted[1]?.data).toMatchObject({
      schedule: { last_task_id: task.id, next_run_at: schedule.next_run_at, last_run_at: null },
      changed_fields: ['last_task_id'],
    });
    expect(audited).toEqual([{ action: 'run', resource: 'schedule', resourceId: schedule.id }]);
    expect(tasks.assertPinnable).toHaveBeenCalledWith(transaction, undefined, projectA, null);
    await expect(service.runNow(schedule.id, onlyB_actor)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers 409 to a run of a template whose pinned agent can no longer claim it', async () => {
    const pinned = { ...schedule, task: { ...schedule.task, agent_id: agentId } };
    const { tasks, emitted, audited, service } = setup([pinned]);
    tasks.assertPinnable.mockRejectedValueOnce(noAgent());
    const error = await service.runNow(pinned.id, actor).catch((e: unknown) => e);
    expect(error).toEqual(
      new ConflictError(
        `Schedule ${pinned.id}'s task is pinned to agent ${agentId}, which can no longer claim ` +
          'it (deleted or moved to another project); change the task with PATCH first',
      ),
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(tasks.insert).not.toHaveBeenCalled();
    expect([emitted, audited]).toEqual([[], []]);
    const failure = new Error('connection lost');
    tasks.assertPinnable.mockRejectedValueOnce(failure);
    await expect(service.runNow(pinned.id, actor)).rejects.toBe(failure);
  });

  it('fires a due tick as a task at the tick, moving the next tick past the database clock', async () => {
    const every10 = {
      ...schedule,
      cron: '*/10 * * * *',
      timezone: 'UTC',
      overlap: 'allow' as const,
    };
    const { db, schedules, tasks, transaction, writes, emitted, audited, service } = setup([
      every10,
    ]);
    tasks.unfinishedOfSchedule.mockResolvedValue(1);
    await expect(service.fireDue()).resolves.toBe(1);
    expect(schedules.dueIds).toHaveBeenCalledWith(db, 100);
    expect(writes.run).toHaveBeenCalledWith(systemActor, expect.any(Function));
    expect(schedules.lockIfDue).toHaveBeenCalledWith(transaction, every10.id);
    const tick = new Date(every10.next_run_at!);
    expect(tasks.insert).toHaveBeenCalledWith(transaction, madeFrom(every10, tick));
    expect(schedules.change).toHaveBeenCalledWith(transaction, every10.id, {
      lastTaskId: task.id,
      lastRunAt: tick,
      nextRunAt: new Date('2026-03-10T12:50:00.000Z'),
    });
    expect(emitted.map((event) => event.type)).toEqual(['TASK_CREATED', 'SCHEDULE_UPDATE']);
    expect(emitted[1]?.data.changed_fields).toEqual(['last_task_id', 'last_run_at', 'next_run_at']);
    expect(audited).toEqual([{ action: 'run', resource: 'schedule', resourceId: every10.id }]);
  });

  it("skips a tick of `overlap: skip` while its last task is unfinished, fires when it's done", async () => {
    const { schedules, tasks, transaction, emitted, audited, service } = setup();
    tasks.unfinishedOfSchedule.mockResolvedValueOnce(1);
    await expect(service.fireDue(5)).resolves.toBe(1);
    expect(tasks.unfinishedOfSchedule).toHaveBeenCalledWith(transaction, schedule.id);
    expect(tasks.insert).not.toHaveBeenCalled();
    expect(schedules.change).toHaveBeenCalledWith(transaction, schedule.id, {
      nextRunAt: new Date('2026-03-11T02:00:00.000Z'),
    });
    expect(emitted).toEqual([
      {
        type: 'SCHEDULE_UPDATE',
        topic: `schedule:${schedule.id}`,
        topics: topics(schedule.id),
        data: {
          schedule: expect.objectContaining({ next_run_at: '2026-03-11T02:00:00.000Z' }),
          changed_fields: ['next_run_at'],
        },
      },
    ]);
    expect(audited).toEqual([{ action: 'skip', resource: 'schedule', resourceId: schedule.id }]);
    await service.fireDue(5);
    expect(tasks.insert).toHaveBeenCalledOnce();
  });

  it('counts only the schedules it fired: another instance may have taken or moved one', async () => {
    const other = { ...schedule, id: '77777777-7777-4777-8777-777777777777' };
    const { schedules, tasks, service } = setup([schedule, other]);
    schedules.lockIfDue.mockResolvedValueOnce(null);
    await expect(service.fireDue(2)).resolves.toBe(1);
    expect(schedules.dueIds).toHaveBeenCalledWith(expect.anything(), 2);
    expect(tasks.insert).toHaveBeenCalledOnce();
  });

  it('skips the tick of a schedule whose task cannot be made, fires the others, then throws', async () => {
    const broken = { ...schedule, id: '88888888-8888-4888-8888-888888888888' };
    const { schedules, tasks, transaction, emitted, audited, service } = setup([broken, schedule]);
    const cause = new UnprocessableError('agent gone', []);
    tasks.insert.mockRejectedValueOnce(cause);
    const error = await service.fireDue().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    // What the maintenance loop logs.
    expect((error as AggregateError).message).toBe('some schedules could not fire');
    expect((error as AggregateError).errors).toEqual([cause]);
    expect(schedules.change).toHaveBeenCalledWith(transaction, broken.id, {
      nextRunAt: new Date('2026-03-11T02:00:00.000Z'),
    });
    expect(emitted.map((event) => [event.type, event.topic, event.data.changed_fields])).toEqual([
      ['SCHEDULE_UPDATE', `schedule:${broken.id}`, ['next_run_at']],
      ['TASK_CREATED', `task:${task.id}`, undefined],
      [
        'SCHEDULE_UPDATE',
        `schedule:${schedule.id}`,
        ['last_task_id', 'last_run_at', 'next_run_at'],
      ],
    ]);
    expect(audited).toEqual([
      { action: 'skip', resource: 'schedule', resourceId: broken.id },
      { action: 'run', resource: 'schedule', resourceId: schedule.id },
    ]);
  });

  it('leaves a failed schedule alone when another instance moved its tick meanwhile', async () => {
    const { schedules, tasks, emitted, service } = setup();
    tasks.insert.mockRejectedValueOnce(new Error('agent gone'));
    schedules.lockIfDue.mockResolvedValueOnce(schedule).mockResolvedValueOnce(null);
    await expect(service.fireDue()).rejects.toBeInstanceOf(AggregateError);
    expect(schedules.change).not.toHaveBeenCalled();
    expect(emitted).toEqual([]);
  });
});
