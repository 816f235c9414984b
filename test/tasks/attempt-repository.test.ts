import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AttemptRepository } from '../../src/store/attempt-repository.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { taskApi } from '../support/tasks.js';

/**
 * What an agent and the services rely on from `task_attempts` on PostgreSQL: an ended attempt
 * shows its error and how long it ran, and only a live attempt can be extended or ended. The
 * app's own loop is slowed down (its first tick comes after 60 s) so that it ends nothing
 * meanwhile.
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
const repository = new AttemptRepository();

beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  api = taskApi(t);
});
afterAll(async () => t?.close());
beforeEach(() => t.reset());

/** A task of a new project, claimed by a new agent: its id and the attempt's number. */
async function claimedTask(fields: object = {}) {
  const project = await api.project();
  const agent = await api.agent(project.id);
  const task = await api.task(project.id, fields);
  const claim = await api.claim(agent.id);
  expect(claim.statusCode, claim.body).toBe(200);
  return { id: task.id, attempt: claim.json().attempt.number as number };
}

describe('an ended attempt', () => {
  it('shows the error it failed with and how long it ran, from claim to end', async () => {
    const { id, attempt } = await claimedTask({ max_attempts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const failure = { attempt, error: 'compiler crashed', output: 'half a log', retryable: false };
    expect((await api.fail(id, failure)).statusCode).toBe(200);
    const [ended] = await api.attempts(id);
    expect(ended).toMatchObject({
      number: attempt,
      outcome: 'failed',
      error: 'compiler crashed',
      output: 'half a log',
    });
    expect(ended.duration_ms).toBe(Date.parse(ended.ended_at) - Date.parse(ended.claimed_at));
    expect(ended.duration_ms).toBeGreaterThanOrEqual(25);
  });
});

describe('AttemptRepository on PostgreSQL', () => {
  it('extends and ends a live attempt only, and answers null for any other', async () => {
    const { id, attempt } = await claimedTask();
    const db = t.database.db;
    const live = (await repository.find(db, id, attempt))!;
    const extended = await repository.extend(db, id, attempt, 60_000);
    expect(extended).toMatchObject({ number: attempt, ended_at: null, outcome: null });
    expect(Date.parse(extended!.lease_expires_at)).toBeGreaterThan(
      Date.parse(live.lease_expires_at),
    );
    const ended = await repository.end(db, id, attempt, { outcome: 'failed', error: 'gone' });
    expect(ended).toMatchObject({
      number: attempt,
      outcome: 'failed',
      error: 'gone',
      output: null,
    });
    expect(ended!.ended_at).not.toBeNull();
    expect(await repository.find(db, id, attempt)).toEqual(ended);

    expect(await repository.end(db, id, attempt, { outcome: 'succeeded' })).toBeNull();
    expect(await repository.extend(db, id, attempt, 60_000)).toBeNull();
    expect(await repository.end(db, id, attempt + 1, { outcome: 'succeeded' })).toBeNull();
    expect(await repository.extend(db, id, attempt + 1, 60_000)).toBeNull();
    expect(await repository.find(db, id, attempt)).toEqual(ended);
    expect(await repository.live(db, id)).toBeNull();
  });

  it('ends a failure timed_out once the deadline passed, by the database clock', async () => {
    const db = t.database.db;
    const failed = { outcome: 'failed', pastDeadline: 'timed_out', error: 'killed' } as const;
    const early = await claimedTask({ timeout_ms: 60_000 });
    const endless = await claimedTask();
    const late = await claimedTask({ timeout_ms: 100 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const ended = await Promise.all(
      [early, endless, late].map(({ id, attempt }) => repository.end(db, id, attempt, failed)),
    );
    expect(ended.map((attempt) => attempt?.outcome)).toEqual(['failed', 'failed', 'timed_out']);
  });
});
