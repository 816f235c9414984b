import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoggedEvent } from '../../../src/domain/event.js';
import { InProcessEventBus, RedisEventBus } from '../../../src/events/event-bus.js';

const clients: FakeRedis[] = [];
/**
 * Stands in for an ioredis client: records what the bus publishes, lets the test emit what Redis
 * would, connects right after it is made, and after a dropped connection reconnects the way
 * ioredis does: it reports the error, asks `retryStrategy` for the delay before attempt n (n from
 * 1, back to 1 once ready) and gives up when that is not a number. Like ioredis, it subscribes
 * again on reconnect only to the channels whose subscription once succeeded.
 */
class FakeRedis extends EventEmitter {
  published: string[] = [];
  failPublish = false;
  failSubscribe = false;
  /** Whether the Redis server answers; a reconnect attempt while it does not fails. */
  serverUp = true;
  /** The (fake) clock's time of each reconnect attempt. */
  attempts: number[] = [];
  disconnected = false;
  /** The channels Redis delivers to this connection now. */
  private readonly channels = new Set<string>();
  /** The channels ioredis subscribes to again on reconnect. */
  private readonly subscribed = new Set<string>();
  private retries = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    readonly url: string,
    readonly options: RedisOptions,
  ) {
    super();
    clients.push(this);
    queueMicrotask(() => this.connect());
  }
  async subscribe(channel: string) {
    if (this.failSubscribe || !this.serverUp)
      throw new Error('Reached the max retries per request limit');
    this.channels.add(channel);
    this.subscribed.add(channel);
    return 1;
  }
  /** Redis delivers `message`, published by another instance, to this connection's channels. */
  deliver(message: string) {
    for (const channel of this.channels) this.emit('message', channel, message);
  }
  async publish(_channel: string, message: string) {
    if (this.failPublish) throw new Error('Connection is closed.');
    this.published.push(message);
    return 1;
  }
  disconnect() {
    clearTimeout(this.timer);
    this.disconnected = true;
    this.emit('end');
  }
  /** The server goes away under an open connection. */
  drop() {
    this.serverUp = false;
    this.channels.clear();
    this.emit('error', new Error('read ECONNRESET'));
    this.closed();
  }
  private closed() {
    this.emit('close');
    const delay: unknown = this.options.retryStrategy?.((this.retries += 1));
    if (typeof delay !== 'number') return void this.emit('end');
    this.timer = setTimeout(() => this.reconnect(), delay);
  }
  private reconnect() {
    this.attempts.push(Date.now());
    this.connect();
  }
  private connect() {
    if (this.disconnected) return;
    if (!this.serverUp) {
      this.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6379'));
      return this.closed();
    }
    this.retries = 0;
    for (const channel of this.subscribed) this.channels.add(channel);
    this.emit('ready');
  }
}
/** Hands the bus fake clients; the bus opens its publisher first, then its subscriber. */
const connectFake = (url: string, options: RedisOptions) =>
  new FakeRedis(url, options) as unknown as Redis;

/** A bus on fake clients, once they had their chance to connect. */
async function openBus(connect = connectFake) {
  const logger = { warn: vi.fn(), info: vi.fn() };
  const bus = new RedisEventBus('redis://127.0.0.1:6379', logger, connect);
  const [publisher, subscriber] = clients.slice(-2) as [FakeRedis, FakeRedis];
  const seen: number[] = [];
  bus.subscribe((events) => seen.push(...events.map((item) => item.id)));
  await Promise.resolve();
  return { bus, logger, publisher, subscriber, seen };
}

const event = (id: number): LoggedEvent => ({
  id,
  type: 'PROJECT_CREATED',
  topic: 'system',
  topics: ['system'],
  timestamp: 'x',
  data: {},
});
const fromAnotherInstance = (...ids: number[]) =>
  JSON.stringify({ from: 'another instance', events: ids.map(event) });

afterEach(() => vi.useRealTimers());

describe('InProcessEventBus', () => {
  it('hands non-empty batches to current listeners', async () => {
    const bus = new InProcessEventBus();
    const seen: number[][] = [];
    const stop = bus.subscribe((events) => seen.push(events.map((item) => item.id)));
    bus.publish([]);
    bus.publish([event(1)]);
    stop();
    bus.publish([event(2)]);
    expect(seen).toEqual([[1]]);
    await bus.close();
  });

  it('hands nothing to anyone once closed', async () => {
    const bus = new InProcessEventBus();
    const seen: number[] = [];
    bus.subscribe((events) => seen.push(...events.map((item) => item.id)));
    await bus.close();
    bus.publish([event(1)]);
    expect(seen).toEqual([]);
  });
});

describe('RedisEventBus', () => {
  it('delivers locally at once, publishes for others and ignores its own echo', async () => {
    const { bus, logger, publisher, subscriber, seen } = await openBus();
    const options = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    expect(publisher.options).toMatchObject(options);
    expect(subscriber.options).toMatchObject(options);
    bus.publish([event(1)]);
    expect(seen).toEqual([1]);
    subscriber.emit('message', 'channel', publisher.published[0]);
    subscriber.emit('message', 'channel', fromAnotherInstance(2));
    expect(seen).toEqual([1, 2]);
    subscriber.emit('message', 'channel', 'not json');
    expect(seen).toEqual([1, 2]);
    expect(logger.warn.mock.calls).toEqual([
      [{ err: expect.any(SyntaxError) }, 'ignored an unreadable event bus message'],
    ]);
    await bus.close();
  });

  it('keeps serving local listeners when Redis refuses a publish, and says so', async () => {
    const { bus, logger, publisher, seen } = await openBus();
    publisher.failPublish = true;
    bus.publish([event(7)]);
    bus.publish([]);
    await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledOnce());
    expect(logger.warn).toHaveBeenCalledWith(
      { err: expect.objectContaining({ message: 'Connection is closed.' }) },
      'redis publish failed; other instances will catch up from the log',
    );
    expect(seen).toEqual([7]);
    await bus.close();
  });

  it('warns when it cannot subscribe, and still delivers its own events', async () => {
    const refusing = (url: string, options: RedisOptions) =>
      Object.assign(new FakeRedis(url, options), { failSubscribe: true }) as unknown as Redis;
    const { bus, logger, seen } = await openBus(refusing);
    await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledOnce());
    expect(logger.warn).toHaveBeenCalledWith(
      { err: expect.objectContaining({ message: expect.stringMatching(/max retries/) }) },
      'redis subscribe failed',
    );
    bus.publish([event(3)]);
    expect(seen).toEqual([3]);
    await bus.close();
  });

  it('names the connection that lost Redis in its warnings', async () => {
    const { bus, logger, publisher, subscriber } = await openBus();
    const [reset, refused] = [new Error('read ECONNRESET'), new Error('connect ECONNREFUSED')];
    publisher.emit('error', reset);
    subscriber.emit('error', refused);
    expect(logger.warn.mock.calls).toEqual([
      [{ err: reset, role: 'publisher' }, 'redis connection error'],
      [{ err: refused, role: 'subscriber' }, 'redis connection error'],
    ]);
    await bus.close();
  });

  it('reconnects after 200 ms, doubling to 2 s apart, and delivers again once back', async () => {
    vi.useFakeTimers();
    const { bus, logger, subscriber, seen } = await openBus();
    const start = Date.now();
    subscriber.drop();
    await vi.advanceTimersByTimeAsync(10_000);
    const since = () => subscriber.attempts.map((time) => time - start);
    expect(since()).toEqual([200, 600, 1_400, 3_000, 5_000, 7_000, 9_000]);
    expect(logger.warn).toHaveBeenCalledTimes(8);
    expect(logger.warn).toHaveBeenLastCalledWith(
      {
        err: expect.objectContaining({ message: expect.stringMatching(/ECONNREFUSED/) }),
        role: 'subscriber',
      },
      'redis connection error',
    );
    expect(logger.info).toHaveBeenCalledOnce();

    subscriber.serverUp = true;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(since().at(-1)).toBe(11_000);
    expect(logger.info.mock.calls).toEqual([
      [{}, 'redis event bus connected'],
      [{}, 'redis event bus connected'],
    ]);
    subscriber.deliver(fromAnotherInstance(4));
    expect(seen).toEqual([4]);
    await bus.close();
  });

  it('joins the channel once Redis is up when Redis was down as it started', async () => {
    vi.useFakeTimers();
    const down = (url: string, options: RedisOptions) =>
      Object.assign(new FakeRedis(url, options), { serverUp: false }) as unknown as Redis;
    const { bus, logger, subscriber, seen } = await openBus(down);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(subscriber.attempts.length).toBeGreaterThan(2);
    expect(logger.info).not.toHaveBeenCalled();

    subscriber.serverUp = true;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(logger.info.mock.calls).toEqual([[{}, 'redis event bus connected']]);
    subscriber.deliver(fromAnotherInstance(6));
    expect(seen).toEqual([6]);
    expect(logger.warn).not.toHaveBeenCalledWith(expect.anything(), 'redis subscribe failed');
    await bus.close();
  });

  it('closes both connections and stops delivering when closed', async () => {
    const { bus, publisher, subscriber, seen } = await openBus();
    await bus.close();
    expect([publisher.disconnected, subscriber.disconnected]).toEqual([true, true]);
    bus.publish([event(5)]);
    expect(seen).toEqual([]);
  });
});
