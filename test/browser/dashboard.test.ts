import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { openTestDatabase, testConfig } from '../support/app.js';
import { launchChromium } from '../support/browser.js';
import {
  type NetworkCut,
  builtDashboard,
  networkProxy,
  seriousAccessibilityViolations,
} from '../support/dashboard.js';
import { keyHeader } from '../support/keys.js';
import { ROOT } from '../support/programs.js';

/**
 * The dashboard as a person uses it: built from web/ as `npm run build` builds it, served by the
 * real service (in this worker, on PostgreSQL, AUTH=on) at `/`, in Debian's Chromium. The browser
 * reaches the service through a TCP proxy of the test's own, so a test can cut the network and
 * restore it. One service, one browser, a page per test.
 */
let app: FastifyInstance;
let database: Awaited<ReturnType<typeof openTestDatabase>>;
let proxy: NetworkCut;
let browser: Browser;
let base: string;
let adminKey: string;
let readerKey: string;
let axeSource: string;
const seeded: {
  payments: string;
  search: string;
  agents: Record<string, string>;
  /** The task the form makes and an agent works. */
  task: string;
} = { payments: '', search: '', agents: {}, task: '' };
const screenshots = join(ROOT, 'docs/images');

/**
 * Saves the page as docs/images/<name>.png for the README, only when asked
 * (`UPDATE_SCREENSHOTS=1`, `npm run screenshots`): a test run leaves tracked files alone.
 */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage });
}

/** The page's DOM, as loosely typed as these checks need (tests compile without the DOM types). */
interface PageWindow {
  document: {
    activeElement: { textContent: string | null; tagName: string } | null;
    querySelector(selector: string): { textContent: string | null } | null;
  };
  getComputedStyle(element: unknown): { outlineStyle: string };
}

const asAdmin = () => ({ authorization: `Bearer ${adminKey}` });

async function api(method: 'POST' | 'PATCH' | 'GET', url: string, payload?: object) {
  // An agent's calls (claim, heartbeat, complete) are made with the admin key, as the API allows.
  const headers = { ...asAdmin(), ...(method === 'PATCH' ? { 'if-match': '*' } : {}) };
  const response = await app.inject({ method, url, payload, headers });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json();
}

async function seed(): Promise<void> {
  seeded.payments = (await api('POST', '/api/v1/projects', { name: 'Payments' })).id;
  seeded.search = (
    await api('POST', '/api/v1/projects', { name: 'Search', status: 'completed' })
  ).id;
  await api('POST', '/api/v1/projects', { name: 'Old billing', status: 'archived' });
  for (const [name, agentType, status] of [
    ['coder-1', 'coder', 'busy'],
    ['coder-2', 'coder', 'idle'],
    ['reviewer-1', 'reviewer', 'offline'],
    ['tester-1', 'tester', 'active'],
  ] as const) {
    const agent = await api('POST', '/api/v1/agents', {
      name,
      agent_type: agentType,
      status,
      project_id: seeded.payments,
      capabilities: ['typescript'],
    });
    seeded.agents[name] = agent.id;
  }
  await api('POST', `/api/v1/agents/${seeded.agents['coder-1']}/heartbeat`, { status: 'busy' });
  // A board with something in each column: a failed run (tester-1 claims and fails it), a
  // cancelled task, a delayed one and a queued one.
  const task = (title: string, extra: object = {}) =>
    api('POST', '/api/v1/tasks', { project_id: seeded.payments, title, ...extra });
  const ledger = await task('Migrate the ledger', { kind: 'migration', priority: 5 });
  const claim = await api('POST', '/api/v1/tasks/claim', { agent_id: seeded.agents['tester-1'] });
  expect(claim.task.id).toBe(ledger.id);
  await api('POST', `/api/v1/tasks/${ledger.id}/fail`, {
    attempt: claim.attempt.number,
    error: 'lock timeout on ledger_entries',
    retryable: false,
  });
  const prices = await task('Refresh the price list', { kind: 'etl' });
  await api('POST', `/api/v1/tasks/${prices.id}/cancel`);
  await task('Rotate the signing keys', { kind: 'ops', run_at: '2099-01-01T00:00:00.000Z' });
  await task('Index the archive', { kind: 'etl' });
  await api('POST', '/api/v1/memory', {
    key: 'deploy-notes',
    content: 'blue/green via the canary pool',
    tags: ['ops'],
    project_id: seeded.payments,
  });
}

beforeAll(async () => {
  const [root, opened, launched] = await Promise.all([
    builtDashboard(),
    openTestDatabase(),
    launchChromium(),
  ]);
  database = opened;
  browser = launched;
  app = await buildApp({
    config: testConfig({ AUTH: 'on' }),
    database: { handle: database.database },
    logger: false,
    announce: () => undefined,
    dashboardRoot: root,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  proxy = await networkProxy({ host: '127.0.0.1', port });
  base = proxy.url;
  adminKey = (await keyHeader(app, { role: 'admin' })).authorization!.slice(7);
  readerKey = (
    await keyHeader(app, { role: 'reader', name: 'dashboard reader' })
  ).authorization!.slice(7);
  axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await seed();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await app?.close();
  await database?.database.close();
  await database?.drop();
});

/** A fresh page (own context, so its own sessionStorage) that records console errors. */
async function newPage(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 860 },
  });
  // A step that fails fails in seconds, not at the test's time-out.
  context.setDefaultTimeout(5_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, context, errors };
}

async function signIn(page: Page, key: string, path = ''): Promise<void> {
  await page.goto(`${base}/#/${path}`);
  await page.getByLabel('API key').fill(key);
  await page.getByLabel('API key').press('Enter');
  await page.getByRole('navigation', { name: 'Sections' }).waitFor();
}

/** Goes to a panel through its link in the navigation, as a person would. */
async function open(page: Page, section: string): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('link', { name: section })
    .click();
  await page.getByRole('heading', { level: 1, name: section }).waitFor();
}

const agentRow = (page: Page, name: string) =>
  page.locator(`tr[data-agent="${seeded.agents[name]}"]`);

/** The admin's page, signed in by the first test and used by the others as one person would. */
let admin: { page: Page; context: BrowserContext; errors: string[] };

describe('the dashboard', () => {
  it('is served by the service with its policy, takes a key, and loads under 250 KB gzip', async () => {
    admin = await newPage();
    const { page, errors } = admin;
    const responses: Response[] = [];
    const record = (response: Response) => void responses.push(response);
    page.on('response', record);
    const document = await page.goto(`${base}/`);
    const headers = document!.headers();
    const host = new URL(base).host;
    expect(headers['content-security-policy']).toContain(
      `connect-src 'self' ws://${host} wss://${host}`,
    );
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(await seriousAccessibilityViolations(page, axeSource)).toEqual([]);

    await page.getByLabel('API key').fill(`sc_${'0'.repeat(32)}_${'a'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('#api-key-error').textContent())
      .toContain('does not know this key');
    expect(errors.splice(0)).toEqual([
      'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ]);
    await page.getByLabel('API key').fill(adminKey);
    await page.getByLabel('API key').press('Enter');
    await expect.poll(() => page.locator('header .who').textContent()).toContain('admin');
    await page.getByRole('heading', { name: 'Agents 4' }).waitFor();
    page.off('response', record);

    const script = responses.find((response) => /\/assets\/.*\.js$/.test(response.url()));
    expect(script?.headers()['content-encoding']).toMatch(/^(br|gzip)$/);
    expect(script?.headers()['cache-control']).toContain('immutable');
    const transferred = await Promise.all(
      responses.map(async (response) => (await response.request().sizes()).responseBodySize),
    );
    const total = transferred.reduce((sum, size) => sum + size, 0);
    expect(responses.every((response) => response.url().startsWith(base))).toBe(true);
    expect(total).toBeGreaterThan(5_000);
    expect(total).toBeLessThan(250 * 1024);

    // The key is the tab's: a reload asks for none.
    await page.reload();
    await page.getByRole('heading', { name: 'Agents 4' }).waitFor();
    expect(await page.getByLabel('API key').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('shows the seeded projects and agents, offline agents greyed out', async () => {
    const { page, errors } = admin;
    await page.goto(`${base}/#/`);
    await page.locator('[data-count="agents-busy"]').waitFor();
    expect(await page.locator('[data-count="agents-busy"]').textContent()).toBe('1');
    expect(await page.locator('[data-count="agents-offline"]').textContent()).toBe('1');
    expect(await page.locator('[data-count="projects-archived"]').textContent()).toBe('1');
    await screenshot(page, 'dashboard-overview');

    await open(page, 'Agents');
    for (const name of Object.keys(seeded.agents)) await agentRow(page, name).waitFor();
    expect(await agentRow(page, 'reviewer-1').getAttribute('class')).toBe('offline');
    expect(await agentRow(page, 'coder-1').locator('.badge').textContent()).toBe('busy');
    expect(await agentRow(page, 'coder-1').locator('time').textContent()).toMatch(/^\d+ s ago$/);
    expect(await agentRow(page, 'coder-2').locator('td').nth(4).textContent()).toBe('never');

    await open(page, 'Projects');
    for (const name of ['Payments', 'Search', 'Old billing'])
      await page.getByRole('link', { name, exact: true }).waitFor();
    expect(errors).toEqual([]);
  });

  it('shows a change made through the API within 1 s, without a reload', async () => {
    const { page, errors } = admin;
    await open(page, 'Agents');
    const badge = agentRow(page, 'coder-2').locator('.badge');
    await expect.poll(() => badge.textContent()).toBe('idle');
    const started = Date.now();
    await api('PATCH', `/api/v1/agents/${seeded.agents['coder-2']}`, { status: 'error' });
    await page.waitForFunction(
      (id) =>
        (globalThis as unknown as PageWindow).document.querySelector(
          `tr[data-agent="${id}"] .badge`,
        )?.textContent === 'error',
      seeded.agents['coder-2'],
      { timeout: 1_000 },
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    await api('PATCH', `/api/v1/agents/${seeded.agents['coder-2']}`, { status: 'idle' });
    await expect.poll(() => badge.textContent(), { timeout: 1_000 }).toBe('idle');
    expect(errors).toEqual([]);
  });

  it('feeds events live, filtered by type and topic, and holds them while paused', async () => {
    const { page, errors } = admin;
    await open(page, 'Events');
    await page.locator('tr[data-event]').first().waitFor();
    await page.getByLabel('Type').selectOption('AGENT_STATUS');
    await page.getByLabel('Topic contains').fill(`agent:${seeded.agents['coder-2']}`);
    const rows = page.locator('tr[data-event]');
    const shown = await rows.count();
    await api('PATCH', `/api/v1/agents/${seeded.agents['coder-2']}`, { status: 'busy' });
    await api('PATCH', `/api/v1/projects/${seeded.payments}`, { description: 'not an agent' });
    await expect.poll(() => rows.count()).toBe(shown + 1);
    expect(await rows.first().textContent()).toContain('coder-2 → busy (status)');

    await page.getByRole('button', { name: 'Pause' }).click();
    await api('PATCH', `/api/v1/agents/${seeded.agents['coder-2']}`, { status: 'idle' });
    await page.getByRole('button', { name: 'Resume (1 new)' }).waitFor();
    expect(await rows.count()).toBe(shown + 1);
    await page.getByRole('button', { name: 'Resume (1 new)' }).click();
    await expect.poll(() => rows.count()).toBe(shown + 2);
    expect(await rows.first().textContent()).toContain('coder-2 → idle');
    expect(errors).toEqual([]);
  });

  it('after the network drops, says it is reconnecting, then shows every change it missed', async () => {
    const { page, errors } = admin;
    await open(page, 'Projects');
    await page.getByRole('link', { name: 'Search', exact: true }).waitFor();
    const banner = page.locator('.banner');
    expect(await banner.isVisible()).toBe(false);

    proxy.cut();
    await banner.getByText('reconnecting').waitFor({ timeout: 3_000 });
    await api('PATCH', `/api/v1/projects/${seeded.search}`, { name: 'Search v2' });
    await api('POST', '/api/v1/projects', { name: 'Made while offline' });
    await api('PATCH', `/api/v1/agents/${seeded.agents['tester-1']}`, { status: 'busy' });
    await page.waitForTimeout(300);
    expect(await page.getByRole('link', { name: 'Search v2' }).count()).toBe(0);

    proxy.restore();
    await banner.waitFor({ state: 'hidden', timeout: 5_000 });
    await page.getByRole('link', { name: 'Search v2', exact: true }).waitFor({ timeout: 2_000 });
    await page.getByRole('link', { name: 'Made while offline', exact: true }).waitFor();
    await open(page, 'Agents');
    expect(await agentRow(page, 'tester-1').locator('.badge').textContent()).toBe('busy');
    // What Chromium logs while the network is down: the socket and the checks that failed.
    const outage = /WebSocket connection to .* failed|net::ERR_(CONNECTION|EMPTY_RESPONSE|SOCKET)/;
    expect(errors.splice(0).filter((error) => !outage.test(error))).toEqual([]);
  });

  it("shows a 422's field message next to its field", async () => {
    const { page, errors } = admin;
    await open(page, 'Projects');
    const name = page.getByLabel('Name', { exact: true });
    await name.fill('   ');
    await page.getByRole('button', { name: 'Create project' }).click();
    await expect
      .poll(() => page.locator('#project-name-error').textContent())
      .toBe('must not be blank');
    expect(await name.getAttribute('aria-invalid')).toBe('true');
    expect(await name.getAttribute('aria-describedby')).toBe('project-name-error');
    expect(errors.splice(0)).toEqual([
      'Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)',
    ]);

    await name.fill('Made in the form');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { level: 1, name: 'Made in the form' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('makes a task from the form and shows it go queued → running → succeeded', async () => {
    const { page, errors } = admin;
    await open(page, 'Tasks');
    const title = 'Write the release notes';
    await page.locator('#task-project').selectOption(seeded.payments);
    await page.locator('#task-title').fill(title);
    await page.locator('#task-priority').fill('10');
    await page.locator('#task-input').fill('{ "version": "1.2" }');
    await page.getByRole('button', { name: 'Create task' }).click();
    const card = (column: string) =>
      page.locator(`section[aria-labelledby="column-${column}"] li[data-task]`, {
        hasText: title,
      });
    await card('waiting').waitFor();
    expect(await card('waiting').locator('.badge').textContent()).toBe('queued');
    seeded.task = (await card('waiting').getAttribute('data-task'))!;

    // A test agent works it through the API, as an agent process would.
    const claim = await api('POST', '/api/v1/tasks/claim', { agent_id: seeded.agents['coder-1'] });
    expect(claim.task.id).toBe(seeded.task);
    await card('running').waitFor();
    expect(await card('waiting').count()).toBe(0);
    const attempt = claim.attempt.number;
    await api('POST', `/api/v1/tasks/${seeded.task}/heartbeat`, {
      attempt,
      progress: 0.5,
      message: 'half way',
    });
    await card('running').getByText('50 % · half way').waitFor();
    await screenshot(page, 'dashboard-tasks', true);
    // The roster meanwhile: the agent's current task, and the figures of tester-1's failed run.
    await open(page, 'Agents');
    await agentRow(page, 'coder-1').getByRole('link', { name: title }).waitFor();
    await screenshot(page, 'dashboard-agents');
    await open(page, 'Tasks');
    await card('running').waitFor();
    await api('POST', `/api/v1/tasks/${seeded.task}/complete`, {
      attempt,
      result: { notes: 'done' },
      output: 'wrote 12 lines',
    });
    await card('succeeded').waitFor();
    expect(await card('running').count()).toBe(0);

    await card('succeeded').getByRole('link', { name: title }).click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    const attempt1 = page.locator('ol.timeline li[data-attempt="1"]');
    await attempt1.waitFor();
    expect(await attempt1.locator('.badge').textContent()).toBe('succeeded');
    expect(await attempt1.locator('pre').textContent()).toBe('wrote 12 lines');
    expect(await page.locator('pre', { hasText: '"notes": "done"' }).count()).toBe(1);
    await screenshot(page, 'dashboard-task', true);

    await open(page, 'Agents');
    const worker = agentRow(page, 'coder-1');
    await expect.poll(() => worker.locator('td').nth(5).textContent()).toBe('100 % of 1');
    expect(await worker.locator('td').nth(6).textContent()).toMatch(/ms|s$/);
    expect(errors).toEqual([]);
  });

  it('cancels, retries and runs a task now from the board; names a bad field of the form', async () => {
    const { page, errors } = admin;
    const task = await api('POST', '/api/v1/tasks', {
      project_id: seeded.search,
      title: 'Flaky job',
    });
    await open(page, 'Tasks');
    const card = page.locator(`li[data-task="${task.id}"]`);
    const column = () =>
      card.evaluate((node) => node.closest('section')?.getAttribute('aria-labelledby'));
    await card.waitFor();
    expect(await column()).toBe('column-waiting');
    await card.getByRole('button', { name: 'Cancel Flaky job' }).click();
    await expect.poll(column).toBe('column-cancelled');
    await card.getByRole('button', { name: 'Retry Flaky job' }).click();
    await expect.poll(column).toBe('column-waiting');
    expect(await card.locator('.badge').textContent()).toBe('queued');
    const later = page.locator('li[data-task]', { hasText: 'Rotate the signing keys' });
    expect(await later.locator('.badge').textContent()).toBe('scheduled');
    await later.getByRole('button', { name: 'Run now Rotate the signing keys' }).click();
    await expect.poll(() => later.locator('.badge').textContent()).toBe('queued');

    await page.locator('#task-project').selectOption(seeded.search);
    await page.locator('#task-title').fill('   ');
    await page.getByRole('button', { name: 'Create task' }).click();
    await expect
      .poll(() => page.locator('#task-title-error').textContent())
      .toBe('must not be blank');
    expect(await page.locator('#task-title').getAttribute('aria-describedby')).toBe(
      'task-title-error',
    );
    expect(errors.splice(0)).toEqual([
      'Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)',
    ]);
  });

  it('lists schedules with their next run, and switches them off, on and runs them', async () => {
    const { page, errors } = admin;
    await api('POST', '/api/v1/schedules', {
      project_id: seeded.payments,
      name: 'Nightly report',
      cron: '0 3 * * *',
      task: { title: 'Nightly report' },
    });
    await open(page, 'Schedules');
    const row = page.locator('tr[data-schedule]', { hasText: 'Nightly report' });
    await row.waitFor();
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^in \d+ (h|min|s)$/);
    await row.getByRole('button', { name: 'Disable Nightly report' }).click();
    await expect.poll(() => row.locator('.badge').textContent()).toBe('disabled');
    await row.getByRole('button', { name: 'Enable Nightly report' }).click();
    await expect.poll(() => row.locator('.badge').textContent()).toBe('enabled');
    await row.getByRole('button', { name: 'Run now Nightly report' }).click();
    await row.getByText('Started a run.').waitFor();
    const made = await api('GET', `/api/v1/tasks?project_id=${seeded.payments}&limit=100`);
    expect(
      made.items.filter((task: { title: string }) => task.title === 'Nightly report'),
    ).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('shows no write button to a reader, and every one to an admin', async () => {
    const buttons = async (page: Page) => {
      await page.goto(`${base}/#/projects/${seeded.payments}`);
      await page.getByRole('heading', { level: 1, name: 'Payments' }).waitFor();
      await page.locator('.chips li').first().waitFor();
      const marks = await page.getByRole('button', { name: /^Mark / }).count();
      await open(page, 'Projects');
      await page.locator('tr[data-project]').first().waitFor();
      const create = await page.getByRole('button', { name: 'Create project' }).count();
      await open(page, 'Memory');
      await page.getByRole('heading', { name: 'Circuit breaker' }).waitFor();
      await page.getByRole('button', { name: 'Refresh' }).waitFor();
      const reset = await page.getByRole('button', { name: 'Reset circuit' }).count();
      await open(page, 'Tasks');
      await page.locator('li[data-task]').first().waitFor();
      const taskActions = await page.getByRole('button', { name: /^(Cancel|Retry) / }).count();
      const newTask = await page.getByRole('button', { name: 'Create task' }).count();
      await open(page, 'Schedules');
      await page.locator('tr[data-schedule]').first().waitFor();
      const scheduleActions = await page.getByRole('button', { name: /^(Disable|Run) / }).count();
      const who = await page.locator('header .who').textContent();
      return { marks, create, reset, taskActions, newTask, scheduleActions, who };
    };
    const reader = await newPage();
    await signIn(reader.page, readerKey);
    expect(await buttons(reader.page)).toEqual({
      marks: 0,
      create: 0,
      reset: 0,
      taskActions: 0,
      newTask: 0,
      scheduleActions: 0,
      who: expect.stringContaining('dashboard reader · reader'),
    });
    expect(reader.errors).toEqual([]);
    await reader.context.close();
    expect(await buttons(admin.page)).toEqual({
      marks: 2,
      create: 1,
      reset: 1,
      taskActions: expect.any(Number),
      newTask: 1,
      scheduleActions: 2,
      who: expect.stringContaining('admin'),
    });
    expect(admin.errors).toEqual([]);
  });

  it('works from the keyboard, and axe finds no serious or critical violation', async () => {
    const { page, errors } = admin;
    await page.goto(`${base}/#/`);
    await page.locator('[data-count="agents-busy"]').waitFor();
    const focused = () =>
      page.evaluate(() => {
        const { document, getComputedStyle } = globalThis as unknown as PageWindow;
        const element = document.activeElement;
        return {
          text: element?.textContent,
          tag: element?.tagName,
          outline: element === null ? '' : getComputedStyle(element).outlineStyle,
        };
      });
    // The panel's heading has the focus; Tab moves on to its first link, with a visible ring.
    expect(await focused()).toMatchObject({ tag: 'H1', text: 'Overview' });
    await page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ tag: 'A', outline: 'solid' });
    // Back through the header: "Sign out", then the sections from the last one.
    await page.keyboard.press('Shift+Tab');
    expect((await focused()).text).toBe('Sign out');
    for (let step = 0; step < 5; step += 1) await page.keyboard.press('Shift+Tab');
    expect((await focused()).text).toBe('Agents');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor();
    await expect.poll(async () => (await focused()).tag).toBe('H1');

    // Each panel with what shows that it has loaded.
    const panels: Array<[string, string]> = [
      ['', '[data-count="agents-busy"]'],
      ['tasks', 'li[data-task]'],
      [`tasks/${seeded.task}`, 'ol.timeline li'],
      ['agents', 'tr[data-agent]'],
      ['projects', 'tr[data-project]'],
      [`projects/${seeded.payments}`, '.chips li'],
      ['schedules', 'tr[data-schedule]'],
      ['events', 'tr[data-event]'],
    ];
    const found: Record<string, string[]> = {};
    for (const [panel, loaded] of panels) {
      await page.goto(`${base}/#/${panel}`);
      await page.locator(loaded).first().waitFor();
      found[panel] = await seriousAccessibilityViolations(page, axeSource);
    }
    await page.goto(`${base}/#/memory`);
    await page.getByLabel('Text').fill('canary');
    await page.getByLabel('Text').press('Enter');
    await page.locator('.hits li').first().waitFor();
    expect(await page.locator('.hits .source').first().textContent()).toBe('from storage');
    found.memory = await seriousAccessibilityViolations(page, axeSource);
    const names = [...panels.map(([panel]) => panel), 'memory'];
    expect(found).toEqual(Object.fromEntries(names.map((panel) => [panel, []])));
    expect(errors).toEqual([]);
  });

  it('stays quick with 1 000 more agents and 10 000 more tasks: counted in SQL, paged', async () => {
    const { page, errors } = admin;
    await database.database.db.execute(sql`
      with made as (
        insert into agents (name, agent_type, status, project_id)
        select 'bulk-' || lpad(i::text, 4, '0'), 'coder', (array['idle','busy','offline'])[1 + i % 3],
               ${seeded.search}::uuid
        from generate_series(1, 1000) as i
        returning 1)
      insert into tasks (project_id, title, status)
      select ${seeded.search}::uuid, 'bulk task ' || i, (array['queued','succeeded','failed'])[1 + i % 3]
      from generate_series(1, 10000) as i`);
    await page.goto(`${base}/#/`);
    // Not timed (a loaded machine may be slow to get here); opening the panels below is.
    await page.getByRole('heading', { name: /^Agents 100\d$/ }).waitFor({ timeout: 10_000 });
    await page.getByRole('heading', { name: /^Tasks 100\d\d$/ }).waitFor({ timeout: 10_000 });
    let started = Date.now();
    await open(page, 'Agents');
    await page.getByText(/Page 1 of 21 · 100\d in all/).waitFor();
    expect(Date.now() - started, 'the roster took too long').toBeLessThan(2_000);
    expect(await page.locator('tbody tr[data-agent]').count()).toBe(50);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText(/Page 2 of 21/).waitFor();
    started = Date.now();
    await open(page, 'Tasks');
    await page.locator('#column-succeeded', { hasText: /Succeeded 333\d/ }).waitFor();
    expect(Date.now() - started, 'the board took too long').toBeLessThan(2_000);
    expect(await page.locator('section[aria-labelledby="column-succeeded"] li').count()).toBe(25);
    await page.getByRole('button', { name: 'Load more succeeded' }).click();
    await expect
      .poll(() => page.locator('section[aria-labelledby="column-succeeded"] li').count())
      .toBe(50);
    expect(errors).toEqual([]);
    await admin.context.close();
  });
});

describe('the dashboard with AUTH=off', () => {
  it('asks for no key and says that access is open', async () => {
    const open = await buildApp({
      config: testConfig({ AUTH: 'off' }),
      database: { handle: database.database },
      logger: false,
      dashboardRoot: await builtDashboard(),
    });
    try {
      const url = await open.listen({ host: '127.0.0.1', port: 0 });
      const { page, context, errors } = await newPage();
      await page.goto(`${url}/#/projects`);
      await page.getByRole('heading', { level: 1, name: 'Projects' }).waitFor();
      expect(await page.locator('header .who').textContent()).toContain('Authentication off');
      expect(await page.getByLabel('API key').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await open.close();
    }
  });
});
