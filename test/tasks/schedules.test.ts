import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/store/database.js';
import { testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { byDepth } from '../support/depth.js';
import { errorPaths, expectProblem } from '../support/problems.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';

/**
 * Schedules and cross-instance work on two instances sharing one PostgreSQL and one Redis, each
 * running its own maintenance loop: every tick makes one task, whichever instance fires it.
 */
let redis: RedisServer;
let database: TestDatabase;
const instances: FastifyInstance[] = [];
const closers: Array<() => Promise<void>> = [];

async function startInstance(): Promise<FastifyInstance> {
  const handle = await openDatabase({ engine: 'postgres', url: database.url, poolSize: 10 });
  const app = await buildApp({
    config: testConfig({ REDIS_URL: redis.url, TASK_SWEEP_MS: '100', EVENT_POLL_MS: '60000' }),
    database: { handle },
    logger: false,
  });
  await app.ready();
  instances.push(app);
  closers.push(async () => {
    await app.close();
    await handle.close();
  });
  return app;
}

beforeAll(async () => {
  [redis, database] = await Promise.all([startRedis(), createTestDatabase()]);
  await startInstance();
  await startInstance();
});
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await Promise.all([redis.stop(), database.drop()]);
});

const call = (app: FastifyInstance, method: string, url: string, payload?: object) =>
  app.inject({ method: method as 'GET', url: `/api/v1${url}`, payload });

async function project(app: FastifyInstance, name: string): Promise<string> {
  return (await call(app, 'POST', '/projects', { name })).json().id;
}

describe('the schedule API', () => {
  it('creates, reads, changes, runs and deletes a schedule', async () => {
    const [a] = instances as [FastifyInstance];
    const projectId = await project(a, 'API');
    const created = await call(a, 'POST', '/schedules', {
      project_id: projectId,
      name: 'nightly',
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
      task: { title: 'Nightly build', kind: 'build', priority: 2 },
    });
    expect(created.statusCode, created.body).toBe(201);
    const schedule = created.json();
    expect(schedule).toMatchObject({ enabled: true, overlap: 'skip', last_run_at: null });
    expect(new Date(schedule.next_run_at).getUTCMinutes()).toBe(0);
    const run = await call(a, 'POST', `/schedules/${schedule.id}/run`);
    expect(run.statusCode, run.body).toBe(201);
    expect(run.json()).toMatchObject({
      title: 'Nightly build',
      kind: 'build',
      priority: 2,
      schedule_id: schedule.id,
      status: 'queued',
    });
    const disabled = await call(a, 'PATCH', `/schedules/${schedule.id}`, { enabled: false });
    expect(disabled.json()).toMatchObject({ enabled: false, next_run_at: null });
    const listed = await call(a, 'GET', `/schedules?project_id=${projectId}&enabled=false`);
    expect(listed.json().total).toBe(1);
    expect((await call(a, 'DELETE', `/schedules/${schedule.id}`)).statusCode).toBe(204);
    expectProblem(await call(a, 'GET', `/schedules/${schedule.id}`), 404);
  });

  it('makes no task of a template pinned to an agent that could not claim it', async () => {
    const [a] = instances as [FastifyInstance];
    const projectId = await project(a, 'Pinned');
    const elsewhere = await project(a, 'Elsewhere');
    const agent = await call(a, 'POST', '/agents', {
      name: 'foreign',
      agent_type: 'coder',
      project_id: elsewhere,
    });
    const created = await call(a, 'POST', '/schedules', {
      project_id: projectId,
      name: 'pinned',
      cron: '0 3 * * *',
      task: { title: 'Never claimable', agent_id: agent.json().id },
    });
    const run = await call(a, 'POST', `/schedules/${created.json().id}/run`);
    expect(errorPaths(run)).toEqual(['/agent_id']);
    expect(expectProblem(run, 422).detail).toBe('names no agent');
    const made = await call(a, 'GET', `/tasks?project_id=${projectId}`);
    expect(made.json().total).toBe(0);
  });

  it('refuses a cron expression croner cannot read and an unknown time zone', async () => {
    const [a] = instances as [FastifyInstance];
    const projectId = await project(a, 'Bad');
    const base = { project_id: projectId, name: 'x', task: { title: 'x' } };
    const fields = await call(a, 'POST', '/schedules', { ...base, cron: '* * *' });
    expect(errorPaths(fields)).toEqual(['/cron']);
    const minute = await call(a, 'POST', '/schedules', { ...base, cron: '61 * * * *' });
    expect(errorPaths(minute)).toEqual(['/cron']);
    const zone = await call(a, 'POST', '/schedules', {
      ...base,
      cron: '* * * * *',
      timezone: 'X/Y',
    });
    expect(errorPaths(zone)).toEqual(['/timezone']);
  });
});

describe('two instances', () => {
  const seconds = byDepth(4, 10);
  it(`make exactly one task per tick of a per-second schedule in ${seconds} s`, async () => {
    const [a, b] = instances as [FastifyInstance, FastifyInstance];
    const projectId = await project(a, 'Ticks');
    const schedule = async (name: string, fields: object) =>
      (
        await call(b, 'POST', '/schedules', {
          project_id: projectId,
          name,
          cron: '* * * * * *',
          ...fields,
        })
      ).json().id as string;
    const everyTick = await schedule('every second', { overlap: 'allow', task: { title: 't' } });
    // Its first task never finishes (no agent has the capability), so `skip` makes no other.
    const skipping = await schedule('busy', {
      task: { title: 'long', required_capabilities: ['nobody-has-this'] },
    });
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
    for (const id of [everyTick, skipping])
      await call(a, 'PATCH', `/schedules/${id}`, { enabled: false });
    const elapsed = (Date.now() - started) / 1_000;
    const made = async (id: string) =>
      (await call(a, 'GET', `/tasks?schedule_id=${id}&limit=100`)).json().items;
    const ticks = (await made(everyTick)).map((task: { run_at: string }) => task.run_at);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (const tick of ticks) expect(new Date(tick).getUTCMilliseconds()).toBe(0);
    expect(ticks.length).toBeGreaterThanOrEqual(Math.floor(elapsed) - 1);
    expect(ticks.length).toBeLessThanOrEqual(Math.ceil(elapsed) + 1);
    expect(await made(skipping)).toHaveLength(1);
  });

  it('wake a claim waiting on one instance when a task is created on the other', async () => {
    const [a, b] = instances as [FastifyInstance, FastifyInstance];
    const projectId = await project(a, 'Wake');
    const agent = (
      await call(a, 'POST', '/agents', { name: 'w', agent_type: 'coder', project_id: projectId })
    ).json();
    const waiting = call(a, 'POST', '/tasks/claim', { agent_id: agent.id, wait_ms: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const created = Date.now();
    const task = (await call(b, 'POST', '/tasks', { project_id: projectId, title: 'x' })).json();
    const response = await waiting;
    expect(response.statusCode).toBe(200);
    expect(response.json().task.id).toBe(task.id);
    expect(Date.now() - created).toBeLessThan(2_000);
  });
});
