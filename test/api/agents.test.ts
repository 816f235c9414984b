import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { readWholeLog } from '../support/event-log.js';
import { logAndAudit, postJson } from '../support/requests.js';
import { errorPaths, expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.reset());

const missing = '00000000-0000-4000-8000-000000000000';
const create = (payload: object) => t.request({ method: 'POST', url: '/api/v1/agents', payload });
const get = (id: string) => t.request({ method: 'GET', url: `/api/v1/agents/${id}` });
const list = (query: string) => t.request({ method: 'GET', url: `/api/v1/agents?${query}` });
const patch = (id: string, payload: object, headers = {}) =>
  t.request({ method: 'PATCH', url: `/api/v1/agents/${id}`, payload, headers });
const heartbeat = (id: string, payload?: object) =>
  t.request({
    method: 'POST',
    url: `/api/v1/agents/${id}/heartbeat`,
    ...(payload === undefined ? {} : { payload }),
  });

async function createAgent(payload: object) {
  const response = await create({ agent_type: 'coder', ...payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

async function createProject(name = 'Alpha') {
  return (await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name } })).json();
}

const names = async (query: string) =>
  (await list(query))
    .json()
    .items.map((agent: { name: string }) => agent.name)
    .sort();

describe('POST /api/v1/agents', () => {
  it('creates an agent with defaults, a Location and an ETag', async () => {
    const response = await create({ name: ' coder-1 ', agent_type: 'coder' });
    expect(response.statusCode).toBe(201);
    const agent = response.json();
    expect(agent).toMatchObject({
      name: 'coder-1',
      agent_type: 'coder',
      capabilities: [],
      status: 'idle',
      project_id: null,
      metadata: {},
      last_active_at: null,
      version: 1,
    });
    expect(response.headers.location).toBe(`/api/v1/agents/${agent.id}`);
    expect(response.headers.etag).toBe('"1"');
  });

  it('gives a duplicate name 409, on create and on rename', async () => {
    await createAgent({ name: 'dup' });
    const other = await createAgent({ name: 'other' });
    const taken = expectProblem(await create({ name: 'dup', agent_type: 'tester' }), 409);
    expect(taken.detail).toBe(
      'Agent name "dup" is already taken among the agents without a project',
    );
    expectProblem(await patch(other.id, { name: 'dup' }), 409);
    expect((await get(other.id)).json()).toMatchObject({ name: 'other', version: 1 });
  });

  it('keeps names unique per project: two projects may each have a "coder-1"', async () => {
    const [alpha, beta] = [await createProject('Alpha'), await createProject('Beta')];
    const first = await createAgent({ name: 'coder-1', project_id: alpha.id });
    const second = await createAgent({ name: 'coder-1', project_id: beta.id });
    await createAgent({ name: 'coder-1' });
    const duplicate = { name: 'coder-1', agent_type: 'coder', project_id: alpha.id };
    const again = expectProblem(await create(duplicate), 409);
    expect(again.detail).toBe(`Agent name "coder-1" is already taken in project ${alpha.id}`);
    const move = expectProblem(await patch(second.id, { project_id: alpha.id }), 409);
    expect(move.detail).toBe(`Agent name "coder-1" is already taken in project ${alpha.id}`);
    expect((await get(second.id)).json()).toMatchObject({ project_id: beta.id, version: 1 });
    expectProblem(await patch(first.id, { project_id: null }), 409);
  });

  it('lets exactly one of 10 concurrent creates with one name win', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => create({ name: 'race', agent_type: 'coder' })),
    );
    expect(responses.map((response) => response.statusCode).sort()).toEqual([
      201,
      ...Array(9).fill(409),
    ]);
  });

  it('requires an existing project (422) and accepts one that exists', async () => {
    const unknown = await create({ name: 'a', agent_type: 'coder', project_id: missing });
    expect(expectProblem(unknown, 422).errors).toEqual([
      { path: '/project_id', message: `Project ${missing} does not exist`, in: 'body' },
    ]);
    const project = await createProject();
    expect((await createAgent({ name: 'b', project_id: project.id })).project_id).toBe(project.id);
  });

  it('validates type, capabilities, status and ids, naming each field', async () => {
    const response = await create({
      name: '',
      agent_type: 'wizard',
      capabilities: ['a', 'a', ''],
      status: 'asleep',
      project_id: 'x',
      last_active_at: 'now',
    });
    expect(errorPaths(response)).toEqual([
      '/agent_type',
      '/capabilities',
      '/capabilities/2',
      '/last_active_at',
      '/name',
      '/project_id',
      '/status',
    ]);
    expect(
      errorPaths(
        await create({
          name: 'a',
          agent_type: 'coder',
          capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`),
        }),
      ),
    ).toEqual(['/capabilities']);
    expect(
      errorPaths(await create({ name: 'a', agent_type: 'coder', capabilities: ['x'.repeat(65)] })),
    ).toEqual(['/capabilities/0']);
    expect(errorPaths(await create({ name: 'a' }))).toEqual(['/agent_type']);
  });
});

describe('GET /api/v1/agents', () => {
  it('filters by type, status, project and every requested capability', async () => {
    const project = await createProject();
    await createAgent({ name: 'a', capabilities: ['ts', 'sql'], project_id: project.id });
    await createAgent({ name: 'b', agent_type: 'tester', capabilities: ['ts'], status: 'busy' });
    await createAgent({
      name: 'c',
      agent_type: 'tester',
      capabilities: ['sql', 'ts', 'go'],
      project_id: project.id,
      status: 'busy',
    });
    expect(await names('agent_type=tester')).toEqual(['b', 'c']);
    expect(await names('status=busy')).toEqual(['b', 'c']);
    expect(await names(`project_id=${project.id}`)).toEqual(['a', 'c']);
    expect(await names('capability=ts')).toEqual(['a', 'b', 'c']);
    expect(await names('capability=ts&capability=sql')).toEqual(['a', 'c']);
    expect(await names('capability=ts&capability=sql&capability=go')).toEqual(['c']);
    expect(await names(`capability=sql&status=idle&project_id=${project.id}`)).toEqual(['a']);
    expect((await list('capability=ts&agent_type=tester')).json().total).toBe(2);
    expect(await names('status=busy&status=idle')).toEqual(['a', 'b', 'c']);
    expect(await names('status=busy&status=offline&agent_type=coder&agent_type=tester')).toEqual([
      'b',
      'c',
    ]);
  });

  it('sorts by last heartbeat, agents never seen last either way', async () => {
    const [old, recent] = [
      await createAgent({ name: 'old' }),
      await createAgent({ name: 'recent' }),
    ];
    await createAgent({ name: 'never' });
    for (const agent of [old, recent]) {
      const beat = await t.request({ method: 'POST', url: `/api/v1/agents/${agent.id}/heartbeat` });
      expect(beat.statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const inOrder = async (query: string) =>
      (await list(query)).json().items.map((agent: { name: string }) => agent.name);
    expect(await inOrder('sort=-last_active_at')).toEqual(['recent', 'old', 'never']);
    expect(await inOrder('sort=last_active_at')).toEqual(['old', 'recent', 'never']);
  });

  it('sorts and pages with ties broken by id', async () => {
    for (let i = 0; i < 30; i += 1)
      await createAgent({ name: `agent-${String(i).padStart(2, '0')}` });
    const first = (await list('sort=name&limit=10')).json();
    const second = (await list('sort=name&limit=10&offset=10')).json();
    expect([...first.items, ...second.items].map((agent: { name: string }) => agent.name)).toEqual(
      Array.from({ length: 20 }, (_, i) => `agent-${String(i).padStart(2, '0')}`),
    );
    expect((await list('sort=-updated_at&limit=1')).json().items[0].name).toBe('agent-29');
  });

  it('rejects malformed filters with 422', async () => {
    expect(errorPaths(await list('project_id=nope&agent_type=x&capability='))).toEqual([
      '/agent_type/0',
      '/capability/0',
      '/project_id',
    ]);
  });
});

describe('changing agents', () => {
  it('PUT resets omitted fields, PATCH keeps them', async () => {
    const agent = await createAgent({
      name: 'a',
      capabilities: ['ts'],
      status: 'busy',
      metadata: { a: 1 },
    });
    const patched = (await patch(agent.id, { status: 'offline' })).json();
    expect(patched).toMatchObject({
      capabilities: ['ts'],
      status: 'offline',
      metadata: { a: 1 },
      version: 2,
    });
    const put = await t.request({
      method: 'PUT',
      url: `/api/v1/agents/${agent.id}`,
      payload: { name: 'a', agent_type: 'reviewer' },
    });
    expect(put.json()).toMatchObject({
      agent_type: 'reviewer',
      capabilities: [],
      status: 'idle',
      metadata: {},
      project_id: null,
      version: 3,
    });
  });

  it('audits a change with the fields it changed', async () => {
    const agent = await createAgent({ name: 'a' });
    await patch(agent.id, { capabilities: ['go'], metadata: { b: 2 } });
    const url = `/api/v1/audit?resource=agent&resource_id=${agent.id}`;
    const [latest] = (await t.request({ method: 'GET', url })).json().items;
    expect(latest).toMatchObject({
      resource_id: agent.id,
      changed_fields: ['capabilities', 'metadata'],
    });
  });

  it('answers 412 to a stale If-Match and changes nothing', async () => {
    const agent = await createAgent({ name: 'a' });
    await patch(agent.id, { status: 'busy' });
    expectProblem(await patch(agent.id, { status: 'error' }, { 'if-match': '"1"' }), 412);
    expectProblem(
      await t.request({
        method: 'DELETE',
        url: `/api/v1/agents/${agent.id}`,
        headers: { 'if-match': '"1"' },
      }),
      412,
    );
    expect((await get(agent.id)).json()).toMatchObject({ status: 'busy', version: 2 });
  });

  it('lets exactly one of several writers holding the same If-Match win', async () => {
    const agent = await createAgent({ name: 'a' });
    // Eight pool connections open first: on a cold pool each writer waited for its own
    // connection and they ran one after the other, which proved nothing about the row lock.
    const connections = Array.from({ length: 8 }, () => sql`select pg_sleep(0.05)`);
    await Promise.all(connections.map((query) => t.database.db.execute(query)));
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        patch(agent.id, { metadata: { writer: i } }, { 'if-match': '"1"' }),
      ),
    );
    expect(responses.map((response) => response.statusCode).sort()).toEqual([
      200,
      ...Array(7).fill(412),
    ]);
    expect((await get(agent.id)).json().version).toBe(2);
  });

  it('moves an agent between projects and rejects an unknown one', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'a' });
    expect((await patch(agent.id, { project_id: project.id })).json().project_id).toBe(project.id);
    expectProblem(await patch(agent.id, { project_id: missing }), 422);
    expect((await patch(agent.id, { project_id: null })).json().project_id).toBeNull();
  });

  it('unassigns agents, with a new version, when their project is deleted', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'a', project_id: project.id });
    expect(
      (await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` })).statusCode,
    ).toBe(204);
    const after = (await get(agent.id)).json();
    expect(after).toMatchObject({ project_id: null, version: 2 });
    expect(Date.parse(after.updated_at)).toBeGreaterThan(Date.parse(agent.updated_at));
  });

  it('refuses to delete a project whose agent clashes with one outside every project', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'coder-1', project_id: project.id });
    await createAgent({ name: 'coder-1' });
    const refused = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(expectProblem(refused, 409).detail).toBe(
      `Project ${project.id} cannot be deleted: its agents would join the agents without a ` +
        'project, and one of them has the name of such an agent; rename or move that agent first',
    );
    expect((await get(agent.id)).json()).toMatchObject({ project_id: project.id, version: 1 });
    expect((await t.request({ url: `/api/v1/projects/${project.id}` })).statusCode).toBe(200);
  });

  it('deletes once: 204, then 404', async () => {
    const agent = await createAgent({ name: 'a' });
    expect(
      (await t.request({ method: 'DELETE', url: `/api/v1/agents/${agent.id}` })).statusCode,
    ).toBe(204);
    expect(expectProblem(await get(agent.id), 404).detail).toBe(`Agent ${agent.id} not found`);
    expectProblem(await t.request({ method: 'DELETE', url: `/api/v1/agents/${agent.id}` }), 404);
  });

  const remove = (id: string) => t.request({ method: 'DELETE', url: `/api/v1/agents/${id}` });
  const taskOf = async (id: string) => (await t.request({ url: `/api/v1/tasks/${id}` })).json();

  it('refuses with 409 while it runs a task, changing nothing', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'a', project_id: project.id });
    const task = await postJson(t, 'tasks', { project_id: project.id, title: 't' });
    await postJson(t, 'tasks/claim', { agent_id: agent.id }, 200);
    const [before, busy, running] = [
      await logAndAudit(t),
      (await get(agent.id)).json(),
      await taskOf(task.id),
    ];
    expect(expectProblem(await remove(agent.id), 409)).toMatchObject({
      type: '/problems/conflict',
      detail:
        `Agent ${agent.id} cannot be deleted: it is running a task; let the task finish or ` +
        'cancel it first',
    });
    expect([(await get(agent.id)).json(), await taskOf(task.id)]).toEqual([busy, running]);
    expect(await logAndAudit(t)).toEqual(before);
  });

  it('refuses with 409 while unfinished tasks are pinned to it, until they are re-pinned', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'a', project_id: project.id });
    const pin = { project_id: project.id, agent_id: agent.id };
    const pinned = await postJson(t, 'tasks', { ...pin, title: 'only for a' });
    const done = await postJson(t, 'tasks', { ...pin, title: 'done' });
    await postJson(t, `tasks/${done.id}/cancel`, {}, 200);
    const [before, finished] = [await logAndAudit(t), await taskOf(done.id)];
    expect(expectProblem(await remove(agent.id), 409).detail).toBe(
      `Agent ${agent.id} cannot be deleted: 1 unfinished task is pinned to it; cancel them ` +
        'or change their agent_id (PATCH, to another agent or null) first',
    );
    expect(await taskOf(pinned.id)).toEqual(pinned);
    expect(await taskOf(done.id)).toEqual(finished);
    expect(await logAndAudit(t)).toEqual(before);
    const repin = { method: 'PATCH' as const, url: `/api/v1/tasks/${pinned.id}` };
    expect((await t.request({ ...repin, payload: { agent_id: null } })).statusCode).toBe(200);
    expect((await remove(agent.id)).statusCode).toBe(204);
    // The finished task keeps its history; only the reference to the agent, now gone, is null.
    expect(await taskOf(done.id)).toEqual({ ...finished, agent_id: null });
  });

  it('frees the name of a deleted agent', async () => {
    const agent = await createAgent({ name: 'reused' });
    await t.request({ method: 'DELETE', url: `/api/v1/agents/${agent.id}` });
    await createAgent({ name: 'reused' });
  });
});

describe('POST /api/v1/agents/:id/heartbeat', () => {
  const logged = async () => readWholeLog(t.request, 'topic=agents');
  const audited = async () =>
    (await t.request({ method: 'GET', url: '/api/v1/audit?resource=agent' })).json().items;

  it('sets last_active_at alone: no new version, no event, no audit record', async () => {
    const agent = await createAgent({ name: 'a' });
    const [eventsBefore, auditBefore] = [await logged(), await audited()];
    const beat = await heartbeat(agent.id);
    expect(beat.statusCode, beat.body).toBe(200);
    expect(beat.json()).toMatchObject({ status: 'idle', version: 1, updated_at: agent.updated_at });
    expect(Date.parse(beat.json().last_active_at)).toBeGreaterThanOrEqual(
      Date.parse(agent.created_at),
    );
    const same = (await heartbeat(agent.id, { status: 'idle' })).json();
    expect(same).toMatchObject({ status: 'idle', version: 1 });
    expect((await get(agent.id)).json()).toEqual(same);
    expect([await logged(), await audited()]).toEqual([eventsBefore, auditBefore]);
  });

  it('makes a change of status a new version with AGENT_STATUS and an audit record', async () => {
    const project = await createProject();
    const agent = await createAgent({ name: 'a', project_id: project.id });
    const busy = (await heartbeat(agent.id, { status: 'busy' })).json();
    expect(busy).toMatchObject({ status: 'busy', version: 2 });
    expect(Date.parse(busy.updated_at)).toBeGreaterThan(Date.parse(agent.updated_at));
    expect((await get(agent.id)).json()).toEqual(busy);
    const event = (await logged()).at(-1)!;
    expect(event).toMatchObject({
      type: 'AGENT_STATUS',
      topic: `agent:${agent.id}`,
      data: { agent: busy, changed_fields: ['status'] },
    });
    const projectLog = await readWholeLog(t.request, `topic=project:${project.id}`);
    expect(projectLog.at(-1)).toEqual(event);
    expect((await audited())[0]).toMatchObject({
      action: 'status',
      resource_id: agent.id,
      changed_fields: ['status'],
    });
  });

  it('brings an offline agent back as idle when the heartbeat names no status', async () => {
    const agent = await createAgent({ name: 'a', status: 'offline' });
    const back = (await heartbeat(agent.id)).json();
    expect(back).toMatchObject({ status: 'idle', version: 2 });
    expect((await logged()).at(-1)).toMatchObject({ type: 'AGENT_STATUS', data: { agent: back } });
    const busy = (await heartbeat(agent.id, { status: 'offline' })).json();
    expect(busy).toMatchObject({ status: 'offline', version: 3 });
  });

  it('answers 404 for an unknown agent and 422 for a bad status', async () => {
    expectProblem(await heartbeat(missing), 404);
    const agent = await createAgent({ name: 'a' });
    expect(errorPaths(await heartbeat(agent.id, { status: 'sleeping' }))).toEqual(['/status']);
    expect(errorPaths(await heartbeat(agent.id, { status: 'busy', mood: 'ok' }))).toEqual([
      '/mood',
    ]);
  });
});
