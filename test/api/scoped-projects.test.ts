import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';

/**
 * What a key limited to some projects sees and may change of `/api/v1/projects`: its projects
 * alone, counted and filtered among themselves; another project is missing to it (404), for reads
 * and writes alike. The authorization matrix (auth.postgres-only.test.ts) proves the status of
 * every route for such a key; this file, the contents.
 */
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

async function create(name: string, status = 'active') {
  const payload = { name, status };
  const response = await t.request({
    method: 'POST',
    url: '/api/v1/projects',
    payload,
    headers: admin,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

describe('a key limited to projects', () => {
  it('lists, counts and filters its projects alone', async () => {
    const one = await create('One');
    const two = await create('Two', 'completed');
    await create('Three', 'completed');
    const scoped = await keyHeader(t.app, { role: 'reader', project_ids: [one, two] });
    const list = async (query: string) =>
      (await t.request({ url: `/api/v1/projects?${query}`, headers: scoped })).json();
    const all = await list('sort=name');
    expect(all.total).toBe(2);
    expect(all.items.map((item: { name: string }) => item.name)).toEqual(['One', 'Two']);
    const completed = await list('status=completed');
    expect(completed.total).toBe(1);
    expect(completed.items.map((item: { id: string }) => item.id)).toEqual([two]);
    expect((await list('')).total).toBe(2);
  });

  it('cannot change another project: 404, and the project stays as it was', async () => {
    const mine = await create('Mine');
    const other = await create('Other');
    const scoped = await keyHeader(t.app, { role: 'writer', project_ids: [mine] });
    const patch = (id: string) =>
      t.request({
        method: 'PATCH',
        url: `/api/v1/projects/${id}`,
        payload: { status: 'archived' },
        headers: scoped,
      });
    expectProblem(await patch(other), 404);
    const unchanged = (
      await t.request({ url: `/api/v1/projects/${other}`, headers: admin })
    ).json();
    expect(unchanged).toMatchObject({ status: 'active', version: 1 });
    const changed = await patch(mine);
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ status: 'archived', version: 2 });
  });

  it('reads its tasks and schedules through project:<id>, and no other topic', async () => {
    const mine = await create('Mine');
    const scoped = await keyHeader(t.app, { role: 'writer', project_ids: [mine] });
    const post = (url: string, payload: object) =>
      t.request({ method: 'POST', url, payload, headers: scoped });
    const task = (await post('/api/v1/tasks', { project_id: mine, title: 't' })).json().id;
    const schedule = { project_id: mine, name: 's', cron: '0 3 * * *', task: { title: 't' } };
    const scheduleId = (await post('/api/v1/schedules', schedule)).json().id;
    const events = (topic: string) =>
      t.request({ url: `/api/v1/events?topic=${topic}&limit=100`, headers: scoped });
    const own = (await events(`project:${mine}`))
      .json()
      .items.map((event: { type: string }) => event.type);
    expect(own).toEqual(expect.arrayContaining(['TASK_CREATED', 'SCHEDULE_CREATED']));
    const refused = ['tasks', `task:${task}`, 'schedules', `schedule:${scheduleId}`, 'projects'];
    for (const topic of [...refused, 'agents', 'system']) expectProblem(await events(topic), 403);
  });
});
