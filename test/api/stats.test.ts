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

    const body = await stats(admin);
    expect(body).toEqual({
      generated_at: expect.any(String),
      projects: { total: 2, by_status: { active: 1, completed: 0, archived: 1 } },
      agents: { total: 4, by_status: { active: 0, idle: 1, busy: 2, offline: 1, error: 0 } },
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
  });

  it('needs a key', async () => {
    expectProblem(await t.request({ url: '/api/v1/stats' }), 401);
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
