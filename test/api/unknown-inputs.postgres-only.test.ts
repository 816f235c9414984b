import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

/*
 * Unknown query parameters and body fields are a 422 on every route (docs/api.md, "Lists" and
 * "Errors"), including the routes that take no query or no body: the routes come from the app's
 * own route table, so a new route is walked as soon as it exists. Validation runs before any
 * handler, so the ids in the paths need not exist and no engine is involved.
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** Served by others' code (Swagger UI, the dashboard's files), hidden from the document. */
const hidden = (url: string) =>
  url.startsWith('/docs') || ['/', '/assets/*', '/config.json'].includes(url);

/** The route's URL with a well-formed value in each path parameter. */
const sampleUrl = (url: string) =>
  url.replace(':id', randomUUID()).replace(':key', 'some-key').replace(':agentId', randomUUID());

function walked(filter: (method: string) => boolean): Array<{ method: string; url: string }> {
  const routes = t.routes.filter(({ method, url }) => !hidden(url) && filter(method));
  expect(routes.length).toBeGreaterThan(10);
  return routes;
}

async function unknownNamed(request: InjectOptions, where: 'query' | 'body', name: string) {
  const response = await t.request(request);
  const body = expectProblem(response, 422);
  expect(body.errors, JSON.stringify([request.method, request.url])).toContainEqual({
    path: `/${name}`,
    message: 'is not allowed',
    in: where,
  });
}

const id = randomUUID();
const project = { name: 'p' };
const agent = { name: 'a', agent_type: 'coder' };
const schedule = { project_id: id, name: 's', cron: '0 3 * * *', task: { title: 't' } };

/**
 * A body each write that requires one accepts: Fastify validates the body before the query, so
 * the query's 422 shows only past a valid body. A write missing here fails the walk.
 */
const validBodies: Record<string, object> = {
  'POST /api/v1/projects': project,
  'PUT /api/v1/projects/:id': project,
  'PATCH /api/v1/projects/:id': project,
  'POST /api/v1/agents': agent,
  'PUT /api/v1/agents/:id': agent,
  'PATCH /api/v1/agents/:id': agent,
  'POST /api/v1/keys': { name: 'k', role: 'reader' },
  'POST /api/v1/memory': { key: 'k', content: 'c' },
  'POST /api/v1/tasks': { project_id: id, title: 't' },
  'PATCH /api/v1/tasks/:id': { priority: 1 },
  'POST /api/v1/tasks/claim': { agent_id: id },
  'POST /api/v1/tasks/:id/heartbeat': { attempt: 1 },
  'POST /api/v1/tasks/:id/complete': { attempt: 1 },
  'POST /api/v1/tasks/:id/fail': { attempt: 1, error: 'x' },
  'POST /api/v1/schedules': schedule,
  'PATCH /api/v1/schedules/:id': { enabled: false },
};

/** The request with an unknown query parameter, with a valid body if the bare one is refused. */
async function withUnknownQuery(method: string, url: string): Promise<InjectOptions> {
  const request = { method, url: `${sampleUrl(url)}?not_a_parameter=1` } as InjectOptions;
  const bare = await t.request(request);
  const refusedBody = bare.statusCode === 422 && bare.json().errors[0].in === 'body';
  if (!refusedBody) return request;
  const payload = validBodies[`${method} ${url}`];
  expect(payload, `a valid body for ${method} ${url}`).toBeDefined();
  return { ...request, payload };
}

describe('unknown inputs', () => {
  it('refuses an unknown query parameter on every route with a 422 naming it', async () => {
    for (const { method, url } of walked(() => true)) {
      await unknownNamed(await withUnknownQuery(method, url), 'query', 'not_a_parameter');
    }
  });

  it('refuses an unknown body field on every write but /mcp (a JSON-RPC body) with a 422', async () => {
    for (const { method, url } of walked((m) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m))) {
      if (url === '/mcp') continue;
      const request = { method, url: sampleUrl(url), payload: { not_a_field: 1 } } as InjectOptions;
      await unknownNamed(request, 'body', 'not_a_field');
    }
  });

  it('refuses what the review found ignored: /keys?limit=1, a cancel reason, a reset body', async () => {
    await unknownNamed({ method: 'GET', url: '/api/v1/keys?limit=1' }, 'query', 'limit');
    await unknownNamed({ method: 'GET', url: '/api/v1/stats?foo=1' }, 'query', 'foo');
    const cancel = `/api/v1/tasks/${randomUUID()}/cancel`;
    await unknownNamed({ method: 'POST', url: `${cancel}?foo=1` }, 'query', 'foo');
    const reason = { method: 'POST', url: cancel, payload: { reason: 'r', x: 1 } } as const;
    await unknownNamed(reason, 'body', 'reason');
    await unknownNamed(reason, 'body', 'x');
    const reset = {
      method: 'POST',
      url: '/api/v1/memory/circuit/reset',
      payload: { x: 1 },
    } as const;
    await unknownNamed(reset, 'body', 'x');
  });

  it('takes a write that declares no body with no body, or with {}', async () => {
    const reset = '/api/v1/memory/circuit/reset';
    expect((await t.request({ method: 'POST', url: reset })).statusCode).toBe(200);
    const empty = { method: 'POST', url: reset, payload: {} } as const;
    expect((await t.request(empty)).statusCode).toBe(200);
    const nothing = { method: 'POST', url: reset, headers: { 'content-type': 'application/json' } };
    expect((await t.request({ ...nothing, payload: '' })).statusCode).toBe(200);
    expectProblem(await t.request({ method: 'POST', url: reset, payload: [] as never }), 422);
  });

  it('leaves the defaults out of the OpenAPI document', async () => {
    const document = (await t.request({ url: '/openapi.json' })).json();
    const cancel = document.paths['/api/v1/tasks/{id}/cancel'].post;
    expect(cancel.requestBody).toBeUndefined();
    expect(cancel.parameters.map((p: { in: string }) => p.in)).toEqual(['path']);
    expect(document.paths['/api/v1/keys'].get.parameters ?? []).toEqual([]);
  });
});
