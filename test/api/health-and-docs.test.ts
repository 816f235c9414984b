import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import {
  CONTROL_MESSAGES_PER_SECOND,
  CONTROL_MESSAGE_BURST,
  CloseCode,
  MAX_TOPICS_PER_CONNECTION,
} from '../../src/events/ws-gateway.js';
import { MAX_TOPICS_PER_MESSAGE } from '../../src/events/ws-protocol.js';
import { MAX_CLIENT_MESSAGE_BYTES } from '../../src/plugins/events.js';
import { type TestApp, createTestApp, openTestDatabase, testConfig } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('health', () => {
  it('reports the process live and the database ready', async () => {
    expect((await t.request({ method: 'GET', url: '/health/live' })).json()).toEqual({
      status: 'ok',
    });
    const ready = await t.request({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: { status: 'up' } } });
  });

  it('answers GET /health as /health/ready: the URL a person tries first', async () => {
    const health = await t.request({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ready', checks: { database: { status: 'up' } } });
  });

  it('answers 503 on readiness and on the API when the database is gone, and stays live', async () => {
    const { database, drop } = await openTestDatabase();
    const app = await buildApp({
      config: testConfig(),
      database: { handle: database },
      logger: false,
    });
    try {
      await database.close();
      const ready = expectProblem(await app.inject({ method: 'GET', url: '/health/ready' }), 503);
      expect(ready).toMatchObject({ checks: { database: { status: 'down' } } });
      const write = await app.inject({
        method: 'POST',
        url: '/api/v1/projects',
        payload: { name: 'x' },
      });
      expect(expectProblem(write, 503).detail).toMatch(/database is unavailable/);
      expect(write.headers['retry-after']).toBe('1');
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await drop();
    }
  });
});

describe('liveness over real HTTP', () => {
  it('answers GET /health/live before routing, with the same body and nosniff', async () => {
    const base = await t.listen();
    for (const path of ['/health/live', '/health/live?probe=1']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const other = await fetch(`${base}/health/live`, { method: 'POST' });
    expect(other.status).toBe(404);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  });
});

describe('OpenAPI and docs', () => {
  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const response = await t.request({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/projects',
        '/api/v1/projects/{id}',
        '/api/v1/agents',
        '/api/v1/agents/{id}',
        '/api/v1/agents/{id}/heartbeat',
        '/health/ready',
      ]),
    );
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Project', 'Agent', 'Problem']),
    );
    const patch = document.paths['/api/v1/projects/{id}'].patch;
    expect(Object.keys(patch.responses)).toEqual(
      expect.arrayContaining(['200', '404', '412', '422']),
    );
    expect(patch.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(
      expect.arrayContaining(['id', 'if-match']),
    );
    const query = document.paths['/api/v1/agents'].get.parameters.map(
      (parameter: { name: string }) => parameter.name,
    );
    expect(query).toEqual(
      expect.arrayContaining([
        'limit',
        'offset',
        'sort',
        'agent_type',
        'status',
        'project_id',
        'capability',
      ]),
    );
  });

  it('serves a browsable UI at /docs', async () => {
    const response = await t.request({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger');
  });
});

/** What the tests below read of the document: loosely typed JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON the tests walk
type Json = any;
interface Operation {
  key: string;
  method: string;
  path: string;
  operation: Json;
}

let document: Json;
let operations: Operation[];
const byId = (operationId: string): Json =>
  operations.find(({ operation }) => operation.operationId === operationId)?.operation;
const byKey = (key: string): Json => operations.find((item) => item.key === key)?.operation;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const refName = (schema: Json): string | undefined =>
  schema?.$ref?.replace('#/components/schemas/', '');
const jsonBody = (response: Json) => response.content['application/json'].schema;

/** Every component schema a `$ref` inside `value` names, found without the app's own walk. */
function refsIn(value: Json): string[] {
  const text = JSON.stringify(value ?? null);
  return [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((match) => match[1]!);
}

function reachable(from: Json): Set<string> {
  const seen = new Set<string>();
  const pending = refsIn(from);
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    pending.push(...refsIn(document.components.schemas[name]));
  }
  return seen;
}

describe('the OpenAPI document as a client generator reads it', () => {
  beforeAll(async () => {
    document = (await t.request({ method: 'GET', url: '/openapi.json' })).json();
    const paths = Object.entries(document.paths as Record<string, Record<string, Json>>);
    operations = paths.flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({
        key: `${method.toUpperCase()} ${path}`,
        method,
        path,
        operation,
      })),
    );
  });

  it('is valid OpenAPI 3.1 for a well-kept validator, which also resolves every $ref', async () => {
    const api = await SwaggerParser.validate(structuredClone(document));
    expect(Object.keys(api.paths ?? {})).toHaveLength(Object.keys(document.paths).length);
  });

  it('documents every route the app serves, except the pages of /docs and of the dashboard', () => {
    const dashboard = ['/', '/assets/*', '/config.json'];
    const served = t.routes
      .filter(({ url }) => !url.startsWith('/docs') && !dashboard.includes(url))
      .map(({ method, url }) => `${method} ${url.replace(/:(\w+)/g, '{$1}')}`);
    expect(operations.map(({ key }) => key).sort()).toEqual([...new Set(served)].sort());
  });

  it('declares bearer API keys, with their format, and public operations without one', () => {
    const scheme = document.components.securitySchemes.apiKey;
    expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(scheme.description).toContain('sc_<key id: 32 hex digits>_<secret: 43 base64url');
    const { metricsToken } = document.components.securitySchemes;
    expect(metricsToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    const publicOnes = [
      'GET /health/live',
      'GET /health/ready',
      'GET /health',
      'GET /openapi.json',
    ];
    for (const { key, operation } of operations) {
      if (key === 'GET /metrics') expect(operation.security).toEqual([{}, { metricsToken: [] }]);
      else if (publicOnes.includes(key)) expect(operation.security, key).toEqual([]);
      else expect(operation.security, key).toEqual([{ apiKey: [] }]);
    }
  });

  it('gives every operation a unique operationId named for what it does', () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const expected: Record<string, string> = {
      'GET /api/v1/projects': 'listProjects',
      'POST /api/v1/projects': 'createProject',
      'GET /api/v1/projects/{id}': 'getProject',
      'PUT /api/v1/projects/{id}': 'replaceProject',
      'PATCH /api/v1/projects/{id}': 'updateProject',
      'DELETE /api/v1/projects/{id}': 'deleteProject',
      'GET /api/v1/agents': 'listAgents',
      'POST /api/v1/agents': 'createAgent',
      'GET /api/v1/agents/{id}': 'getAgent',
      'PUT /api/v1/agents/{id}': 'replaceAgent',
      'PATCH /api/v1/agents/{id}': 'updateAgent',
      'DELETE /api/v1/agents/{id}': 'deleteAgent',
      'POST /api/v1/agents/{id}/heartbeat': 'heartbeatAgent',
      'GET /api/v1/memory/search': 'searchMemory',
      'POST /api/v1/memory': 'storeMemoryEntry',
      'GET /api/v1/events': 'listEvents',
      'GET /ws': 'openEventStream',
      'POST /api/v1/keys': 'createKey',
      'GET /metrics': 'getMetrics',
      'GET /health/ready': 'getReadiness',
    };
    for (const [key, id] of Object.entries(expected)) expect(byKey(key)?.operationId, key).toBe(id);
  });

  it('speaks of "a project" and "an agent" in summaries', () => {
    expect(byId('createAgent').summary).toBe('Create an agent');
    expect(byId('replaceAgent').summary).toBe('Replace an agent');
    expect(byId('updateAgent').summary).toBe('Change some fields of an agent');
    expect(byId('deleteAgent').summary).toBe('Delete an agent');
    expect(byId('createProject').summary).toBe('Create a project');
    for (const { key, operation } of operations) {
      expect(operation.summary, key).not.toMatch(/\ba [aeiou]/i);
    }
  });

  it('holds no unused component and no Input twin of a response schema', () => {
    const names = Object.keys(document.components.schemas);
    expect([...reachable(document.paths)].sort()).toEqual([...names].sort());
    expect(names.filter((name) => name.endsWith('Input'))).toEqual([]);
  });

  it('names request bodies as such, never a response shape for a request or the reverse', () => {
    const bodies: Record<string, string> = {
      createProject: 'ProjectCreate',
      replaceProject: 'ProjectReplace',
      updateProject: 'ProjectPatch',
      createAgent: 'AgentCreate',
      replaceAgent: 'AgentReplace',
      updateAgent: 'AgentPatch',
      heartbeatAgent: 'AgentHeartbeat',
      createTask: 'TaskCreate',
      updateTask: 'TaskPatch',
      claimTask: 'TaskClaim',
      heartbeatTask: 'TaskHeartbeat',
      completeTask: 'TaskComplete',
      failTask: 'TaskFail',
      createSchedule: 'ScheduleCreate',
      updateSchedule: 'SchedulePatch',
      createKey: 'KeyCreate',
      storeMemoryEntry: 'MemoryWrite',
      postMcpMessage: 'McpMessage',
    };
    const withBody = operations.filter(({ operation }) => operation.requestBody !== undefined);
    expect(
      Object.fromEntries(
        withBody.map(({ operation }) => [
          operation.operationId,
          refName(jsonBody(operation.requestBody)),
        ]),
      ),
    ).toEqual(bodies);
    const requests = reachable(
      operations.map(({ operation: { requestBody, parameters } }) => [requestBody, parameters]),
    );
    const responses = reachable(operations.map(({ operation }) => operation.responses));
    expect([...requests].filter((name) => responses.has(name))).toEqual([]);
    expect(document.components.schemas.ProjectCreate.required).toEqual(['name']);
    expect(document.components.schemas.Project.required).toContain('version');
    expect(byId('heartbeatAgent').requestBody.required).toBe(false);
    expect(byId('createProject').requestBody.required).toBe(true);
  });

  it('names pages and lists, so generators need not invent names for them', () => {
    expect(jsonBody(byId('listProjects').responses['200'])).toEqual(ref('ProjectPage'));
    expect(jsonBody(byId('listAgents').responses['200'])).toEqual(ref('AgentPage'));
    expect(jsonBody(byId('listEvents').responses['200'])).toEqual(ref('EventPage'));
    expect(document.components.schemas.ProjectPage.properties.items.items).toEqual(ref('Project'));
  });

  it('describes every response, with the statuses a client must tell apart', () => {
    for (const { key, operation } of operations) {
      for (const [status, response] of Object.entries<Json>(operation.responses)) {
        expect(response.description, `${key} ${status}`).not.toMatch(/^(Default Response)?$/);
      }
    }
    const described = (operationId: string, status: string) =>
      byId(operationId).responses[status].description;
    expect(described('createProject', '201')).toBe('Created');
    expect(described('getProject', '304')).toBe('Not modified (If-None-Match matched)');
    expect(described('getProject', '404')).toBe("Not found, or outside the key's projects");
    expect(described('updateProject', '412')).toBe('If-Match names another version');
    expect(described('updateProject', '422')).toBe('Invalid input; `errors` names each field');
    expect(described('updateProject', '429')).toBe('Too many requests; see Retry-After');
    expect(described('updateProject', '503')).toBe('Database unavailable; retry after Retry-After');
    const problem = { 'application/problem+json': { schema: ref('Problem') } };
    expect(byId('updateProject').responses['404'].content).toEqual(problem);
  });

  it('documents Location and ETag on creates, ETag on versioned reads and writes', () => {
    const headers = (operationId: string, status: string) =>
      Object.keys(byId(operationId).responses[status].headers ?? {});
    for (const tag of ['Project', 'Agent']) {
      expect(headers(`create${tag}`, '201')).toEqual(['Location', 'ETag']);
      for (const id of [`get${tag}`, `replace${tag}`, `update${tag}`]) {
        expect(headers(id, '200'), id).toEqual(['ETag']);
      }
      expect(headers(`get${tag}`, '304')).toEqual(['ETag']);
    }
    expect(headers('heartbeatAgent', '200')).toEqual(['ETag']);
    expect(headers('storeMemoryEntry', '201')).toEqual(['Location']);
    expect(byId('getProject').responses['200'].headers.ETag).toMatchObject({
      schema: { type: 'string' },
      description: expect.stringMatching(/If-Match/),
    });
  });

  it('documents Retry-After on every 429 and 503, WWW-Authenticate on every 401', () => {
    const expected: Record<string, string> = {
      401: 'WWW-Authenticate',
      429: 'Retry-After',
      503: 'Retry-After',
    };
    let checked = 0;
    for (const { key, operation } of operations) {
      for (const [status, header] of Object.entries(expected)) {
        if (operation.responses[status] === undefined) continue;
        const declared = Object.keys(operation.responses[status].headers ?? {});
        expect(declared, `${key} ${status}`).toEqual([header]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('types Event.data by the event type, as a tagged union', () => {
    const { schemas } = document.components;
    const variants = [
      'ProjectCreatedEvent',
      'ProjectUpdateEvent',
      'ProjectDeletedEvent',
      'AgentCreatedEvent',
      'AgentUpdateEvent',
      'AgentStatusEvent',
      'AgentDeletedEvent',
      'TaskCreatedEvent',
      'TaskUpdateEvent',
      'TaskDeletedEvent',
      'TaskExecutionEvent',
      'ScheduleCreatedEvent',
      'ScheduleUpdateEvent',
      'ScheduleDeletedEvent',
      'MemoryCircuitEvent',
    ];
    expect(schemas.Event.oneOf).toEqual(variants.map(ref));
    const typeOf = (name: string) => schemas[name].properties.type.const;
    expect(schemas.Event.discriminator).toEqual({
      propertyName: 'type',
      mapping: Object.fromEntries(variants.map((name) => [typeOf(name), ref(name).$ref])),
    });
    expect(typeOf('ProjectUpdateEvent')).toBe('PROJECT_UPDATE');
    const data = (name: string) => schemas[name].properties.data;
    expect(data('ProjectUpdateEvent').properties.project).toEqual(ref('Project'));
    expect(data('ProjectUpdateEvent').required).toEqual(['project', 'changed_fields']);
    expect(data('AgentStatusEvent').properties.agent).toEqual(ref('Agent'));
    expect(data('AgentDeletedEvent').required).toEqual(['id', 'project_id']);
    expect(data('MemoryCircuitEvent').required).toEqual(['from', 'to', 'reason', 'at']);
    expect(data('TaskExecutionEvent')).toMatchObject({ type: 'object', additionalProperties: {} });
  });

  it('documents the 503 of readiness, metrics as Prometheus text, the WebSocket protocol', () => {
    const notReady = byId('getReadiness').responses['503'];
    expect(notReady.content['application/problem+json'].schema).toEqual(ref('ReadinessProblem'));
    expect(document.components.schemas.ReadinessProblem.required).toContain('checks');
    const metrics = byId('getMetrics');
    expect(Object.keys(metrics.responses['200'].content)).toEqual(['text/plain']);
    expect(metrics.description).toMatch(/METRICS_TOKEN/);
    const socket = byId('openEventStream');
    const query = socket.parameters.map((parameter: Json) => parameter.name);
    expect(query).toEqual(['token', 'topics', 'last_event_id']);
    expect(socket.responses['101'].description).toMatch(/Switching Protocols/);
    const text = (socket.description as string).replace(/\s+/g, ' ');
    for (const word of ['WELCOME', 'ACK', 'PING', 'PONG', 'ERROR', 'SUBSCRIBE', 'REPLAY_GAP']) {
      expect(text).toContain(word);
    }
    // The route writes the limits out (it may not import the gateway): they must be the real ones.
    const { goingAway, policyViolation, tryAgainLater, keyRevoked } = CloseCode;
    const burst = `over ${CONTROL_MESSAGE_BURST} at once or ${CONTROL_MESSAGES_PER_SECOND} per second`;
    expect(text).toContain(`${policyViolation}: too many messages (${burst})`);
    expect(text).toContain(`1009: a message over ${MAX_CLIENT_MESSAGE_BYTES / 1024} KiB`);
    for (const code of [goingAway, tryAgainLater, keyRevoked])
      expect(text).toContain(`- ${code}: `);
    const topics = `(1–${MAX_TOPICS_PER_MESSAGE} topics; at most ${MAX_TOPICS_PER_CONNECTION} held)`;
    expect(text).toContain(topics);
  });
});

describe('request ids and unknown routes', () => {
  it('echoes a sane X-Request-Id and replaces a hostile one', async () => {
    const echoed = await t.request({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const replaced = await t.request({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'a b\nc' },
    });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with a 404 problem', async () => {
    expect(
      expectProblem(await t.request({ method: 'GET', url: '/api/v1/nothing?x=1' }), 404).detail,
    ).toBe('No route for GET /api/v1/nothing');
  });
});
