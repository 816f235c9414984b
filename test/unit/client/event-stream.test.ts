import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventStream, backoffDelay } from '../../../src/client/event-stream.js';
import type { SwarmEvent } from '../../../src/domain/event.js';

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
  return { server, connections, url: `ws://127.0.0.1:${port}/ws`, close: () => new Promise((resolve) => server.close(resolve)) };
}

const welcome = (socket: WebSocket, lastEventId = 0, heartbeatMs = 1_000) =>
  socket.send(JSON.stringify({ type: 'WELCOME', connection_id: 'c', last_event_id: lastEventId, heartbeat_ms: heartbeatMs, topics: [] }));
const sendEvent = (socket: WebSocket, id: number) => socket.send(JSON.stringify({ id, type: 'PROJECT_CREATED', topic: 'projects', timestamp: 'x', data: {} }));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with jitter taking off up to its share', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelay(2, options, () => 1)).toBe(200);
  });
});

describe('EventStream', () => {
  it('rejects invalid backoff options', () => {
    expect(() => new EventStream({ url: 'ws://x', backoff: { initialMs: 0 } })).toThrow(RangeError);
    expect(() => new EventStream({ url: 'ws://x', backoff: { jitter: 2 } })).toThrow('backoff.jitter must be within 0..1, got 2');
    expect(() => new EventStream({ url: 'ws://x' }).subscribe(['agents'])).toThrow('explicit topics');
  });

  it('resumes after the last id it saw, drops duplicates and answers PING', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({ url: server.url, topics: ['projects'], apiKey: 'k', backoff: { initialMs: 5, maxMs: 10 } }).start();
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
    await expect.poll(() => received).toEqual([{ type: 'SUBSCRIBE', topics: ['system'] }, { type: 'UNSUBSCRIBE', topics: ['agents'] }]);
    expect(stream.dropConnection()).toBe(true);
    await expect.poll(() => notices.at(-1)).toBe('disconnected');
  });

  it('reconnects from a server that falls silent for 2.5 heartbeats', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({ url: server.url, backoff: { initialMs: 5, maxMs: 10 } }).start();
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
    const stream = new EventStream({ url, backoff: { initialMs: 5, maxMs: 20, jitter: 0 } }).start();
    const delays: number[] = [];
    stream.onNotice((notice) => notice.kind === 'disconnected' && delays.push(notice.retryInMs));
    await expect.poll(() => delays.length, { timeout: 2_000 }).toBeGreaterThanOrEqual(4);
    expect(delays.slice(0, 4)).toEqual([10, 20, 20, 20]);
    stream.close();
    expect(stream.connected).toBe(false);
    expect(stream.dropConnection()).toBe(false);
  });

  it('yields events to async iterators until closed', async () => {
    const server = await scriptedServer();
    cleanups.push(server.close);
    const stream = new EventStream({ url: server.url }).start();
    const collected: SwarmEvent[] = [];
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
});
