/**
 * The engine switch of the harness: the files of the `servers` project open their test databases
 * on PostgreSQL, and the same files in the `pglite` project (TEST_DB=pglite) on PGlite.
 */
import { expect, it } from 'vitest';
import { createTestApp } from '../support/app.js';

it('opens its test databases on the engine of its vitest project', async ({ task }) => {
  const t = await createTestApp();
  try {
    expect(t.database.engine).toBe(task.file.projectName === 'pglite' ? 'pglite' : 'postgres');
  } finally {
    await t.close();
  }
});
