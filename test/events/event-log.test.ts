import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SwarmEvent, eventSchema, projectEvent } from '../../src/domain/event.js';
import { appendEventsAndCommit } from '../../src/store/event-append.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { errorPaths } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.reset());

async function events(query = ''): Promise<SwarmEvent[]> {
  const response = await t.request({ method: 'GET', url: `/api/v1/events?limit=1000${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().items;
}
const post = (url: string, payload: object) => t.request({ method: 'POST', url, payload });

describe('the event log', () => {
  it('records one event per committed change, with the resource and changed fields', async () => {
    const project = (await post('/api/v1/projects', { name: 'A' })).json();
    const agent = (
      await post('/api/v1/agents', { name: 'a', agent_type: 'coder', project_id: project.id })
    ).json();
    await t.request({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      payload: { status: 'busy' },
    });
    await t.request({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      payload: { capabilities: ['go'], status: 'busy' },
    });
    await post(`/api/v1/agents/${agent.id}/heartbeat`, {}); // alive, nothing changed: no event
    await post(`/api/v1/agents/${agent.id}/heartbeat`, { status: 'idle' });
    await t.request({
      method: 'PUT',
      url: `/api/v1/projects/${project.id}`,
      payload: { name: 'B', sparc_mode: 'completion' },
    });
    await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    await t.request({ method: 'DELETE', url: `/api/v1/agents/${agent.id}` });
    const log = await events();
    expect(log.map((event) => [event.type, event.data.changed_fields ?? null])).toEqual([
      ['PROJECT_CREATED', null],
      ['AGENT_CREATED', null],
      ['AGENT_STATUS', ['status']],
      ['AGENT_UPDATE', ['capabilities']],
      ['AGENT_STATUS', ['status']],
      ['PROJECT_UPDATE', ['name', 'sparc_mode']],
      ['AGENT_UPDATE', ['project_id']],
      ['PROJECT_DELETED', null],
      ['AGENT_DELETED', null],
    ]);
    expect(log[1]).toMatchObject({
      topic: `agent:${agent.id}`,
      data: { agent: { id: agent.id, project_id: project.id } },
    });
    expect(log[7]).toMatchObject({ topic: `project:${project.id}`, data: { id: project.id } });
    expect(new Date(log[0]!.timestamp).toISOString()).toBe(log[0]!.timestamp);
    expect(log.map((event) => event.id)).toEqual(
      [...log.map((event) => event.id)].sort((a, b) => a - b),
    );
    for (const event of log) expect(eventSchema.safeParse(event).error, event.type).toBeUndefined();
  });

  it('serves an event as it was logged, even one whose data no longer fits its type', async () => {
    const older = projectEvent('PROJECT_UPDATE', '00000000-0000-4000-8000-000000000001', {
      project: { id: '00000000-0000-4000-8000-000000000001', name: 'before a schema change' },
      changed_fields: ['name'],
      since_removed: true,
    } as never);
    await t.database.transaction((_tx, commitWith) => appendEventsAndCommit(commitWith, [older]));
    const [event] = await events();
    expect(event).toMatchObject({ type: 'PROJECT_UPDATE', data: older.data });
    expect(Object.keys(event!)).toEqual(['id', 'type', 'topic', 'timestamp', 'data']);
  });

  it('records nothing for a refused write', async () => {
    const project = (await post('/api/v1/projects', { name: 'A' })).json();
    await post('/api/v1/agents', { name: 'dup', agent_type: 'coder' });
    const before = (await events()).length;
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${project.id}`,
      headers: { 'if-match': '"9"' },
      payload: { name: 'x' },
    });
    await post('/api/v1/agents', { name: 'dup', agent_type: 'coder' });
    await post('/api/v1/agents', {
      name: 'b',
      agent_type: 'coder',
      project_id: '00000000-0000-4000-8000-000000000000',
    });
    await post('/api/v1/projects', { name: '' });
    expect(await events()).toHaveLength(before);
    await post('/api/v1/projects', { name: 'after the refusals' });
    const ids = (await events()).map((event) => event.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => ids[0]! + i));
  });

  it('assigns ids in commit order under concurrent writes', async () => {
    const project = (await post('/api/v1/projects', { name: 'A' })).json();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.request({
          method: 'PATCH',
          url: `/api/v1/projects/${project.id}`,
          payload: { metadata: { i } },
        }),
      ),
    );
    const updates = (await events()).filter((event) => event.type === 'PROJECT_UPDATE');
    expect(updates.map((event) => (event.data.project as { version: number }).version)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 2),
    );
  });

  it('pages with after/limit and filters by topic', async () => {
    const a = (await post('/api/v1/projects', { name: 'A' })).json();
    await post('/api/v1/projects', { name: 'B' });
    await post('/api/v1/agents', { name: 'x', agent_type: 'coder', project_id: a.id });
    const all = await events();
    const first = (await t.request({ method: 'GET', url: '/api/v1/events?limit=2' })).json();
    expect(first).toMatchObject({ has_more: true, next_after: all[1]!.id, pruned_through_id: 0 });
    const rest = (
      await t.request({ method: 'GET', url: `/api/v1/events?after=${first.next_after}&limit=2` })
    ).json();
    expect(rest).toMatchObject({ has_more: false, next_after: all[2]!.id });
    // A page that ends exactly at the log's end says so; reading past the end keeps the cursor.
    const whole = (await t.request({ method: 'GET', url: '/api/v1/events?limit=3' })).json();
    expect(whole).toMatchObject({ has_more: false, next_after: all[2]!.id });
    const past = (
      await t.request({ method: 'GET', url: `/api/v1/events?after=${all[2]!.id}` })
    ).json();
    expect(past).toEqual({
      items: [],
      has_more: false,
      next_after: all[2]!.id,
      pruned_through_id: 0,
    });
    expect((await events(`&topic=project:${a.id}`)).map((event) => event.type)).toEqual([
      'PROJECT_CREATED',
      'AGENT_CREATED',
    ]);
    expect((await events('&topic=agents&topic=projects')).length).toBe(3);
    expect((await events('&topic=system')).length).toBe(0);
    expect(
      errorPaths(
        await t.request({ method: 'GET', url: '/api/v1/events?topic=nope&limit=0&after=-1' }),
      ),
    ).toEqual(['/after', '/limit', '/topic/0']);
  });

  it('prunes by count and by age, remembering how far it went', async () => {
    for (let i = 0; i < 6; i += 1) await post('/api/v1/projects', { name: `p${i}` });
    const ids = (await events()).map((event) => event.id);
    const { log } = t.app.events;
    expect(await log.prune(t.database.db, { maxAgeMs: null, maxEvents: 4 })).toBe(2);
    expect((await events()).map((event) => event.id)).toEqual(ids.slice(2));
    expect(await log.prunedThroughId(t.database.db)).toBe(ids[1]);
    expect(await log.prune(t.database.db, { maxAgeMs: null, maxEvents: 4 })).toBe(0);
    expect(
      await log.prune(
        t.database.db,
        { maxAgeMs: 60_000, maxEvents: null },
        new Date(Date.now() + 120_000),
      ),
    ).toBe(4);
    expect(await log.latestId(t.database.db)).toBe(ids[5]);
    expect((await t.request({ method: 'GET', url: '/api/v1/events' })).json()).toMatchObject({
      items: [],
      pruned_through_id: ids[5],
    });
  });

  it('prunes by the limits set, as far as the stricter one goes', async () => {
    for (let i = 0; i < 6; i += 1) await post('/api/v1/projects', { name: `p${i}` });
    const ids = (await events()).map((event) => event.id);
    const { log } = t.app.events;
    expect(await log.prune(t.database.db, { maxAgeMs: 60_000, maxEvents: null })).toBe(0);
    // In two minutes all six are older than a minute, though the count would keep four.
    const later = new Date(Date.now() + 120_000);
    expect(await log.prune(t.database.db, { maxAgeMs: 60_000, maxEvents: 4 }, later)).toBe(6);
    expect(await log.prunedThroughId(t.database.db)).toBe(ids[5]);
  });

  it('runs the background pruner without overlapping rounds', async () => {
    await post('/api/v1/projects', { name: 'p' });
    const { pruner } = t.app.events;
    await Promise.all([pruner.pruneOnce(), pruner.pruneOnce()]);
    expect(await events()).toHaveLength(1);
  });
});
