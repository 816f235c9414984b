import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { launchChromium } from '../support/browser.js';
import { keyHeader } from '../support/keys.js';

/**
 * The client SDK in a real Chromium, as a dashboard uses it: its browser entry (platform fetch
 * and WebSocket, the key as the `token` parameter) against the real service.
 */
/**
 * What the page's global object holds, typed loosely: the test runs in Node, without the DOM types.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the bundle's module, as the page sees it
type PageGlobals = { sdk: Record<string, any>; location: { origin: string; host: string } };
let t: TestApp;
let browser: Browser;
let page: Page;
let baseUrl: string;
let key: string;
const consoleErrors: string[] = [];

async function browserBundle(): Promise<string> {
  const result = await build({
    entryPoints: ['src/client/browser.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  return result.outputFiles[0]!.text;
}

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on', WS_HEARTBEAT_MS: '60000' });
  baseUrl = await t.listen();
  key = (await keyHeader(t.app, { role: 'admin' })).authorization!.slice('Bearer '.length);
  const sdk = await browserBundle();
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  // The document comes from the service itself (any path does; this one answers 404), so the page
  // has the service's origin and address space, as the dashboard will; only the script is routed.
  await page.route(`${baseUrl}/sdk.js`, (route) =>
    route.fulfill({ contentType: 'text/javascript', body: sdk }),
  );
  await page.route(`${baseUrl}/sdk-entry.js`, (route) =>
    route.fulfill({
      contentType: 'text/javascript',
      body: 'import * as sdk from "/sdk.js"; window.sdk = sdk;',
    }),
  );
  await page.goto(`${baseUrl}/sdk-test`);
  await page.addScriptTag({ url: '/sdk-entry.js', type: 'module' });
  await page.waitForFunction(() => 'sdk' in globalThis);
  consoleErrors.length = 0; // the 404 of the page itself
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('the client SDK in Chromium', () => {
  it('calls the API with the platform fetch and streams events over the platform WebSocket', async () => {
    const outcome = await page.evaluate(async (apiKey) => {
      const { sdk, location } = globalThis as unknown as PageGlobals;
      const { SwarmClient, EventStream } = sdk;
      const api = new SwarmClient({ baseUrl: location.origin, apiKey });
      const stream = new EventStream({
        url: `ws://${location.host}/ws`,
        apiKey,
        topics: ['projects'],
      }).start();
      await new Promise((resolve) =>
        stream.onNotice((notice: { kind: string }) => notice.kind === 'connected' && resolve(true)),
      );
      const events: Array<{ type: string; data: { project: { id: string } } }> = [];
      const arrived = new Promise((resolve) =>
        stream.onEvent((event: (typeof events)[number]) => resolve(events.push(event))),
      );
      const project = await api.projects.create({ name: 'made in a browser' });
      await arrived;
      const seen = events.find((event) => event.data.project.id === project.id)?.type;
      const stored = await api.memory.store({ key: 'browser-note', content: 'from Chromium' });
      const listed = await api.projects.list({ limit: 5 });
      stream.close();
      return { seen, stored, total: listed.total, name: project.name };
    }, key);
    expect(outcome).toEqual({
      seen: 'PROJECT_CREATED',
      stored: { key: 'browser-note', project_id: null, stored_in: 'queued' },
      total: 1,
      name: 'made in a browser',
    });
    expect(consoleErrors).toEqual([]);
  });

  it('reports a refused key as a final error, over REST and on the stream', async () => {
    const outcome = await page.evaluate(async () => {
      const { sdk, location } = globalThis as unknown as PageGlobals;
      const { SwarmClient, EventStream } = sdk;
      const apiKey = `sc_${'0'.repeat(32)}_${'a'.repeat(43)}`;
      const rest = await new SwarmClient({ baseUrl: location.origin, apiKey }).projects
        .list()
        .catch((error: Error & { status: number }) => [error.name, error.status]);
      const stream = new EventStream({
        url: `ws://${location.host}/ws`,
        apiKey,
        backoff: { initialMs: 10, maxMs: 50 },
      }).start();
      const fatal = await new Promise((resolve) =>
        stream.onNotice(
          (notice: { kind: string; error?: { status: number; problem: { detail: string } } }) => {
            if (notice.kind === 'fatal')
              resolve([notice.error!.status, notice.error!.problem.detail]);
          },
        ),
      );
      return { rest, fatal };
    });
    expect(outcome).toEqual({
      rest: ['ApiError', 401],
      fatal: [401, 'The API key is unknown or revoked'],
    });
    consoleErrors.length = 0;
  });
});
