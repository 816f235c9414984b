import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { someoneWaitsForALock } from '../support/database.js';
import { taskApi } from '../support/tasks.js';

/**
 * Writes at the same moment on PostgreSQL, each reading the database before the other committed:
 * a task created while its dependency completes or fails, two attempts of one agent ending
 * together. Each write alone leaves a state the other should have changed (a blocked task whose
 * dependency finished, a busy agent holding no attempt); the maintenance loop settles them within
 * TASK_SWEEP_MS (docs/tasks.md). And a heartbeat that holds its task when the sweeper comes for
 * the expired lease: the heartbeat wins.
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
let projectId: string;
beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '100' });
  api = taskApi(t);
  projectId = (await api.project()).id;
});
afterAll(async () => t?.close());

const ROUNDS = 10;

/** A running task of a new agent: its claim. */
async function runningTask(agentId: string) {
  const task = await api.task(projectId);
  const claim = await api.claim(agentId);
  expect(claim.statusCode, claim.body).toBe(200);
  const { attempt } = claim.json();
  expect(claim.json().task.id).toBe(task.id);
  return { id: task.id, attempt: attempt.number as number };
}

/** Creates a task depending on `dependencyId` while `finish` ends the dependency. */
async function createWhile(dependencyId: string, finish: Promise<unknown>): Promise<string> {
  const payload = {
    project_id: projectId,
    title: 'Depends',
    depends_on: [dependencyId],
    required_capabilities: ['no agent here has it'],
  };
  const [created] = await Promise.all([api.call('POST', '/tasks', payload), finish]);
  // 422 when the creation read the dependency already failed: nothing to settle then.
  return created.statusCode === 201 ? created.json().id : '';
}

const statusesOf = (ids: string[]) =>
  Promise.all(ids.filter(Boolean).map(async (id) => (await api.get(id)).status as string));

describe('writes that race', () => {
  it('runs a task created while its dependency completes', async () => {
    const agent = await api.agent(projectId);
    const created: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const running = await runningTask(agent.id);
      const done = api.complete(running.id, { attempt: running.attempt });
      created.push(await createWhile(running.id, done));
    }
    await expect.poll(() => statusesOf(created), { timeout: 5_000 }).not.toContain('blocked');
    expect(new Set(await statusesOf(created))).toEqual(new Set(['queued']));
    const events = await t.request({ url: `/api/v1/events?topic=task:${created[0]}` });
    const types = events.json().items.map((event: { type: string }) => event.type);
    expect(types[0]).toBe('TASK_CREATED');
    expect(types).not.toContain('TASK_DELETED');
  });

  it('cancels a task created while its dependency fails for good', async () => {
    const agent = await api.agent(projectId);
    const created: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const running = await runningTask(agent.id);
      const failure = { attempt: running.attempt, error: 'broken', retryable: false };
      created.push(await createWhile(running.id, api.fail(running.id, failure)));
    }
    await expect.poll(() => statusesOf(created), { timeout: 5_000 }).not.toContain('blocked');
    for (const id of created.filter(Boolean))
      expect(await api.get(id)).toMatchObject({
        status: 'cancelled',
        cancel_reason: 'dependency_failed',
      });
  });

  it('makes an agent idle whose two attempts end at once', async () => {
    const agents: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const agent = await api.agent(projectId);
      const [first, second] = [await runningTask(agent.id), await runningTask(agent.id)];
      await Promise.all(
        [first, second].map(async ({ id, attempt }) => {
          const done = await api.complete(id, { attempt });
          expect(done.statusCode, done.body).toBe(200);
        }),
      );
      agents.push(agent.id);
    }
    const statuses = () =>
      Promise.all(agents.map(async (id) => (await api.call('GET', `/agents/${id}`)).json().status));
    await expect.poll(statuses, { timeout: 5_000 }).toEqual(agents.map(() => 'idle'));
    // A busy status an agent reports itself after its work is its own: no sweep undoes it.
    await api.call('PATCH', `/agents/${agents[0]}`, { status: 'busy' }, 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await api.call('GET', `/agents/${agents[0]}`)).json().status).toBe('busy');
    await api.call('PATCH', `/agents/${agents[0]}`, { status: 'idle' }, 200);
    const events = await t.request({ url: `/api/v1/events?topic=agent:${agents[0]}` });
    const released = events
      .json()
      .items.filter((event: { type: string }) => event.type === 'AGENT_STATUS');
    expect(released.at(-1)).toMatchObject({ data: { agent: { status: 'idle' } } });
  });
});

describe('a heartbeat and the sweeper at the same moment', () => {
  it('keeps the lease a heartbeat extends while the sweeper waits to expire it', async () => {
    const agent = await api.agent(projectId);
    const { id } = await api.task(projectId, { lease_ms: 100 });
    expect((await api.claim(agent.id)).json()).toMatchObject({
      task: { id },
      attempt: { number: 1 },
    });
    const heartbeat = new pg.Client({ connectionString: t.databaseUrl! });
    await heartbeat.connect();
    try {
      // What a heartbeat does, held open: lock the task, then extend its attempt's lease. A
      // heartbeat never waits for the sweeper (lock_timeout), and the sweeper, once the 100 ms
      // lease ran out, waits for the heartbeat.
      await heartbeat.query('begin');
      await heartbeat.query(`set local lock_timeout = '200ms'`);
      await heartbeat.query('select id from tasks where id = $1 for update', [id]);
      await someoneWaitsForALock(t.database.db);
      await heartbeat.query(
        `update task_attempts set heartbeat_at = now(),
           lease_expires_at = now() + interval '30 seconds'
         where task_id = $1 and ended_at is null`,
        [id],
      );
      await heartbeat.query('commit');
    } finally {
      await heartbeat.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await api.attempts(id)).toMatchObject([{ number: 1, ended_at: null, outcome: null }]);
    expect(await api.get(id)).toMatchObject({ status: 'running', attempts: 1 });
    expect((await api.heartbeat(id, { attempt: 1 })).statusCode).toBe(200);
  });
});
