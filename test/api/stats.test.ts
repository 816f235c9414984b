import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';

/** `GET /api/v1/stats` and `GET /api/v1/keys/self`, the two reads the dashboard starts from. */
let t: TestApp;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  admin = await keyHeader(t.app, { role: 'admin' });
});

async function post(url: string, payload: object, headers = admin) {
  const response = await t.request({ method: 'POST', url, payload, headers });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

const stats = (headers: Record<string, string>) =>
  t.request({ url: '/api/v1/stats', headers }).then((response) => {
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  });

describe('GET /api/v1/stats', () => {
  it('counts projects and agents by status, every status present, and memory', async () => {
    const alpha = (await post('/api/v1/projects', { name: 'Alpha' })).id;
    await post('/api/v1/projects', { name: 'Beta', status: 'archived' });
    for (const [name, status] of [
      ['a', 'busy'],
      ['b', 'busy'],
      ['c', 'offline'],
    ])
      await post('/api/v1/agents', { name, agent_type: 'coder', status, project_id: alpha });
    await post('/api/v1/agents', { name: 'loose', agent_type: 'tester' });
    await post('/api/v1/memory', { key: 'k1', content: 'one', project_id: alpha });
    await post('/api/v1/memory', { key: 'k2', content: 'two' });
    for (const title of ['one', 'two', 'three'])
      await post('/api/v1/tasks', { project_id: alpha, title });
    await post('/api/v1/tasks', {
      project_id: alpha,
      title: 'later',
      run_at: '2099-01-01T00:00:00Z',
    });

    const body = await stats(admin);
    expect(body).toEqual({
      generated_at: expect.any(String),
      projects: { total: 2, by_status: { active: 1, completed: 0, archived: 1 } },
      agents: { total: 4, by_status: { active: 0, idle: 1, busy: 2, offline: 1, error: 0 } },
      tasks: {
        total: 4,
        by_status: {
          blocked: 0,
          scheduled: 1,
          queued: 3,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        },
      },
      runs_last_hour: {
        finished: 0,
        by_outcome: { succeeded: 0, failed: 0, timed_out: 0, lost: 0, cancelled: 0 },
        success_rate: null,
      },
      // No MCP server in these tests (MEMORY_MCP=off): both writes wait in the replay queue.
      memory: { entries: 2, queued_writes: 2, circuit: 'CLOSED', fallback_count: 2 },
    });
    expect(Date.parse(body.generated_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('counts only the projects of a key limited to projects', async () => {
    const mine = (await post('/api/v1/projects', { name: 'Mine' })).id;
    const other = (await post('/api/v1/projects', { name: 'Other', status: 'completed' })).id;
    await post('/api/v1/agents', { name: 'm', agent_type: 'coder', project_id: mine });
    await post('/api/v1/agents', { name: 'o', agent_type: 'coder', project_id: other });
    await post('/api/v1/agents', { name: 'none', agent_type: 'coder' });
    await post('/api/v1/memory', { key: 'k', content: 'x', project_id: other });
    const scoped = await keyHeader(t.app, { role: 'reader', project_ids: [mine] });

    const body = await stats(scoped);
    expect(body.projects).toEqual({
      total: 1,
      by_status: { active: 1, completed: 0, archived: 0 },
    });
    expect(body.agents.total).toBe(1);
    expect(body.agents.by_status.idle).toBe(1);
    expect(body.memory.entries).toBe(0);
    expect((await stats(admin)).agents.total).toBe(3);
    const both = await keyHeader(t.app, { role: 'reader', project_ids: [mine, other] });
    expect((await stats(both)).projects).toEqual({
      total: 2,
      by_status: { active: 1, completed: 1, archived: 0 },
    });
  });

  it('needs a key', async () => {
    expectProblem(await t.request({ url: '/api/v1/stats' }), 401);
  });
});

/** An agent of `project` that claims the next task and ends its attempt as `end` says. */
async function work(agentId: string, end: 'complete' | 'fail' | 'hold') {
  const claim = await t.request({
    method: 'POST',
    url: '/api/v1/tasks/claim',
    payload: { agent_id: agentId },
    headers: admin,
  });
  expect(claim.statusCode, claim.body).toBe(200);
  const { task, attempt } = claim.json();
  if (end === 'hold') return task;
  const payload =
    end === 'complete'
      ? { attempt: attempt.number }
      : { attempt: attempt.number, error: 'no', retryable: false };
  const ended = await t.request({
    method: 'POST',
    url: `/api/v1/tasks/${task.id}/${end}`,
    payload,
    headers: admin,
  });
  expect(ended.statusCode, ended.body).toBe(200);
  return task;
}

describe('runs and agent figures', () => {
  it('count the attempts of the last hour and each agent’s recent ones, in SQL', async () => {
    const project = (await post('/api/v1/projects', { name: 'Runs' })).id;
    const busy = (
      await post('/api/v1/agents', { name: 'w1', agent_type: 'coder', project_id: project })
    ).id;
    const fresh = (
      await post('/api/v1/agents', { name: 'w2', agent_type: 'coder', project_id: project })
    ).id;
    for (const title of ['a', 'b', 'c', 'd'])
      await post('/api/v1/tasks', { project_id: project, title });
    await work(busy, 'complete');
    await work(busy, 'complete');
    await work(busy, 'fail');
    const held = await work(busy, 'hold');

    const body = await stats(admin);
    expect(body.tasks.by_status).toMatchObject({ succeeded: 2, failed: 1, running: 1 });
    expect(body.runs_last_hour).toEqual({
      finished: 3,
      by_outcome: { succeeded: 2, failed: 1, timed_out: 0, lost: 0, cancelled: 0 },
      success_rate: 2 / 3,
    });

    const missing = '00000000-0000-4000-8000-000000000000';
    const figures = await t.request({
      url: `/api/v1/stats/agents?agent_id=${fresh}&agent_id=${busy}&agent_id=${missing}`,
      headers: admin,
    });
    expect(figures.statusCode, figures.body).toBe(200);
    expect(figures.json()).toEqual({
      items: [
        {
          agent_id: fresh,
          current_task: null,
          recent_attempts: 0,
          succeeded: 0,
          success_rate: null,
          mean_duration_ms: null,
        },
        {
          agent_id: busy,
          current_task: { id: held.id, title: held.title },
          recent_attempts: 3,
          succeeded: 2,
          success_rate: 2 / 3,
          mean_duration_ms: expect.any(Number),
        },
      ],
    });

    const other = (await post('/api/v1/projects', { name: 'Other' })).id;
    const scoped = await keyHeader(t.app, { role: 'reader', project_ids: [other] });
    expect((await stats(scoped)).runs_last_hour.finished).toBe(0);
    const hidden = await t.request({
      url: `/api/v1/stats/agents?agent_id=${busy}`,
      headers: scoped,
    });
    expect(hidden.json()).toEqual({ items: [] });
    expectProblem(await t.request({ url: '/api/v1/stats/agents', headers: admin }), 422);
  });
});

describe('GET /api/v1/keys/self', () => {
  it('tells a key its own name, role and projects, whatever the role', async () => {
    const project = (await post('/api/v1/projects', { name: 'P' })).id;
    const created = await post('/api/v1/keys', {
      name: 'dashboard',
      role: 'reader',
      project_ids: [project],
    });
    const response = await t.request({
      url: '/api/v1/keys/self',
      headers: { authorization: `Bearer ${created.key}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      authentication: 'on',
      key_id: created.id,
      name: 'dashboard',
      role: 'reader',
      project_ids: [project],
    });
    expectProblem(await t.request({ url: '/api/v1/keys/self' }), 401);
  });

  it('answers without a key when authentication is off', async () => {
    const open = await createTestApp({ AUTH: 'off' });
    try {
      const response = await open.request({ url: '/api/v1/keys/self' });
      expect(response.json()).toEqual({
        authentication: 'off',
        key_id: null,
        name: null,
        role: 'admin',
        project_ids: null,
      });
    } finally {
      await open.close();
    }
  });
});
