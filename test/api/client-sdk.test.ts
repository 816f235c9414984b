import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ApiError,
  type ExecutionPhase,
  type SwarmEvent,
  SwarmClient,
  type Task,
} from '../../src/client/index.js';
import { type TestApp, createTestApp } from '../support/app.js';

let t: TestApp;
let client: SwarmClient;
beforeAll(async () => {
  t = await createTestApp();
  client = new SwarmClient({ baseUrl: await t.listen(), apiKey: 'unused-until-auth' });
});
afterAll(() => t.close());

describe('SwarmClient against the running service', () => {
  it('creates, reads, lists, patches, replaces and deletes', async () => {
    const project = await client.projects.create({ name: 'Client', sparc_mode: 'architecture' });
    expect(project).toMatchObject({ name: 'Client', version: 1 });
    expect(await client.projects.get(project.id)).toEqual(project);
    const agent = await client.agents.create({
      name: `sdk-${project.id}`,
      agent_type: 'coder',
      capabilities: ['ts', 'go'],
      project_id: project.id,
    });
    expect(
      (await client.agents.list({ capability: ['ts', 'go'], project_id: project.id })).items.map(
        (item) => item.id,
      ),
    ).toEqual([agent.id]);
    expect(
      (await client.projects.patch(project.id, { status: 'completed' }, { ifMatch: 1 })).version,
    ).toBe(2);
    expect((await client.projects.replace(project.id, { name: 'Renamed' })).sparc_mode).toBe(
      'specification',
    );
    expect((await client.agents.heartbeat(agent.id, { status: 'busy' })).status).toBe('busy');
    expect((await client.agents.heartbeat(agent.id)).last_active_at).not.toBeNull();
    await client.agents.delete(agent.id);
    await client.projects.delete(project.id, { ifMatch: 3 });
    const log = await client.events({ topic: [`project:${project.id}`], limit: 50 });
    expect(log.items.map((event) => event.type)).toContain('PROJECT_DELETED');
  });

  it('throws ApiError carrying the problem document', async () => {
    const error = await client.projects
      .get('00000000-0000-4000-8000-000000000000')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).problem.detail).toBe(
      'Project 00000000-0000-4000-8000-000000000000 not found',
    );
    const invalid = (await client.projects
      .create({ name: '' })
      .catch((caught: unknown) => caught)) as ApiError;
    expect(invalid.problem.errors?.[0]).toMatchObject({ path: '/name' });
    const stale = await client.projects
      .create({ name: 'S' })
      .then((project) => client.projects.patch(project.id, { name: 'x' }, { ifMatch: 7 }))
      .catch((caught: unknown) => caught as ApiError);
    expect(stale.status).toBe(412);
  });
});

/** The ApiError a call rejects with (the test fails if it resolves). */
async function apiError(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

/** The `data` of every TASK_EXECUTION event: narrowing on `type` types `data`. */
function executionSteps(events: SwarmEvent[]): Array<{ phase: ExecutionPhase; attempt?: number }> {
  const steps: Array<{ phase: ExecutionPhase; attempt?: number }> = [];
  for (const event of events) {
    if (event.type !== 'TASK_EXECUTION') continue;
    expectTypeOf(event.data.task).toEqualTypeOf<Task>();
    steps.push({ phase: event.data.phase, attempt: event.data.attempt?.number });
  }
  return steps;
}

describe('SwarmClient: tasks and schedules', () => {
  it('defines, lists, changes, cancels, retries and deletes tasks', async () => {
    const project = await client.projects.create({ name: 'Task definitions' });
    const task = await client.tasks.create({ project_id: project.id, title: 'Build' });
    expect(task).toMatchObject({ status: 'queued', version: 1, priority: 0 });
    expect((await client.tasks.patch(task.id, { priority: 5 }, { ifMatch: 1 })).priority).toBe(5);
    const page = await client.tasks.list({ project_id: project.id, status: ['queued'] });
    expect(page.items.map((item) => item.id)).toEqual([task.id]);
    expect((await client.tasks.cancel(task.id)).status).toBe('cancelled');
    expect((await client.tasks.retry(task.id)).status).toBe('queued');
    await client.tasks.delete(task.id);
    expect((await apiError(client.tasks.get(task.id))).status).toBe(404);
  });

  it('runs a task: claim, heartbeat, fail, claim, complete; a stale attempt gets 409', async () => {
    const project = await client.projects.create({ name: 'Task execution' });
    const agent = await client.agents.create({
      name: `worker-${project.id}`,
      agent_type: 'coder',
      project_id: project.id,
    });
    expect(await client.tasks.claim({ agent_id: agent.id, wait_ms: 20 })).toBeNull();
    const task = await client.tasks.create({
      project_id: project.id,
      title: 'Flaky',
      backoff: { base_ms: 0, max_ms: 0 },
    });
    const first = await client.tasks.claim({ agent_id: agent.id });
    expect(first).toMatchObject({
      task: { id: task.id, status: 'running' },
      attempt: { number: 1 },
    });
    const lease = await client.tasks.heartbeat(task.id, { attempt: 1, progress: 0.5 });
    expect(lease.cancel_requested).toBe(false);
    expect((await client.tasks.fail(task.id, { attempt: 1, error: 'flaky' })).status).toBe(
      'queued',
    );
    expect((await client.tasks.claim({ agent_id: agent.id }))?.attempt.number).toBe(2);
    const stale = await apiError(client.tasks.complete(task.id, { attempt: 1 }));
    expect(stale.status).toBe(409);
    const done = await client.tasks.complete(task.id, { attempt: 2, result: { ok: true } });
    expect(done).toMatchObject({ status: 'succeeded', result: { ok: true }, attempts: 2 });
    const { items } = await client.tasks.attempts(task.id);
    expect(items.map((attempt) => attempt.outcome)).toEqual(['failed', 'succeeded']);
    const log = await client.events({ topic: [`task:${task.id}`], limit: 100 });
    expect(executionSteps(log.items)).toEqual([
      { phase: 'claimed', attempt: 1 },
      { phase: 'progress', attempt: 1 },
      { phase: 'failed', attempt: 1 },
      { phase: 'retry_scheduled', attempt: 1 },
      { phase: 'claimed', attempt: 2 },
      { phase: 'succeeded', attempt: 2 },
    ]);
  });

  it('stops a waiting claim when its signal aborts', async () => {
    const project = await client.projects.create({ name: 'Long poll' });
    const agent = await client.agents.create({
      name: `waiter-${project.id}`,
      agent_type: 'coder',
      project_id: project.id,
    });
    const controller = new AbortController();
    const started = Date.now();
    const claim = client.tasks.claim(
      { agent_id: agent.id, wait_ms: 10_000 },
      {
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(claim).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('creates, reads, lists, changes, runs and deletes schedules', async () => {
    const project = await client.projects.create({ name: 'Schedules' });
    const schedule = await client.schedules.create({
      project_id: project.id,
      name: 'Nightly',
      cron: '0 3 * * *',
      task: { title: 'Nightly build', priority: 2 },
    });
    expect(schedule).toMatchObject({ enabled: true, overlap: 'skip', timezone: 'UTC' });
    expect(await client.schedules.get(schedule.id)).toEqual(schedule);
    const listed = await client.schedules.list({ project_id: project.id });
    expect(listed.items.map((item) => item.id)).toEqual([schedule.id]);
    const paused = await client.schedules.patch(schedule.id, { enabled: false }, { ifMatch: 1 });
    expect(paused).toMatchObject({ enabled: false, version: 2 });
    const made = await client.schedules.run(schedule.id);
    expect(made).toMatchObject({ schedule_id: schedule.id, title: 'Nightly build', priority: 2 });
    await client.schedules.delete(schedule.id);
    expect((await client.schedules.list({ project_id: project.id })).total).toBe(0);
  });
});
