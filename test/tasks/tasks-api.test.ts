import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { byDepth } from '../support/depth.js';
import { readWholeLog } from '../support/event-log.js';
import { storableJson } from '../support/fuzz.js';
import { errorPaths, expectProblem } from '../support/problems.js';
import { keyHeader } from '../support/keys.js';
import { taskApi } from '../support/tasks.js';

let t: TestApp;
let api: ReturnType<typeof taskApi>;
let project: { id: string };
let agent: { id: string };
beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  api = taskApi(t);
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  project = await api.project();
  agent = await api.agent(project.id, { capabilities: ['ts', 'sql'] });
});

const missing = '00000000-0000-4000-8000-000000000000';

/** The phases of a task's `TASK_EXECUTION` events, oldest first. */
async function executionPhases(taskId: string) {
  const response = await t.request({ method: 'GET', url: `/api/v1/events?topic=task:${taskId}` });
  return response
    .json()
    .items.filter((event: { type: string }) => event.type === 'TASK_EXECUTION')
    .map((event: { data: { phase: string } }) => event.data.phase);
}

async function claimed(taskId?: string) {
  const response = await api.claim(agent.id);
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json();
  if (taskId !== undefined) expect(body.task.id).toBe(taskId);
  return body as { task: { id: string; status: string }; attempt: { number: number } };
}

async function auditActions(resourceId: string) {
  const response = await t.request({
    method: 'GET',
    url: `/api/v1/audit?resource=task&resource_id=${resourceId}`,
  });
  return response
    .json()
    .items.map((entry: { action: string }) => entry.action)
    .reverse();
}

/** A problem document without what names the request (its id, its URL), for comparing two. */
function problemShape(response: { statusCode: number; body: string }) {
  const { instance: _instance, request_id: _requestId, ...rest } = JSON.parse(response.body);
  return { status: response.statusCode, ...rest };
}

describe('POST /api/v1/tasks', () => {
  it('creates a queued task with defaults, a Location, an ETag and an audit record', async () => {
    const response = await api.call('POST', '/tasks', { project_id: project.id, title: ' Fix ' });
    expect(response.statusCode).toBe(201);
    const task = response.json();
    expect(task).toMatchObject({
      title: 'Fix',
      kind: '',
      input: null,
      required_capabilities: [],
      priority: 0,
      depends_on: [],
      max_attempts: 3,
      backoff: { base_ms: 1_000, max_ms: 300_000 },
      timeout_ms: null,
      lease_ms: 30_000,
      status: 'queued',
      progress: null,
      attempts: 0,
      version: 1,
    });
    expect(response.headers.location).toBe(`/api/v1/tasks/${task.id}`);
    expect(response.headers.etag).toBe('"1"');
    expect(await auditActions(task.id)).toEqual(['create']);
  });

  it('schedules a task whose run_at lies ahead, and blocks one with unfinished dependencies', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect((await api.task(project.id, { run_at: later })).status).toBe('scheduled');
    const first = await api.task(project.id);
    expect((await api.task(project.id, { depends_on: [first.id] })).status).toBe('blocked');
  });

  it('refuses unknown fields, bad values, and a project that does not exist with 422', async () => {
    const bad = await api.call('POST', '/tasks', {
      project_id: project.id,
      title: '',
      priority: 1.5,
      lease_ms: 1,
      backoff: { base_ms: 10, max_ms: 5 },
      color: 'red',
    });
    expect(errorPaths(bad)).toEqual([
      '/backoff/max_ms',
      '/color',
      '/lease_ms',
      '/priority',
      '/title',
    ]);
    const unknown = await api.call('POST', '/tasks', { project_id: missing, title: 'x' });
    expect(expectProblem(unknown, 422).errors).toEqual([
      { path: '/project_id', message: `Project ${missing} does not exist`, in: 'body' },
    ]);
    const pinned = await api.call('POST', '/tasks', {
      project_id: project.id,
      title: 'x',
      agent_id: missing,
    });
    expect(expectProblem(pinned, 422).errors).toEqual([
      { path: '/agent_id', message: 'names no agent', in: 'body' },
    ]);
  });

  it('pins only an agent that could claim the task, else answers as for no agent', async () => {
    const other = await api.project('Beta');
    const foreign = await api.agent(other.id);
    const pin = (agentId: string) =>
      api.call('POST', '/tasks', { project_id: project.id, title: 'x', agent_id: agentId });
    const none = problemShape(await pin(missing));
    expect(none).toMatchObject({ status: 422, detail: 'names no agent' });
    expect(problemShape(await pin(foreign.id))).toEqual(none);
    expect(
      (await api.call('GET', `/tasks?agent_id=${foreign.id}`, undefined, 200)).json().total,
    ).toBe(0);
    // Its own project's agent, and one without a project (it claims in every project).
    const free = await api.agent(null);
    for (const pinned of [agent, free]) {
      const response = await pin(pinned.id);
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json().agent_id).toBe(pinned.id);
    }
  });

  it('refuses to move an agent away from the unfinished tasks pinned to it', async () => {
    const beta = await api.project('Beta');
    const free = await api.agent(null);
    const here = await api.task(project.id, { agent_id: free.id });
    const there = await api.task(beta.id, { agent_id: free.id });
    const move = (to: string | null) => api.call('PATCH', `/agents/${free.id}`, { project_id: to });
    expect(expectProblem(await move(project.id), 409).detail).toBe(
      `Agent ${free.id} cannot move to project ${project.id}: 1 unfinished task is pinned to it ` +
        'in another project; cancel them or change their agent_id first',
    );
    expect((await api.call('GET', `/agents/${free.id}`)).json()).toMatchObject({
      project_id: null,
      version: 1,
    });
    // A finished task holds nothing: once the one elsewhere is cancelled, the agent may move.
    await api.call('POST', `/tasks/${there.id}/cancel`, undefined, 200);
    expect((await move(project.id)).json()).toMatchObject({ project_id: project.id });
    expect((await api.get(here.id)).agent_id).toBe(free.id);
    expect(expectProblem(await move(beta.id), 409).detail).toMatch(/: 1 unfinished task is/);
    expect((await move(null)).json()).toMatchObject({ project_id: null });
  });

  it('refuses a dependency in another project, a missing one, or one that failed', async () => {
    const other = await api.project('Beta');
    const foreign = await api.task(other.id);
    const fine = await api.task(project.id);
    for (const dependency of [foreign.id, missing]) {
      const response = await api.call('POST', '/tasks', {
        project_id: project.id,
        title: 'x',
        depends_on: [fine.id, dependency],
      });
      const message = `Task ${dependency} does not exist in project ${project.id}`;
      expect(expectProblem(response, 422).errors).toEqual([
        { path: '/depends_on', message, in: 'body' },
      ]);
    }
    const dead = await api.task(project.id);
    await api.call('POST', `/tasks/${dead.id}/cancel`, undefined, 200);
    const response = await api.call('POST', '/tasks', {
      project_id: project.id,
      title: 'x',
      depends_on: [fine.id, dead.id],
    });
    expect(expectProblem(response, 422).detail).toBe(
      `Task ${dead.id} is cancelled; retry it first`,
    );
  });

  it('refuses an input larger than 256 KiB', async () => {
    const response = await api.call('POST', '/tasks', {
      project_id: project.id,
      title: 'x',
      input: { text: 'x'.repeat(300 * 1024) },
    });
    expect(errorPaths(response)).toEqual(['/input']);
  });

  it('refuses input text PostgreSQL cannot store (NUL, in values or names) with 422', async () => {
    for (const input of ['\u0000', { 'a\u0000': 1 }, [['\ud800']]]) {
      const response = await api.call('POST', '/tasks', {
        project_id: project.id,
        title: 'x',
        input,
      });
      expect(errorPaths(response), JSON.stringify(input)).toEqual(['/input']);
    }
    expect((await api.call('GET', '/tasks')).json().total).toBe(0);
  });
});

describe('GET /api/v1/tasks', () => {
  it('filters by project, status (repeatable), kind, capability and agent, and pages', async () => {
    const other = await api.project('Beta');
    await api.task(project.id, { kind: 'review', required_capabilities: ['ts'] });
    await api.task(project.id, { kind: 'build', agent_id: agent.id });
    await api.task(other.id, { kind: 'review' });
    const count = async (query: string) =>
      (await api.call('GET', `/tasks?${query}`, undefined, 200)).json().total;
    expect(await count(`project_id=${project.id}`)).toBe(2);
    expect(await count('kind=review')).toBe(2);
    expect(await count('capability=ts')).toBe(1);
    expect(await count(`agent_id=${agent.id}`)).toBe(1);
    expect(await count('status=queued&status=running')).toBe(3);
    expect(await count('status=failed')).toBe(0);
    const page = (await api.call('GET', '/tasks?limit=2&sort=created_at', undefined, 200)).json();
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(page.items).toHaveLength(2);
  });

  it('sorts by each field both ways, newest first by default, ties by id', async () => {
    const soon = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
    const a = await api.task(project.id, { priority: 2, run_at: soon(30) });
    const b = await api.task(project.id, { priority: 1, run_at: soon(10) });
    const c = await api.task(project.id, { priority: 2, run_at: soon(20) });
    const [first, second] = [a.id, c.id].sort();
    const ids = async (sort?: string) =>
      (await api.call('GET', `/tasks${sort === undefined ? '' : `?sort=${sort}`}`, undefined, 200))
        .json()
        .items.map((task: { id: string }) => task.id);
    expect(await ids()).toEqual([c.id, b.id, a.id]);
    expect(await ids('created_at')).toEqual([a.id, b.id, c.id]);
    expect(await ids('-created_at')).toEqual([c.id, b.id, a.id]);
    expect(await ids('priority')).toEqual([b.id, first, second]);
    expect(await ids('-priority')).toEqual([second, first, b.id]);
    expect(await ids('run_at')).toEqual([b.id, c.id, a.id]);
    expect(await ids('-run_at')).toEqual([a.id, c.id, b.id]);
    await api.call('PATCH', `/tasks/${a.id}`, { title: 'Touched' }, 200);
    expect(await ids('-updated_at')).toEqual([a.id, c.id, b.id]);
    expect(await ids('updated_at')).toEqual([b.id, c.id, a.id]);
  });

  it('answers 422 to a bad filter and 404 to a task that does not exist, naming it', async () => {
    expect(errorPaths(await api.call('GET', '/tasks?status=done'))).toEqual(['/status/0']);
    for (const method of ['GET', 'DELETE'])
      expect(expectProblem(await api.call(method, `/tasks/${missing}`), 404).detail).toBe(
        `Task ${missing} not found`,
      );
  });
});

describe('PATCH and DELETE /api/v1/tasks/{id}', () => {
  it('changes a task that has not started, with If-Match, and names the changed fields', async () => {
    const task = await api.task(project.id);
    const stale = await t.request({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      payload: { priority: 5 },
      headers: { 'if-match': '"9"' },
    });
    expectProblem(stale, 412);
    const response = await t.request({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      payload: { priority: 5, title: 'Renamed' },
      headers: { 'if-match': '"1"' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ priority: 5, title: 'Renamed', version: 2 });
    const events = await t.request({ method: 'GET', url: `/api/v1/events?topic=task:${task.id}` });
    const update = events.json().items.at(-1);
    expect(update).toMatchObject({ type: 'TASK_UPDATE' });
    expect(update.data.changed_fields.sort()).toEqual(['priority', 'title']);
  });

  it('refuses a dependency that would close a cycle, or a task on itself', async () => {
    const a = await api.task(project.id);
    const b = await api.task(project.id, { depends_on: [a.id] });
    const c = await api.task(project.id, { depends_on: [b.id] });
    const cycle = await api.call('PATCH', `/tasks/${a.id}`, { depends_on: [c.id] });
    expect(expectProblem(cycle, 422).errors?.[0]).toMatchObject({
      path: '/depends_on',
      message: `Depending on these tasks would make task ${a.id} depend on itself`,
    });
    const self = await api.call('PATCH', `/tasks/${a.id}`, { depends_on: [a.id] });
    expect(errorPaths(self)).toEqual(['/depends_on']);
    expect((await api.get(a.id)).depends_on).toEqual([]);
  });

  it('moves a task that has not started to its new run_at, and back to the queue', async () => {
    const task = await api.task(project.id);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const moved = await api.call('PATCH', `/tasks/${task.id}`, { run_at: later }, 200);
    expect(moved.json()).toMatchObject({ status: 'scheduled', run_at: later });
    const earlier = new Date(Date.now() - 60_000).toISOString();
    const back = await api.call('PATCH', `/tasks/${task.id}`, { run_at: earlier }, 200);
    expect(back.json()).toMatchObject({ status: 'queued', run_at: earlier });
    expect(await api.get(task.id)).toMatchObject({ status: 'queued', run_at: earlier });
  });

  it('queues a scheduled task once its time came, audited as a status change by the service', async () => {
    const runAt = new Date(Date.now() + 200).toISOString();
    const task = await api.task(project.id, { run_at: runAt });
    expect(task.status).toBe('scheduled');
    await new Promise((resolve) => setTimeout(resolve, 250));
    await t.app.services.taskExecution.promoteDue();
    expect(await api.get(task.id)).toMatchObject({ status: 'queued', run_at: runAt });
    const audit = await t.request({
      method: 'GET',
      url: `/api/v1/audit?resource=task&resource_id=${task.id}&action=status`,
    });
    expect(audit.json().items).toMatchObject([{ key_id: null, changed_fields: ['status'] }]);
  });

  it('blocks a queued task given a new unfinished dependency', async () => {
    const a = await api.task(project.id);
    const b = await api.task(project.id);
    const response = await api.call('PATCH', `/tasks/${b.id}`, { depends_on: [a.id] }, 200);
    expect(response.json().status).toBe('blocked');
  });

  it('refuses to change or delete a running task, and deletes one that waits', async () => {
    const task = await api.task(project.id);
    await claimed(task.id);
    const patch = await api.call('PATCH', `/tasks/${task.id}`, { priority: 1 });
    expect(expectProblem(patch, 409).detail).toBe(
      `Task ${task.id} is running; only a task not started changes`,
    );
    expect(expectProblem(await api.call('DELETE', `/tasks/${task.id}`), 409).detail).toBe(
      `Task ${task.id} is running; cancel it before deleting it`,
    );
    const waiting = await api.task(project.id, { required_capabilities: ['gpu'] });
    await api.call('DELETE', `/tasks/${waiting.id}`, undefined, 204);
    expectProblem(await api.call('GET', `/tasks/${waiting.id}`), 404);
    const deleted = (await readWholeLog(t.request, `topic=task:${waiting.id}`)).at(-1);
    expect(deleted).toMatchObject({
      type: 'TASK_DELETED',
      data: { id: waiting.id, project_id: project.id },
    });
    // A blocked task changed in another field keeps its dependencies, and stays blocked.
    const blocked = await api.task(project.id, { depends_on: [task.id] });
    const renamed = await api.call('PATCH', `/tasks/${blocked.id}`, { title: 'Later' }, 200);
    expect(renamed.json()).toMatchObject({ status: 'blocked', depends_on: [task.id] });
  });

  it('re-pins a task only to an agent that could claim it, as for no agent otherwise', async () => {
    const task = await api.task(project.id);
    const foreign = await api.agent((await api.project('Beta')).id);
    const repin = (agentId: string) =>
      api.call('PATCH', `/tasks/${task.id}`, { agent_id: agentId });
    const none = problemShape(await repin(missing));
    expect(none).toMatchObject({ status: 422, detail: 'names no agent' });
    expect(problemShape(await repin(foreign.id))).toEqual(none);
    expect(await api.get(task.id)).toMatchObject({ agent_id: null, version: 1 });
    expect((await repin(agent.id)).json()).toMatchObject({ agent_id: agent.id, version: 2 });
    // A patch that leaves the pin alone does not look at it again.
    const renamed = await api.call('PATCH', `/tasks/${task.id}`, { title: 'Renamed' }, 200);
    expect(renamed.json()).toMatchObject({ agent_id: agent.id, title: 'Renamed' });
  });

  it('refuses to delete a finished dependency while its dependent runs', async () => {
    const done = await api.task(project.id);
    await api.complete(done.id, { attempt: (await claimed(done.id)).attempt.number });
    const dependent = await api.task(project.id, { depends_on: [done.id] });
    await claimed(dependent.id);
    const refused = expectProblem(await api.call('DELETE', `/tasks/${done.id}`), 409);
    expect(refused.detail).toBe(
      `Task ${done.id} cannot be deleted: unfinished task ${dependent.id} depends on it`,
    );
    expect((await api.get(done.id)).status).toBe('succeeded');
  });

  it('refuses to delete a task an unfinished task depends on', async () => {
    const a = await api.task(project.id);
    await api.task(project.id, { depends_on: [a.id] });
    expect(expectProblem(await api.call('DELETE', `/tasks/${a.id}`), 409).detail).toMatch(
      /depends on it/,
    );
  });

  it('refuses to delete a finished dependency while its dependent waits queued or scheduled', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    for (const fields of [{}, { run_at: later }]) {
      const done = await api.task(project.id);
      const { attempt } = await claimed(done.id);
      await api.call('POST', `/tasks/${done.id}/complete`, { attempt: attempt.number }, 200);
      const dependent = await api.task(project.id, { depends_on: [done.id], ...fields });
      expect(dependent.status).toBe('run_at' in fields ? 'scheduled' : 'queued');
      expect(expectProblem(await api.call('DELETE', `/tasks/${done.id}`), 409).detail).toMatch(
        /depends on it/,
      );
      await api.call('DELETE', `/tasks/${dependent.id}`, undefined, 204);
      await api.call('DELETE', `/tasks/${done.id}`, undefined, 204);
    }
  });
});

describe('claims', () => {
  it('takes the highest priority first, then the oldest', async () => {
    const low = await api.task(project.id, { priority: 1 });
    const high = await api.task(project.id, { priority: 9 });
    const lowToo = await api.task(project.id, { priority: 1 });
    const order = [];
    for (let i = 0; i < 3; i += 1) order.push((await claimed()).task.id);
    expect(order).toEqual([high.id, low.id, lowToo.id]);
    expect((await api.claim(agent.id)).statusCode).toBe(204);
  });

  it("matches the agent's capabilities, type and id", async () => {
    await api.task(project.id, { required_capabilities: ['gpu'] });
    await api.task(project.id, { agent_type: 'tester' });
    const other = await api.agent(project.id);
    await api.task(project.id, { agent_id: other.id });
    expect((await api.claim(agent.id)).statusCode).toBe(204);
    const fits = await api.task(project.id, {
      required_capabilities: ['sql'],
      agent_type: 'coder',
    });
    await claimed(fits.id);
  });

  it("takes only tasks of the agent's own project", async () => {
    const other = await api.project('Beta');
    await api.task(other.id);
    expect((await api.claim(agent.id)).statusCode).toBe(204);
  });

  it('opens attempt 1 with a lease, marks the agent busy, and runs it to success', async () => {
    const task = await api.task(project.id, { lease_ms: 10_000 });
    const claim = await claimed(task.id);
    expect(claim.attempt.number).toBe(1);
    expect(claim.task).toMatchObject({ status: 'running', attempts: 1 });
    expect((await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json().status).toBe(
      'busy',
    );
    const done = await api.complete(task.id, {
      attempt: 1,
      result: { files: 3 },
      output: 'all green',
    });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toMatchObject({ status: 'succeeded', result: { files: 3 } });
    expect(done.json().finished_at).not.toBeNull();
    const [attempt] = await api.attempts(task.id);
    expect(attempt).toMatchObject({ number: 1, outcome: 'succeeded', output: 'all green' });
    expect(attempt.duration_ms).toBeGreaterThanOrEqual(0);
    expect((await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json().status).toBe(
      'idle',
    );
    expect(await auditActions(task.id)).toEqual(['create', 'claim', 'complete']);
  });

  it("leases an attempt for lease_ms, never past its timeout's deadline", async () => {
    for (const [fields, held] of [
      [{ lease_ms: 10_000 }, 10_000],
      [{ lease_ms: 30_000, timeout_ms: 1_000 }, 1_000],
    ] as const) {
      const task = await api.task(project.id, fields);
      const claim = await claimed(task.id);
      const [attempt] = await api.attempts(task.id);
      expect(claim.attempt).toMatchObject({ lease_expires_at: attempt.lease_expires_at });
      expect(Date.parse(attempt.lease_expires_at) - Date.parse(attempt.claimed_at)).toBe(held);
    }
  });

  it('answers 404 for an agent that does not exist, 422 for a wait past 30 s', async () => {
    expect(expectProblem(await api.claim(missing), 404).detail).toBe(`Agent ${missing} not found`);
    expect(errorPaths(await api.claim(agent.id, 30_001))).toEqual(['/wait_ms']);
  });

  it('waits for work and is woken by a new task at once', async () => {
    const waiting = api.claim(agent.id, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const task = await api.task(project.id);
    const response = await waiting;
    expect(response.statusCode).toBe(200);
    expect(response.json().task.id).toBe(task.id);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('answers 204 when nothing came within wait_ms', async () => {
    const started = Date.now();
    expect((await api.claim(agent.id, 300)).statusCode).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('claims for an agent without a project in every project the key sees', async () => {
    const free = await api.agent(null);
    const other = await api.project('Beta');
    const task = await api.task(other.id);
    const response = await api.claim(free.id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().task).toMatchObject({ id: task.id, status: 'running' });
  });

  it('keeps an agent busy until the last of its attempts ends', async () => {
    const [one, two] = [await api.task(project.id), await api.task(project.id)];
    const first = await claimed(one.id);
    await claimed(two.id);
    const status = async () =>
      (await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json();
    expect((await api.complete(one.id, { attempt: first.attempt.number })).statusCode).toBe(200);
    expect((await status()).status).toBe('busy');
    expect((await api.complete(two.id, { attempt: 1 })).statusCode).toBe(200);
    expect((await status()).status).toBe('idle');
    const events = await readWholeLog(t.request, `topic=agent:${agent.id}`);
    const statuses = events
      .filter((event) => event.type === 'AGENT_STATUS')
      .map((event) => (event.data.agent as { status: string }).status);
    expect(statuses).toEqual(['busy', 'idle']);
  });
});

describe('heartbeats, results and failures of an attempt', () => {
  it('extends the lease and reports progress', async () => {
    const task = await api.task(project.id, { lease_ms: 5_000 });
    const { attempt } = await claimed(task.id);
    const first = await api.heartbeat(task.id, { attempt: attempt.number, message: 'starting' });
    expect(first.statusCode, first.body).toBe(200);
    expect((await api.get(task.id)).progress).toEqual({ value: 0, message: 'starting' });
    const [event] = (await readWholeLog(t.request, `topic=task:${task.id}`)).filter(
      (logged) => (logged.data as { phase?: string }).phase === 'progress',
    );
    expect(event?.data).toMatchObject({
      task: { progress: { value: 0, message: 'starting' } },
      attempt: { number: attempt.number, agent_id: agent.id },
    });
    const beat = await api.heartbeat(task.id, {
      attempt: attempt.number,
      progress: 0.4,
      message: 'halfway',
    });
    expect(beat.statusCode, beat.body).toBe(200);
    expect(beat.json().cancel_requested).toBe(false);
    expect(Date.parse(beat.json().lease_expires_at)).toBeGreaterThan(Date.now() + 3_000);
    expect((await api.get(task.id)).progress).toEqual({ value: 0.4, message: 'halfway' });
    expect((await api.heartbeat(task.id, { attempt: attempt.number })).statusCode).toBe(200);
    expect((await api.get(task.id)).progress).toEqual({ value: 0.4, message: 'halfway' });
  });

  it('coalesces a flood of progress reports into at most one event per 500 ms', async () => {
    const task = await api.task(project.id);
    const { attempt } = await claimed(task.id);
    const started = Date.now();
    for (let i = 1; i <= 20; i += 1)
      await api.heartbeat(task.id, { attempt: attempt.number, progress: i / 20 });
    const elapsed = Date.now() - started;
    const events = await t.request({ method: 'GET', url: `/api/v1/events?topic=task:${task.id}` });
    const progress = events
      .json()
      .items.filter((event: { data: { phase?: string } }) => event.data.phase === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(Math.floor(elapsed / 500) + 1);
    expect((await api.get(task.id)).progress.value).toBe(1);
  });

  it('says cancel_requested once the task was cancelled, and refuses its result', async () => {
    const task = await api.task(project.id);
    const { attempt } = await claimed(task.id);
    const cancelled = await api.call('POST', `/tasks/${task.id}/cancel`, undefined, 200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', cancel_reason: 'cancelled' });
    const beat = await api.heartbeat(task.id, { attempt: attempt.number });
    expect(beat.statusCode).toBe(200);
    expect(beat.json().cancel_requested).toBe(true);
    expectProblem(await api.heartbeat(task.id, { attempt: attempt.number + 1 }), 409);
    expectProblem(await api.complete(task.id, { attempt: attempt.number }), 409);
    const [ended] = await api.attempts(task.id);
    expect(ended.outcome).toBe('cancelled');
    const step = (await readWholeLog(t.request, `topic=agent:${agent.id}`)).find(
      (event) => (event.data as { phase?: string }).phase === 'cancelled',
    );
    expect(step?.data).toMatchObject({
      attempt: { number: attempt.number, agent_id: agent.id, outcome: 'cancelled' },
    });
  });

  it('tells only the cancelled attempt of a cancelled task that it was cancelled', async () => {
    const task = await api.task(project.id, { backoff: { base_ms: 0, max_ms: 0 } });
    const first = await claimed(task.id);
    await api.fail(task.id, { attempt: first.attempt.number, error: 'flaky' });
    const second = await claimed(task.id);
    await api.call('POST', `/tasks/${task.id}/cancel`, undefined, 200);
    expectProblem(await api.heartbeat(task.id, { attempt: first.attempt.number }), 409);
    const beat = await api.heartbeat(task.id, { attempt: second.attempt.number });
    expect(beat.json()).toMatchObject({ cancel_requested: true });
    // Retried, the task is no longer cancelled: its cancelled attempt holds nothing.
    await api.call('POST', `/tasks/${task.id}/retry`, undefined, 200);
    expectProblem(await api.heartbeat(task.id, { attempt: second.attempt.number }), 409);
  });

  it('refuses with 409 a call naming an attempt that does not hold the task', async () => {
    const task = await api.task(project.id);
    await claimed(task.id);
    for (const call of [api.heartbeat, api.complete]) {
      const response = await call(task.id, { attempt: 2 });
      expectProblem(response, 409);
    }
    expect(expectProblem(await api.fail(task.id, { attempt: 7, error: 'x' }), 409).detail).toBe(
      `Attempt 7 does not hold task ${task.id}: the task is running at attempt 1`,
    );
    expect((await api.get(task.id)).status).toBe('running');
  });

  it('refuses the result of an attempt another one replaced, and changes nothing', async () => {
    const task = await api.task(project.id, { backoff: { base_ms: 0, max_ms: 0 } });
    const first = await claimed(task.id);
    await api.fail(task.id, { attempt: first.attempt.number, error: 'flaky' });
    const second = await claimed(task.id);
    const before = await readWholeLog(t.request);
    const [audit, state] = [await auditActions(task.id), await api.get(task.id)];
    expectProblem(await api.complete(task.id, { attempt: first.attempt.number }), 409);
    expect(await readWholeLog(t.request)).toEqual(before);
    expect(await auditActions(task.id)).toEqual(audit);
    expect(await api.get(task.id)).toEqual(state);
    expect((await api.attempts(task.id)).map((a: { outcome: string }) => a.outcome)).toEqual([
      'failed',
      null,
    ]);
    const done = await api.complete(task.id, { attempt: second.attempt.number });
    expect(done.json()).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('retries a failed attempt after its backoff, then dead-letters it', async () => {
    const task = await api.task(project.id, {
      max_attempts: 2,
      backoff: { base_ms: 0, max_ms: 0 },
    });
    const first = await claimed(task.id);
    const failed = await api.fail(task.id, { attempt: first.attempt.number, error: 'flaky' });
    expect(failed.json()).toMatchObject({ status: 'queued', error: 'flaky' });
    const second = await claimed(task.id);
    expect(second.attempt.number).toBe(2);
    const dead = await api.fail(task.id, { attempt: 2, error: 'still flaky' });
    expect(dead.json()).toMatchObject({ status: 'failed', error: 'still flaky', attempts: 2 });
    const phases = (await t.request({ method: 'GET', url: `/api/v1/events?topic=task:${task.id}` }))
      .json()
      .items.filter((event: { type: string }) => event.type === 'TASK_EXECUTION')
      .map((event: { data: { phase: string } }) => event.data.phase);
    expect(phases).toEqual(['claimed', 'failed', 'retry_scheduled', 'claimed', 'failed']);
    expect(await auditActions(task.id)).toEqual(['create', 'claim', 'fail', 'claim', 'fail']);
    // A retry gives it max_attempts afresh: its next failure is retried again.
    await api.call('POST', `/tasks/${task.id}/retry`, undefined, 200);
    const third = await claimed(task.id);
    const again = await api.fail(task.id, { attempt: third.attempt.number, error: 'flaky' });
    expect(again.json()).toMatchObject({ status: 'queued', attempts: 3 });
  });

  it('schedules the retry after a backoff, and fails at once when not retryable', async () => {
    const task = await api.task(project.id, { backoff: { base_ms: 60_000, max_ms: 60_000 } });
    const { attempt } = await claimed(task.id);
    const retried = await api.fail(task.id, { attempt: attempt.number, error: 'later' });
    expect(retried.json().status).toBe('scheduled');
    expect(Date.parse(retried.json().run_at)).toBeGreaterThan(Date.now() + 25_000);
    const other = await api.task(project.id);
    const claim = await claimed(other.id);
    const final = await api.fail(other.id, {
      attempt: claim.attempt.number,
      error: 'bad input',
      retryable: false,
    });
    expect(final.json().status).toBe('failed');
  });

  it('records a fail past timeout_ms as timed_out, retried as any timeout is', async () => {
    const backoff = { base_ms: 60_000, max_ms: 60_000 };
    const retried = await api.task(project.id, { timeout_ms: 100, backoff, priority: 2 });
    const final = await api.task(project.id, { timeout_ms: 100, priority: 1 });
    const [first, second] = [await claimed(retried.id), await claimed(final.id)];
    await new Promise((resolve) => setTimeout(resolve, 150));
    const report = { error: 'killed at its timeout', output: 'half a log' };
    const late = await api.fail(retried.id, { attempt: first.attempt.number, ...report });
    expect(late.json()).toMatchObject({ status: 'scheduled', error: 'killed at its timeout' });
    const body = { attempt: second.attempt.number, ...report, retryable: false };
    expect((await api.fail(final.id, body)).json().status).toBe('failed');
    for (const id of [retried.id, final.id])
      expect(await api.attempts(id)).toMatchObject([{ outcome: 'timed_out', ...report }]);
    expect(await executionPhases(retried.id)).toEqual(['claimed', 'timed_out', 'retry_scheduled']);
    expect(await executionPhases(final.id)).toEqual(['claimed', 'timed_out']);
    expect(await auditActions(retried.id)).toEqual(['create', 'claim', 'fail']);
    const stats = (await t.request({ method: 'GET', url: '/api/v1/stats' })).json();
    expect(stats.runs_last_hour.by_outcome).toMatchObject({ failed: 0, timed_out: 2 });
  });

  it('keeps a string input and result that read as other JSON, such as "0" or "true"', async () => {
    const task = await api.task(project.id, { input: '0' });
    expect((await api.get(task.id)).input).toBe('0');
    const { attempt } = await claimed(task.id);
    const done = await api.complete(task.id, { attempt: attempt.number, result: 'true' });
    expect(done.json().result).toBe('true');
    expect(await api.get(task.id)).toMatchObject({ input: '0', result: 'true' });
  });

  it('refuses an output over 512 KiB with 413 and changes nothing; takes 512 KiB', async () => {
    const task = await api.task(project.id);
    const { attempt } = await claimed(task.id);
    const response = await api.complete(task.id, {
      attempt: attempt.number,
      output: 'x'.repeat(600 * 1024),
    });
    expect(expectProblem(response, 413).detail).toBe(
      'output must be at most 524288 bytes of UTF-8',
    );
    expect((await api.get(task.id)).status).toBe('running');
    const full = await api.complete(task.id, {
      attempt: attempt.number,
      output: 'x'.repeat(512 * 1024),
    });
    expect(full.statusCode, full.body).toBe(200);
    const gone = await api.complete(missing, { attempt: 1 });
    expect(expectProblem(gone, 404).detail).toBe(`Task ${missing} not found`);
  });
});

describe('dependencies, cancel and retry', () => {
  it('releases a dependent once all its dependencies succeeded', async () => {
    const a = await api.task(project.id);
    const b = await api.task(project.id);
    const c = await api.task(project.id, { depends_on: [a.id, b.id] });
    const updates = async () =>
      (await readWholeLog(t.request, `topic=task:${c.id}`)).filter(
        (event) => event.type === 'TASK_UPDATE',
      );
    for (const id of [a.id, b.id]) {
      const claim = await claimed(id);
      const completion = { attempt: claim.attempt.number, result: { id }, output: 'built' };
      const done = await api.complete(id, completion);
      expect(done.json()).toMatchObject({ status: 'succeeded', result: { id } });
      if (id === a.id) expect((await api.get(c.id)).status).toBe('blocked');
      if (id === a.id) expect(await updates()).toEqual([]);
      // A dependent waiting makes it the transactional completion: the same record of it.
      expect(await api.attempts(id)).toMatchObject([{ outcome: 'succeeded', output: 'built' }]);
      expect(await auditActions(id)).toEqual(['create', 'claim', 'complete']);
    }
    expect((await api.get(c.id)).status).toBe('queued');
    expect((await updates()).map((event) => event.data)).toMatchObject([
      { task: { status: 'queued' }, changed_fields: ['status'] },
    ]);
    expect(await auditActions(c.id)).toEqual(['create', 'status']);
    const succeeded = (await readWholeLog(t.request, `topic=agent:${agent.id}`)).filter(
      (event) => (event.data as { phase?: string }).phase === 'succeeded',
    );
    expect(succeeded.map((event) => (event.data as { task: { id: string } }).task.id)).toEqual([
      a.id,
      b.id,
    ]);
  });

  it('cancels every dependent, transitively, when a dependency fails for good', async () => {
    const a = await api.task(project.id, { max_attempts: 1 });
    const b = await api.task(project.id, { depends_on: [a.id] });
    const c = await api.task(project.id, { depends_on: [b.id] });
    const claim = await claimed(a.id);
    await api.fail(a.id, { attempt: claim.attempt.number, error: 'boom' });
    for (const id of [b.id, c.id])
      expect(await api.get(id)).toMatchObject({
        status: 'cancelled',
        cancel_reason: 'dependency_failed',
      });
  });

  it('retries a failed task from its dependents up: the dependency first', async () => {
    const a = await api.task(project.id, { max_attempts: 1 });
    const b = await api.task(project.id, { depends_on: [a.id] });
    const claim = await claimed(a.id);
    await api.fail(a.id, { attempt: claim.attempt.number, error: 'boom' });
    expect(expectProblem(await api.call('POST', `/tasks/${b.id}/retry`), 409).detail).toBe(
      `Task ${a.id} is failed; retry it first`,
    );
    const retried = await api.call('POST', `/tasks/${a.id}/retry`, undefined, 200);
    expect(retried.json()).toMatchObject({ status: 'queued', error: null, attempts: 1 });
    expect((await api.call('POST', `/tasks/${b.id}/retry`, undefined, 200)).json().status).toBe(
      'blocked',
    );
    const again = await claimed(a.id);
    expect(again.attempt.number).toBe(2);
    await api.complete(a.id, { attempt: 2 });
    expect((await api.get(b.id)).status).toBe('queued');
  });

  it('audits each cancellation a cancel or a final failure cascades to, as a cancel', async () => {
    const chain = async () => {
      const a = await api.task(project.id, { max_attempts: 1 });
      const b = await api.task(project.id, { depends_on: [a.id] });
      const c = await api.task(project.id, { depends_on: [b.id] });
      return [a, b, c].map((task) => task.id) as [string, string, string];
    };
    const [a, b, c] = await chain();
    await api.call('POST', `/tasks/${a}/cancel`, undefined, 200);
    for (const id of [a, b, c]) expect(await auditActions(id)).toEqual(['create', 'cancel']);
    const [d, e, f] = await chain();
    const claim = await claimed(d);
    await api.fail(d, { attempt: claim.attempt.number, error: 'boom', retryable: false });
    expect(await auditActions(d)).toEqual(['create', 'claim', 'fail']);
    for (const id of [e, f]) expect(await auditActions(id)).toEqual(['create', 'cancel']);
  });

  it('audits the cancellations of the sweeper and of the settling of races, by the service', async () => {
    const a = await api.task(project.id, { max_attempts: 1, lease_ms: 100 });
    const b = await api.task(project.id, { depends_on: [a.id] });
    await claimed(a.id);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await t.app.services.taskExecution.expireLeases()).toBe(1);
    expect((await api.get(b.id)).status).toBe('cancelled');
    expect(await auditActions(a.id)).toEqual(['create', 'claim', 'lost']);
    expect(await auditActions(b.id)).toEqual(['create', 'cancel']);
    // A dependency that failed while its dependent was being created: the loop cancels it.
    const c = await api.task(project.id);
    const d = await api.task(project.id, { depends_on: [c.id] });
    await t.database.db.execute(sql`update tasks set status = 'failed' where id = ${c.id}`);
    expect(await t.app.services.taskExecution.settleRaces()).toBe(1);
    expect(await api.get(d.id)).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'dependency_failed',
    });
    expect(await auditActions(d.id)).toEqual(['create', 'cancel']);
  });

  it('retries a task whose finished dependency was deleted, without that dependency', async () => {
    const a = await api.task(project.id);
    const kept = await api.task(project.id);
    const b = await api.task(project.id, { depends_on: [a.id, kept.id] });
    await api.call('POST', `/tasks/${b.id}/cancel`, undefined, 200);
    await api.call('POST', `/tasks/${a.id}/cancel`, undefined, 200);
    await api.call('DELETE', `/tasks/${a.id}`, undefined, 204);
    const retried = await api.call('POST', `/tasks/${b.id}/retry`, undefined, 200);
    expect(retried.json()).toMatchObject({ status: 'blocked', depends_on: [kept.id] });
    const update = (await readWholeLog(t.request, `topic=task:${b.id}`)).at(-1)!;
    expect(update).toMatchObject({ type: 'TASK_UPDATE' });
    expect(update.data).toMatchObject({ changed_fields: ['status', 'depends_on'] });
    const records = await api.call(
      'GET',
      `/audit?resource_id=${b.id}&action=retry`,
      undefined,
      200,
    );
    expect(records.json().items[0].changed_fields).toEqual(['status', 'depends_on']);
    // Now it changes like any waiting task, and runs once what it still waits for succeeded.
    await api.call('PATCH', `/tasks/${b.id}`, { title: 'Again' }, 200);
    await api.complete(kept.id, { attempt: (await claimed(kept.id)).attempt.number });
    expect(await api.get(b.id)).toMatchObject({ status: 'queued', title: 'Again' });
    // With no dependency left it is queued at once.
    const c = await api.task(project.id);
    const d = await api.task(project.id, { depends_on: [c.id] });
    await api.call('POST', `/tasks/${c.id}/cancel`, undefined, 200);
    await api.call('DELETE', `/tasks/${c.id}`, undefined, 204);
    const alone = await api.call('POST', `/tasks/${d.id}/retry`, undefined, 200);
    expect(alone.json()).toMatchObject({ status: 'queued', depends_on: [] });
  });

  it("audits every change of a task, and its agent's status changes, with their fields", async () => {
    const task = await api.task(project.id);
    await api.call('PATCH', `/tasks/${task.id}`, { title: 'Renamed' }, 200);
    const { attempt } = await claimed(task.id);
    const audit = async (resource: string, id: string) =>
      (await api.call('GET', `/audit?resource=${resource}&resource_id=${id}`, undefined, 200))
        .json()
        .items.reverse()
        .map((entry: { action: string; resource: string; changed_fields: string[] | null }) => [
          entry.action,
          entry.resource,
          entry.changed_fields,
        ]);
    const agentRecords = async () => (await audit('agent', agent.id)).length;
    // The agent says it is idle while it holds the attempt: its heartbeat makes it busy again.
    await api.call('PATCH', `/agents/${agent.id}`, { status: 'idle' }, 200);
    const saidIdle = await agentRecords();
    const beat = await api.heartbeat(task.id, { attempt: attempt.number });
    expect(beat.statusCode, beat.body).toBe(200);
    expect((await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json().status).toBe(
      'busy',
    );
    expect(await agentRecords()).toBe(saidIdle + 1);
    // A heartbeat of an agent that is busy already changes nothing of it: no event, no record.
    await api.heartbeat(task.id, { attempt: attempt.number });
    expect(await agentRecords()).toBe(saidIdle + 1);
    await api.call('POST', `/tasks/${task.id}/cancel`, undefined, 200);
    await api.call('POST', `/tasks/${task.id}/retry`, undefined, 200);
    await api.call('DELETE', `/tasks/${task.id}`, undefined, 204);
    expect(await audit('task', task.id)).toEqual([
      ['create', 'task', null],
      ['update', 'task', ['title']],
      ['claim', 'task', null],
      ['cancel', 'task', null],
      ['retry', 'task', null],
      ['delete', 'task', null],
    ]);
    // Claimed (busy), said idle, busy again by the first heartbeat, idle when cancelled.
    expect((await audit('agent', agent.id)).slice(-5)).toEqual([
      ['create', 'agent', null],
      ...Array.from({ length: 4 }, () => ['status', 'agent', ['status']]),
    ]);
    const statuses = (await readWholeLog(t.request, `topic=project:${project.id}`))
      .filter((event) => event.type === 'AGENT_STATUS')
      .map((event) => (event.data as { agent: { status: string } }).agent.status);
    expect(statuses.slice(-4)).toEqual(['busy', 'idle', 'busy', 'idle']);
    const retried = (await readWholeLog(t.request, `topic=task:${task.id}`)).filter(
      (event) => event.type === 'TASK_UPDATE',
    );
    expect(retried.at(-1)!.data).toMatchObject({ changed_fields: ['status'] });
  });

  it('refuses to cancel a finished task and to retry a queued one', async () => {
    const task = await api.task(project.id);
    expect(expectProblem(await api.call('POST', `/tasks/${task.id}/retry`), 409).detail).toBe(
      `Task ${task.id} is queued; only a failed or cancelled task is retried`,
    );
    const claim = await claimed(task.id);
    await api.complete(task.id, { attempt: claim.attempt.number });
    expect(expectProblem(await api.call('POST', `/tasks/${task.id}/cancel`), 409).detail).toBe(
      `Task ${task.id} is already succeeded`,
    );
  });
});

describe('one answer, one shape: the claim, the completion, their GETs and events agree', () => {
  // The claim and the completion build their answers and events in SQL
  // (src/store/task-statements.ts), reads map rows in TypeScript: any task must come out the same
  // through both.
  const definition = fc.record(
    {
      title: fc.string({ minLength: 1, maxLength: 30 }).filter((title) => title.trim() !== ''),
      kind: fc.string({ maxLength: 10 }),
      input: storableJson,
      required_capabilities: fc.subarray(['ts', 'sql']),
      agent_type: fc.constantFrom(null, 'coder'),
      priority: fc.integer({ min: -1_000_000, max: 1_000_000 }),
      max_attempts: fc.integer({ min: 1, max: 100 }),
      backoff: fc.record({
        base_ms: fc.nat(1_000),
        max_ms: fc.integer({ min: 1_000, max: 9_999 }),
      }),
      timeout_ms: fc.option(fc.integer({ min: 100, max: 604_800_000 })),
      lease_ms: fc.integer({ min: 100, max: 3_600_000 }),
    },
    { requiredKeys: ['title'] },
  );
  const run = fc.record({
    definition,
    pinned: fc.boolean(),
    dependent: fc.boolean(),
    progress: fc.option(fc.record({ progress: fc.double({ min: 0, max: 1, noNaN: true }) })),
    result: fc.option(storableJson),
  });

  const eventData = async (topic: string, type: string) =>
    (await readWholeLog(t.request, `topic=${topic}`))
      .filter((event) => event.type === type)
      .map((event) => event.data);
  const agentNow = async () =>
    (await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json();

  /** A task that succeeded already, for `depends_on` to name. */
  async function succeededTask() {
    const done = await api.task(project.id);
    const claim = await claimed(done.id);
    await api.complete(done.id, { attempt: claim.attempt.number });
    return done.id;
  }

  it('for any task, claimed then completed', async () => {
    await fc.assert(
      fc.asyncProperty(run, async ({ definition, pinned, dependent, progress, result }) => {
        const dependsOn = dependent ? [await succeededTask()] : [];
        const fields = { ...definition, agent_id: pinned ? agent.id : null, depends_on: dependsOn };
        const task = await api.task(project.id, fields);
        const claim = await claimed(task.id);
        expect(claim.task).toEqual(await api.get(task.id));
        const [attempt] = (await api.attempts(task.id)).slice(-1);
        expect(claim.attempt).toEqual({
          number: attempt.number,
          lease_expires_at: attempt.lease_expires_at,
        });
        const [claimedStep] = await eventData(`task:${task.id}`, 'TASK_EXECUTION');
        expect(claimedStep).toEqual({
          task: claim.task,
          attempt: { number: 1, agent_id: agent.id },
          phase: 'claimed',
        });
        expect((await eventData(`agent:${agent.id}`, 'AGENT_STATUS')).at(-1)).toEqual({
          agent: await agentNow(),
          changed_fields: ['status'],
        });
        if (progress !== null) await api.heartbeat(task.id, { attempt: 1, ...progress });
        const done = await api.complete(task.id, {
          attempt: 1,
          ...(result === null ? {} : { result }),
        });
        expect(done.statusCode, done.body).toBe(200);
        expect(done.json()).toEqual(await api.get(task.id));
        expect((await eventData(`task:${task.id}`, 'TASK_EXECUTION')).at(-1)).toEqual({
          task: done.json(),
          attempt: { number: 1, agent_id: agent.id, outcome: 'succeeded' },
          phase: 'succeeded',
        });
        expect((await eventData(`agent:${agent.id}`, 'AGENT_STATUS')).at(-1)).toEqual({
          agent: await agentNow(),
          changed_fields: ['status'],
        });
      }),
      { numRuns: byDepth(15, 150) },
    );
  });
});

/** Requests to `/api/v1<url>` through `app` under the key in `headers`. */
const requestsAs =
  (app: TestApp) =>
  (headers: Record<string, string>) =>
  (method: string, url: string, payload?: object) =>
    app.request({ method, url: `/api/v1${url}`, payload, headers });

describe('scopes and roles', () => {
  it('answers a pin outside what a scoped key sees as for no agent; cascades audit its key', async () => {
    const keyed = await createTestApp({ AUTH: 'on', TASK_SWEEP_MS: '60000' });
    try {
      const admin = await keyHeader(keyed.app, { role: 'admin' });
      const as = requestsAs(keyed);
      const asAdmin = as(admin);
      const id = async (url: string, payload: object) =>
        (await asAdmin('POST', url, payload)).json().id as string;
      const mine = await id('/projects', { name: 'A' });
      const theirs = await id('/projects', { name: 'B' });
      const agent = (name: string, projectId: string | null) =>
        id('/agents', { name, agent_type: 'coder', project_id: projectId });
      const [own, their, free] = [
        await agent('own', mine),
        await agent('their', theirs),
        await agent('free', null),
      ];
      const scoped = as(await keyHeader(keyed.app, { role: 'writer', project_ids: [mine] }));
      const pin = (agentId: string) =>
        scoped('POST', '/tasks', { project_id: mine, title: 'p', agent_id: agentId });
      const none = problemShape(await pin(missing));
      expect(none).toMatchObject({ status: 422, detail: 'names no agent' });
      for (const hidden of [their, free]) expect(problemShape(await pin(hidden))).toEqual(none);
      const task = (await pin(own)).json();
      expect(task.agent_id).toBe(own);
      const repin = (agentId: string) =>
        scoped('PATCH', `/tasks/${task.id}`, { agent_id: agentId });
      const noneOnPatch = problemShape(await repin(missing));
      for (const hidden of [their, free])
        expect(problemShape(await repin(hidden))).toEqual(noneOnPatch);
      // A key of every project may pin the agent without a project: it claims anywhere.
      const freeTask = await asAdmin('POST', '/tasks', {
        project_id: mine,
        title: 'f',
        agent_id: free,
      });
      expect(freeTask.statusCode, freeTask.body).toBe(201);
      // The dependent a scoped key's cancel cascades to is audited with that key.
      const x = (await scoped('POST', '/tasks', { project_id: mine, title: 'x' })).json();
      const y = (
        await scoped('POST', '/tasks', { project_id: mine, title: 'y', depends_on: [x.id] })
      ).json();
      expect((await scoped('POST', `/tasks/${x.id}/cancel`)).statusCode).toBe(200);
      const cancelKey = async (taskId: string) => {
        const url = `/audit?resource_id=${taskId}&action=cancel`;
        const [record] = (await asAdmin('GET', url)).json().items;
        return record.key_id as string;
      };
      expect(await cancelKey(x.id)).toEqual(expect.any(String));
      expect(await cancelKey(y.id)).toBe(await cancelKey(x.id));
    } finally {
      await keyed.close();
    }
  });

  it("hides another project's tasks from a scoped key, and refuses a reader's writes", async () => {
    const keyed = await createTestApp({ AUTH: 'on', TASK_SWEEP_MS: '60000' });
    try {
      const admin = await keyHeader(keyed.app, { role: 'admin' });
      const as = requestsAs(keyed);
      const asAdmin = as(admin);
      const mine = (await asAdmin('POST', '/projects', { name: 'A' })).json();
      const theirs = (await asAdmin('POST', '/projects', { name: 'B' })).json();
      const scoped = as(await keyHeader(keyed.app, { role: 'writer', project_ids: [mine.id] }));
      const reader = as(await keyHeader(keyed.app, { role: 'reader' }));
      const foreign = (
        await asAdmin('POST', '/tasks', { project_id: theirs.id, title: 's' })
      ).json();
      expectProblem(await scoped('GET', `/tasks/${foreign.id}`), 404);
      expectProblem(await scoped('POST', `/tasks/${foreign.id}/cancel`), 404);
      expect((await scoped('GET', '/tasks')).json().total).toBe(0);
      const sneaky = await scoped('POST', '/tasks', { project_id: theirs.id, title: 'x' });
      expect(errorPaths(sneaky)).toEqual(['/project_id']);
      const outsider = (
        await asAdmin('POST', '/agents', { name: 'o', agent_type: 'coder' })
      ).json();
      expectProblem(await scoped('POST', '/tasks/claim', { agent_id: outsider.id }), 404);
      const worker = (
        await scoped('POST', '/agents', { name: 'w', agent_type: 'coder', project_id: mine.id })
      ).json();
      expect((await scoped('POST', '/tasks/claim', { agent_id: worker.id })).statusCode).toBe(204);
      const theirAgent = (
        await asAdmin('POST', '/agents', { name: 't', agent_type: 'coder', project_id: theirs.id })
      ).json();
      const held = (await asAdmin('POST', '/tasks/claim', { agent_id: theirAgent.id })).json();
      const path = `/tasks/${foreign.id}/complete`;
      expectProblem(await scoped('POST', path, { attempt: held.attempt.number }), 404);
      expect((await asAdmin('GET', `/tasks/${foreign.id}`)).json()).toEqual(held.task);
      const own = (await scoped('POST', '/tasks', { project_id: mine.id, title: 'o' })).json();
      const listed = (await scoped('GET', '/tasks')).json();
      expect(listed.items.map((task: { id: string }) => task.id)).toEqual([own.id]);
      expect((await reader('GET', '/tasks')).statusCode).toBe(200);
      expectProblem(await reader('POST', '/tasks/claim', { agent_id: worker.id }), 403);
      expectProblem(await reader('POST', '/tasks', { project_id: mine.id, title: 'x' }), 403);
    } finally {
      await keyed.close();
    }
  });
});
