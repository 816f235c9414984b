import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

/**
 * The dashboard's routes without a build (the service run from its sources, as here): they
 * answer, publicly and under the dashboard's policy, that the dashboard is not built. The
 * built dashboard itself is tested in a browser (test/browser/dashboard.test.ts).
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
});
afterAll(() => t.close());

describe('the dashboard routes', () => {
  it('say, without a key, that the dashboard is not built and how to build it', async () => {
    for (const url of ['/', '/assets/index.js']) {
      const response = await t.request({ url });
      expect(expectProblem(response, 404).detail).toMatch(/dashboard is not built.*npm run build/);
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    }
  });

  it('tell the page whether it must ask for a key', async () => {
    const response = await t.request({ url: '/config.json' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ authentication: 'on' });
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it('name the WebSocket of the Host asked for in the policy, and nothing that is not a host', async () => {
    const policy = async (host: string) =>
      (await t.request({ url: '/config.json', headers: { host } })).headers[
        'content-security-policy'
      ] as string;
    expect(await policy('dash.example:8080')).toContain(
      "connect-src 'self' ws://dash.example:8080 wss://dash.example:8080;",
    );
    expect(await policy('[::1]:3000')).toContain("connect-src 'self' ws://[::1]:3000 wss://");
    expect(await policy("x; script-src 'unsafe-inline'")).toContain("connect-src 'self'; ");
    expect(await policy("x; script-src 'unsafe-inline'")).not.toContain('unsafe-inline');
  });

  it('leave other paths to the API: an unknown one is still a 404 problem', async () => {
    expect(expectProblem(await t.request({ url: '/dashboard' }), 404).detail).toBe(
      'No route for GET /dashboard',
    );
  });
});
