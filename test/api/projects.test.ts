import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { readWholeLog } from '../support/event-log.js';
import { logAndAudit, postJson } from '../support/requests.js';
import { byDepth } from '../support/depth.js';
import { storableJson } from '../support/fuzz.js';
import { errorPaths, expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.reset());

const create = (payload: object) => t.request({ method: 'POST', url: '/api/v1/projects', payload });
const get = (id: string, headers = {}) =>
  t.request({ method: 'GET', url: `/api/v1/projects/${id}`, headers });
const list = (query: string) => t.request({ method: 'GET', url: `/api/v1/projects?${query}` });
const patch = (id: string, payload: unknown, headers = {}) =>
  t.request({
    method: 'PATCH',
    url: `/api/v1/projects/${id}`,
    payload: payload as object,
    headers,
  });
const missing = '00000000-0000-4000-8000-000000000000';

async function createProject(payload: object = { name: 'Alpha' }) {
  const response = await create(payload);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('POST /api/v1/projects', () => {
  it('creates a project with defaults, a Location and an ETag', async () => {
    const response = await create({ name: '  Alpha  ' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      name: 'Alpha',
      description: null,
      status: 'active',
      sparc_mode: 'specification',
      metadata: {},
      version: 1,
    });
    expect(response.headers.location).toBe(`/api/v1/projects/${body.id}`);
    expect(response.headers.etag).toBe('"1"');
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
    expect(body.updated_at).toBe(body.created_at);
  });

  it('names every bad field in one 422, including missing and unknown ones', async () => {
    const response = await create({
      description: 'x'.repeat(2001),
      status: 'done',
      sparc_mode: 'x',
      metadata: [],
      extra: 1,
    });
    expect(errorPaths(response)).toEqual([
      '/description',
      '/extra',
      '/metadata',
      '/name',
      '/sparc_mode',
      '/status',
    ]);
    expect(expectProblem(response, 422).errors).toContainEqual({
      path: '/name',
      message: 'is required',
      in: 'body',
    });
  });

  it.each([
    ['a blank name', { name: '   ' }],
    ['a name over 255 characters', { name: 'n'.repeat(256) }],
    ['metadata over 16 KiB', { name: 'a', metadata: { blob: 'x'.repeat(16 * 1024) } }],
    [
      'metadata nested too deep',
      { name: 'a', metadata: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) },
    ],
    ['a NUL character', { name: 'a\u0000b' }],
    ['an unpaired surrogate in metadata', { name: 'a', metadata: { text: '\ud800' } }],
  ])('rejects %s with 422 and stores nothing', async (_, payload) => {
    expectProblem(await create(payload), 422);
    expect((await list('')).json().total).toBe(0);
  });

  it('accepts a name of exactly 255 characters and metadata just under 16 KiB', async () => {
    const body = await createProject({
      name: 'n'.repeat(255),
      metadata: { blob: 'x'.repeat(16 * 1024 - 20) },
    });
    expect(body.name).toHaveLength(255);
  });

  it('answers 400 for malformed JSON, 415 for other media types and 413 past 1 MiB', async () => {
    const headers = { 'content-type': 'application/json' };
    expectProblem(
      await t.request({ method: 'POST', url: '/api/v1/projects', headers, payload: '{"name":' }),
      400,
    );
    const text = { 'content-type': 'text/plain' };
    expectProblem(
      await t.request({ method: 'POST', url: '/api/v1/projects', headers: text, payload: 'name' }),
      415,
    );
    expectProblem(await create({ name: 'a', metadata: { blob: 'x'.repeat(1024 * 1024) } }), 413);
  });

  it('gives 10 concurrent creates 10 distinct ids', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => create({ name: `p${i}` })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(10);
  });
});

describe('GET /api/v1/projects/:id', () => {
  it('returns the project with its ETag, and 304 for a matching If-None-Match', async () => {
    const project = await createProject();
    const response = await get(project.id);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(project);
    expect(response.headers.etag).toBe('"1"');
    const cached = await get(project.id, { 'if-none-match': '"1"' });
    expect(cached.statusCode).toBe(304);
    expect(cached.body).toBe('');
    expect((await get(project.id, { 'if-none-match': '"7"' })).statusCode).toBe(200);
  });

  it('answers 404 naming the id, and 422 for a malformed id', async () => {
    expect(expectProblem(await get(missing), 404).detail).toBe(`Project ${missing} not found`);
    expect(errorPaths(await get('not-a-uuid'))).toEqual(['/id']);
  });
});

describe('GET /api/v1/projects', () => {
  it('pages through 250 projects in every sort order without overlap or gap', async () => {
    for (let i = 0; i < 250; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => create({ name: `P${String((i + j) % 7)}-${i + j}` })),
      );
    }
    for (const sort of [
      'created_at',
      '-created_at',
      'updated_at',
      '-updated_at',
      'name',
      '-name',
    ]) {
      const seen: string[] = [];
      for (let offset = 0; offset < 250; offset += 100) {
        const page = (await list(`limit=100&offset=${offset}&sort=${sort}`)).json();
        expect(page).toMatchObject({ total: 250, limit: 100, offset });
        seen.push(...page.items.map((item: { id: string }) => item.id));
      }
      expect(seen).toHaveLength(250);
      expect(new Set(seen).size).toBe(250);
    }
  });

  it('orders by name (byte order) with ties broken by id', async () => {
    for (const name of ['b', 'a', 'B', 'a', 'c']) await createProject({ name });
    const items = (await list('sort=name')).json().items as Array<{ name: string; id: string }>;
    expect(items.map((item) => item.name)).toEqual(['B', 'a', 'a', 'b', 'c']);
    expect(items[1]!.id < items[2]!.id).toBe(true);
    const reversed = (await list('sort=-name')).json().items as Array<{ name: string }>;
    expect(reversed.map((item) => item.name)).toEqual(['c', 'b', 'a', 'a', 'B']);
  });

  it('sorts by creation and by last change, each by its own time', async () => {
    const older = await createProject({ name: 'b' });
    const newer = await createProject({ name: 'a' });
    expect((await patch(older.id, { description: 'changed' })).statusCode).toBe(200);
    const ids = async (sort: string) =>
      (await list(`sort=${sort}`)).json().items.map((item: { id: string }) => item.id);
    expect(await ids('created_at')).toEqual([older.id, newer.id]);
    expect(await ids('-created_at')).toEqual([newer.id, older.id]);
    expect(await ids('updated_at')).toEqual([newer.id, older.id]);
    expect(await ids('-updated_at')).toEqual([older.id, newer.id]);
  });

  it('defaults to newest first with limit 20', async () => {
    const first = await createProject({ name: 'first' });
    const second = await createProject({ name: 'second' });
    const page = (await list('')).json();
    expect(page).toMatchObject({ limit: 20, offset: 0, total: 2 });
    expect(page.items.map((item: { id: string }) => item.id)).toEqual([second.id, first.id]);
  });

  it('filters by status, sparc_mode and a case-insensitive q over name and description', async () => {
    await createProject({ name: 'Payments API', status: 'completed' });
    await createProject({
      name: 'Search',
      description: 'Full-text PAYMENT lookup',
      sparc_mode: 'refinement',
    });
    await createProject({ name: 'Other 100%_done', status: 'archived', sparc_mode: 'refinement' });
    const names = async (query: string) =>
      (await list(query))
        .json()
        .items.map((item: { name: string }) => item.name)
        .sort();
    expect(await names('status=completed')).toEqual(['Payments API']);
    expect(await names('sparc_mode=refinement')).toEqual(['Other 100%_done', 'Search']);
    expect(await names('status=completed&status=active&sparc_mode=refinement')).toEqual(['Search']);
    expect(await names('status=completed&status=archived')).toEqual([
      'Other 100%_done',
      'Payments API',
    ]);
    expect(await names('q=payment')).toEqual(['Payments API', 'Search']);
    expect(await names('q=%25_')).toEqual(['Other 100%_done']);
    expect(await names('q=payment&status=active')).toEqual(['Search']);
    expect((await list('q=payment&status=active')).json().total).toBe(1);
  });

  it('rejects bad paging and unknown filters with 422', async () => {
    expect(errorPaths(await list('limit=0&offset=-1&sort=size&status=x&color=red'))).toEqual([
      '/color',
      '/limit',
      '/offset',
      '/sort',
      '/status/0',
    ]);
    expect(errorPaths(await list('limit=101'))).toEqual(['/limit']);
    expect(errorPaths(await list('limit=abc'))).toEqual(['/limit']);
  });
});

describe('PUT and PATCH /api/v1/projects/:id', () => {
  it('PUT replaces every writable field and resets omitted ones to defaults', async () => {
    const project = await createProject({
      name: 'A',
      description: 'd',
      status: 'completed',
      sparc_mode: 'refinement',
      metadata: { k: 1 },
    });
    const response = await t.request({
      method: 'PUT',
      url: `/api/v1/projects/${project.id}`,
      payload: { name: 'B' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      name: 'B',
      description: null,
      status: 'active',
      sparc_mode: 'specification',
      metadata: {},
      version: 2,
    });
    expect(response.headers.etag).toBe('"2"');
    expect(
      errorPaths(
        await t.request({
          method: 'PUT',
          url: `/api/v1/projects/${project.id}`,
          payload: { status: 'active' },
        }),
      ),
    ).toEqual(['/name']);
  });

  it('PATCH changes only the given fields and can clear the description', async () => {
    const project = await createProject({ name: 'A', description: 'd', metadata: { k: 1 } });
    const response = await patch(project.id, { status: 'archived', description: null });
    expect(response.json()).toMatchObject({
      name: 'A',
      description: null,
      status: 'archived',
      metadata: { k: 1 },
      version: 2,
    });
  });

  it('moves updated_at forward and keeps created_at', async () => {
    const project = await createProject();
    const changed = (await patch(project.id, { name: 'renamed' })).json();
    expect(changed.created_at).toBe(project.created_at);
    expect(Date.parse(changed.updated_at)).toBeGreaterThan(Date.parse(project.updated_at));
  });

  it('rejects an empty PATCH body, a missing one and unknown fields with 422', async () => {
    const project = await createProject();
    expect(errorPaths(await patch(project.id, {}))).toEqual(['/']);
    expect(
      errorPaths(await t.request({ method: 'PATCH', url: `/api/v1/projects/${project.id}` })),
    ).toEqual(['/']);
    expect(errorPaths(await patch(project.id, { version: 9 }))).toEqual(['/', '/version']);
    expect(errorPaths(await patch(project.id, { name: 'ok', version: 9 }))).toEqual(['/version']);
    expect((await get(project.id)).json().version).toBe(1);
  });

  it('answers 412 to a stale If-Match and changes nothing', async () => {
    const project = await createProject();
    expect((await patch(project.id, { name: 'v2' }, { 'if-match': '"1"' })).statusCode).toBe(200);
    const stale = await patch(project.id, { name: 'lost' }, { 'if-match': '"1"' });
    expect(expectProblem(stale, 412).detail).toBe(
      `Project ${project.id} is at version 2, which If-Match does not name`,
    );
    const put = await t.request({
      method: 'PUT',
      url: `/api/v1/projects/${project.id}`,
      headers: { 'if-match': 'garbage' },
      payload: { name: 'lost' },
    });
    expectProblem(put, 412);
    expect((await get(project.id)).json()).toMatchObject({ name: 'v2', version: 2 });
    expect((await patch(project.id, { name: 'v3' }, { 'if-match': 'W/"9", "2"' })).statusCode).toBe(
      200,
    );
    expect((await patch(project.id, { name: 'v4' }, { 'if-match': '*' })).statusCode).toBe(200);
  });

  it('answers 404 for an unknown project even with If-Match', async () => {
    expect(expectProblem(await patch(missing, { name: 'x' }), 404).detail).toBe(
      `Project ${missing} not found`,
    );
    expectProblem(await patch(missing, { name: 'x' }, { 'if-match': '"1"' }), 404);
  });

  it('bumps the version exactly once for each of 50 concurrent PATCHes', async () => {
    const project = await createProject();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => patch(project.id, { metadata: { writer: i } })),
    );
    expect(responses.every((response) => response.statusCode === 200)).toBe(true);
    const versions = responses.map((response) => response.json().version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    expect((await get(project.id)).json().version).toBe(51);
  });

  it('lets exactly one of several writers holding the same If-Match win', async () => {
    const project = await createProject();
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        patch(project.id, { name: `w${i}` }, { 'if-match': '"1"' }),
      ),
    );
    expect(responses.map((response) => response.statusCode).sort()).toEqual([
      200,
      ...Array(7).fill(412),
    ]);
  });
});

describe('concurrent writes (batched into shared statements)', () => {
  it('answers each on its own, with one event each, in one gapless run of ids', async () => {
    const projects = await Promise.all(
      Array.from({ length: 12 }, (_, i) => createProject({ name: `p${i}` })),
    );
    const after = (await readWholeLog(t.request)).at(-1)?.id ?? 0;
    const responses = await Promise.all([
      ...projects.map((project, i) => patch(project.id, { description: `d${i}` })),
      ...projects.map((project) => patch(project.id, { name: 'stale' }, { 'if-match': '"9"' })),
      ...Array.from({ length: 4 }, () => patch(missing, { name: 'nobody' })),
      ...Array.from({ length: 12 }, (_, i) => create({ name: `new${i}` })),
    ]);
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses).toEqual([
      ...Array(12).fill(200),
      ...Array(12).fill(412),
      ...Array(4).fill(404),
      ...Array(12).fill(201),
    ]);
    const events = (await readWholeLog(t.request)).filter((event) => event.id > after);
    expect(events.map((event) => event.id)).toEqual(events.map((_, i) => after + 1 + i));
    const written = responses.filter((response) => response.statusCode < 300);
    type Written = { id: string; version: number };
    const key = (project: Written) => `${project.id}@${project.version}`;
    const projectOf = (event: (typeof events)[number]) => event.data.project as Written;
    const logged = new Map(events.map((event) => [key(projectOf(event)), projectOf(event)]));
    expect(events).toHaveLength(written.length);
    for (const response of written)
      expect(logged.get(key(response.json()))).toEqual(response.json());
  });
});

describe('DELETE /api/v1/projects/:id', () => {
  it('deletes once: 204, then 404 on GET and on a second DELETE', async () => {
    const project = await createProject();
    const response = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expectProblem(await get(project.id), 404);
    const again = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(expectProblem(again, 404).detail).toBe(`Project ${project.id} not found`);
  });

  it('logs and audits the agents it unassigns and the deletion', async () => {
    const project = await createProject();
    const payload = { name: 'a', agent_type: 'coder', project_id: project.id };
    const agent = (await t.request({ method: 'POST', url: '/api/v1/agents', payload })).json();
    await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    const log = await readWholeLog(t.request, `topic=project:${project.id}`);
    expect(log.slice(-2).map((event) => event.type)).toEqual(['AGENT_UPDATE', 'PROJECT_DELETED']);
    const audit = (await t.request({ method: 'GET', url: '/api/v1/audit?limit=2' })).json().items;
    expect(audit).toMatchObject([
      { action: 'delete', resource: 'project', resource_id: project.id },
      { action: 'update', resource: 'agent', resource_id: agent.id },
    ]);
  });

  it('refuses with 409 while a task runs, changing nothing, and deletes once it ended', async () => {
    const project = await createProject();
    const payload = { name: 'a', agent_type: 'coder', project_id: project.id };
    const agent = await postJson(t, 'agents', payload);
    const task = await postJson(t, 'tasks', { project_id: project.id, title: 'runs' });
    await postJson(t, 'tasks', { project_id: project.id, title: 'waits' });
    await postJson(t, 'tasks/claim', { agent_id: agent.id }, 200);
    const before = await logAndAudit(t);
    const [busy, running] = [
      (await t.request({ url: `/api/v1/agents/${agent.id}` })).json(),
      (await t.request({ url: `/api/v1/tasks/${task.id}` })).json(),
    ];
    const refused = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(expectProblem(refused, 409)).toMatchObject({
      type: '/problems/conflict',
      detail:
        `Project ${project.id} cannot be deleted: 1 of its tasks is running; ` +
        'cancel them or let them finish first',
    });
    expect((await get(project.id)).json()).toEqual(project);
    expect((await t.request({ url: `/api/v1/agents/${agent.id}` })).json()).toEqual(busy);
    expect((await t.request({ url: `/api/v1/tasks/${task.id}` })).json()).toEqual(running);
    expect((await t.request({ url: `/api/v1/tasks?project_id=${project.id}` })).json().total).toBe(
      2,
    );
    expect(await logAndAudit(t)).toEqual(before);
    await postJson(t, `tasks/${task.id}/cancel`, {}, 200);
    const deleted = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const after = (await t.request({ url: `/api/v1/agents/${agent.id}` })).json();
    expect(after).toMatchObject({ status: 'idle', project_id: null });
  });

  it('announces and audits every task and schedule it deletes, as their own DELETE would', async () => {
    const project = await createProject();
    const queued = await postJson(t, 'tasks', { project_id: project.id, title: 'q' });
    const blocked = await postJson(t, 'tasks', {
      project_id: project.id,
      title: 'b',
      depends_on: [queued.id],
    });
    const schedule = await postJson(t, 'schedules', {
      project_id: project.id,
      name: 'nightly',
      cron: '0 3 * * *',
      task: { title: 'n' },
    });
    const made = await postJson(t, `schedules/${schedule.id}/run`, {});
    await postJson(t, `tasks/${made.id}/cancel`, {}, 200);
    const deleted = await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    expect(deleted.statusCode, deleted.body).toBe(204);
    for (const task of [queued, blocked, made]) {
      const last = (await readWholeLog(t.request, `topic=task:${task.id}`)).at(-1);
      expect(last).toMatchObject({
        type: 'TASK_DELETED',
        topic: `task:${task.id}`,
        data: { id: task.id, project_id: project.id },
      });
      expectProblem(await t.request({ url: `/api/v1/tasks/${task.id}` }), 404);
    }
    const lastOfSchedule = (await readWholeLog(t.request, `topic=schedule:${schedule.id}`)).at(-1);
    expect(lastOfSchedule).toMatchObject({
      type: 'SCHEDULE_DELETED',
      data: { id: schedule.id, project_id: project.id },
    });
    const projectLog = await readWholeLog(t.request, `topic=project:${project.id}`);
    expect(
      projectLog
        .slice(-5)
        .map((event) => event.type)
        .sort(),
    ).toEqual([
      'PROJECT_DELETED',
      'SCHEDULE_DELETED',
      'TASK_DELETED',
      'TASK_DELETED',
      'TASK_DELETED',
    ]);
    expect(projectLog.at(-1)!.type).toBe('PROJECT_DELETED');
    const audit = (await t.request({ url: '/api/v1/audit?limit=5' })).json().items;
    expect(
      audit.map((entry: { action: string; resource: string; resource_id: string }) => [
        entry.action,
        entry.resource,
        entry.resource_id,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ['delete', 'project', project.id],
        ['delete', 'schedule', schedule.id],
        ...[queued, blocked, made].map((task) => ['delete', 'task', task.id]),
      ]),
    );
  });

  it('honours If-Match', async () => {
    const project = await createProject();
    expectProblem(
      await t.request({
        method: 'DELETE',
        url: `/api/v1/projects/${project.id}`,
        headers: { 'if-match': '"2"' },
      }),
      412,
    );
    expect((await get(project.id)).statusCode).toBe(200);
    expect(
      (
        await t.request({
          method: 'DELETE',
          url: `/api/v1/projects/${project.id}`,
          headers: { 'if-match': '"1"' },
        })
      ).statusCode,
    ).toBe(204);
  });
});

describe('one answer, one shape: the written project, its GET and its event agree', () => {
  // Writes build their answer and their event in SQL (src/store/batch-statement.ts), reads map
  // rows in TypeScript; any storable value must come out the same through both.
  const metadata = fc.dictionary(fc.string({ maxLength: 8 }), storableJson, { maxKeys: 4 });
  const fields = fc.record(
    {
      name: fc.string({ minLength: 1, maxLength: 40 }).filter((name) => name.trim() !== ''),
      description: fc.option(fc.string({ maxLength: 40 })),
      status: fc.constantFrom('active', 'completed', 'archived'),
      sparc_mode: fc.constantFrom('specification', 'architecture', 'completion'),
      metadata,
    },
    { requiredKeys: [] },
  );
  const patches = fields.filter((patch) => Object.keys(patch).length > 0);

  it('for any values, created then patched', async () => {
    await fc.assert(
      fc.asyncProperty(fields, patches, async (created, patched) => {
        const made = await create({ name: 'x', ...created });
        expect(made.statusCode, made.body).toBe(201);
        const changed = await patch(made.json().id, patched);
        expect(changed.statusCode, changed.body).toBe(200);
        const [answer, read] = [changed.json(), (await get(made.json().id)).json()];
        expect(answer).toEqual(read);
        const events = await readWholeLog(t.request, `topic=project:${answer.id}`);
        expect(events.map((event) => event.data.project)).toEqual([made.json(), answer]);
      }),
      { numRuns: byDepth(30, 300) },
    );
  });
});
