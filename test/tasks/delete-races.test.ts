import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { readWholeLog } from '../support/event-log.js';
import { taskApi } from '../support/tasks.js';

/**
 * Deletes that race the writes they must not undo, on PostgreSQL: a project deleted while its
 * agent claims one of its tasks, an agent deleted while one of its finished pinned tasks is
 * retried. Whichever commits first, no agent is left busy without an attempt and no task is
 * unpinned behind a retry that committed first (docs/tasks.md, "States").
 */
let t: TestApp;
let api: ReturnType<typeof taskApi>;
beforeAll(async () => {
  t = await createTestApp();
  api = taskApi(t);
});
afterAll(async () => t?.close());

const ROUNDS = 10;

/** The agent and the task of its live attempt, as GET /stats/agents reports them. */
async function agentNow(id: string) {
  const agent = (await api.call('GET', `/agents/${id}`, undefined, 200)).json();
  const stats = (await api.call('GET', `/stats/agents?agent_id=${id}`, undefined, 200)).json();
  return { status: agent.status as string, current: stats.items[0].current_task };
}

describe('deletes that race', () => {
  it('a project deleted while its agent claims: refused, or nothing stranded', async () => {
    const outcomes = new Set<number>();
    for (let round = 0; round < ROUNDS; round += 1) {
      const project = await api.project(`race-${round}`);
      const agent = await api.agent(project.id);
      const tasks = [await api.task(project.id), await api.task(project.id)];
      const [claim, deleted] = await Promise.all([
        api.claim(agent.id),
        api.call('DELETE', `/projects/${project.id}`),
      ]);
      outcomes.add(deleted.statusCode);
      const now = await agentNow(agent.id);
      expect(now.status === 'busy', JSON.stringify(now)).toBe(now.current !== null);
      if (deleted.statusCode === 409) {
        expect(claim.statusCode).toBe(200);
        await api.call('POST', `/tasks/${claim.json().task.id}/cancel`, {}, 200);
        continue;
      }
      expect(deleted.statusCode, deleted.body).toBe(204);
      for (const task of tasks) {
        await api.call('GET', `/tasks/${task.id}`, undefined, 404);
        const log = await readWholeLog(t.request, `topic=task:${task.id}`);
        expect(log.at(-1)!.type).toBe('TASK_DELETED');
      }
    }
    expect([...outcomes].every((status) => status === 204 || status === 409)).toBe(true);
  });

  it('an agent deleted while its finished pinned task is retried: never unpinned behind it', async () => {
    const project = await api.project('retry-race');
    for (let round = 0; round < ROUNDS; round += 1) {
      const agent = await api.agent(project.id);
      const task = await api.task(project.id, { agent_id: agent.id });
      await api.call('POST', `/tasks/${task.id}/cancel`, {}, 200);
      const [retried, deleted] = await Promise.all([
        api.call('POST', `/tasks/${task.id}/retry`),
        api.call('DELETE', `/agents/${agent.id}`),
      ]);
      expect(retried.statusCode, retried.body).toBe(200);
      const after = await api.get(task.id);
      if (deleted.statusCode === 409) {
        expect(after).toMatchObject({ status: 'queued', agent_id: agent.id });
        await api.call('POST', `/tasks/${task.id}/cancel`, {}, 200);
        continue;
      }
      expect(deleted.statusCode, deleted.body).toBe(204);
      // The agent's deletion committed first: the retry came after it, on an unpinned task.
      const log = await readWholeLog(t.request, `topic=project:${project.id}`);
      const id = (type: string, topic: string) =>
        log.findLast((event) => event.type === type && event.topic === topic)!.id;
      expect(id('TASK_UPDATE', `task:${task.id}`)).toBeGreaterThan(
        id('AGENT_DELETED', `agent:${agent.id}`),
      );
      expect(after).toMatchObject({ status: 'queued', agent_id: null });
      await api.call('POST', `/tasks/${task.id}/cancel`, {}, 200);
    }
  });
});
