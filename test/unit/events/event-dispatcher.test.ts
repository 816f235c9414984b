import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoggedEvent } from '../../../src/domain/event.js';
import { InProcessEventBus } from '../../../src/events/event-bus.js';
import { EventDispatcher, GAP_WAIT_MS } from '../../../src/events/event-dispatcher.js';
import type { EventLog } from '../../../src/events/event-log.js';
import type { Database } from '../../../src/store/database.js';

const event = (id: number): LoggedEvent => ({
  id,
  type: 'PROJECT_CREATED',
  topic: 'system',
  topics: ['system'],
  timestamp: '2026-01-01T00:00:00.000Z',
  data: {},
});

function setup(logged: number[] = [], head = 0) {
  const committed = [...logged];
  const log = {
    latestId: vi.fn(async () => head),
    readAfter: vi.fn(async (_db: unknown, after: number, _topics: unknown, limit: number) =>
      committed
        .filter((id) => id > after)
        .slice(0, limit)
        .map(event),
    ),
  };
  const bus = new InProcessEventBus();
  const errors: unknown[] = [];
  const dispatcher = new EventDispatcher({} as Database, log as unknown as EventLog, bus, {
    pollMs: 1_000,
    batchSize: 2,
    onError: (error) => errors.push(error),
  });
  const delivered: number[] = [];
  dispatcher.subscribe((delivery) => delivered.push(delivery.id));
  return { log, bus, dispatcher, delivered, committed, errors };
}

afterEach(() => vi.useRealTimers());

describe('EventDispatcher', () => {
  it('starts at the head of the log and delivers a contiguous batch without reading the log', async () => {
    const { log, bus, dispatcher, delivered } = setup([], 10);
    await dispatcher.start();
    bus.publish([event(11), event(12)]);
    expect(delivered).toEqual([11, 12]);
    expect(log.readAfter).not.toHaveBeenCalled();
    expect(dispatcher.lastDeliveredId).toBe(12);
    dispatcher.stop();
  });

  it('drops duplicates and events at or before the cursor', async () => {
    const { bus, dispatcher, delivered } = setup([], 5);
    await dispatcher.start();
    bus.publish([event(4), event(5)]);
    bus.publish([event(6)]);
    bus.publish([event(6)]);
    expect(delivered).toEqual([6]);
    dispatcher.stop();
  });

  it('fills a gap from the log in order, in batches, when a later event arrives first', async () => {
    const { bus, dispatcher, delivered, log, committed } = setup([], 0);
    await dispatcher.start();
    committed.push(1, 2, 3, 5);
    bus.publish([event(5)]);
    await vi.waitFor(() => expect(delivered).toEqual([1, 2, 3, 5]));
    expect(log.readAfter).toHaveBeenCalledTimes(3);
    bus.publish([event(3)]);
    expect(delivered).toEqual([1, 2, 3, 5]);
    dispatcher.stop();
  });

  it('orders events announced out of order by themselves, without reading the log', async () => {
    vi.useFakeTimers();
    const { log, bus, dispatcher, delivered } = setup([], 0);
    await dispatcher.start();
    bus.publish([event(2)]);
    expect(delivered).toEqual([]);
    bus.publish([event(1)]);
    bus.publish([event(4)]);
    bus.publish([event(3)]);
    expect(delivered).toEqual([1, 2, 3, 4]);
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS * 2);
    expect(log.readAfter).not.toHaveBeenCalled();
    dispatcher.stop();
  });

  it('reads the log once a gap outlasts the wait, and not before', async () => {
    vi.useFakeTimers();
    const { log, bus, dispatcher, delivered, committed } = setup([], 0);
    await dispatcher.start();
    committed.push(1, 2);
    bus.publish([event(2)]);
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS - 1);
    expect([delivered, log.readAfter.mock.calls.length]).toEqual([[], 0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(delivered).toEqual([1, 2]);
    dispatcher.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reads the log at once when a batch of events waits behind a gap', async () => {
    vi.useFakeTimers();
    const { log, bus, dispatcher, delivered, committed } = setup([], 0);
    await dispatcher.start();
    committed.push(1, 2, 3);
    bus.publish([event(2), event(3)]); // the batch size is 2
    await vi.advanceTimersByTimeAsync(0);
    expect(log.readAfter).toHaveBeenCalled();
    expect(delivered).toEqual([1, 2, 3]);
    dispatcher.stop();
  });

  it('waits for the next gap timer, not in a loop, when the log lacks what was announced', async () => {
    vi.useFakeTimers();
    const { log, bus, dispatcher, errors } = setup([], 0);
    await dispatcher.start();
    log.readAfter.mockRejectedValue(new Error('database away'));
    bus.publish([event(2), event(3)]);
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS - 1);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(errors).toHaveLength(2);
    dispatcher.stop();
  });

  it('coalesces catch-ups requested while one is running', async () => {
    const { bus, dispatcher, delivered, committed } = setup([], 0);
    await dispatcher.start();
    committed.push(2);
    bus.publish([event(2)]);
    committed.push(3, 4);
    bus.publish([event(4)]);
    bus.publish([event(3)]);
    await vi.waitFor(() => expect(delivered).toEqual([2, 3, 4]));
    dispatcher.stop();
  });

  it('polls the log so an event whose message was lost still arrives', async () => {
    vi.useFakeTimers();
    const { dispatcher, delivered, committed } = setup([], 0);
    await dispatcher.start();
    committed.push(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(delivered).toEqual([1]);
    dispatcher.stop();
    committed.push(2);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(delivered).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports a failed read and recovers on the next one', async () => {
    const { dispatcher, delivered, committed, log, errors } = setup([], 0);
    await dispatcher.start();
    log.readAfter.mockRejectedValueOnce(new Error('database away'));
    await dispatcher.catchUp();
    expect(errors).toHaveLength(1);
    committed.push(1);
    await dispatcher.catchUp();
    expect(delivered).toEqual([1]);
    dispatcher.stop();
  });

  it('stops delivering to a listener that unsubscribed', async () => {
    const { bus, dispatcher } = setup([], 0);
    const seen: number[] = [];
    const stop = dispatcher.subscribe((delivery) => seen.push(delivery.id));
    await dispatcher.start();
    bus.publish([event(1)]);
    stop();
    bus.publish([event(2)]);
    expect(seen).toEqual([1]);
    dispatcher.stop();
  });

  it('reads the log for a batch with a hole instead of skipping the missing event', async () => {
    const { bus, dispatcher, delivered, committed } = setup([], 10);
    await dispatcher.start();
    committed.push(11, 12, 13);
    bus.publish([event(11), event(13)]);
    await vi.waitFor(() => expect(delivered).toEqual([11, 12, 13]));
    dispatcher.stop();
  });

  it('runs one more round for any number of catch-ups asked for during one', async () => {
    const { dispatcher, delivered, committed, log } = setup([], 0);
    await dispatcher.start();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const read = log.readAfter.getMockImplementation()!;
    log.readAfter.mockImplementationOnce(async (...args) => {
      await held;
      return read(...args);
    });
    const first = dispatcher.catchUp();
    committed.push(1);
    await Promise.all([dispatcher.catchUp(), dispatcher.catchUp(), dispatcher.catchUp()]);
    release();
    await first;
    expect(delivered).toEqual([1]);
    expect(log.readAfter).toHaveBeenCalledTimes(2);
    dispatcher.stop();
  });

  it('survives a failed read without an error callback, and a stop before its start', async () => {
    const log = {
      latestId: vi.fn(async () => 0),
      readAfter: vi.fn(async () => Promise.reject(new Error('database away'))),
    };
    const dispatcher = new EventDispatcher(
      {} as Database,
      log as unknown as EventLog,
      new InProcessEventBus(),
      { pollMs: 1_000 },
    );
    expect(() => dispatcher.stop()).not.toThrow();
    await expect(dispatcher.catchUp()).resolves.toBeUndefined();
    expect(dispatcher.lastDeliveredId).toBe(0);
  });
});
