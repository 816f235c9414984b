import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  EventStream,
  type EventStreamOptions,
  type StreamNotice,
} from '../../../src/client/event-stream.js';
import type { StreamSocket } from '../../../src/client/stream-socket.js';

// The stream's life cycle against sockets the test speaks for (the `socketFactory` option) and a
// fake clock: what it sends, when it gives up on a connection and when it tries again.
// event-stream.test.ts runs the same stream against a real WebSocket server.

/** A listener of any of the three socket events; each is called with its own event's shape. */
type Listener = (event: never) => void;

/** One connection: records what the stream sends and how it closed it; plays the server's part. */
class FakeSocket implements StreamSocket {
  readonly sent: unknown[] = [];
  readonly closedWith: Array<{ code?: number; reason?: string }> = [];
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: URL) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(code?: number, reason?: string): void {
    this.closedWith.push({ code, reason });
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  /** The server sends a frame. */
  frame(message: object): void {
    for (const listener of this.listeners.get('message') ?? [])
      listener({ data: JSON.stringify(message) } as never);
  }

  welcome(heartbeatMs = 1_000): void {
    this.frame({
      type: 'WELCOME',
      connection_id: 'c',
      last_event_id: 0,
      heartbeat_ms: heartbeatMs,
      topics: [],
    });
  }

  event(id: number): void {
    this.frame({ id, type: 'PROJECT_CREATED', topic: 'projects', timestamp: 'x', data: {} });
  }

  /** The connection ends: the server closed it, or the upgrade was refused. */
  end(code = 1006, reason = ''): void {
    for (const listener of this.listeners.get('close') ?? []) listener({ code, reason } as never);
  }
}

/** A stream on fake sockets whose HTTP check answers 503 (retry) unless `fetch` says otherwise. */
function fakeStream(options: Partial<EventStreamOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const notices: StreamNotice[] = [];
  const events: number[] = [];
  const stream = new EventStream({
    url: 'ws://swarm.test/ws',
    backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 },
    fetch: async () => new Response(null, { status: 503 }),
    socketFactory: (url) => {
      sockets.push(new FakeSocket(url));
      return sockets.at(-1)!;
    },
    ...options,
  });
  stream.onNotice((notice) => notices.push(notice));
  stream.onEvent((event) => events.push(event.id));
  return { stream, sockets, notices, events, socket: () => sockets.at(-1)! };
}

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
afterEach(() => vi.useRealTimers());

describe('EventStream, starting and closing', () => {
  it('connects once however often started, and never again once closed', () => {
    const { stream, sockets, notices } = fakeStream();
    stream.start().start();
    expect(sockets).toHaveLength(1);
    stream.close();
    stream.close();
    stream.start();
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.closedWith).toEqual([{ code: 1000, reason: 'closed by the client' }]);
    expect(notices).toEqual([
      { kind: 'disconnected', code: 1000, reason: 'closed by the client', retryInMs: -1 },
    ]);
  });

  it('is connected from its WELCOME until the connection drops', () => {
    const { stream, socket } = fakeStream();
    stream.start();
    expect(stream.connected).toBe(false);
    socket().welcome();
    expect(stream.connected).toBe(true);
    socket().end();
    expect(stream.connected).toBe(false);
  });

  it('leaves no timer behind once closed, whether connected or waiting to reconnect', async () => {
    const connected = fakeStream();
    connected.stream.start();
    connected.socket().welcome();
    connected.stream.close();
    expect(vi.getTimerCount()).toBe(0);

    const waiting = fakeStream();
    waiting.stream.start();
    waiting.socket().welcome();
    waiting.socket().end();
    waiting.stream.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(waiting.sockets).toHaveLength(1);
  });

  it('stays closed when closed while it asks the API why a connection was refused', async () => {
    let answer: (response: Response) => void = () => undefined;
    const fetch = () => new Promise<Response>((resolve) => (answer = resolve));
    const { stream, sockets, notices, socket } = fakeStream({ fetch });
    stream.start();
    socket().end();
    stream.close();
    answer(new Response(null, { status: 503 }));
    await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sockets).toHaveLength(1);
    expect(notices.map((notice) => notice.kind)).toEqual(['disconnected']);
  });
});

describe('EventStream, receiving', () => {
  it('stops calling listeners once they are removed', () => {
    const { stream, socket } = fakeStream();
    const seen: string[] = [];
    const stopEvents = stream.onEvent(() => seen.push('event'));
    const stopNotices = stream.onNotice(() => seen.push('notice'));
    stopEvents();
    stopNotices();
    stream.start();
    socket().welcome();
    socket().event(1);
    expect(seen).toEqual([]);
  });

  it('delivers events only, and none after close, not even frames on their way', () => {
    const { stream, events, socket } = fakeStream({ topics: ['x'] });
    stream.start();
    socket().welcome();
    socket().frame({ type: 'ACK', action: 'SUBSCRIBE', topics: ['y'], topic_count: 2 });
    socket().event(1);
    stream.close();
    socket().event(2);
    expect(events).toEqual([1]);
  });

  it('lets an async iterator finish the events it received before close', async () => {
    const { stream, socket } = fakeStream();
    const iterator = stream.start()[Symbol.asyncIterator]();
    const first = iterator.next();
    socket().welcome();
    socket().event(1);
    socket().event(2);
    expect((await first).value).toMatchObject({ id: 1 });
    stream.close();
    expect((await iterator.next()).value).toMatchObject({ id: 2 });
    expect((await iterator.next()).done).toBe(true);
  });

  it('ends for good on close code 4401, describing the revocation when the server did not', () => {
    const { stream, notices, socket } = fakeStream();
    stream.start();
    socket().welcome();
    socket().end(4401, '');
    expect(stream.error).toMatchObject({
      name: 'EventStreamError',
      message: '401 Unauthorized: The API key was revoked',
      problem: { status: 401, detail: 'The API key was revoked' },
    });
    expect(notices.at(-1)).toEqual({ kind: 'fatal', error: stream.error });
  });
});

describe('EventStream, heartbeats and reconnects', () => {
  it('drops a server silent for 2.5 heartbeats, not sooner, and retries at once', async () => {
    const { stream, sockets, notices, socket } = fakeStream();
    stream.start();
    socket().welcome(1_000);
    await vi.advanceTimersByTimeAsync(2_499);
    expect(sockets[0]!.closedWith).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets[0]!.closedWith).toEqual([{ code: 4000, reason: 'server silent' }]);
    expect(notices.at(-1)).toEqual({
      kind: 'disconnected',
      code: 1006,
      reason: 'server silent',
      retryInMs: 100,
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets).toHaveLength(2);
  });

  it('pays no heed to the late frames and close of a connection it gave up on', async () => {
    const { stream, sockets, socket } = fakeStream();
    stream.start();
    socket().welcome(1_000);
    await vi.advanceTimersByTimeAsync(2_600);
    const [given, current] = sockets;
    current!.welcome(1_000);
    given!.frame({ type: 'PING' });
    given!.end(4000, 'server silent');
    expect(stream.connected).toBe(true);
    expect(sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2_500);
    expect(current!.closedWith).toEqual([{ code: 4000, reason: 'server silent' }]);
  });

  it('keeps a connection without heartbeats (heartbeat_ms 0), however silent', async () => {
    const { stream, sockets, socket } = fakeStream();
    stream.start();
    socket().welcome(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(stream.connected).toBe(true);
    expect(sockets).toHaveLength(1);
  });

  it('takes the jitter of its retry delays from the random source it is given', () => {
    const { stream, notices, socket } = fakeStream({
      backoff: { initialMs: 10_000, maxMs: 10_000, jitter: 1 },
      random: () => 0.25,
    });
    stream.start();
    socket().welcome();
    socket().end();
    expect(notices.at(-1)).toMatchObject({ kind: 'disconnected', retryInMs: 7_500 });
  });

  it('applies topic changes made while reconnecting to the next connection', async () => {
    const { stream, sockets, socket } = fakeStream({ topics: ['agents', 'projects'] });
    stream.start();
    expect(socket().url.searchParams.get('topics')).toBe('agents,projects');
    socket().welcome();
    socket().end();
    stream.subscribe(['system']);
    stream.unsubscribe(['agents']);
    await vi.advanceTimersByTimeAsync(100);
    expect(sockets[0]!.sent).toEqual([]);
    expect(socket().url.searchParams.get('topics')).toBe('projects,system');
  });
});

describe('EventStream, asking the API why a connection was refused', () => {
  it('asks the same host and prefix, over HTTPS for wss, with its topics and key', async () => {
    const asked: string[] = [];
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      asked.push(`${String(url)} ${JSON.stringify(init?.headers)}`);
      return new Response(null, { status: 503 });
    };
    const secure = fakeStream({
      url: 'wss://swarm.test/ws-east/ws',
      topics: ['a', 'b'],
      apiKey: 'sc_k',
      fetch,
    });
    secure.stream.start();
    secure.socket().end();
    const keyless = fakeStream({ fetch });
    keyless.stream.start();
    keyless.socket().end();
    await expect.poll(() => asked).toHaveLength(2);
    const secureCheck = 'https://swarm.test/ws-east/api/v1/events?limit=1&topic=a%2Cb';
    expect(asked).toEqual([
      `${secureCheck} {"authorization":"Bearer sc_k"}`,
      'http://swarm.test/api/v1/events?limit=1 {}',
    ]);
  });

  it.each([200, 408, 429, 500, 503])('tries again when the API answers %i', async (status) => {
    const { stream, notices, socket } = fakeStream({
      fetch: async () => new Response(null, { status }),
    });
    stream.start();
    socket().end();
    await expect.poll(() => notices.at(-1)?.kind).toBe('disconnected');
    expect(stream.error).toBeUndefined();
  });

  it.each([400, 403, 422])('stops for good when the API answers %i', async (status) => {
    const { stream, socket } = fakeStream({
      fetch: async () => new Response(null, { status }),
    });
    stream.start();
    socket().end();
    await expect.poll(() => stream.error?.status).toBe(status);
  });
});
