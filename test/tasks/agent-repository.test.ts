import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentInput } from '../../src/domain/agent.js';
import { AgentRepository } from '../../src/store/agent-repository.js';
import { AttemptRepository } from '../../src/store/attempt-repository.js';
import type { Executor } from '../../src/store/database.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { connectAnotherInstance } from '../support/database.js';
import { taskApi } from '../support/tasks.js';

/**
 * What the maintenance loop and the agent list rely on from `agents` on PostgreSQL: which agents
 * count as silent and go offline, that an agent another instance holds is left for the next tick,
 * which busy agents hold no work and are released, and the list's scope and name filters. The
 * app's own loop is slowed down (its first tick comes after 60 s, and it would take agents silent
 * for a day) so that it changes nothing meanwhile.
 */
let t: TestApp;
let db: Executor;
let other: pg.Client;
let api: ReturnType<typeof taskApi>;
const repository = new AgentRepository();
const attempts = new AttemptRepository();

beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000', AGENT_OFFLINE_AFTER_MS: '86400000' });
  db = t.database.db;
  api = taskApi(t);
  other = await connectAnotherInstance(t.databaseUrl);
});
afterAll(async () => {
  await other?.end();
  await t?.close();
});
beforeEach(() => t.reset());

const input = (name: string, fields: Partial<AgentInput> = {}): AgentInput => ({
  name,
  agent_type: 'coder',
  capabilities: [],
  status: 'idle',
  project_id: null,
  metadata: {},
  ...fields,
});

/** An agent last seen `secondsAgo` seconds ago (null: never seen). */
async function agentSeen(
  name: string,
  secondsAgo: number | null,
  fields: Partial<AgentInput> = {},
) {
  const agent = await repository.insert(db, input(name, fields));
  if (secondsAgo !== null)
    await db.execute(
      sql`update agents set last_active_at = now() - ${secondsAgo}::int * interval '1 second'
        where id = ${agent.id}`,
    );
  return (await repository.findById(db, agent.id))!;
}

/** The agent as the database holds it now. */
const stored = async (id: string) => (await repository.findById(db, id))!;

describe('silent agents going offline', () => {
  it('marks offline the agents silent for longer than asked, and no other', async () => {
    const silent = await agentSeen('silent', 3_600);
    const busy = await agentSeen('silent-busy', 3_600, { status: 'busy' });
    const recent = await agentSeen('recent', 5);
    const never = await agentSeen('never', null);
    const gone = await agentSeen('gone', 3_600, { status: 'offline' });

    const changed = await repository.markSilentOffline(db, 60_000, 10);
    expect(changed.map((agent) => agent.name).sort()).toEqual(['silent', 'silent-busy']);
    for (const before of [silent, busy]) {
      const after = changed.find((agent) => agent.id === before.id);
      expect(after).toEqual({
        ...before,
        status: 'offline',
        version: before.version + 1,
        updated_at: expect.any(String),
      });
      expect(Date.parse(after!.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
      expect(await stored(before.id)).toEqual(after);
    }
    // An agent never seen has no silence to measure; one already offline stays as it was.
    for (const left of [recent, never, gone]) expect(await stored(left.id)).toEqual(left);
    expect(await repository.markSilentOffline(db, 60_000, 10)).toEqual([]);
    // Silent for 5 s is silent for a threshold of 1 s.
    expect((await repository.markSilentOffline(db, 1_000, 10)).map((a) => a.id)).toEqual([
      recent.id,
    ]);
  });

  it('marks at most `limit` agents a call; the next call takes the rest', async () => {
    for (const name of ['a', 'b', 'c']) await agentSeen(name, 600);
    expect(await repository.markSilentOffline(db, 60_000, 2)).toHaveLength(2);
    expect(await repository.markSilentOffline(db, 60_000, 2)).toHaveLength(1);
    expect(await repository.markSilentOffline(db, 60_000, 2)).toEqual([]);
  });

  it('skips an agent another transaction holds, without waiting for it', async () => {
    const held = await agentSeen('held', 600);
    const free = await agentSeen('free', 600);
    await other.query('begin');
    try {
      await other.query('select id from agents where id = $1 for update', [held.id]);
      const changed = await t.database.transaction(async (tx) => {
        await tx.execute(sql`set local lock_timeout = '2s'`);
        return repository.markSilentOffline(tx, 60_000, 10);
      });
      expect(changed.map((agent) => agent.id)).toEqual([free.id]);
    } finally {
      await other.query('rollback');
    }
    expect((await stored(held.id)).status).toBe('idle');
    expect((await repository.markSilentOffline(db, 60_000, 10)).map((a) => a.id)).toEqual([
      held.id,
    ]);
  });
});

describe('busy agents and their work', () => {
  /** A new agent of a new project that holds a live attempt of a new task. */
  async function agentAtWork(name: string) {
    const project = await api.project(`Project ${name}`);
    const agent = await api.agent(project.id, { name });
    const task = await api.task(project.id);
    const claim = await api.claim(agent.id);
    expect(claim.statusCode, claim.body).toBe(200);
    return { agentId: agent.id, taskId: task.id, attempt: claim.json().attempt.number as number };
  }

  /**
   * Ends the attempt without releasing its agent: what a completion leaves behind when it saw
   * another attempt of the agent still live, which ended at the same moment.
   */
  const endAlone = async (work: { taskId: string; attempt: number }) =>
    expect(
      await attempts.end(db, work.taskId, work.attempt, { outcome: 'succeeded' }),
    ).not.toBeNull();

  it('marks an agent busy when it takes work, saying what it was before', async () => {
    const agent = await repository.insert(db, input('worker'));
    const taken = await repository.takeWork(db, agent.id);
    expect(taken).toEqual({
      before: 'idle',
      agent: {
        ...agent,
        status: 'busy',
        version: 2,
        last_active_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    expect(await stored(agent.id)).toEqual(taken!.agent);
    expect((await repository.takeWork(db, agent.id))!.before).toBe('busy');
    expect(await repository.takeWork(db, '99999999-9999-4999-8999-999999999999')).toBeNull();
  });

  it('finds the busy agents whose attempts all ended, and releases them', async () => {
    const released = await agentAtWork('released');
    const working = await agentAtWork('working');
    const idle = await agentAtWork('idle');
    // An agent busy by its own word, never having held an attempt, is not the loop's to release.
    await repository.insert(db, input('own-word', { status: 'busy' }));
    await endAlone(released);
    expect((await api.complete(idle.taskId, { attempt: idle.attempt })).statusCode).toBe(200);

    const found = await stored(released.agentId);
    expect(found.status).toBe('busy');
    expect(await repository.busyWithoutWork(db, 10)).toEqual([
      { id: released.agentId, version: found.version },
    ]);
    expect(await repository.releaseIfIdle(db, working.agentId)).toBeNull();
    expect(await repository.releaseIfIdle(db, idle.agentId)).toBeNull();
    expect((await stored(working.agentId)).status).toBe('busy');

    // Changed since it was found (in the race: by a claim whose attempt the release cannot see
    // yet), the agent is not released at the version found.
    await api.call('PATCH', `/agents/${released.agentId}`, { metadata: { note: 'moved' } }, 200);
    const agent = await stored(released.agentId);
    expect(await repository.releaseIfIdle(db, released.agentId, found.version)).toBeNull();
    expect(await stored(released.agentId)).toEqual(agent);
    expect(agent).toMatchObject({ status: 'busy', version: found.version + 1 });
    const idleNow = await repository.releaseIfIdle(db, released.agentId, agent.version);
    expect(idleNow).toEqual({
      ...agent,
      status: 'idle',
      version: agent.version + 1,
      updated_at: expect.any(String),
    });
    expect(await stored(released.agentId)).toEqual(idleNow);
    expect(await repository.busyWithoutWork(db, 10)).toEqual([]);
    expect(await repository.releaseIfIdle(db, released.agentId)).toBeNull();
  });

  it('leaves alone a busy status the agent reported after its work ended', async () => {
    const work = await agentAtWork('reporter');
    await endAlone(work);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await api.call('PATCH', `/agents/${work.agentId}`, { status: 'busy' }, 200);
    expect(await repository.busyWithoutWork(db, 10)).toEqual([]);
  });

  it('finds at most `limit` busy agents without work', async () => {
    const works = [await agentAtWork('a'), await agentAtWork('b'), await agentAtWork('c')];
    for (const work of works) await endAlone(work);
    expect(await repository.busyWithoutWork(db, 2)).toHaveLength(2);
    expect(await repository.busyWithoutWork(db, 10)).toHaveLength(3);
  });
});

describe('listing agents', () => {
  it('lists the agents of the projects in scope, and by exact name', async () => {
    const [a, b] = [(await api.project('A')).id, (await api.project('B')).id];
    await repository.insert(db, input('coder', { project_id: a }));
    await repository.insert(db, input('tester', { project_id: a }));
    await repository.insert(db, input('coder', { project_id: b }));
    await repository.insert(db, input('coder'));
    const place = (projectId: string | null) => (projectId === a ? 'A' : projectId ? 'B' : '-');
    const list = async (query: object, scope: string[] | null = null) =>
      (
        await repository.list(db, { limit: 20, offset: 0, sort: 'name', ...query }, scope)
      ).items.map((agent) => `${agent.name}@${place(agent.project_id)}`);
    expect((await list({})).sort()).toEqual(['coder@-', 'coder@A', 'coder@B', 'tester@A']);
    expect(await list({}, [a])).toEqual(['coder@A', 'tester@A']);
    expect((await list({}, [a, b])).sort()).toEqual(['coder@A', 'coder@B', 'tester@A']);
    expect(await list({}, [])).toEqual([]);
    expect((await list({ name: 'coder' })).sort()).toEqual(['coder@-', 'coder@A', 'coder@B']);
    expect(await list({ name: 'coder' }, [b])).toEqual(['coder@B']);
    expect(await list({ name: 'code' })).toEqual([]);
    const page = await repository.list(db, { limit: 20, offset: 0, sort: 'name' }, [a]);
    expect(page.total).toBe(2);
  });
});
