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

  it('refuses a template pinned to an agent that could not claim its tasks', async () => {
    const [a] = instances as [FastifyInstance];
    const projectId = await project(a, 'Pinned');
    const elsewhere = await project(a, 'Elsewhere');
    const agent = async (name: string, inProject: string) =>
      (
        await call(a, 'POST', '/agents', { name, agent_type: 'coder', project_id: inProject })
      ).json().id as string;
    const [foreign, own] = [await agent('foreign', elsewhere), await agent('own', projectId)];
    const base = { project_id: projectId, name: 'pinned', cron: '0 3 * * *' };
    const refused = await call(a, 'POST', '/schedules', {
      ...base,
      task: { title: 'Never claimable', agent_id: foreign },
    });
    expect(errorPaths(refused)).toEqual(['/task/agent_id']);
    expect(expectProblem(refused, 422).detail).toBe('names no agent');
    const created = await call(a, 'POST', '/schedules', { ...base, task: { title: 'x' } });
    const url = `/schedules/${created.json().id}`;
    const patched = await call(a, 'PATCH', url, { task: { title: 'y', agent_id: foreign } });
    expect(errorPaths(patched)).toEqual(['/task/agent_id']);
    expect((await call(a, 'GET', url)).json()).toMatchObject({ version: 1, task: { title: 'x' } });
    const pinned = await call(a, 'PATCH', url, { task: { title: 'z', agent_id: own } });
    expect(pinned.statusCode, pinned.body).toBe(200);
    expect((await call(a, 'GET', `/tasks?project_id=${projectId}`)).json().total).toBe(0);
  });

  it('answers 409 to a run once the pinned agent is gone, and makes no task', async () => {
    const [a] = instances as [FastifyInstance];
    const projectId = await project(a, 'Gone');
    const agent = (
      await call(a, 'POST', '/agents', { name: 'gone', agent_type: 'coder', project_id: projectId })
    ).json();
    const created = await call(a, 'POST', '/schedules', {
      project_id: projectId,
      name: 'pinned',
      cron: '0 3 * * *',
      task: { title: 'Pinned', agent_id: agent.id },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect((await call(a, 'DELETE', `/agents/${agent.id}`)).statusCode).toBe(204);
    const run = await call(a, 'POST', `/schedules/${created.json().id}/run`);
    expect(expectProblem(run, 409).detail).toBe(
      `Schedule ${created.json().id}'s task is pinned to agent ${agent.id}, which can no longer ` +
        'claim it (deleted or moved to another project); change the task with PATCH first',
    );
    expect((await call(a, 'GET', `/tasks?project_id=${projectId}`)).json().total).toBe(0);
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
    // Each tick is the service's write: a `run` with its task, or a `skip` without one.
    const audited = async (id: string, action: string) =>
      (await call(a, 'GET', `/audit?resource=schedule&resource_id=${id}&action=${action}`))
        .json()
        .items.map((entry: { key_id: string | null }) => entry.key_id);
    expect(await audited(everyTick, 'run')).toEqual(ticks.map(() => null));
    expect(await audited(skipping, 'run')).toEqual([null]);
    expect((await audited(skipping, 'skip')).length).toBeGreaterThanOrEqual(1);
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
