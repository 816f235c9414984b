import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { byDepth } from '../support/depth.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';
import { callTool, connectSwarm, okTool, refusedTool } from '../support/swarm-mcp.js';

/**
 * Who may do what through `/mcp`: keys, roles and project scopes as REST has them, and many
 * clients claiming at once (8, 20 at the deep depth), each task run exactly once.
 */
let t: TestApp;
let baseUrl: string;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  baseUrl = await t.listen();
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  admin = await keyHeader(t.app, { role: 'admin' });
});

async function rest(method: 'GET' | 'POST', url: string, payload?: object) {
  const response = await t.request({
    method,
    url: `/api/v1${url}`,
    headers: admin,
    ...(payload === undefined ? {} : { payload }),
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.body === '' ? null : response.json();
}

async function withClient<T>(headers: Record<string, string>, use: (c: Client) => Promise<T>) {
  const client = await connectSwarm(baseUrl, headers);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

const listTools = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const accept = 'application/json, text/event-stream';

describe('keys and roles', () => {
  it('answers a missing or unknown key with a 401 problem before reading any message', async () => {
    for (const authorization of [undefined, 'Bearer sc_unknown']) {
      const response = await fetch(`${baseUrl}/mcp`, {
        method: 'POST',
        headers: {
          accept,
          'content-type': 'application/json',
          ...(authorization && { authorization }),
        },
        body: '{not even JSON',
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.headers.get('www-authenticate')).toContain('Bearer');
    }
    const refused = await connectSwarm(baseUrl, {}).catch((error: Error) => error);
    expect(String(refused)).toContain('401');
  });

  it('refuses GET and DELETE with 405: no stream and no session in stateless mode', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const response = await t.request({ method, url: '/mcp', headers: admin });
      expectProblem(response, 405);
      expect(response.headers.allow).toBe('POST');
    }
  });

  it('answers tools/list in one POST, with the security and rate-limit headers of REST', async () => {
    const response = await t.request({
      method: 'POST',
      url: '/mcp',
      headers: { ...admin, accept },
      payload: listTools,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().result.tools).toHaveLength(13);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-ratelimit-limit']).toBeDefined();
    expect(response.headers['mcp-session-id']).toBeUndefined();
  });

  it('counts MCP calls against the key’s rate limit, in the bucket of its REST calls', async () => {
    const limited = await createTestApp({ AUTH: 'on', RATE_LIMIT_MAX: '3' });
    try {
      const key = await keyHeader(limited.app, { role: 'reader' });
      const post = () =>
        limited.request({
          method: 'POST',
          url: '/mcp',
          headers: { ...key, accept },
          payload: listTools,
        });
      // A key's first request counts against its address (docs/security.md), the rest against it.
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await post()).statusCode);
      const rest = await limited.request({ url: '/api/v1/projects', headers: key });
      expect([...statuses, rest.statusCode]).toEqual([200, 200, 200, 200, 429]);
      expectProblem(await post(), 429);
    } finally {
      await limited.close();
    }
  });

  it('lets a reader read but answers its write tools with isError 403', async () => {
    const project = await rest('POST', '/projects', { name: 'A' });
    const task = await rest('POST', '/tasks', { project_id: project.id, title: 'T' });
    const reader = await keyHeader(t.app, { role: 'reader' });
    await withClient(reader, async (client) => {
      expect((await okTool(client, 'get_task', { task_id: task.id })).title).toBe('T');
      const text = await refusedTool(client, 'create_task', { project_id: project.id, title: 'X' });
      expect(text).toBe('Forbidden (403): A reader key cannot make changes (tool create_task)');
      await refusedTool(client, 'memory_store', { key: 'k', content: 'c' });
    });
    expect((await rest('GET', '/tasks')).total).toBe(1);
  });
});

describe('project scopes', () => {
  it('keeps a key of project A from reading, claiming or creating in project B', async () => {
    const [a, b] = [
      await rest('POST', '/projects', { name: 'A' }),
      await rest('POST', '/projects', { name: 'B' }),
    ];
    const agentB = await rest('POST', '/agents', {
      name: 'b-worker',
      agent_type: 'coder',
      project_id: b.id,
    });
    const taskB = await rest('POST', '/tasks', { project_id: b.id, title: 'B task' });
    const taskA = await rest('POST', '/tasks', { project_id: a.id, title: 'A task' });
    const scoped = await keyHeader(t.app, { role: 'writer', project_ids: [a.id] });
    await withClient(scoped, async (client) => {
      const notFound = (kind: string, id: string) => `Not Found (404): ${kind} ${id} not found`;
      expect(await refusedTool(client, 'get_task', { task_id: taskB.id })).toBe(
        notFound('Task', taskB.id),
      );
      expect(await refusedTool(client, 'get_project', { project_id: b.id })).toBe(
        notFound('Project', b.id),
      );
      expect(await refusedTool(client, 'claim_task', { agent_id: agentB.id })).toBe(
        notFound('Agent', agentB.id),
      );
      await refusedTool(client, 'create_task', { project_id: b.id, title: 'sneaky' });
      await refusedTool(client, 'create_task', { parent_task_id: taskB.id, title: 'sneaky' });
      // Pinned to another project's agent: the very answer for an agent that does not exist.
      const pin = (agentId: string) =>
        refusedTool(client, 'create_task', { project_id: a.id, title: 'p', agent_id: agentId });
      const none = await pin('00000000-0000-4000-8000-000000000000');
      expect(none).toBe('Unprocessable Content (422): names no agent\n- /agent_id: names no agent');
      expect(await pin(agentB.id)).toBe(none);
      await refusedTool(client, 'register_agent', {
        name: 'b-worker',
        agent_type: 'coder',
        project_id: b.id,
      });
      const listed = await okTool(client, 'list_tasks', {});
      expect(listed.items.map((task: { id: string }) => task.id)).toEqual([taskA.id]);
      const read = await client
        .readResource({ uri: `swarm://tasks/${taskB.id}` })
        .catch((error: Error) => error);
      expect(String(read)).toContain(notFound('Task', taskB.id));
      const { resources } = await client.listResources();
      expect(resources.map((resource) => resource.uri)).toEqual([`swarm://projects/${a.id}`]);
      const own = await okTool(client, 'register_agent', {
        name: 'a-worker',
        agent_type: 'coder',
        project_id: a.id,
      });
      const claimed = await okTool(client, 'claim_task', { agent_id: own.agent.id });
      expect(claimed.task.id).toBe(taskA.id);
    });
    const tasksOfB = await rest('GET', `/tasks?project_id=${b.id}`);
    expect(tasksOfB.items.map((task: { status: string }) => task.status)).toEqual(['queued']);
  });
});

describe('claims under contention', () => {
  it('wakes a waiting claim_task when a task arrives', async () => {
    const project = await rest('POST', '/projects', { name: 'A' });
    await withClient(admin, async (client) => {
      const { agent } = await okTool(client, 'register_agent', {
        name: 'waiter',
        agent_type: 'coder',
        project_id: project.id,
      });
      const started = Date.now();
      const waiting = callTool(client, 'claim_task', { agent_id: agent.id, wait_ms: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const task = await rest('POST', '/tasks', { project_id: project.id, title: 'late' });
      const claimed = await waiting;
      expect(claimed.structured.task.id).toBe(task.id);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  const { clients, tasks } = byDepth({ clients: 8, tasks: 80 }, { clients: 20, tasks: 200 });
  it(`runs each of ${tasks} tasks exactly once with ${clients} MCP clients at once`, async () => {
    const project = await rest('POST', '/projects', { name: 'Load' });
    const created = await Promise.all(
      Array.from({ length: tasks }, (_, index) =>
        rest('POST', '/tasks', { project_id: project.id, title: `task ${index}` }),
      ),
    );
    const runs = new Map<string, number>();
    const worker = (index: number) =>
      withClient(admin, async (client) => {
        const { agent } = await okTool(client, 'register_agent', {
          name: `worker-${index}`,
          agent_type: 'coder',
          project_id: project.id,
        });
        for (;;) {
          const { task, attempt } = await okTool(client, 'claim_task', { agent_id: agent.id });
          if (task === null) return;
          runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
          const args = { task_id: task.id, attempt: attempt.number, result: { by: index } };
          await okTool(client, 'complete_task', args);
        }
      });
    await Promise.all(Array.from({ length: clients }, (_, index) => worker(index)));
    expect(runs.size).toBe(tasks);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    const done = await rest('GET', `/tasks?project_id=${project.id}&status=succeeded&limit=1`);
    expect(done.total).toBe(created.length);
    const workers = new Set(
      (await rest('GET', `/tasks?project_id=${project.id}&limit=100`)).items.map(
        (task: { result: { by: number } }) => task.result.by,
      ),
    );
    expect(workers.size).toBeGreaterThan(1);
  });
});
