import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventStream } from '../../src/client/index.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { readWholeLog } from '../support/event-log.js';
import { byDepth } from '../support/depth.js';
import { openSocket } from '../support/ws-client.js';

let t: TestApp;
let baseUrl: string;
let wsUrl: string;

beforeAll(async () => {
  t = await createTestApp({ WS_HEARTBEAT_MS: '5000' });
  baseUrl = await t.listen();
  wsUrl = `${baseUrl.replace('http', 'ws')}/ws`;
});
afterAll(() => t.close());
beforeEach(() => t.reset());

async function createProjects(count: number, prefix = 'p'): Promise<Array<{ id: string }>> {
  const created = [];
  for (let i = 0; i < count; i += 1)
    created.push(
      (
        await t.request({
          method: 'POST',
          url: '/api/v1/projects',
          payload: { name: `${prefix}${i}` },
        })
      ).json(),
    );
  return created;
}

/** Every event id in the log for these topics (null: all), in order. */
async function logIds(topics: string[] | null): Promise<number[]> {
  const query = topics === null ? '' : `topic=${topics.join(',')}`;
  return (await readWholeLog(t.request, query)).map((event) => event.id);
}

describe('replay', () => {
  it('replays what a client missed after last_event_id, then continues live', async () => {
    await createProjects(5);
    const all = await logIds(null);
    const socket = await openSocket(`${wsUrl}?last_event_id=${all[1]}`);
    expect(await socket.next()).toMatchObject({ type: 'WELCOME', last_event_id: all[1] });
    const replayed = await socket.events(3);
    expect(replayed.map((event) => event.id)).toEqual(all.slice(2));
    await createProjects(1, 'live');
    const everything = await socket.events(4);
    expect(everything.map((event) => event.type)).toEqual(Array(4).fill('PROJECT_CREATED'));
    socket.socket.terminate();
  });

  it('has no gap and no duplicate at the seam while writes keep coming', async () => {
    const writing = createProjects(150, 'seam');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const socket = await openSocket(`${wsUrl}?last_event_id=0`);
    await writing;
    const received = await socket.events(150);
    expect(received.map((event) => event.id)).toEqual(await logIds(null));
    socket.socket.terminate();
  });

  it('sends REPLAY_GAP when the resume point was pruned, then goes on live', async () => {
    await createProjects(10);
    await t.app.events.log.prune(t.database.db, { maxAgeMs: null, maxEvents: 2 });
    const socket = await openSocket(`${wsUrl}?last_event_id=1`);
    await socket.next((message) => message.type === 'WELCOME');
    expect(await socket.next()).toMatchObject({ type: 'ERROR', code: 'REPLAY_GAP' });
    await createProjects(1, 'after-gap');
    expect((await socket.events(1))[0]).toMatchObject({
      type: 'PROJECT_CREATED',
      data: { project: { name: 'after-gap0' } },
    });
    expect(socket.messages.filter((message) => typeof message.id === 'number')).toHaveLength(1);
    socket.socket.terminate();
  });

  it('sends REPLAY_GAP for a resume point the log never reached', async () => {
    await createProjects(1);
    const socket = await openSocket(`${wsUrl}?last_event_id=999999`);
    await socket.next((message) => message.type === 'WELCOME');
    expect(await socket.next()).toMatchObject({ type: 'ERROR', code: 'REPLAY_GAP' });
    await createProjects(1, 'next');
    await socket.events(1);
    socket.socket.terminate();
  });
});

describe('lossless resume with the SDK', () => {
  /** 1 000 writes and 40 disconnects at the standard depth, 5 000 and 200 with TEST_DEPTH=deep. */
  const writes = byDepth(1_000, 5_000);
  it(`gives every client the full ordered sequence of its topics through ${writes} writes and ${writes / 25} random disconnects`, async () => {
    const [watched] = await createProjects(1, 'watched');
    const streams = [
      {
        topics: null,
        stream: new EventStream({
          url: wsUrl,
          lastEventId: 0,
          backoff: { initialMs: 5, maxMs: 50 },
        }),
      },
      {
        topics: ['projects'],
        stream: new EventStream({
          url: wsUrl,
          topics: ['projects'],
          lastEventId: 0,
          backoff: { initialMs: 5, maxMs: 50 },
        }),
      },
      {
        topics: [`project:${watched!.id}`],
        stream: new EventStream({
          url: wsUrl,
          topics: [`project:${watched!.id}`],
          lastEventId: 0,
          backoff: { initialMs: 5, maxMs: 50 },
        }),
      },
    ];
    const received = streams.map(({ stream }) => {
      const ids: number[] = [];
      stream.onEvent((event) => ids.push(event.id));
      stream.start();
      return ids;
    });
    let disconnects = 0;
    /**
     * Cuts one connection at random, as a network failure would, waiting for one if all are
     * reconnecting.
     */
    const dropOne = async () => {
      for (;;) {
        const open = [...t.app.websocketServer.clients].filter(
          (socket) => socket.readyState === socket.OPEN,
        );
        const victim = open[Math.floor(Math.random() * open.length)];
        if (victim !== undefined) return void (victim.terminate(), (disconnects += 1));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    const worker = async (offset: number) => {
      for (let i = offset; i < writes; i += 10) {
        await writeSomething(i, watched!.id);
        if (i % 25 === 0) await dropOne();
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, offset) => worker(offset)));
    expect(disconnects).toBe(writes / 25);
    for (const [index, { topics }] of streams.entries()) {
      const expected = await logIds(topics);
      await expect
        .poll(() => received[index]!.length, { timeout: 20_000, interval: 50 })
        .toBeGreaterThanOrEqual(expected.length);
      expect(received[index]).toEqual(expected);
    }
    expect(received[0]!.length).toBeGreaterThan(writes);
    streams.forEach(({ stream }) => stream.close());
  }, 120_000);
});

async function writeSomething(i: number, watchedId: string): Promise<void> {
  const kind = i % 4;
  if (kind === 0)
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${watchedId}`,
      payload: { metadata: { i } },
    });
  else if (kind === 1)
    await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name: `bulk-${i}` } });
  else if (kind === 2)
    await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      payload: { name: `agent-${i}`, agent_type: 'coder', project_id: watchedId },
    });
  else
    await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      payload: { name: `free-${i}`, agent_type: 'tester' },
    });
}
