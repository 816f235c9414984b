import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { projectEvent } from '../../src/domain/event.js';
import { REPLAY_LOW_WATER_BYTES } from '../../src/events/ws-gateway.js';
import { appendEventsAndCommit } from '../../src/store/event-append.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { type TestSocket, openSocket } from '../support/ws-client.js';

/** Clients that try to make the server spend without bound, over real sockets. */
let t: TestApp;
let wsUrl: string;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  t = await createTestApp({ WS_HEARTBEAT_MS: '60000' });
  wsUrl = (await t.listen()).replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

async function connect(query = ''): Promise<TestSocket> {
  const socket = await openSocket(`${wsUrl}${query}`);
  sockets.push(socket.socket);
  return socket;
}

const projectTopic = (n: number) =>
  `project:${`${n}`.padStart(8, '0')}-1111-4111-8111-111111111111`;

describe('a SUBSCRIBE flood', () => {
  it('is refused past the topic limit, answered briefly, and closed past the message budget', async () => {
    const socket = await connect('?topics=agents');
    let received = 0;
    socket.socket.on('message', (data: Buffer) => (received += data.length));
    for (
      let message = 0;
      message < 800 && socket.socket.readyState === WebSocket.OPEN;
      message += 1
    ) {
      const topics = Array.from({ length: 100 }, (_, index) => projectTopic(message * 100 + index));
      socket.send({ type: 'SUBSCRIBE', topics });
    }
    expect(await socket.closed).toEqual({ code: 1008, reason: 'too many messages' });
    const acks = socket.messages.filter((message) => message.type === 'ACK');
    expect(acks.at(-1)).toMatchObject({ topic_count: 101 });
    expect(
      socket.messages.filter((message) => message.code === 'TOO_MANY_TOPICS').length,
    ).toBeGreaterThan(0);
    expect(received).toBeLessThan(64 * 1024);
  });
});

describe('a replay to a client that does not read', () => {
  it('keeps at most the low-water mark unsent, and the client gets every event once it reads', async () => {
    await t.reset();
    const drafts = Array.from({ length: 4_000 }, (_, n) =>
      projectEvent('PROJECT_UPDATE', '00000000-0000-4000-8000-000000000001', {
        project: { n, padding: 'x'.repeat(4_000) } as never,
        changed_fields: [],
      }),
    );
    const logged = await t.database.transaction((_tx, commitWith) =>
      appendEventsAndCommit(commitWith, drafts),
    );
    const first = logged[0]!.id;

    const socket = new WebSocket(`${wsUrl}?topics=projects&last_event_id=${first - 1}`);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('upgrade', resolve));
    socket.pause();
    let peak = 0;
    for (const end = Date.now() + 2_000; Date.now() < end;) {
      for (const client of t.app.websocketServer.clients)
        peak = Math.max(peak, client.bufferedAmount);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(REPLAY_LOW_WATER_BYTES + 16 * 1024);

    const ids: number[] = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (typeof message.id === 'number') ids.push(message.id);
    });
    socket.resume();
    await expect.poll(() => ids.length, { timeout: 20_000 }).toBe(drafts.length);
    expect(ids).toEqual(logged.map((event) => event.id));
  });
});
