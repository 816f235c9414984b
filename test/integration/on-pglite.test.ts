/**
 * The integration suite once more, on PGlite: every file of this folder but this one and the
 * `*.postgres-only.test.ts` ones, each in a describe block named after it. They run inside the
 * workers that run everything else, which have the app loaded and warm already; a vitest project
 * of its own (the engine was chosen per process before) cost two more workers, each loading the
 * app, compiling PGlite and opening a database again.
 *
 * Each file is imported with a query (`?pglite`), so its module is a second instance with its own
 * tests and hooks, beside the one that runs on PostgreSQL; the modules they import are shared and
 * ask testEngine() at each call. The engine is PGlite while this file's tests are collected and
 * while they run, and PostgreSQL otherwise, also when vitest collects several files
 * before running them (one worker).
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, useTestEngine } from '../support/app.js';

const thisFile = basename(fileURLToPath(import.meta.url));
const suites = readdirSync(fileURLToPath(new URL('.', import.meta.url)))
  .filter((file) => file.endsWith('.test.ts') && file !== thisFile && !file.endsWith('.postgres-only.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort();

beforeAll(() => useTestEngine('pglite'));
afterAll(() => useTestEngine(null));

it('opens its test databases on PGlite', async () => {
  const t = await createTestApp();
  try {
    expect(t.database.engine).toBe('pglite');
  } finally {
    await t.close();
  }
});

/**
 * Imports one file with PGlite as the engine (a title at its top level may name an engine count,
 * as the fuzz files do), then goes back to the default. Titles of nested describe blocks are read
 * later, so they must not depend on the engine.
 */
async function collectOnPglite(suite: string): Promise<void> {
  useTestEngine('pglite');
  try {
    await import(`./${suite}.test.ts?pglite`);
  } finally {
    useTestEngine(null);
  }
}

for (const suite of suites) describe(suite, () => collectOnPglite(suite));
