import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoggedEvent } from '../../../src/domain/event.js';
import { InProcessEventBus } from '../../../src/events/event-bus.js';
import { EventDispatcher } from '../../../src/events/event-dispatcher.js';
import type { EventLog } from '../../../src/events/event-log.js';
import { MessageBudget } from '../../../src/events/message-budget.js';
import {
  CONTROL_MESSAGE_BURST,
  MAX_EVENTS_HELD_DURING_REPLAY,
  REPLAY_LOW_WATER_BYTES,
  WebSocketGateway,
} from '../../../src/events/ws-gateway.js';
import type { Database } from '../../../src/store/database.js';

class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  sent: Array<Record<string, unknown>> = [];
  pings = 0;
  closedWith: [number, string] | undefined;
  terminated = false;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  ping() {
    this.pings += 1;
  }
  close(code: number, reason: string) {
    this.closedWith = [code, reason];
    this.readyState = 3;
  }
  terminate() {
    this.terminated = true;
    this.readyState = 3;
  }
  types() {
    return this.sent.map((message) => message.type);
  }
}

const event = (id: number, topics = ['projects']): LoggedEvent => ({
  id,
  type: 'PROJECT_UPDATE',
  topic: topics[0]!,
  topics,
  timestamp: '2026-01-01T00:00:00.000Z',
  data: {},
});

interface SetupOptions {
  logged?: number[];
  pruned?: number;
  maxConnections?: number;
  maxBufferedBytes?: number;
  maxTopics?: number;
}

function setup(options: SetupOptions = {}) {
  const logged = options.logged ?? [];
  const log = {
    latestId: vi.fn(async () => logged.at(-1) ?? 0),
    prunedThroughId: vi.fn(async () => options.pruned ?? 0),
    readAfter: vi.fn(async (_db: unknown, after: number, topics: string[] | null, limit: number) =>
      logged
        .filter((id) => id > after)
        .slice(0, limit)
        .map((id) => event(id))
        .filter((item) => topics === null || item.topics.some((topic) => topics.includes(topic))),
    ),
  };
  const bus = new InProcessEventBus();
  const dispatcher = new EventDispatcher({} as Database, log as unknown as EventLog, bus, {
    pollMs: 60_000,
  });
  const logger = { info: vi.fn(), warn: vi.fn() };
  const gateway = new WebSocketGateway(
    {} as Database,
    log as unknown as EventLog,
    dispatcher,
    {
      heartbeatMs: 1_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 1_000,
      maxConnections: options.maxConnections ?? 10,
      replayBatchSize: 2,
      maxTopics: options.maxTopics,
    },
    logger,
  );
  return { log, bus, dispatcher, gateway, logger };
}

interface Request {
  topics?: string[] | null;
  lastEventId?: number;
  allowedTopics?: string[];
  keyId?: string;
}

async function connected(gateway: WebSocketGateway, request: Request = {}) {
  const socket = new FakeSocket();
  await gateway.accept(socket, {
    topics: request.topics ?? null,
    lastEventId: request.lastEventId,
    allowedTopics: request.allowedTopics ?? null,
    keyId: request.keyId ?? null,
  });
  return socket;
}

const send = (socket: FakeSocket, message: object) =>
  socket.emit('message', Buffer.from(JSON.stringify(message)), false);
const eventIds = (socket: FakeSocket) =>
  socket.sent.filter((message) => typeof message.id === 'number').map((message) => message.id);

afterEach(() => vi.useRealTimers());

describe('WebSocketGateway', () => {
  it('replays in batches after last_event_id, then buffers nothing twice at the seam', async () => {
    const { gateway, dispatcher, bus } = setup({ logged: [1, 2, 3, 4, 5] });
    await dispatcher.start();
    gateway.start();
    const socket = await connected(gateway, { lastEventId: 1 });
    bus.publish([event(5), event(6)]);
    expect(
      socket.sent.filter((message) => typeof message.id === 'number').map((message) => message.id),
    ).toEqual([2, 3, 4, 5, 6]);
    expect(socket.sent[0]).toMatchObject({ type: 'WELCOME', last_event_id: 1 });
    gateway.stop();
    dispatcher.stop();
  });

  it('buffers live events that arrive during a replay and sends them after it', async () => {
    const { gateway, dispatcher, bus, log } = setup({ logged: [1, 2, 3] });
    await dispatcher.start();
    gateway.start();
    let release: () => void = () => undefined;
    log.readAfter.mockImplementationOnce(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return [event(2), event(3)];
    });
    const socket = new FakeSocket();
    const accepting = gateway.accept(socket, {
      topics: null,
      lastEventId: 1,
      allowedTopics: null,
      keyId: null,
    });
    await vi.waitFor(() => expect(log.readAfter).toHaveBeenCalled());
    bus.publish([event(4)]);
    release();
    await accepting;
    expect(
      socket.sent.filter((message) => typeof message.id === 'number').map((message) => message.id),
    ).toEqual([2, 3, 4]);
    gateway.stop();
    dispatcher.stop();
  });

  it('sends REPLAY_GAP for a pruned or unknown resume point and continues live', async () => {
    const { gateway, dispatcher, bus } = setup({ logged: [8, 9], pruned: 7 });
    await dispatcher.start();
    gateway.start();
    const pruned = await connected(gateway, { lastEventId: 3 });
    const future = await connected(gateway, { lastEventId: 50 });
    bus.publish([event(10)]);
    for (const socket of [pruned, future]) {
      expect(socket.types()).toEqual(['WELCOME', 'ERROR', 'PROJECT_UPDATE']);
      expect(socket.sent[1]).toMatchObject({ code: 'REPLAY_GAP' });
    }
    expect(pruned.sent[1]).toMatchObject({
      message: 'Events after 3 are no longer retained; refetch state, the stream continues live',
    });
    gateway.stop();
    dispatcher.stop();
  });

  it('closes with 1013 and forgets the client when the replay cannot read the log', async () => {
    const { gateway, log, logger } = setup({ logged: [1] });
    const failure = new Error('database away');
    log.readAfter.mockRejectedValueOnce(failure);
    const socket = await connected(gateway, { lastEventId: 0 });
    expect(socket.closedWith).toEqual([1013, 'replay failed']);
    expect(gateway.connectionCount).toBe(0);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: failure }),
      expect.any(String),
    );
  });

  it('filters by topic and follows SUBSCRIBE and UNSUBSCRIBE', async () => {
    const { gateway, dispatcher, bus } = setup();
    await dispatcher.start();
    gateway.start();
    const socket = await connected(gateway, { topics: ['agents'] });
    bus.publish([event(1, ['projects'])]);
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ type: 'SUBSCRIBE', topics: ['projects'] })),
      false,
    );
    bus.publish([event(2, ['projects'])]);
    socket.emit(
      'message',
      [Buffer.from('{"type":"UNSUBSCRIBE",'), Buffer.from('"topics":["projects"]}')],
      false,
    );
    bus.publish([event(3, ['projects'])]);
    expect(socket.types()).toEqual(['WELCOME', 'ACK', 'PROJECT_UPDATE', 'ACK']);
    socket.emit('message', Buffer.from('binary'), true);
    expect(socket.sent.at(-1)).toMatchObject({ type: 'ERROR', code: 'INVALID_JSON' });
    gateway.stop();
    dispatcher.stop();
  });

  it('terminates a silent peer at the second tick and keeps one that answers', async () => {
    vi.useFakeTimers();
    const { gateway } = setup();
    gateway.start();
    const silent = await connected(gateway);
    const answering = await connected(gateway);
    const byApplication = await connected(gateway);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(silent.pings).toBe(1);
    expect(silent.types()).toContain('PING');
    answering.emit('pong');
    byApplication.emit('message', Buffer.from('{"type":"PONG"}'), false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(silent.terminated).toBe(true);
    expect(answering.terminated || byApplication.terminated).toBe(false);
    expect(gateway.connectionCount).toBe(2);
    gateway.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(answering.closedWith).toEqual([1001, 'server shutting down']);
  });

  it('enforces the connection cap and closes a socket whose buffer exceeds the limit', async () => {
    const { gateway, dispatcher, bus } = setup({ maxConnections: 1, maxBufferedBytes: 100 });
    await dispatcher.start();
    gateway.start();
    const first = await connected(gateway);
    const second = await connected(gateway);
    expect(second.closedWith).toEqual([1013, 'connection limit reached']);
    first.bufferedAmount = 100;
    bus.publish([event(1)]);
    expect([first.closedWith, eventIds(first)]).toEqual([undefined, [1]]);
    first.bufferedAmount = 101;
    bus.publish([event(2)]);
    expect(first.closedWith).toEqual([1013, 'slow consumer']);
    expect(gateway.connectionCount).toBe(0);
    gateway.stop();
    dispatcher.stop();
  });

  it('starts a scoped key on its own topics and refuses SUBSCRIBE beyond them', async () => {
    const { gateway, dispatcher, bus } = setup();
    await dispatcher.start();
    gateway.start();
    const [mine, theirs] = [
      'project:11111111-1111-4111-8111-111111111111',
      'project:22222222-2222-4222-8222-222222222222',
    ];
    const socket = await connected(gateway, { allowedTopics: [mine] });
    expect(socket.sent[0]).toMatchObject({ type: 'WELCOME', topics: [mine] });
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ type: 'SUBSCRIBE', topics: ['projects', mine, 'agents'] })),
      false,
    );
    expect(socket.sent.at(-1)).toMatchObject({
      type: 'ERROR',
      code: 'FORBIDDEN_TOPIC',
      message: 'This key may not read projects, agents',
    });
    bus.publish([event(1, ['projects', theirs]), event(2, ['projects', mine])]);
    expect(
      socket.sent.filter((message) => typeof message.id === 'number').map((message) => message.id),
    ).toEqual([2]);
    gateway.stop();
    dispatcher.stop();
  });

  it('answers PING, releases the connection on close and logs socket errors', async () => {
    const { gateway, logger } = setup();
    const socket = await connected(gateway);
    socket.emit('message', Buffer.from('{"type":"PING"}'), false);
    expect(socket.types()).toEqual(['WELCOME', 'PONG']);
    const reset = new Error('reset');
    socket.emit('error', reset);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: reset }),
      expect.any(String),
    );
    socket.emit('close');
    expect(gateway.connectionCount).toBe(0);
  });
});

describe('WebSocketGateway and revoked keys', () => {
  it('closes every socket of a key with 4401 at once, and no other', async () => {
    const { gateway } = setup();
    const [first, second, other, open] = [
      await connected(gateway, { keyId: 'k1' }),
      await connected(gateway, { keyId: 'k1' }),
      await connected(gateway, { keyId: 'k2' }),
      await connected(gateway),
    ];
    gateway.closeKey('k1');
    expect([first.closedWith, second.closedWith]).toEqual([
      [4401, 'API key revoked'],
      [4401, 'API key revoked'],
    ]);
    expect([other.closedWith, open.closedWith]).toEqual([undefined, undefined]);
    expect(gateway.connectionCount).toBe(2);
  });

  it('re-checks the keys of open sockets on every interval and closes those no longer valid', async () => {
    vi.useFakeTimers();
    const { gateway, logger } = setup();
    const activeKeys = vi.fn(
      async (ids: readonly string[]) => new Set(ids.filter((id) => id !== 'revoked')),
    );
    gateway.watchKeys({ intervalMs: 5_000, activeKeys });
    const kept = await connected(gateway, { keyId: 'valid' });
    const revoked = await connected(gateway, { keyId: 'revoked' });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(revoked.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(activeKeys).toHaveBeenCalledWith(['valid', 'revoked']);
    expect(revoked.closedWith).toEqual([4401, 'API key revoked']);
    const failure = new Error('database away');
    activeKeys.mockRejectedValueOnce(failure);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(kept.closedWith).toBeUndefined();
    expect(logger.warn).toHaveBeenCalledWith(
      { err: failure },
      expect.stringContaining('could not re-check'),
    );
    gateway.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks nothing while no socket has a key', async () => {
    vi.useFakeTimers();
    const { gateway } = setup();
    const activeKeys = vi.fn(async () => new Set<string>());
    gateway.watchKeys({ intervalMs: 1_000, activeKeys });
    await connected(gateway);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(activeKeys).not.toHaveBeenCalled();
    gateway.stop();
  });
});

describe('WebSocketGateway bounds', () => {
  it('acknowledges only the topics that changed, with the count held', async () => {
    const { gateway } = setup();
    const socket = await connected(gateway, { topics: ['agents'] });
    send(socket, { type: 'SUBSCRIBE', topics: ['agents', 'projects', 'projects'] });
    expect(socket.sent.at(-1)).toEqual({
      type: 'ACK',
      action: 'SUBSCRIBE',
      topics: ['projects'],
      topic_count: 2,
    });
    send(socket, { type: 'UNSUBSCRIBE', topics: ['system', 'agents'] });
    expect(socket.sent.at(-1)).toEqual({
      type: 'ACK',
      action: 'UNSUBSCRIBE',
      topics: ['agents'],
      topic_count: 1,
    });
  });

  it('refuses a SUBSCRIBE past the topic limit and changes nothing', async () => {
    const { gateway, dispatcher, bus } = setup({ maxTopics: 2 });
    await dispatcher.start();
    const socket = await connected(gateway, { topics: ['agents'] });
    const projectTopic = (n: number) =>
      `project:${`${n}`.padStart(8, '0')}-1111-4111-8111-111111111111`;
    send(socket, { type: 'SUBSCRIBE', topics: [projectTopic(1), projectTopic(2)] });
    expect(socket.sent.at(-1)).toEqual({
      type: 'ERROR',
      code: 'TOO_MANY_TOPICS',
      message: 'A connection may hold at most 2 topics; it holds 1',
    });
    gateway.start();
    bus.publish([event(1, [projectTopic(1)])]);
    expect(eventIds(socket)).toEqual([]);
    send(socket, { type: 'SUBSCRIBE', topics: [projectTopic(1)] });
    expect(socket.sent.at(-1)).toMatchObject({ type: 'ACK', topic_count: 2 });
    gateway.stop();
    dispatcher.stop();
  });

  it('closes a socket that sends control messages faster than its budget (1008)', async () => {
    const { gateway } = setup();
    const socket = await connected(gateway);
    for (let n = 0; n < CONTROL_MESSAGE_BURST; n += 1) send(socket, { type: 'PING' });
    expect(socket.closedWith).toBeUndefined();
    send(socket, { type: 'PING' });
    expect(socket.closedWith).toEqual([1008, 'too many messages']);
    expect(socket.types().filter((type) => type === 'PONG')).toHaveLength(CONTROL_MESSAGE_BURST);
  });

  it('sends each replayed event only once the socket holds less than the low-water mark', async () => {
    vi.useFakeTimers();
    const { gateway, log } = setup({
      logged: [1, 2, 3],
      maxBufferedBytes: 10 * REPLAY_LOW_WATER_BYTES,
    });
    const socket = new FakeSocket();
    socket.send = (data: string) => {
      const message = JSON.parse(data);
      socket.sent.push(message);
      if (typeof message.id === 'number') socket.bufferedAmount = REPLAY_LOW_WATER_BYTES + 1;
    };
    const request = { topics: null, lastEventId: 0, allowedTopics: null, keyId: null };
    const accepting = gateway.accept(socket, request);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(eventIds(socket)).toEqual([1]);
    for (const expected of [
      [1, 2],
      [1, 2, 3],
    ]) {
      socket.bufferedAmount = 0;
      await vi.advanceTimersByTimeAsync(20);
      expect(eventIds(socket)).toEqual(expected);
    }
    expect(log.readAfter).toHaveBeenCalledTimes(2);
    socket.bufferedAmount = 0;
    await accepting;
  });

  it('stops a paused replay when its socket closes', async () => {
    vi.useFakeTimers();
    const { gateway, log } = setup({
      logged: [1, 2, 3],
      maxBufferedBytes: 10 * REPLAY_LOW_WATER_BYTES,
    });
    const socket = new FakeSocket();
    socket.bufferedAmount = REPLAY_LOW_WATER_BYTES + 1;
    const accepting = gateway.accept(socket, {
      topics: null,
      lastEventId: 0,
      allowedTopics: null,
      keyId: null,
    });
    await vi.advanceTimersByTimeAsync(100);
    socket.emit('close');
    await vi.advanceTimersByTimeAsync(100);
    await accepting;
    expect(log.readAfter).toHaveBeenCalledTimes(1);
  });

  it('closes a connection as a slow consumer when too many live events wait for its replay', async () => {
    const { gateway, dispatcher, bus, log } = setup({ logged: [1] });
    await dispatcher.start();
    gateway.start();
    let release: () => void = () => undefined;
    log.readAfter.mockImplementationOnce(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return [];
    });
    const socket = new FakeSocket();
    const accepting = gateway.accept(socket, {
      topics: null,
      lastEventId: 0,
      allowedTopics: null,
      keyId: null,
    });
    await vi.waitFor(() => expect(log.readAfter).toHaveBeenCalled());
    bus.publish(
      Array.from({ length: MAX_EVENTS_HELD_DURING_REPLAY }, (_, index) => event(index + 2)),
    );
    expect(socket.closedWith).toBeUndefined();
    bus.publish([event(MAX_EVENTS_HELD_DURING_REPLAY + 2)]);
    expect(socket.closedWith).toEqual([1013, 'slow consumer']);
    release();
    await accepting;
    gateway.stop();
    dispatcher.stop();
  });
});

describe('WebSocketGateway streams', () => {
  it('streams live to a client without a resume point even while the log cannot be read', async () => {
    const { gateway, dispatcher, bus, log } = setup({ logged: [1] });
    await dispatcher.start();
    gateway.start();
    for (const read of [log.latestId, log.prunedThroughId, log.readAfter])
      read.mockRejectedValue(new Error('database away'));
    const socket = await connected(gateway);
    bus.publish([event(2)]);
    expect([socket.closedWith, eventIds(socket)]).toEqual([undefined, [2]]);
    gateway.stop();
    dispatcher.stop();
  });

  it('resumes a client that already has the newest event without REPLAY_GAP', async () => {
    const { gateway, dispatcher, bus } = setup({ logged: [1, 2, 3] });
    await dispatcher.start();
    gateway.start();
    const socket = await connected(gateway, { lastEventId: 3 });
    bus.publish([event(4)]);
    expect(socket.types()).toEqual(['WELCOME', 'PROJECT_UPDATE']);
    expect(eventIds(socket)).toEqual([4]);
    gateway.stop();
    dispatcher.stop();
  });

  it('sends an event once when it is both replayed and held live at the seam', async () => {
    const logged = [1, 2];
    const { gateway, dispatcher, bus, log } = setup({ logged });
    await dispatcher.start();
    gateway.start();
    let release: () => void = () => undefined;
    const read = log.readAfter.getMockImplementation()!;
    log.readAfter.mockImplementationOnce(async (...args) => {
      await new Promise<void>((resolve) => (release = resolve));
      return read(...args);
    });
    const socket = new FakeSocket();
    const request = { topics: null, lastEventId: 0, allowedTopics: null, keyId: null };
    const accepting = gateway.accept(socket, request);
    await vi.waitFor(() => expect(log.readAfter).toHaveBeenCalled());
    logged.push(3);
    bus.publish([event(3)]);
    release();
    await accepting;
    expect(eventIds(socket)).toEqual([1, 2, 3]);
    gateway.stop();
    dispatcher.stop();
  });

  it('closes a key revoked during its replay with 4401 and no failed-replay warning', async () => {
    const { gateway, log, logger } = setup({ logged: [1] });
    let release: () => void = () => undefined;
    log.readAfter.mockImplementationOnce(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return [event(1)];
    });
    const socket = new FakeSocket();
    const request = { topics: null, lastEventId: 0, allowedTopics: null, keyId: 'k1' };
    const accepting = gateway.accept(socket, request);
    await vi.waitFor(() => expect(log.readAfter).toHaveBeenCalled());
    gateway.closeKey('k1');
    release();
    await accepting;
    expect(socket.closedWith).toEqual([4401, 'API key revoked']);
    expect(eventIds(socket)).toEqual([]);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('sends nothing to a socket its peer is closing, and counts no frame for it', async () => {
    const { gateway, dispatcher, bus } = setup();
    await dispatcher.start();
    gateway.start();
    const socket = await connected(gateway);
    const sent = gateway.traffic.sent;
    socket.readyState = 2;
    bus.publish([event(1)]);
    expect(socket.types()).toEqual(['WELCOME']);
    expect(gateway.traffic.sent).toBe(sent);
    gateway.stop();
    dispatcher.stop();
  });

  it('counts the frames it sends and receives (ws_messages_total)', async () => {
    const { gateway } = setup();
    const socket = await connected(gateway);
    send(socket, { type: 'PING' });
    send(socket, { type: 'PONG' });
    expect(gateway.traffic).toEqual({ sent: 2, received: 2 });
  });

  it('cuts off a slow consumer that does not complete the closing handshake within 1 s', async () => {
    vi.useFakeTimers();
    const { gateway, dispatcher, bus } = setup({ maxBufferedBytes: 100 });
    await dispatcher.start();
    gateway.start();
    const socket = await connected(gateway);
    socket.bufferedAmount = 101;
    bus.publish([event(1)]);
    expect(socket.closedWith).toEqual([1013, 'slow consumer']);
    await vi.advanceTimersByTimeAsync(999);
    expect(socket.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.terminated).toBe(true);
    gateway.stop();
    dispatcher.stop();
  });

  it('lets a scoped key UNSUBSCRIBE a topic it may not read, as a change of nothing', async () => {
    const mine = 'project:11111111-1111-4111-8111-111111111111';
    const { gateway } = setup();
    const socket = await connected(gateway, { allowedTopics: [mine] });
    send(socket, { type: 'UNSUBSCRIBE', topics: ['projects'] });
    expect(socket.sent.at(-1)).toEqual({
      type: 'ACK',
      action: 'UNSUBSCRIBE',
      topics: [],
      topic_count: 1,
    });
  });
});

describe('MessageBudget', () => {
  it('allows a burst, then refills at its rate and never above the burst', () => {
    let now = 0;
    const budget = new MessageBudget(3, 2, () => now);
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    now = 499;
    expect(budget.take()).toBe(false);
    now = 1_000;
    expect([budget.take(), budget.take(), budget.take()]).toEqual([true, true, false]);
    now = 60_000;
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});
