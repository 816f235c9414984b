import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { openSocket } from '../support/ws-client.js';
import { type Json, callTool, connectSwarm, okTool, refusedTool } from '../support/swarm-mcp.js';

/**
 * Every tool of `/mcp` through the official SDK client over Streamable HTTP against the
 * listening app, with authentication on: its schemas, its effect as REST and the event log see
 * it, and its refusals as `isError` results.
 */
let t: TestApp;
let baseUrl: string;
let admin: Record<string, string>;
let client: Client;

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  baseUrl = await t.listen();
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  admin = await keyHeader(t.app, { role: 'admin' });
  client = await connectSwarm(baseUrl, admin);
});
afterEach(() => client.close());

async function rest(method: 'GET' | 'POST', url: string, payload?: object) {
  const response = await t.request({
    method,
    url: `/api/v1${url}`,
    headers: admin,
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: response.body === '' ? null : response.json() };
}

async function project(name = 'Alpha'): Promise<string> {
  return (await rest('POST', '/projects', { name })).body.id;
}

async function events(): Promise<Array<{ type: string; data: Json }>> {
  return (await rest('GET', '/events?after=0&limit=1000')).body.items;
}

const toolNames = [
  'claim_task',
  'complete_task',
  'create_task',
  'fail_task',
  'get_project',
  'get_task',
  'heartbeat',
  'list_agents',
  'list_tasks',
  'memory_search',
  'memory_store',
  'register_agent',
  'report_progress',
];

describe('the tool list', () => {
  it('has every tool, each with object input and output schemas from the REST rules', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(toolNames);
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      expect(tool.description?.length, tool.name).toBeGreaterThan(20);
    }
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    const claim = byName.claim_task!.inputSchema as Json;
    expect(claim.properties.wait_ms).toMatchObject({ type: 'integer', minimum: 0, maximum: 30000 });
    expect(claim.required).toEqual(['agent_id']);
    const create = byName.create_task!.inputSchema as Json;
    expect(create.required).toEqual(['title']);
    expect(create.properties.lease_ms).toMatchObject({ minimum: 100, default: 30000 });
    expect(create.additionalProperties).toBe(false);
    const list = byName.list_tasks!.inputSchema as Json;
    expect(list.properties.limit).toMatchObject({ type: 'integer', maximum: 100, default: 20 });
    expect(list.properties.status.type).toBe('array');
    expect(byName.get_task!.annotations?.readOnlyHint).toBe(true);
    expect(byName.claim_task!.annotations?.readOnlyHint).toBe(false);
  });

  it('serves the two resource templates', async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate).sort()).toEqual([
      'swarm://projects/{id}',
      'swarm://tasks/{id}',
    ]);
  });
});

describe('a task from creation to result', () => {
  it('runs through MCP, and REST, the event stream and the audit log see each step', async () => {
    const projectId = await project();
    const token = admin.authorization!.slice('Bearer '.length);
    const stream = await openSocket(`${baseUrl.replace('http', 'ws')}/ws?token=${token}`);
    expect(await stream.next()).toMatchObject({ type: 'WELCOME' });
    const registered = await okTool(client, 'register_agent', {
      name: 'worker-1',
      agent_type: 'coder',
      capabilities: ['ts'],
      project_id: projectId,
    });
    expect(registered.created).toBe(true);
    const agentId = registered.agent.id;
    const task = await okTool(client, 'create_task', {
      project_id: projectId,
      title: 'Write the parser',
      input: { file: 'parser.ts' },
      required_capabilities: ['ts'],
    });
    expect((await rest('GET', `/tasks/${task.id}`)).body.status).toBe('queued');
    const claimed = await okTool(client, 'claim_task', { agent_id: agentId });
    expect(claimed.task.id).toBe(task.id);
    expect(claimed.attempt.number).toBe(1);
    const attempt = claimed.attempt.number;
    const lease = await okTool(client, 'report_progress', {
      task_id: task.id,
      attempt,
      progress: 0.5,
      message: 'half way',
    });
    expect(lease.cancel_requested).toBe(false);
    expect((await rest('GET', `/tasks/${task.id}`)).body.progress).toEqual({
      value: 0.5,
      message: 'half way',
    });
    const done = await okTool(client, 'complete_task', {
      task_id: task.id,
      attempt,
      result: { lines: 120 },
    });
    expect(done.status).toBe('succeeded');
    const seen = (await rest('GET', `/tasks/${task.id}`)).body;
    expect(seen).toMatchObject({ status: 'succeeded', result: { lines: 120 } });
    const step = (event: Json) =>
      `${String(event.type)}${event.data.phase ? `:${event.data.phase}` : ''}`;
    const isStep = (event: Json) =>
      String(event.type).startsWith('TASK_') || event.type === 'AGENT_CREATED';
    const expected = [
      'AGENT_CREATED',
      'TASK_CREATED',
      'TASK_EXECUTION:claimed',
      'TASK_EXECUTION:progress',
      'TASK_EXECUTION:succeeded',
    ];
    expect((await events()).filter(isStep).map(step)).toEqual(expected);
    await expect.poll(() => stream.messages.filter(isStep).map(step)).toEqual(expected);
    stream.socket.close();
    const audit = (await rest('GET', `/audit?resource=task&resource_id=${task.id}`)).body.items;
    expect(audit.map((entry: Json) => entry.action).sort()).toEqual([
      'claim',
      'complete',
      'create',
    ]);
    for (const entry of audit) expect(entry.user_agent).toMatch(/^mcp( |$)/);
  });

  it('reuses an agent registered under the same name, in a project or none, with its new capabilities', async () => {
    const projectId = await project();
    const first = await okTool(client, 'register_agent', {
      name: 'w',
      agent_type: 'coder',
      project_id: projectId,
    });
    const again = await okTool(client, 'register_agent', {
      name: 'w',
      agent_type: 'tester',
      capabilities: ['py'],
      project_id: projectId,
    });
    expect(again).toMatchObject({ created: false, agent: { id: first.agent.id } });
    expect((await rest('GET', `/agents/${first.agent.id}`)).body).toMatchObject({
      agent_type: 'tester',
      capabilities: ['py'],
    });
    const elsewhere = await okTool(client, 'register_agent', { name: 'w', agent_type: 'coder' });
    expect(elsewhere.created).toBe(true);
    const unplacedAgain = await okTool(client, 'register_agent', {
      name: 'w',
      agent_type: 'coder',
    });
    expect(unplacedAgain).toMatchObject({ created: false, agent: { id: elsewhere.agent.id } });
  });

  it('fails, retries and delegates: fail_task, create_task with a parent, get and list', async () => {
    const projectId = await project();
    const { agent } = await okTool(client, 'register_agent', {
      name: 'w',
      agent_type: 'coder',
      project_id: projectId,
    });
    const parent = await okTool(client, 'create_task', { project_id: projectId, title: 'Parent' });
    const child = await okTool(client, 'create_task', {
      parent_task_id: parent.id,
      title: 'Child',
      depends_on: [parent.id],
    });
    expect(child).toMatchObject({ project_id: projectId, status: 'blocked' });
    const claimed = await okTool(client, 'claim_task', { agent_id: agent.id, wait_ms: 0 });
    expect(claimed.task.id).toBe(parent.id);
    const failed = await okTool(client, 'fail_task', {
      task_id: parent.id,
      attempt: claimed.attempt.number,
      error: 'compiler crashed',
      retryable: false,
    });
    expect(failed).toMatchObject({ status: 'failed', error: 'compiler crashed' });
    const got = await callTool(client, 'get_task', { task_id: parent.id });
    expect(got.structured.status).toBe('failed');
    expect(got.text).toContain('compiler crashed');
    const listed = await okTool(client, 'list_tasks', {
      project_id: projectId,
      sort: 'created_at',
    });
    expect(listed.items.map((task: Json) => task.title)).toEqual(['Parent', 'Child']);
    const cancelledChild = (await rest('GET', `/tasks/${child.id}`)).body.status;
    expect(['blocked', 'cancelled', 'failed']).toContain(cancelledChild);
    const none = await okTool(client, 'claim_task', { agent_id: agent.id, wait_ms: 300 });
    expect(none).toEqual({ task: null, attempt: null });
  });

  it('answers heartbeat, list_agents, get_project, memory tools and resources', async () => {
    const projectId = await project('Memory project');
    const { agent } = await okTool(client, 'register_agent', {
      name: 'w',
      agent_type: 'coder',
      capabilities: ['ts', 'sql'],
      project_id: projectId,
    });
    expect(await okTool(client, 'heartbeat', { agent_id: agent.id, status: 'busy' })).toMatchObject(
      { id: agent.id, status: 'busy' },
    );
    expect((await rest('GET', `/agents/${agent.id}`)).body.status).toBe('busy');
    const agents = await okTool(client, 'list_agents', { capability: ['sql'], limit: 5 });
    expect(agents).toMatchObject({ total: 1, limit: 5, items: [{ id: agent.id }] });
    expect(await okTool(client, 'get_project', { project_id: projectId })).toMatchObject({
      name: 'Memory project',
    });
    const stored = await okTool(client, 'memory_store', {
      key: 'deploy',
      content: 'blue/green via the canary pool',
      project_id: projectId,
    });
    expect(stored).toMatchObject({ key: 'deploy', project_id: projectId });
    const found = await okTool(client, 'memory_search', { q: 'canary', project_id: projectId });
    expect(found.items.map((item: Json) => item.key)).toEqual(['deploy']);
    const entry = await rest('GET', `/memory/deploy?project_id=${projectId}`);
    expect(entry.body.content).toBe('blue/green via the canary pool');
    const task = await okTool(client, 'create_task', { project_id: projectId, title: 'T' });
    const read = await client.readResource({ uri: `swarm://tasks/${task.id}` });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ title: 'T' });
    const listed = await client.listResources();
    expect(listed.resources.map((resource) => resource.uri)).toEqual([
      `swarm://projects/${projectId}`,
    ]);
    const ofProject = await client.readResource({ uri: `swarm://projects/${projectId}` });
    expect(ofProject.contents[0]).toMatchObject({ mimeType: 'application/json' });
  });
});

describe('refusals are tool results with isError and the problem text', () => {
  it('for bad arguments, unknown ids and stale attempts', async () => {
    const projectId = await project();
    expect(await refusedTool(client, 'create_task', { project_id: projectId })).toMatch(/title/);
    expect(await refusedTool(client, 'create_task', { title: 'no project' })).toContain(
      'project_id or parent_task_id is required',
    );
    const agent = (await okTool(client, 'register_agent', { name: 'a', agent_type: 'coder' }))
      .agent;
    expect(
      await refusedTool(client, 'claim_task', { agent_id: agent.id, wait_ms: 999_999 }),
    ).toMatch(/wait_ms/);
    expect(await refusedTool(client, 'claim_task', { agent_id: 'not-a-uuid' })).toMatch(/UUID/);
    expect(await refusedTool(client, 'list_tasks', { limit: '20' })).toMatch(/limit/);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await refusedTool(client, 'get_task', { task_id: missing })).toBe(
      `Not Found (404): Task ${missing} not found`,
    );
    const task = await okTool(client, 'create_task', { project_id: projectId, title: 'T' });
    expect(await refusedTool(client, 'complete_task', { task_id: task.id, attempt: 1 })).toMatch(
      /^Conflict \(409\)/,
    );
    expect(
      await refusedTool(client, 'memory_store', { key: 'search', content: 'reserved' }),
    ).toMatch(/reserved/);
    const bad = await client.readResource({ uri: 'swarm://tasks/nope' }).catch((e: Error) => e);
    expect(String(bad)).toContain('must be a UUID');
    expect((await rest('GET', `/tasks/${task.id}`)).body.status).toBe('queued');
  });
});
