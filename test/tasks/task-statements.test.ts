import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { connectAnotherInstance, someoneWaitsForALock } from '../support/database.js';
import { taskApi } from '../support/tasks.js';

/**
 * The completion as one statement (src/store/task-statements.ts) under a concurrent write: it
 * reads the agent's other attempts in the snapshot it started with, so a claim that committed
 * meanwhile is invisible to it. Such a claim changed the agent (its version), and the statement
 * must then leave the agent busy rather than call it idle while it holds the new attempt.
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
let other: pg.Client;
beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  api = taskApi(t);
  other = await connectAnotherInstance(t.databaseUrl);
});
afterAll(async () => {
  await other?.end();
  await t?.close();
});

describe('a completion beside a concurrent change of its agent', () => {
  it('leaves the agent busy when it changed after the statement began', async () => {
    const project = await api.project();
    const agent = await api.agent(project.id);
    const task = await api.task(project.id);
    const claim = (await api.claim(agent.id)).json();
    await other.query('begin');
    await other.query('update agents set version = version + 1 where id = $1', [agent.id]);
    const completing = api.complete(task.id, { attempt: claim.attempt.number });
    await someoneWaitsForALock(t.database.db);
    await other.query('commit');
    const done = await completing;
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().status).toBe('succeeded');
    const after = (await api.call('GET', `/agents/${agent.id}`, undefined, 200)).json();
    expect(after.status).toBe('busy');
  });
});
