import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { type TestSocket, openSocket } from '../support/ws-client.js';

const HEARTBEAT_MS = 300;
let t: TestApp;
/** Heartbeat PINGs may arrive between any two messages on a busy machine. */
const notHeartbeat = (message: Record<string, unknown>) => message.type !== 'PING';
let wsUrl: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  t = await createTestApp({
    WS_HEARTBEAT_MS: String(HEARTBEAT_MS),
    WS_MAX_CONNECTIONS: '20',
    EVENT_POLL_MS: '200',
  });
  wsUrl = (await t.listen()).replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.socket.terminate();
});

async function connect(query = '', options = {}): Promise<TestSocket> {
  const socket = await openSocket(`${wsUrl}${query}`, options);
  sockets.push(socket);
  return socket;
}

async function createProject(name: string) {
  return (await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name } })).json();
}

describe('connection lifecycle', () => {
  it('welcomes with a connection id, the current head and the heartbeat', async () => {
    await createProject('before');
    const head = (await t.request({ method: 'GET', url: '/api/v1/events?limit=1000' })).json()
      .next_after;
    const socket = await connect();
    expect(await socket.next()).toEqual({
      type: 'WELCOME',
      connection_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      last_event_id: head,
      heartbeat_ms: HEARTBEAT_MS,
      topics: ['projects', 'agents', 'tasks', 'schedules', 'system'],
    });
  });

  it('streams each change as an event envelope, in order', async () => {
    const socket = await connect();
    await socket.next((message) => message.type === 'WELCOME');
    const project = await createProject('live');
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${project.id}`,
      payload: { status: 'completed' },
    });
    await t.request({ method: 'DELETE', url: `/api/v1/projects/${project.id}` });
    const events = await socket.events(3);
    expect(events.map((event) => event.type)).toEqual([
      'PROJECT_CREATED',
      'PROJECT_UPDATE',
      'PROJECT_DELETED',
    ]);
    expect(Object.keys(events[0]!).sort()).toEqual(['data', 'id', 'timestamp', 'topic', 'type']);
    expect(events[0]).toMatchObject({
      topic: `project:${project.id}`,
      data: { project: { id: project.id, name: 'live' } },
    });
    expect(events[1]).toMatchObject({
      data: { changed_fields: ['status'], project: { status: 'completed', version: 2 } },
    });
    expect(events[2]).toMatchObject({ data: { id: project.id } });
    expect(
      (events[1]!.id as number) > (events[0]!.id as number) &&
        (events[2]!.id as number) > (events[1]!.id as number),
    ).toBe(true);
  });

  it('closes every socket with 1001 on shutdown', async () => {
    const other = await createTestApp({ WS_HEARTBEAT_MS: String(HEARTBEAT_MS) });
    const url = (await other.listen()).replace('http', 'ws') + '/ws';
    const socket = await openSocket(url);
    await socket.next();
    await other.close();
    expect((await socket.closed).code).toBe(1001);
  });
});

describe('topics', () => {
  it('delivers only subscribed topics, including agent events of a watched project', async () => {
    const watched = await createProject('watched');
    const other = await createProject('other');
    const socket = await connect(`?topics=project:${watched.id}`);
    expect(await socket.next(notHeartbeat)).toMatchObject({
      type: 'WELCOME',
      topics: [`project:${watched.id}`],
    });
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${other.id}`,
      payload: { name: 'ignored' },
    });
    await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      payload: { name: `in-${watched.id}`, agent_type: 'coder', project_id: watched.id },
    });
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${watched.id}`,
      payload: { name: 'seen' },
    });
    const events = await socket.events(2);
    expect(events.map((event) => event.type)).toEqual(['AGENT_CREATED', 'PROJECT_UPDATE']);
  });

  it('answers SUBSCRIBE and UNSUBSCRIBE with ACK and applies them', async () => {
    const project = await createProject('subscribed');
    const socket = await connect('?topics=agents');
    await socket.next((message) => message.type === 'WELCOME');
    socket.send({ type: 'SUBSCRIBE', topics: [`project:${project.id}`] });
    const subscribed = {
      type: 'ACK',
      action: 'SUBSCRIBE',
      topics: [`project:${project.id}`],
      topic_count: 2,
    };
    expect(await socket.next(notHeartbeat)).toEqual(subscribed);
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${project.id}`,
      payload: { name: 'one' },
    });
    expect(await socket.next((message) => message.type === 'PROJECT_UPDATE')).toMatchObject({
      data: { project: { name: 'one' } },
    });
    socket.send({ type: 'UNSUBSCRIBE', topics: [`project:${project.id}`] });
    const unsubscribed = {
      type: 'ACK',
      action: 'UNSUBSCRIBE',
      topics: [`project:${project.id}`],
      topic_count: 1,
    };
    expect(await socket.next(notHeartbeat)).toEqual(unsubscribed);
    await t.request({
      method: 'PATCH',
      url: `/api/v1/projects/${project.id}`,
      payload: { name: 'two' },
    });
    await t.request({
      method: 'POST',
      url: '/api/v1/agents',
      payload: { name: `marker-${project.id}`, agent_type: 'tester' },
    });
    expect((await socket.next((message) => typeof message.id === 'number')).type).toBe(
      'AGENT_CREATED',
    );
  });

  it('refuses a malformed topic or resume point at upgrade with 422', async () => {
    await expect(openSocket(`${wsUrl}?topics=everything`)).rejects.toThrow('422');
    await expect(openSocket(`${wsUrl}?last_event_id=-1`)).rejects.toThrow('422');
  });
});

describe('client messages', () => {
  it('answers PING with PONG', async () => {
    const socket = await connect();
    await socket.next((message) => message.type === 'WELCOME');
    socket.send({ type: 'PING' });
    expect(await socket.next((message) => message.type === 'PONG')).toMatchObject({
      type: 'PONG',
      timestamp: expect.any(String),
    });
  });

  it.each([
    ['invalid JSON', '{"type":', 'INVALID_JSON'],
    ['an unknown type', { type: 'DANCE' }, 'UNKNOWN_TYPE'],
    ['a non-object', 42, 'UNKNOWN_TYPE'],
    ['a bad topic', { type: 'SUBSCRIBE', topics: ['nope'] }, 'INVALID_MESSAGE'],
    ['a missing field', { type: 'UNSUBSCRIBE' }, 'INVALID_MESSAGE'],
  ])('answers %s with ERROR and keeps the connection open', async (_, message, code) => {
    const socket = await connect();
    await socket.next((received) => received.type === 'WELCOME');
    socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    expect(await socket.next((received) => received.type === 'ERROR')).toMatchObject({
      code,
      message: expect.any(String),
    });
    socket.send({ type: 'PING' });
    await socket.next((received) => received.type === 'PONG');
  });

  it('closes with 1009 when a message exceeds 64 KiB', async () => {
    const socket = await connect();
    await socket.next((message) => message.type === 'WELCOME');
    socket.send({ type: 'PING', padding: 'x'.repeat(65 * 1024) });
    expect((await socket.closed).code).toBe(1009);
  });
});

describe('heartbeat', () => {
  it('pings with protocol and application PINGs, and keeps peers that answer', async () => {
    const socket = await connect();
    await socket.next((message) => message.type === 'WELCOME');
    await socket.next((message) => message.type === 'PING', HEARTBEAT_MS * 3);
    await socket.next((message) => message.type === 'PING', HEARTBEAT_MS * 3);
    await socket.next((message) => message.type === 'PING', HEARTBEAT_MS * 3);
    // Each beat sends the protocol ping before the application PING, so three PINGs mean three
    // pings.
    expect(socket.protocolPings).toBeGreaterThanOrEqual(3);
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
  });

  it('keeps a peer that answers only the application PING', async () => {
    const socket = await connect('', { autoPong: false });
    socket.socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'PING') socket.send({ type: 'PONG' });
    });
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 4));
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
  });

  it('terminates a peer that answers neither within two intervals and forgets it', async () => {
    const socket = await connect('', { autoPong: false });
    await socket.next((message) => message.type === 'WELCOME');
    const withPeer = t.app.events.gateway.connectionCount;
    const started = Date.now();
    const { code } = await socket.closed;
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThanOrEqual(HEARTBEAT_MS * 2 + 150);
    expect(t.app.events.gateway.connectionCount).toBeLessThanOrEqual(withPeer - 1);
  });
});

describe('limits', () => {
  it('refuses sockets past WS_MAX_CONNECTIONS with 1013', async () => {
    const small = await createTestApp({ WS_MAX_CONNECTIONS: '2' });
    const url = (await small.listen()).replace('http', 'ws') + '/ws';
    try {
      const open = [await openSocket(url), await openSocket(url)];
      await Promise.all(open.map((socket) => socket.next()));
      const third = await openSocket(url);
      expect(await third.closed).toEqual({ code: 1013, reason: 'connection limit reached' });
      open.forEach((socket) => socket.socket.terminate());
    } finally {
      await small.close();
    }
  });

  it('closes a slow consumer with 1013 instead of buffering without bound', async () => {
    const small = await createTestApp({ WS_MAX_BUFFERED_BYTES: '65536', WS_HEARTBEAT_MS: '60000' });
    const url = (await small.listen()).replace('http', 'ws') + '/ws';
    try {
      const socket = await openSocket(url);
      await socket.next();
      (socket.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const blob = 'x'.repeat(15 * 1024);
      let closedBy: number | undefined;
      void socket.closed.then(({ code }) => (closedBy = code));
      for (let i = 0; i < 400 && small.app.events.gateway.connectionCount > 0; i += 1) {
        await small.request({
          method: 'POST',
          url: '/api/v1/projects',
          payload: { name: `bulk-${i}`, metadata: { blob } },
        });
      }
      expect(small.app.events.gateway.connectionCount).toBe(0);
      (socket.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      await socket.closed;
      expect(closedBy).toBe(1013);
    } finally {
      await small.close();
    }
  });
});
