import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStream } from '../../src/client/index.js';
import type { TypedEvent } from '../../src/domain/event.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { taskApi } from '../support/tasks.js';

let t: TestApp;
let api: ReturnType<typeof taskApi>;
let wsUrl: string;
const streams: EventStream[] = [];
beforeAll(async () => {
  t = await createTestApp({ TASK_SWEEP_MS: '60000' });
  api = taskApi(t);
  wsUrl = `${(await t.listen()).replace('http', 'ws')}/ws`;
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  await t.close();
});

function watch(lastEventId?: number) {
  const stream = new EventStream({ url: wsUrl, topics: ['tasks'], lastEventId });
  streams.push(stream);
  const steps: string[] = [];
  const events: TypedEvent[] = [];
  stream.onEvent((event) => {
    events.push(event);
    if (event.type === 'TASK_EXECUTION')
      steps.push(`${event.data.phase}:${event.data.attempt?.number ?? '-'}`);
  });
  stream.start();
  return { stream, steps, events };
}

async function until(check: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(check()).toBe(true);
}

describe('TASK_EXECUTION over the WebSocket', () => {
  it('shows every step of a run in order, and a resumed client misses none', async () => {
    const project = await api.project();
    const agent = await api.agent(project.id);
    const task = await api.task(project.id, { backoff: { base_ms: 0, max_ms: 0 } });
    const first = watch(0);
    await until(() => first.events.some((event) => event.type === 'TASK_CREATED'));

    const one = (await api.claim(agent.id)).json();
    await api.heartbeat(task.id, { attempt: one.attempt.number, progress: 0.5, message: 'half' });
    await api.fail(task.id, { attempt: one.attempt.number, error: 'flaky' });
    await until(() => first.steps.length === 4);
    const resumeAfter = first.stream.lastEventId!;
    first.stream.close();

    const two = (await api.claim(agent.id)).json();
    await api.complete(task.id, { attempt: two.attempt.number, result: { ok: true } });
    const resumed = watch(resumeAfter);
    await until(() => resumed.steps.length === 2);

    expect([...first.steps, ...resumed.steps]).toEqual([
      'claimed:1',
      'progress:1',
      'failed:1',
      'retry_scheduled:1',
      'claimed:2',
      'succeeded:2',
    ]);
    const ids = [...first.events, ...resumed.events].map((event) => event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const last = resumed.events.at(-1)!;
    expect(last.type === 'TASK_EXECUTION' && last.data.task.result).toEqual({ ok: true });
    expect(last.topic).toBe(`task:${task.id}`);
  });
});
