import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';

/**
 * Reads beside a write that holds a row. PostgreSQL only: PGlite has one connection, so there a
 * held transaction makes every other query wait by design.
 */
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('a GET beside a write holding the row', () => {
  it('does not wait for the write', async () => {
    const created = await t.request({
      method: 'POST',
      url: '/api/v1/projects',
      payload: { name: 'Held' },
    });
    const project = created.json();
    let locked: () => void = () => undefined;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (locked = resolve));
    const writer = t.database.transaction(async (tx) => {
      await tx.execute(sql`select id from projects where id = ${project.id} for update`);
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await Promise.race([held, writer]);
    const read = await Promise.race([
      t.request({ method: 'GET', url: `/api/v1/projects/${project.id}` }),
      new Promise<'still waiting'>((resolve) => setTimeout(resolve, 2_000, 'still waiting')),
    ]);
    release();
    await writer;
    expect(read === 'still waiting' ? read : read.statusCode).toBe(200);
  });
});
