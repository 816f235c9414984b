import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { launchChromium } from '../support/browser.js';
import { keyHeader } from '../support/keys.js';

/**
 * /docs as a person meets it with authentication on (the default): the Authorize button takes an
 * API key, and "Try it out" then sends it, so the call is answered instead of refused with 401.
 */
let t: TestApp;
let browser: Browser;
let page: Page;
let baseUrl: string;
let key: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  baseUrl = await t.listen();
  key = (await keyHeader(t.app, { role: 'reader' })).authorization!.slice('Bearer '.length);
  const writer = await keyHeader(t.app, { role: 'writer' });
  const payload = { name: 'Shown in /docs' };
  await t.request({ method: 'POST', url: '/api/v1/projects', headers: writer, payload });
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

/** Expands an operation, presses "Try it out" and "Execute", and returns the status it shows. */
async function tryOut(operation: string): Promise<string> {
  const block = page.locator(`#operations-${operation}`);
  await block.locator('.opblock-summary-control').click();
  await block.locator('.try-out__btn').click();
  await block.locator('.execute').click();
  const status = block.locator('.live-responses-table tbody .response-col_status').first();
  await status.waitFor();
  return (await status.textContent())?.trim() ?? '';
}

describe('Swagger UI at /docs with AUTH=on', () => {
  it('offers Authorize, and "Try it out" sends the key it was given', async () => {
    await page.goto(`${baseUrl}/docs/`);
    await page.locator('.btn.authorize').first().click();
    const dialog = page.locator('.auth-container').filter({ hasText: 'apiKey' });
    await dialog.locator('input').fill(key);
    await dialog.locator('button.authorize').click();
    await dialog.locator('.btn-done').click();

    expect(await tryOut('Project-listProjects')).toBe('200');
    const listed = page.locator('#operations-Project-listProjects');
    expect(await listed.locator('.live-responses-table').textContent()).toContain('Shown in /docs');
    const curl = await listed.locator('.curl-command').textContent();
    expect(curl).toContain(`Authorization: Bearer ${key}`);
    expect(await tryOut('Health-getReadiness')).toBe('200');
    expect(pageErrors).toEqual([]);
  });
});
