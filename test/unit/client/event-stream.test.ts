import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventStream, EventStreamError } from '../../../src/client/index.js';
import { EventStream as PlatformEventStream } from '../../../src/client/event-stream.js';
import type { TypedEvent } from '../../../src/domain/event.js';

/** A scripted gateway: records each connection's URL and lets the test speak for the server. */
async function scriptedServer() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const connections: Array<{ socket: WebSocket; url: string; received: unknown[] }> = [];
  server.on('connection', (socket, request) => {
    const connection = { socket, url: request.url ?? '', received: [] as unknown[] };
    socket.on('message', (data) => connection.received.push(JSON.parse(String(data))));
    connections.push(connection);
  });
  const { port } = server.address() as { port: number };
  return {
    server,
    connections,
    url: `ws://127.0.0.1:${port}/ws`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const welcome = (socket: WebSocket, lastEventId = 0, heartbeatMs = 1_000) =>
  socket.send(
    JSON.stringify({
      type: 'WELCOME',
      connection_id: 'c',
      last_event_id: lastEventId,
      heartbeat_ms: heartbeatMs,
      topics: [],
    }),
  );
const sendEvent = (socket: WebSocket, id: number) =>
  socket.send(
    JSON.stringify({ id, type: 'PROJECT_CREATED', topic: 'projects', timestamp: 'x', data: {} }),
  );

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('EventStream', () => {
  it('rejects invalid backoff options', () => {
    expect(() => new EventStream({ url: 'ws://x', backoff: { initialMs: 0 } })).toThrow(RangeError);
    expect(() => new EventStream({ url: 'ws://x', backoff: { jitter: 2 } })).toThrow(
      'backoff.jitter must be within 0..1, got 2',
    );
    expect(() => new EventStream({ url: 'ws://x', backoff: { initialMs: 50, maxMs: 40 } })).toThrow(
      'backoff delays are invalid',
    );
    expect(() => new EventStream({ url: 'ws://x', backoff: { jitter: -0.1 } })).toThrow(RangeError);
    const edges = { initialMs: 50, maxMs: 50, jitter: 1 };
    expect(new EventStream({ url: 'ws://x', backoff: edges })).toBeInstanceOf(EventStream);
    expect(() => new EventStream({ url: 'ws://x' }).subscribe(['agents'])).toThrow(
      'explicit topics',
    );
  });

  it('resumes after the last id it saw, drops duplicates and answers PING', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({
      url: server.url,
      topics: ['projects'],
      apiKey: 'k',
      backoff: { initialMs: 5, maxMs: 10 },
    }).start();
    cleanups.push(() => stream.close());
    const ids: number[] = [];
    stream.onEvent((event) => ids.push(event.id));
    await expect.poll(() => server.connections.length).toBe(1);
    const first = server.connections[0]!;
    expect(first.url).toBe('/ws?topics=projects');
    welcome(first.socket, 4);
    sendEvent(first.socket, 5);
    sendEvent(first.socket, 5);
    first.socket.send(JSON.stringify({ type: 'PING' }));
    first.socket.send('garbage');
    await expect.poll(() => first.received).toEqual([{ type: 'PONG' }]);
    expect(stream.lastEventId).toBe(5);
    first.socket.terminate();
    await expect.poll(() => server.connections.length).toBe(2);
    expect(server.connections[1]!.url).toBe('/ws?topics=projects&last_event_id=5');
    welcome(server.connections[1]!.socket, 5);
    sendEvent(server.connections[1]!.socket, 6);
    await expect.poll(() => ids).toEqual([5, 6]);
  });

  it('reports notices and sends topic changes to the open socket', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({ url: server.url, topics: ['agents'], lastEventId: 0 }).start();
    cleanups.push(() => stream.close());
    const notices: string[] = [];
    stream.onNotice((notice) => notices.push(notice.kind));
    await expect.poll(() => server.connections.length).toBe(1);
    const { socket, received } = server.connections[0]!;
    welcome(socket);
    socket.send(JSON.stringify({ type: 'ERROR', code: 'REPLAY_GAP', message: 'gone' }));
    socket.send(JSON.stringify({ type: 'ERROR', code: 'INVALID_MESSAGE', message: 'bad' }));
    await expect.poll(() => notices).toEqual(['connected', 'replay-gap', 'error']);
    stream.subscribe(['system']);
    stream.unsubscribe(['agents']);
    await expect
      .poll(() => received)
      .toEqual([
        { type: 'SUBSCRIBE', topics: ['system'] },
        { type: 'UNSUBSCRIBE', topics: ['agents'] },
      ]);
    socket.terminate();
    await expect.poll(() => notices.at(-1)).toBe('disconnected');
  });

  it('reconnects from a server that falls silent for 2.5 heartbeats', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({
      url: server.url,
      backoff: { initialMs: 5, maxMs: 10 },
    }).start();
    cleanups.push(() => stream.close());
    await expect.poll(() => server.connections.length).toBe(1);
    welcome(server.connections[0]!.socket, 0, 40);
    await expect.poll(() => server.connections.length, { timeout: 2_000 }).toBe(2);
    expect(server.connections[1]!.url).toBe('/ws?last_event_id=0');
  });

  it('retries with growing delays while the server is unreachable, and stops on close', async () => {
    const server = await scriptedServer();
    const url = server.url;
    await server.close();
    const stream = new EventStream({
      url,
      backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
    }).start();
    const delays: number[] = [];
    stream.onNotice((notice) => notice.kind === 'disconnected' && delays.push(notice.retryInMs));
    await expect.poll(() => delays.length, { timeout: 2_000 }).toBeGreaterThanOrEqual(4);
    expect(delays.slice(0, 4)).toEqual([10, 20, 20, 20]);
    stream.close();
    expect(stream.connected).toBe(false);
    expect(stream.error).toBeUndefined();
  });

  it('yields events to async iterators until closed', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({ url: server.url }).start();
    const collected: TypedEvent[] = [];
    const consuming = (async () => {
      for await (const event of stream) collected.push(event);
    })();
    await expect.poll(() => server.connections.length).toBe(1);
    const { socket } = server.connections[0]!;
    welcome(socket);
    sendEvent(socket, 1);
    sendEvent(socket, 2);
    await expect.poll(() => collected.length).toBe(2);
    stream.close();
    await consuming;
    expect(collected.map((event) => event.id)).toEqual([1, 2]);
  });

  it('stops for good when the server closes with 4401 (key revoked), and iterators throw it', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({
      url: server.url,
      backoff: { initialMs: 5, maxMs: 10 },
    }).start();
    const notices: string[] = [];
    stream.onNotice((notice) => notices.push(notice.kind));
    const consuming = (async () => {
      for await (const event of stream) void event;
    })();
    await expect.poll(() => server.connections.length).toBe(1);
    welcome(server.connections[0]!.socket);
    server.connections[0]!.socket.close(4401, 'API key revoked');
    await expect(consuming).rejects.toThrow(
      new EventStreamError(401, {
        type: '/problems/unauthorized',
        title: 'Unauthorized',
        status: 401,
        detail: 'API key revoked',
      }),
    );
    expect(notices).toEqual(['connected', 'fatal']);
    expect(stream.error?.status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections).toHaveLength(1);
  });

  it('asks over HTTP why an upgrade failed: a 4xx ends the stream, a network error is retried', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    server.server.options.verifyClient = () => false;
    const problem = {
      type: '/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
      detail: 'The API key is unknown or revoked',
    };
    const asked: string[] = [];
    let answer: () => Promise<Response> = async () => {
      throw new TypeError('fetch failed');
    };
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      asked.push(`${String(url)} ${JSON.stringify(init?.headers)}`);
      return answer();
    };
    const stream = new EventStream({
      url: server.url,
      topics: ['projects'],
      apiKey: 'sc_bad',
      fetch,
      backoff: { initialMs: 5, maxMs: 10 },
    });
    const notices: StreamKinds = [];
    stream.onNotice((notice) => notices.push(notice.kind));
    stream.start();
    await expect
      .poll(() => notices.filter((kind) => kind === 'disconnected').length)
      .toBeGreaterThanOrEqual(2);
    answer = async () => new Response(JSON.stringify(problem), { status: 401 });
    await expect.poll(() => stream.error).toBeInstanceOf(EventStreamError);
    expect(stream.error?.problem).toEqual(problem);
    expect(notices.at(-1)).toBe('fatal');
    const base = server.url.replace('ws:', 'http:').replace(/\/ws$/, '');
    expect(asked[0]).toBe(
      `${base}/api/v1/events?limit=1&topic=projects {"authorization":"Bearer sc_bad"}`,
    );
  });

  it('needs a socket factory where the runtime has no WebSocket of its own', () => {
    const stream = new PlatformEventStream({ url: 'ws://127.0.0.1:1/ws' });
    expect(() => stream.start()).toThrow('No WebSocket in this runtime');
  });
});

type StreamKinds = string[];
