import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { taskApi } from '../support/tasks.js';

let t: TestApp;
let api: ReturnType<typeof taskApi>;
beforeAll(async () => {
  t = await createTestApp();
  api = taskApi(t);
});
afterAll(() => t.close());
beforeEach(() => t.reset());

describe('smoke', () => {
  it('runs a task', async () => {
    const project = await api.project();
    const agent = await api.agent(project.id);
    const task = await api.task(project.id);
    expect(task.status).toBe('queued');
    await t.app.services.taskExecution
      .claim(
        { agent_id: agent.id, wait_ms: 0 },
        { principal: { keyId: null, role: 'admin', projectIds: null }, ip: null, userAgent: null },
      )
      .catch((e) => console.log('ERR', e, e.cause));
    await t.request({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { project_id: project.id, title: 'x' },
    });
    const claim = await api.claim(agent.id);
    expect(claim.statusCode, claim.body).toBe(200);
    const { attempt } = claim.json();
    const beat = await api.heartbeat(task.id, {
      attempt: attempt.number,
      progress: 0.5,
      message: 'half',
    });
    expect(beat.statusCode, beat.body).toBe(200);
    const done = await api.complete(task.id, { attempt: attempt.number, result: { ok: true } });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().status).toBe('succeeded');
    console.log(await api.attempts(task.id));
    const events = await t.request({ method: 'GET', url: '/api/v1/events?limit=100' });
    console.log(
      events
        .json()
        .items.map(
          (e: { type: string; data: { phase?: string } }) => `${e.type} ${e.data.phase ?? ''}`,
        ),
    );
  });
});
