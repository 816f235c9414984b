import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type TestApp, createTestApp, openTestDatabase, testConfig } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('health', () => {
  it('reports the process live and the database ready', async () => {
    expect((await t.request({ method: 'GET', url: '/health/live' })).json()).toEqual({ status: 'ok' });
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
    const app = await buildApp({ config: testConfig(), database: { handle: database }, logger: false });
    try {
      await database.close();
      const ready = expectProblem(await app.inject({ method: 'GET', url: '/health/ready' }), 503);
      expect(ready).toMatchObject({ checks: { database: { status: 'down' } } });
      const write = await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name: 'x' } });
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
      expect.arrayContaining(['/api/v1/projects', '/api/v1/projects/{id}', '/api/v1/agents', '/api/v1/agents/{id}', '/api/v1/agents/{id}/heartbeat', '/health/ready']),
    );
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['Project', 'Agent', 'Problem']));
    const patch = document.paths['/api/v1/projects/{id}'].patch;
    expect(Object.keys(patch.responses)).toEqual(expect.arrayContaining(['200', '404', '412', '422']));
    expect(patch.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(expect.arrayContaining(['id', 'if-match']));
    const query = document.paths['/api/v1/agents'].get.parameters.map((parameter: { name: string }) => parameter.name);
    expect(query).toEqual(expect.arrayContaining(['limit', 'offset', 'sort', 'agent_type', 'status', 'project_id', 'capability']));
  });

  it('serves a browsable UI at /docs', async () => {
    const response = await t.request({ method: 'GET', url: '/docs/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('swagger');
  });
});

describe('request ids and unknown routes', () => {
  it('echoes a sane X-Request-Id and replaces a hostile one', async () => {
    const echoed = await t.request({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const replaced = await t.request({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'a b\nc' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an unknown route with a 404 problem', async () => {
    expect(expectProblem(await t.request({ method: 'GET', url: '/api/v1/nothing?x=1' }), 404).detail).toBe('No route for GET /api/v1/nothing');
  });
});
