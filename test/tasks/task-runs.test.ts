import { spawn } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { byDepth } from '../support/depth.js';
import { readWholeLog } from '../support/event-log.js';
import { taskApi } from '../support/tasks.js';

/**
 * Whole runs on real PostgreSQL with the maintenance loop ticking every 100 ms: many agents at
 * once, a dependency graph, a crashed agent process, and the backoff timed for real.
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
let project: { id: string };
beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '100', DATABASE_POOL_SIZE: '30' });
  api = taskApi(t);
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  project = await api.project();
});

type Claim = { task: { id: string }; attempt: { number: number } };

/** Claims and completes until a claim comes back empty; returns the ids it completed. */
async function work(agentId: string) {
  const done: string[] = [];
  for (;;) {
    const response = await api.claim(agentId);
    if (response.statusCode === 204) return done;
    expect(response.statusCode, response.body).toBe(200);
    const claim: Claim = response.json();
    const completed = await api.complete(claim.task.id, { attempt: claim.attempt.number });
    expect(completed.statusCode, completed.body).toBe(200);
    done.push(claim.task.id);
  }
}

/** The audit records of a task, oldest first, as [action, resource]. */
async function audited(taskId: string) {
  const response = await api.call('GET', `/audit?resource=task&resource_id=${taskId}`);
  return response
    .json()
    .items.reverse()
    .map((entry: { action: string; resource: string }) => [entry.action, entry.resource]);
}

async function createMany(count: number, fields: object = {}) {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, () =>
      api.task(project.id, fields),
    );
    ids.push(...(await Promise.all(batch)).map((task) => task.id));
  }
  return ids;
}

describe('many agents at once', () => {
  const { agents, tasks } = byDepth({ agents: 8, tasks: 100 }, { agents: 20, tasks: 500 });
  it(`runs each of ${tasks} tasks exactly once, ${agents} agents claiming at once`, async () => {
    const ids = await createMany(tasks);
    const claimers = await Promise.all(Array.from({ length: agents }, () => api.agent(project.id)));
    const perAgent = await Promise.all(claimers.map((agent) => work(agent.id)));
    const completed = perAgent.flat();
    expect(completed).toHaveLength(tasks);
    expect(new Set(completed)).toEqual(new Set(ids));
    const result = await t.database.db.execute(
      // Every task succeeded with exactly one attempt, and no task ever had two live attempts.
      sqlText(`select count(*)::int as n from tasks where status = 'succeeded' and attempts = 1`),
    );
    expect(rows(result)[0]!.n).toBe(tasks);
    const attempts = await t.database.db.execute(
      sqlText(
        `select count(*)::int as n, count(distinct task_id)::int as tasks from task_attempts`,
      ),
    );
    expect(rows(attempts)[0]).toEqual({ n: tasks, tasks });
    expect(perAgent.filter((done) => done.length > 0).length).toBeGreaterThan(1);
  }, 90_000);
});

describe('a dependency graph', () => {
  it('runs a DAG of 50 tasks in dependency order', async () => {
    const ids: string[] = [];
    const dependencies = new Map<string, string[]>();
    for (let index = 0; index < 50; index += 1) {
      // Each task depends on up to three earlier ones, chosen by a fixed rule.
      const on = [index - 1, index - 3, Math.floor(index / 2)]
        .filter((earlier) => earlier >= 0 && earlier < index)
        .map((earlier) => ids[earlier]!);
      const task = await api.task(project.id, { depends_on: [...new Set(on)] });
      ids.push(task.id);
      dependencies.set(task.id, [...new Set(on)]);
    }
    const agents = await Promise.all(Array.from({ length: 4 }, () => api.agent(project.id)));
    const order: string[] = [];
    // Agents keep claiming until every task is done (a claim may find none while others run).
    while (order.length < 50) {
      const rounds = await Promise.all(agents.map((agent) => work(agent.id)));
      order.push(...rounds.flat());
    }
    const position = new Map(order.map((id, index) => [id, index]));
    for (const [id, on] of dependencies)
      for (const dependency of on)
        expect(position.get(dependency)!).toBeLessThan(position.get(id)!);
  });
});

describe('a crashed agent', () => {
  it('loses its lease when its process is killed, and another agent completes the task', async () => {
    const baseUrl = await t.listen();
    const crashing = await api.agent(project.id);
    const task = await api.task(project.id, { lease_ms: 500 });
    const child = spawn(process.execPath, ['-e', claimAndHang], {
      env: { ...process.env, URL: `${baseUrl}/api/v1/tasks/claim`, AGENT: crashing.id },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const claimed = await new Promise<string>((resolve) =>
        child.stdout.once('data', (chunk: Buffer) => resolve(String(chunk))),
      );
      expect(JSON.parse(claimed).task.id).toBe(task.id);
    } finally {
      child.kill('SIGKILL');
    }
    const rescuer = await api.agent(project.id);
    const started = Date.now();
    const response = await api.claim(rescuer.id, 5_000);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ task: { id: task.id }, attempt: { number: 2 } });
    // Found within lease_ms + 1 s of the last sign of life.
    expect(Date.now() - started).toBeLessThan(1_500 + 1_000);
    await api.complete(task.id, { attempt: 2 });
    const attempts = await api.attempts(task.id);
    expect(attempts.map((attempt: { outcome: string }) => attempt.outcome)).toEqual([
      'lost',
      'succeeded',
    ]);
    // What an operator's dashboard counts: the lease the sweeper expired.
    const metrics = (await t.request({ url: '/metrics' })).body;
    const expired = /^task_maintenance_items_total\{job="expire leases"\} (\d+)$/m.exec(metrics);
    expect(Number(expired?.[1])).toBeGreaterThanOrEqual(1);
    expect(await audited(task.id)).toEqual([
      ['create', 'task'],
      ['claim', 'task'],
      ['lost', 'task'],
      // Its retry waited out a backoff (scheduled), then the loop queued it.
      ['status', 'task'],
      ['claim', 'task'],
      ['complete', 'task'],
    ]);
    const lost = (await readWholeLog(t.request, `topic=task:${task.id}`)).find(
      (event) => (event.data as { phase?: string }).phase === 'lost',
    );
    expect(lost?.data).toMatchObject({
      task: { error: 'lease expired without a heartbeat' },
      attempt: { number: 1, agent_id: crashing.id, outcome: 'lost' },
    });
    expectStaleCompletion(await api.complete(task.id, { attempt: 1 }));
  });

  it('times out an attempt past timeout_ms even while it heartbeats', async () => {
    const agent = await api.agent(project.id);
    const task = await api.task(project.id, { timeout_ms: 300, max_attempts: 1 });
    const { attempt } = (await api.claim(agent.id)).json();
    const deadline = Date.now() + 3_000;
    let status = 'running';
    while (status === 'running' && Date.now() < deadline) {
      await api.heartbeat(task.id, { attempt: attempt.number });
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await api.get(task.id)).status;
    }
    expect(status).toBe('failed');
    expect((await api.attempts(task.id))[0].outcome).toBe('timed_out');
    expect((await api.get(task.id)).error).toBe('timed out');
    expect(await audited(task.id)).toEqual([
      ['create', 'task'],
      ['claim', 'task'],
      ['timed_out', 'task'],
    ]);
  });
});

describe('backoff, for real', () => {
  it('waits out the backoff before the next attempt can be claimed', async () => {
    const agent = await api.agent(project.id);
    const task = await api.task(project.id, { backoff: { base_ms: 600, max_ms: 600 } });
    const first = (await api.claim(agent.id)).json();
    const failedAt = Date.now();
    const failed = (await api.fail(task.id, { attempt: first.attempt.number, error: 'x' })).json();
    expect(failed.status).toBe('scheduled');
    const response = await api.claim(agent.id, 5_000);
    const waited = Date.now() - failedAt;
    expect(response.statusCode).toBe(200);
    expect(response.json().attempt.number).toBe(2);
    // Equal jitter: between half the delay and the delay, plus at most one sweep.
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(600 + 1_000);
    // The sweeper announced the promotion that woke the claim.
    const promoted = (await readWholeLog(t.request, `topic=task:${task.id}`)).filter(
      (event) => event.type === 'TASK_UPDATE',
    );
    expect(promoted.map((event) => event.data)).toMatchObject([
      { task: { status: 'queued' }, changed_fields: ['status'] },
    ]);
  });
});

/** A process that claims one task, prints the answer and then never heartbeats. */
const claimAndHang = `
  const response = await fetch(process.env.URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: process.env.AGENT, wait_ms: 5000 }),
  });
  process.stdout.write(await response.text());
  setInterval(() => undefined, 60_000);
`;

function expectStaleCompletion(response: { statusCode: number }) {
  expect(response.statusCode).toBe(409);
}

function sqlText(text: string) {
  return sql.raw(text);
}

function rows(result: unknown): Array<Record<string, number>> {
  return (result as { rows: Array<Record<string, number>> }).rows;
}
