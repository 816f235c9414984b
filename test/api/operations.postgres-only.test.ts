import { randomBytes, randomUUID } from 'node:crypto';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { runCli } from '../../src/cli.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function app(overrides: Record<string, string> = {}): Promise<TestApp> {
  const created = await createTestApp(overrides);
  apps.push(created);
  return created;
}

const bearer = () => ({ authorization: `Bearer caller-${randomUUID()}` });

describe('rate limits', () => {
  it('answers 429 with Retry-After past the limit per verified key, until the window', async () => {
    const t = await app({ AUTH: 'on', RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '1000' });
    const mine = await keyHeader(t.app, { role: 'reader' });
    const theirs = await keyHeader(t.app, { role: 'reader' });
    // A key's first request counts against the address: the key is not known until it is verified.
    for (const key of [mine, theirs]) {
      expect((await t.request({ url: '/api/v1/projects', headers: key })).statusCode).toBe(200);
    }
    for (let i = 0; i < 5; i += 1)
      expect((await t.request({ url: '/api/v1/projects', headers: mine })).statusCode).toBe(200);
    const limited = await t.request({ url: '/api/v1/projects', headers: mine });
    expect(expectProblem(limited, 429).detail).toMatch(/Rate limit of 5 requests/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await t.request({ url: '/api/v1/projects', headers: theirs })).statusCode).toBe(200);
    expect((await t.request({ url: '/health/live', headers: mine })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await t.request({ url: '/api/v1/projects', headers: mine })).statusCode).toBe(200);
  });

  it('names the configured window in the 429, not the time left in it', async () => {
    const t = await app({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '20000' });
    for (let i = 0; i < 2; i += 1)
      expect((await t.request({ url: '/api/v1/projects' })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const limited = await t.request({ url: '/api/v1/projects' });
    expect(expectProblem(limited, 429).detail).toBe(
      `Rate limit of 2 requests per 20 seconds exceeded; retry after ${limited.headers['retry-after']} seconds`,
    );
    expect(Number(limited.headers['retry-after'])).toBeLessThan(20);
  });

  it('limits made-up tokens by address before looking them up; verified keys go on', async () => {
    const t = await app({ AUTH: 'on', RATE_LIMIT_MAX: '20', RATE_LIMIT_WINDOW_MS: '60000' });
    const valid = await keyHeader(t.app, { role: 'reader' });
    expect((await t.request({ url: '/api/v1/projects', headers: valid })).statusCode).toBe(200);
    const lookups = vi.spyOn(t.app.auth, 'authenticate');
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 60; i += 1) {
      const secret = randomBytes(32).toString('base64url');
      const headers = { authorization: `Bearer sc_${randomUUID().replaceAll('-', '')}_${secret}` };
      const { statusCode } = await t.request({ url: '/api/v1/projects', headers });
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    }
    // The valid key's first request took one place in the address's bucket of 20.
    expect(statuses).toEqual({ 401: 19, 429: 41 });
    expect(lookups).toHaveBeenCalledTimes(19);
    expectProblem(await t.request({ url: '/api/v1/projects' }), 429);
    for (let i = 0; i < 20; i += 1) {
      expect((await t.request({ url: '/api/v1/projects', headers: valid })).statusCode).toBe(200);
    }
    expectProblem(await t.request({ url: '/api/v1/projects', headers: valid }), 429);
  });

  it('limits unauthenticated callers by IP', async () => {
    const t = await app({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    await t.request({ url: '/api/v1/projects' });
    await t.request({ url: '/api/v1/projects' });
    expectProblem(await t.request({ url: '/api/v1/projects' }), 429);
  });

  it('shares one limit between two instances through Redis', async () => {
    const settings = {
      RATE_LIMIT_MAX: '6',
      RATE_LIMIT_WINDOW_MS: '60000',
      REDIS_URL: inject('redisUrl'),
    };
    const [a, b] = [await app(settings), await app(settings)];
    const caller = bearer();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await a.request({ url: '/api/v1/projects', headers: caller })).statusCode);
      statuses.push((await b.request({ url: '/api/v1/projects', headers: caller })).statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
  });
});

describe('security headers and CORS', () => {
  it('sends security headers and no CORS headers by default', async () => {
    const response = await (
      await app()
    ).request({ url: '/api/v1/projects', headers: { origin: 'https://evil.example' } });
    expect(response.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'strict-transport-security': expect.any(String),
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows only the configured origins', async () => {
    const t = await app({ CORS_ORIGINS: 'https://dash.example, https://ops.example' });
    const preflight = (origin: string) =>
      t.request({
        method: 'OPTIONS',
        url: '/api/v1/projects',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    expect((await preflight('https://dash.example')).headers['access-control-allow-origin']).toBe(
      'https://dash.example',
    );
    expect(
      (await preflight('https://evil.example')).headers['access-control-allow-origin'],
    ).toBeUndefined();
    const patch = await t.request({
      method: 'OPTIONS',
      url: '/api/v1/projects/00000000-0000-4000-8000-000000000000',
      headers: {
        origin: 'https://ops.example',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'if-match, authorization, content-type',
      },
    });
    expect(patch.statusCode).toBe(204);
    expect(patch.headers['access-control-allow-methods']).toBe(
      'GET, HEAD, POST, PUT, PATCH, DELETE',
    );
    expect(patch.headers['access-control-allow-headers']).toBe(
      'authorization, content-type, if-match, if-none-match, x-request-id',
    );
    const read = await t.request({
      url: '/api/v1/projects',
      headers: { origin: 'https://dash.example' },
    });
    expect(read.headers['access-control-expose-headers']).toContain('etag');
    expect(read.headers['access-control-expose-headers']).toContain('location');
  });
});

describe('metrics', () => {
  const value = (
    families: Array<{
      name: string;
      metrics: Array<{ value?: string; count?: string; labels?: Record<string, string> }>;
    }>,
    name: string,
    labels: Record<string, string> = {},
  ) =>
    Number(
      families
        .find((family) => family.name === name)
        ?.metrics.find((metric) =>
          Object.entries(labels).every(([key, label]) => metric.labels?.[key] === label),
        )?.value ?? NaN,
    );

  it('serves Prometheus text that parses and moves with traffic', async () => {
    const t = await app();
    const scrape = async () =>
      parsePrometheusTextFormat((await t.request({ url: '/metrics' })).body) as never;
    await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'm' } });
    const before = await scrape();
    const names = (before as Array<{ name: string }>).map((family) => family.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'http_requests_total',
        'http_request_duration_seconds',
        'ws_connections',
        'ws_messages_total',
        'event_log_lag_events',
        'db_pool_connections',
        'memory_breaker_state',
        'memory_breaker_transitions_total',
        'memory_breaker_calls',
        'process_cpu_user_seconds_total',
      ]),
    );
    const labels = { method: 'GET', route: '/api/v1/projects', status_code: '200' };
    for (let i = 0; i < 3; i += 1) await t.request({ url: '/api/v1/projects' });
    const after = await scrape();
    expect(
      value(after, 'http_requests_total', labels) -
        (value(before, 'http_requests_total', labels) || 0),
    ).toBe(3);
    expect(value(after, 'memory_breaker_state')).toBe(0);
    expect(value(after, 'db_pool_connections', { state: 'total' })).toBeGreaterThan(0);
  });

  it('requires METRICS_TOKEN when one is set', async () => {
    const t = await app({ METRICS_TOKEN: 'a-long-metrics-token' });
    const refused = await t.request({ url: '/metrics' });
    expectProblem(refused, 401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expectProblem(
      await t.request({
        url: '/metrics',
        headers: { authorization: 'Bearer a-long-metrics-tokex' },
      }),
      401,
    );
    expect(
      (
        await t.request({
          url: '/metrics',
          headers: { authorization: 'Bearer a-long-metrics-token' },
        })
      ).statusCode,
    ).toBe(200);
  });
});

describe('cli', () => {
  it('creates, lists and revokes keys on the configured database', async () => {
    const t = await app();
    const environment = { DATABASE_URL: t.databaseUrl!, LOG_LEVEL: 'silent' };
    const projectId = '11111111-1111-4111-8111-111111111111';
    const created = JSON.parse(
      await runCli(
        ['keys', 'create', '--role', 'writer', '--project', projectId, '--name', 'ci'],
        environment,
      ),
    );
    expect(created).toMatchObject({
      name: 'ci',
      role: 'writer',
      project_ids: [projectId],
      key: expect.stringMatching(/^sc_/),
    });
    expect(await t.app.auth.authenticate(created.key)).toMatchObject({
      role: 'writer',
      projectIds: [projectId],
    });
    expect(
      JSON.parse(await runCli(['keys', 'list'], environment)).map((key: { id: string }) => key.id),
    ).toContain(created.id);
    expect(await runCli(['keys', 'revoke', created.id], environment)).toBe(`revoked ${created.id}`);
    expect(await runCli(['help'], environment)).toMatch(/^Usage:/);
    await expect(runCli(['keys', 'create', '--role', 'boss'], environment)).rejects.toThrow();
  });
});
