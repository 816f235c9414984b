import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';
import { upgradeStatus } from '../support/ws-client.js';

/**
 * Every route × {no key, reader, writer, admin, a writer scoped to another project} gets the
 * status its access level promises. The routes come from the app's own route table, and a route
 * without a sample request fails the test, so a new route cannot skip the matrix.
 */
let t: TestApp;
let headers: Record<'reader' | 'writer' | 'admin' | 'scoped', Record<string, string>>;
let fixture: {
  project: string;
  other: string;
  agent: string;
  keyToRevoke: string;
  /** Queued, running (attempt 1), failed. */
  task: string;
  running: string;
  failed: string;
  schedule: string;
  /** A project with nothing running and its idle agent: deletes of busy ones are 409s. */
  spare: string;
  spareAgent: string;
};

type Who = 'none' | keyof typeof headers;
type Access = 'public' | 'read' | 'write' | 'admin';

interface Sample {
  access: Access;
  request: () => InjectOptions;
  success: number;
  /** What a writer limited to another project gets. */
  scoped: number;
}

const samples: Record<string, Sample> = {
  'GET /health/live': {
    access: 'public',
    request: () => ({ url: '/health/live' }),
    success: 200,
    scoped: 200,
  },
  'GET /health/ready': {
    access: 'public',
    request: () => ({ url: '/health/ready' }),
    success: 200,
    scoped: 200,
  },
  'GET /health': {
    access: 'public',
    request: () => ({ url: '/health' }),
    success: 200,
    scoped: 200,
  },
  'GET /openapi.json': {
    access: 'public',
    request: () => ({ url: '/openapi.json' }),
    success: 200,
    scoped: 200,
  },
  'GET /metrics': {
    access: 'public',
    request: () => ({ url: '/metrics' }),
    success: 200,
    scoped: 200,
  },
  'POST /api/v1/projects': {
    access: 'write',
    request: () => ({ method: 'POST', url: '/api/v1/projects', payload: { name: 'new' } }),
    success: 201,
    scoped: 403,
  },
  'GET /api/v1/projects': {
    access: 'read',
    request: () => ({ url: '/api/v1/projects' }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/projects/{id}': {
    access: 'read',
    request: () => ({ url: `/api/v1/projects/${fixture.project}` }),
    success: 200,
    scoped: 404,
  },
  'PUT /api/v1/projects/{id}': {
    access: 'write',
    request: () => ({
      method: 'PUT',
      url: `/api/v1/projects/${fixture.project}`,
      payload: { name: 'put' },
    }),
    success: 200,
    scoped: 404,
  },
  'PATCH /api/v1/projects/{id}': {
    access: 'write',
    request: () => ({
      method: 'PATCH',
      url: `/api/v1/projects/${fixture.project}`,
      payload: { name: 'patched' },
    }),
    success: 200,
    scoped: 404,
  },
  'DELETE /api/v1/projects/{id}': {
    access: 'write',
    request: () => ({ method: 'DELETE', url: `/api/v1/projects/${fixture.spare}` }),
    success: 204,
    scoped: 404,
  },
  'POST /api/v1/agents': {
    access: 'write',
    request: () => ({
      method: 'POST',
      url: '/api/v1/agents',
      payload: { name: `new-${Math.random()}`, agent_type: 'coder', project_id: fixture.project },
    }),
    success: 201,
    scoped: 422,
  },
  'GET /api/v1/agents': {
    access: 'read',
    request: () => ({ url: '/api/v1/agents' }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/agents/{id}': {
    access: 'read',
    request: () => ({ url: `/api/v1/agents/${fixture.agent}` }),
    success: 200,
    scoped: 404,
  },
  'PUT /api/v1/agents/{id}': {
    access: 'write',
    request: () => ({
      method: 'PUT',
      url: `/api/v1/agents/${fixture.agent}`,
      payload: { name: `put-${Math.random()}`, agent_type: 'tester', project_id: fixture.project },
    }),
    success: 200,
    scoped: 422,
  },
  'PATCH /api/v1/agents/{id}': {
    access: 'write',
    request: () => ({
      method: 'PATCH',
      url: `/api/v1/agents/${fixture.agent}`,
      payload: { status: 'busy' },
    }),
    success: 200,
    scoped: 404,
  },
  'DELETE /api/v1/agents/{id}': {
    access: 'write',
    request: () => ({ method: 'DELETE', url: `/api/v1/agents/${fixture.spareAgent}` }),
    success: 204,
    scoped: 404,
  },
  'POST /api/v1/agents/{id}/heartbeat': {
    access: 'write',
    request: () => ({ method: 'POST', url: `/api/v1/agents/${fixture.agent}/heartbeat` }),
    success: 200,
    scoped: 404,
  },
  'GET /api/v1/events': {
    access: 'read',
    request: () => ({ url: `/api/v1/events?topic=project:${fixture.project}` }),
    success: 200,
    scoped: 403,
  },
  'GET /ws': { access: 'read', request: () => ({ url: '/ws' }), success: 101, scoped: 101 },
  'POST /api/v1/keys': {
    access: 'admin',
    request: () => ({
      method: 'POST',
      url: '/api/v1/keys',
      payload: { name: 'k', role: 'reader' },
    }),
    success: 201,
    scoped: 403,
  },
  'GET /api/v1/keys': {
    access: 'admin',
    request: () => ({ url: '/api/v1/keys' }),
    success: 200,
    scoped: 403,
  },
  'DELETE /api/v1/keys/{id}': {
    access: 'admin',
    request: () => ({ method: 'DELETE', url: `/api/v1/keys/${fixture.keyToRevoke}` }),
    success: 204,
    scoped: 403,
  },
  'GET /api/v1/keys/self': {
    access: 'read',
    request: () => ({ url: '/api/v1/keys/self' }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/stats': {
    access: 'read',
    request: () => ({ url: '/api/v1/stats' }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/stats/agents': {
    access: 'read',
    request: () => ({ url: `/api/v1/stats/agents?agent_id=${fixture.agent}` }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/audit': {
    access: 'admin',
    request: () => ({ url: '/api/v1/audit' }),
    success: 200,
    scoped: 403,
  },
  'POST /api/v1/memory': {
    access: 'write',
    request: () => ({
      method: 'POST',
      url: '/api/v1/memory',
      payload: { key: 'k1', content: 'c', project_id: fixture.project },
    }),
    success: 201,
    scoped: 422,
  },
  'GET /api/v1/memory': {
    access: 'read',
    request: () => ({ url: '/api/v1/memory' }),
    success: 200,
    scoped: 200,
  },
  'GET /api/v1/memory/search': {
    access: 'read',
    request: () => ({ url: `/api/v1/memory/search?q=c&project_id=${fixture.project}` }),
    success: 200,
    scoped: 422,
  },
  'GET /api/v1/memory/circuit': {
    access: 'read',
    request: () => ({ url: '/api/v1/memory/circuit' }),
    success: 200,
    scoped: 200,
  },
  'POST /api/v1/memory/circuit/reset': {
    access: 'admin',
    request: () => ({ method: 'POST', url: '/api/v1/memory/circuit/reset' }),
    success: 200,
    scoped: 403,
  },
  'GET /api/v1/memory/{key}': {
    access: 'read',
    request: () => ({ url: `/api/v1/memory/mem-a?project_id=${fixture.project}` }),
    success: 200,
    scoped: 404,
  },
  ...taskSamples(),
  ...scheduleSamples(),
  // MCP needs only `read`: its write tools refuse a reader key inside the protocol (test/mcp).
  'POST /mcp': {
    access: 'read',
    request: () => ({
      method: 'POST',
      url: '/mcp',
      headers: { accept: 'application/json, text/event-stream' },
      payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    }),
    success: 200,
    scoped: 200,
  },
  'GET /mcp': { access: 'read', request: () => ({ url: '/mcp' }), success: 405, scoped: 405 },
  'DELETE /mcp': {
    access: 'read',
    request: () => ({ method: 'DELETE', url: '/mcp' }),
    success: 405,
    scoped: 405,
  },
};

/** A write of the task API that a scoped key cannot see: success for others, 404 for it. */
function post(url: () => string, payload?: () => object, success = 200): Sample {
  return {
    access: 'write',
    request: () => ({ method: 'POST', url: url(), ...(payload ? { payload: payload() } : {}) }),
    success,
    scoped: 404,
  };
}

function taskSamples(): Record<string, Sample> {
  const task = () => `/api/v1/tasks/${fixture.task}`;
  const running = (action: string) => () => `/api/v1/tasks/${fixture.running}/${action}`;
  return {
    'POST /api/v1/tasks': {
      access: 'write',
      request: () => ({
        method: 'POST',
        url: '/api/v1/tasks',
        payload: { project_id: fixture.project, title: 'new' },
      }),
      success: 201,
      scoped: 422,
    },
    'GET /api/v1/tasks': {
      access: 'read',
      request: () => ({ url: '/api/v1/tasks' }),
      success: 200,
      scoped: 200,
    },
    'GET /api/v1/tasks/{id}': {
      access: 'read',
      request: () => ({ url: task() }),
      success: 200,
      scoped: 404,
    },
    'GET /api/v1/tasks/{id}/attempts': {
      access: 'read',
      request: () => ({ url: `/api/v1/tasks/${fixture.running}/attempts` }),
      success: 200,
      scoped: 404,
    },
    'PATCH /api/v1/tasks/{id}': {
      access: 'write',
      request: () => ({ method: 'PATCH', url: task(), payload: { priority: 1 } }),
      success: 200,
      scoped: 404,
    },
    'DELETE /api/v1/tasks/{id}': {
      access: 'write',
      request: () => ({ method: 'DELETE', url: task() }),
      success: 204,
      scoped: 404,
    },
    'POST /api/v1/tasks/claim': post(
      () => '/api/v1/tasks/claim',
      () => ({ agent_id: fixture.agent }),
    ),
    'POST /api/v1/tasks/{id}/heartbeat': post(running('heartbeat'), () => ({ attempt: 1 })),
    'POST /api/v1/tasks/{id}/complete': post(running('complete'), () => ({ attempt: 1 })),
    'POST /api/v1/tasks/{id}/fail': post(running('fail'), () => ({ attempt: 1, error: 'x' })),
    'POST /api/v1/tasks/{id}/cancel': post(() => `${task()}/cancel`),
    'POST /api/v1/tasks/{id}/retry': post(() => `/api/v1/tasks/${fixture.failed}/retry`),
  };
}

function scheduleSamples(): Record<string, Sample> {
  const schedule = () => `/api/v1/schedules/${fixture.schedule}`;
  return {
    'POST /api/v1/schedules': {
      access: 'write',
      request: () => ({
        method: 'POST',
        url: '/api/v1/schedules',
        payload: {
          project_id: fixture.project,
          name: 's',
          cron: '0 3 * * *',
          task: { title: 't' },
        },
      }),
      success: 201,
      scoped: 422,
    },
    'GET /api/v1/schedules': {
      access: 'read',
      request: () => ({ url: '/api/v1/schedules' }),
      success: 200,
      scoped: 200,
    },
    'GET /api/v1/schedules/{id}': {
      access: 'read',
      request: () => ({ url: schedule() }),
      success: 200,
      scoped: 404,
    },
    'PATCH /api/v1/schedules/{id}': {
      access: 'write',
      request: () => ({ method: 'PATCH', url: schedule(), payload: { enabled: false } }),
      success: 200,
      scoped: 404,
    },
    'DELETE /api/v1/schedules/{id}': {
      access: 'write',
      request: () => ({ method: 'DELETE', url: schedule() }),
      success: 204,
      scoped: 404,
    },
    'POST /api/v1/schedules/{id}/run': post(() => `${schedule()}/run`, undefined, 201),
  };
}

function expected(sample: Sample, who: Who): number {
  if (sample.access === 'public') return sample.success;
  if (who === 'none') return 401;
  if (who === 'scoped') return sample.scoped;
  const allowed =
    who === 'admin' ||
    (who === 'writer' && sample.access !== 'admin') ||
    (who === 'reader' && sample.access === 'read');
  return allowed ? sample.success : 403;
}

/** Sends a write as the admin and returns the body of the answer. */
async function create(url: string, payload: object): Promise<{ id: string }> {
  const response = await t.request({ method: 'POST', url, payload, headers: headers.admin });
  return response.json();
}

/** Empties the database and makes the admin key, project B and a fresh set of rows. */
async function resetFixture(): Promise<void> {
  await t.reset();
  headers.admin = await keyHeader(t.app, { role: 'admin' });
  const other = (await create('/api/v1/projects', { name: 'B' })).id;
  fixture = { other, ...(await freshRows()) };
}

/**
 * The rows the samples read, change or use up: project A with its agent, memory entry, tasks and
 * schedule, and a key to revoke. Each call makes a new project A, where the other names need only
 * be unique (a claim takes only its agent's project's tasks), so a new set needs no emptied
 * database and leaves the keys and project B as they were. Agents of a deleted project lose it,
 * so each set's agent needs a name of its own.
 */
async function freshRows(agentName = 'agent-a'): Promise<Omit<typeof fixture, 'other'>> {
  const project = (await create('/api/v1/projects', { name: 'A' })).id;
  const agent = (
    await create('/api/v1/agents', { name: agentName, agent_type: 'coder', project_id: project })
  ).id;
  await create('/api/v1/memory', { key: 'mem-a', content: 'c', project_id: project });
  const keyToRevoke = (await create('/api/v1/keys', { name: 'revocable', role: 'reader' })).id;
  const tasks = await taskFixtures(project, agent);
  const schedule = (
    await create('/api/v1/schedules', {
      project_id: project,
      name: 'nightly',
      cron: '0 3 * * *',
      task: { title: 't' },
    })
  ).id;
  const spare = (await create('/api/v1/projects', { name: 'spare' })).id;
  const spareAgent = (
    await create('/api/v1/agents', {
      name: `spare-${agentName}`,
      agent_type: 'coder',
      project_id: spare,
    })
  ).id;
  return { project, agent, keyToRevoke, ...tasks, schedule, spare, spareAgent };
}

/** A running task (attempt 1 held by `agent`), a failed one, then a queued one. */
async function taskFixtures(project: string, agent: string) {
  const claimOne = async () => {
    const id = (await create('/api/v1/tasks', { project_id: project, title: 'run' })).id;
    await create('/api/v1/tasks/claim', { agent_id: agent });
    return id;
  };
  const running = await claimOne();
  const failed = await claimOne();
  await create(`/api/v1/tasks/${failed}/fail`, { attempt: 1, error: 'x', retryable: false });
  const task = (await create('/api/v1/tasks', { project_id: project, title: 'queued' })).id;
  return { task, running, failed };
}

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  headers = { reader: {}, writer: {}, admin: {}, scoped: {} };
  headers.admin = await keyHeader(t.app, { role: 'admin' });
}, 60_000);
afterAll(() => t.close());

async function createKeys(): Promise<void> {
  headers.reader = await keyHeader(t.app, { role: 'reader' });
  headers.writer = await keyHeader(t.app, { role: 'writer' });
  headers.scoped = await keyHeader(t.app, { role: 'writer', project_ids: [fixture.other] });
}

async function statusOf(sample: Sample, who: Who, wsBase: string): Promise<number> {
  const request = sample.request();
  const auth = who === 'none' ? {} : headers[who];
  if (request.url === '/ws') return upgradeStatus(`${wsBase}/ws`, auth);
  return (await t.request({ ...request, headers: { ...auth, ...(request.headers as object) } }))
    .statusCode;
}

describe('authorization matrix', () => {
  it('has a sample request for every registered route but the documentation UI and dashboard', async () => {
    // The dashboard's files are public and take no key (test/api/dashboard-files.test.ts).
    const dashboard = ['/', '/assets/*', '/config.json'];
    const routes = t.routes
      .filter(({ url }) => !url.startsWith('/docs') && !dashboard.includes(url))
      .map(({ method, url }) => `${method} ${url.replace(/:(\w+)/g, '{$1}')}`);
    expect(routes.filter((route) => samples[route] === undefined)).toEqual([]);
    expect(Object.keys(samples).filter((route) => !routes.includes(route))).toEqual([]);
  });

  it('has the OpenAPI document ask for a key exactly where the matrix needs one', async () => {
    const document = (await t.request({ url: '/openapi.json' })).json();
    const declared = Object.fromEntries(
      Object.keys(samples).map((route) => {
        const [method, path] = route.split(' ') as [string, string];
        const { security } = document.paths[path][method.toLowerCase()];
        const needsKey = (security as Array<object>).some((requirement) => 'apiKey' in requirement);
        return [route, needsKey ? 'key' : 'no key'];
      }),
    );
    const needed = Object.fromEntries(
      Object.entries(samples).map(([route, sample]) => [
        route,
        sample.access === 'public' ? 'no key' : 'key',
      ]),
    );
    expect(declared).toEqual(needed);
  });

  it('answers every route × key kind as its access level promises', async () => {
    const wsBase = (await t.listen()).replace('http', 'ws');
    const mismatches: string[] = [];
    await resetFixture();
    await createKeys();
    let sets = 1;
    for (const [route, sample] of Object.entries(samples)) {
      for (const who of ['none', 'reader', 'writer', 'admin', 'scoped'] as const) {
        const status = await statusOf(sample, who, wsBase);
        // A write that was let through may have changed or used up a row (deleted the project,
        // completed the running task): the next cell gets rows of its own. A refused one leaves
        // them as they were.
        if (!route.startsWith('GET ') && status < 300)
          fixture = { other: fixture.other, ...(await freshRows(`agent-a${++sets}`)) };
        if (status !== expected(sample, who))
          mismatches.push(`${route} as ${who}: ${status}, expected ${expected(sample, who)}`);
      }
    }
    expect(mismatches).toEqual([]);
  }, 120_000);
});

describe('keys', () => {
  it('shows a key once, never lists its secret, records last use and revokes it', async () => {
    await resetFixture();
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/keys',
      headers: headers.admin,
      payload: { name: 'ci', role: 'writer', project_ids: [fixture.project] },
    });
    expect(created.statusCode).toBe(201);
    const { key, id } = created.json();
    expect(key).toMatch(/^sc_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const listed = (await t.request({ url: '/api/v1/keys', headers: headers.admin }))
      .json()
      .items.find((item: { id: string }) => item.id === id);
    expect(listed).toMatchObject({
      role: 'writer',
      project_ids: [fixture.project],
      last_used_at: null,
      revoked_at: null,
    });
    expect(JSON.stringify(listed)).not.toContain(key.slice(-43));
    const own = { authorization: `Bearer ${key}` };
    expect(
      (await t.request({ url: `/api/v1/projects/${fixture.project}`, headers: own })).statusCode,
    ).toBe(200);
    await expect
      .poll(
        async () =>
          (await t.request({ url: '/api/v1/keys', headers: headers.admin }))
            .json()
            .items.find((item: { id: string }) => item.id === id).last_used_at,
      )
      .not.toBeNull();
    expect(
      (await t.request({ method: 'DELETE', url: `/api/v1/keys/${id}`, headers: headers.admin }))
        .statusCode,
    ).toBe(204);
    expectProblem(
      await t.request({ url: `/api/v1/projects/${fixture.project}`, headers: own }),
      401,
    );
    expectProblem(
      await t.request({
        method: 'DELETE',
        url: '/api/v1/keys/00000000-0000-4000-8000-000000000000',
        headers: headers.admin,
      }),
      404,
    );
  });

  it('rejects malformed, unknown and tampered keys with 401 and a WWW-Authenticate header', async () => {
    const created = await t.app.auth.createKey(
      { name: 'x', role: 'reader', project_ids: null },
      { principal: { keyId: null, role: 'admin', projectIds: null }, ip: null, userAgent: null },
    );
    const tampered = `${created.key.slice(0, -1)}${created.key.endsWith('A') ? 'B' : 'A'}`;
    for (const authorization of [
      'Bearer nope',
      `Bearer ${tampered}`,
      'Basic abc',
      `Bearer sc_${'0'.repeat(32)}_${'a'.repeat(43)}`,
    ]) {
      const response = await t.request({ url: '/api/v1/projects', headers: { authorization } });
      expectProblem(response, 401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="swarm-control"');
    }
  });

  it('refuses an admin key limited to projects', async () => {
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/keys',
      headers: headers.admin,
      payload: { name: 'x', role: 'admin', project_ids: [fixture.project] },
    });
    expect(expectProblem(response, 422).errors?.[0]?.path).toBe('/project_ids');
  });
});

describe('scopes', () => {
  it('lists only the projects, agents, memory and events of a scoped key', async () => {
    await resetFixture();
    const scoped = await keyHeader(t.app, { role: 'reader', project_ids: [fixture.other] });
    await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      headers: headers.admin,
      payload: { name: 'agent-b', agent_type: 'coder', project_id: fixture.other },
    });
    const names = async (url: string) =>
      (await t.request({ url, headers: scoped }))
        .json()
        .items.map((item: { name?: string; type?: string }) => item.name ?? item.type);
    expect(await names('/api/v1/projects')).toEqual(['B']);
    expect(await names('/api/v1/agents')).toEqual(['agent-b']);
    expect(await names('/api/v1/events')).toEqual(['PROJECT_CREATED', 'AGENT_CREATED']);
    expect(
      (
        await t.request({
          url: `/api/v1/memory/search?q=c&project_id=${fixture.other}`,
          headers: scoped,
        })
      ).json().items,
    ).toEqual([]);
    expect((await t.request({ url: '/api/v1/memory', headers: scoped })).json()).toMatchObject({
      items: [],
      total: 0,
    });
    const all = (await t.request({ url: '/api/v1/memory', headers: headers.admin })).json();
    expect(all.items.map((entry: { key: string }) => entry.key)).toEqual(['mem-a']);
  });
});

describe('memory entries of other projects', () => {
  const entry = async (key: string, projectId: string | null) => {
    const query = projectId === null ? '' : `?project_id=${projectId}`;
    return (
      await t.request({ url: `/api/v1/memory/${key}${query}`, headers: headers.admin })
    ).json();
  };

  it("a scoped writer storing another project's key gets an entry of its own; the other stays as it was", async () => {
    await resetFixture();
    const attacker = await keyHeader(t.app, { role: 'writer', project_ids: [fixture.other] });
    const payload = { key: 'mem-a', content: 'taken over', project_id: fixture.other };
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/memory',
      headers: attacker,
      payload,
    });
    expect(response.json()).toMatchObject({ key: 'mem-a', project_id: fixture.other });
    expect(await entry('mem-a', fixture.project)).toMatchObject({
      content: 'c',
      project_id: fixture.project,
    });
    expect(await entry('mem-a', fixture.other)).toMatchObject({
      content: 'taken over',
      project_id: fixture.other,
    });
    const read = await t.request({
      url: `/api/v1/memory/mem-a?project_id=${fixture.project}`,
      headers: attacker,
    });
    expectProblem(read, 404);
  });

  it("keeps entries without a project out of a scoped writer's reach", async () => {
    await resetFixture();
    const global = { key: 'shared', content: 'original' };
    await t.request({
      method: 'POST',
      url: '/api/v1/memory',
      headers: headers.admin,
      payload: global,
    });
    const attacker = await keyHeader(t.app, { role: 'writer', project_ids: [fixture.other] });
    const write = (payload: object) =>
      t.request({ method: 'POST', url: '/api/v1/memory', headers: attacker, payload });
    expect(
      expectProblem(await write({ key: 'shared', content: 'mine' }), 422).errors?.[0]?.path,
    ).toBe('/project_id');
    await write({ key: 'shared', content: 'mine', project_id: fixture.other });
    expect(await entry('shared', null)).toMatchObject({ content: 'original', project_id: null });
    expectProblem(await t.request({ url: '/api/v1/memory/shared', headers: attacker }), 404);
  });

  it('refuses a project that does not exist (422, as for agents) and a key posing as a project entry', async () => {
    await resetFixture();
    const missing = '00000000-0000-4000-8000-000000000000';
    const store = (payload: object) =>
      t.request({ method: 'POST', url: '/api/v1/memory', headers: headers.admin, payload });
    const unknown = expectProblem(
      await store({ key: 'k', content: 'c', project_id: missing }),
      422,
    );
    expect(unknown.detail).toBe(`Project ${missing} does not exist`);
    const posing = expectProblem(
      await store({ key: `@${fixture.project}/mem-a`, content: 'c' }),
      422,
    );
    expect(posing.errors?.map((error) => error.path)).toEqual(['/key']);
    expect(await entry('mem-a', fixture.project)).toMatchObject({ content: 'c' });
  });
});

describe('agent names', () => {
  it('does not tell a scoped key that another project has an agent of the same name', async () => {
    await resetFixture();
    const scoped = await keyHeader(t.app, { role: 'writer', project_ids: [fixture.other] });
    const payload = { name: 'agent-a', agent_type: 'coder', project_id: fixture.other };
    const request = { method: 'POST' as const, url: '/api/v1/agents', headers: scoped, payload };
    const create = () => t.request(request);
    const created = await create();
    expect(created.statusCode, created.body).toBe(201);
    expect(expectProblem(await create(), 409).detail).toContain(fixture.other);
  });
});

describe('audit log', () => {
  it('records every write with key, action, resource, fields, ip and user agent, and nothing for a rejected one', async () => {
    await resetFixture();
    const writer = await keyHeader(t.app, { role: 'writer' });
    const keyId = (await t.request({ url: '/api/v1/keys', headers: headers.admin })).json().items[0]
      .id;
    const before = (
      await t.request({ url: '/api/v1/audit?limit=1000', headers: headers.admin })
    ).json().items.length;
    const agent = { ...writer, 'user-agent': 'audit-test' };
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${fixture.project}`,
      headers: agent,
      payload: { status: 'completed' },
    });
    for (const payload of [{ status: 'idle' }, {}]) {
      // A change of status is recorded; a heartbeat that only says "alive" is not.
      await t.request({
        method: 'POST',
        url: `/api/v1/agents/${fixture.agent}/heartbeat`,
        headers: agent,
        payload,
      });
    }
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${fixture.project}`,
      headers: { ...agent, 'if-match': '"99"' },
      payload: { status: 'archived' },
    });
    await t.request({
      method: 'POST',
      url: '/api/v1/projects',
      headers: agent,
      payload: { name: '' },
    });
    await t.request({
      method: 'POST',
      url: '/api/v1/memory/circuit/reset',
      headers: headers.admin,
    });
    const entries = (
      await t.request({ url: '/api/v1/audit?limit=1000', headers: headers.admin })
    ).json().items;
    expect(entries.length - before).toBe(3);
    expect(
      entries
        .slice(0, 3)
        .map((entry: { action: string; resource: string }) => `${entry.action} ${entry.resource}`),
    ).toEqual(['reset memory_circuit', 'status agent', 'update project']);
    expect(entries[2]).toMatchObject({
      key_id: keyId,
      resource_id: fixture.project,
      changed_fields: ['status'],
      ip: '127.0.0.1',
      user_agent: 'audit-test',
    });
    expect(entries[1]).toMatchObject({
      key_id: keyId,
      resource_id: fixture.agent,
      changed_fields: ['status'],
      ip: '127.0.0.1',
      user_agent: 'audit-test',
    });
    const filtered = (
      await t.request({
        url: `/api/v1/audit?resource=project&resource_id=${fixture.project}&action=update`,
        headers: headers.admin,
      })
    ).json().items;
    expect(filtered).toHaveLength(1);
    const first = (
      await t.request({ url: '/api/v1/audit?limit=1', headers: headers.admin })
    ).json();
    expect(first).toMatchObject({
      items: [{ id: entries[0].id }],
      next_before: entries[0].id,
      has_more: true,
    });
    const page = (
      await t.request({
        url: `/api/v1/audit?limit=1&before=${first.next_before}`,
        headers: headers.admin,
      })
    ).json().items;
    expect(page[0].id).toBe(entries[1].id);
    const last = (
      await t.request({
        url: `/api/v1/audit?limit=1000&before=${entries[1].id}`,
        headers: headers.admin,
      })
    ).json();
    expect(last).toMatchObject({ next_before: null, has_more: false });
    // A page that holds exactly the oldest entries left is the last one too.
    const exact = (
      await t.request({
        url: `/api/v1/audit?limit=${entries.length - 2}&before=${entries[1].id}`,
        headers: headers.admin,
      })
    ).json();
    expect(exact).toMatchObject({ next_before: null, has_more: false });
    expect(exact.items).toHaveLength(entries.length - 2);
  });
});

describe('audit log of task runs', () => {
  it("records the agent's status changes that a claim and its end make", async () => {
    await resetFixture();
    const send = async (url: string, payload: object) =>
      (await t.request({ method: 'POST', url, headers: headers.admin, payload })).json();
    const project_id = fixture.project;
    const agent = await send('/api/v1/agents', {
      name: 'audited',
      agent_type: 'coder',
      project_id,
    });
    await send('/api/v1/tasks', { project_id, title: 'audited' });
    const { task, attempt } = await send('/api/v1/tasks/claim', { agent_id: agent.id });
    await send(`/api/v1/tasks/${task.id}/complete`, { attempt: attempt.number, result: {} });
    const entries = (
      await t.request({
        url: `/api/v1/audit?resource=agent&resource_id=${agent.id}`,
        headers: headers.admin,
      })
    ).json().items;
    const changes = entries.map((entry: { action: string; changed_fields: string[] | null }) => [
      entry.action,
      entry.changed_fields,
    ]);
    expect(changes.reverse()).toEqual([
      ['create', null],
      ['status', ['status']],
      ['status', ['status']],
    ]);
  });
});

describe('first start', () => {
  it('creates one admin key when there is none, and no second one later', async () => {
    await t.reset();
    expect(await t.app.auth.bootstrap()).toMatchObject({
      role: 'admin',
      name: 'bootstrap admin',
      key: expect.stringMatching(/^sc_/),
    });
    expect(await t.app.auth.bootstrap()).toBeNull();
    headers.admin = await keyHeader(t.app, { role: 'admin' });
  });
});
