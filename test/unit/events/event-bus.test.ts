import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import type { LoggedEvent } from '../../../src/domain/event.js';
import { InProcessEventBus, RedisEventBus } from '../../../src/events/event-bus.js';

const clients: FakeRedis[] = [];
class FakeRedis extends EventEmitter {
  published: string[] = [];
  failPublish = false;
  constructor(
    readonly url: string,
    readonly options: RedisOptions,
  ) {
    super();
    clients.push(this);
  }
  async subscribe() {
    return 1;
  }
  async publish(_channel: string, message: string) {
    if (this.failPublish) throw new Error('Connection is closed.');
    this.published.push(message);
    return 1;
  }
  disconnect() {
    this.emit('end');
  }
}
/**
 * Hands the bus fake clients that record what it publishes and let the test emit what Redis would.
 */
const connectFake = (url: string, options: RedisOptions) =>
  new FakeRedis(url, options) as unknown as Redis;

const event = (id: number): LoggedEvent => ({
  id,
  type: 'PROJECT_CREATED',
  topic: 'system',
  topics: ['system'],
  timestamp: 'x',
  data: {},
});

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
});

describe('RedisEventBus', () => {
  it('delivers locally at once, publishes for others and ignores its own echo', async () => {
    const logger = { warn: vi.fn(), info: vi.fn() };
    const bus = new RedisEventBus('redis://127.0.0.1:1', logger, connectFake);
    const [publisher, subscriber] = clients.slice(-2) as [FakeRedis, FakeRedis];
    expect(publisher.options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const seen: number[] = [];
    bus.subscribe((events) => seen.push(...events.map((item) => item.id)));
    bus.publish([event(1)]);
    expect(seen).toEqual([1]);
    subscriber.emit('message', 'channel', publisher.published[0]);
    subscriber.emit(
      'message',
      'channel',
      JSON.stringify({ from: 'another instance', events: [event(2)] }),
    );
    expect(seen).toEqual([1, 2]);
    subscriber.emit('message', 'channel', 'not json');
    subscriber.emit('ready');
    subscriber.emit('error', new Error('ECONNREFUSED'));
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.info).toHaveBeenCalledOnce();
    await bus.close();
  });

  it('keeps serving local listeners when Redis refuses a publish', async () => {
    const logger = { warn: vi.fn(), info: vi.fn() };
    const bus = new RedisEventBus('redis://127.0.0.1:1', logger, connectFake);
    const [publisher] = clients.slice(-2) as [FakeRedis, FakeRedis];
    publisher.failPublish = true;
    const seen: number[] = [];
    bus.subscribe((events) => seen.push(...events.map((item) => item.id)));
    bus.publish([event(7)]);
    bus.publish([]);
    await vi.waitFor(() => expect(logger.warn).toHaveBeenCalledOnce());
    expect(seen).toEqual([7]);
    await bus.close();
  });
});
