import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Retention } from '../../../src/config.js';
import type { EventLog } from '../../../src/events/event-log.js';
import { EventPruner } from '../../../src/events/retention.js';
import type { Database } from '../../../src/store/database.js';

/** The event log's prune, handed in: each call's outcome is the test's to decide. */
function fakeLog() {
  type Call = {
    resolve: (deleted: number) => void;
    reject: (error: Error) => void;
    args: unknown[];
  };
  const calls: Call[] = [];
  const log = {
    prune: (...args: unknown[]) =>
      new Promise<number>((resolve, reject) => {
        calls.push({ resolve, reject, args });
      }),
  };
  return { log: log as unknown as EventLog, calls };
}

const retention: Retention = { maxAgeMs: 60_000, maxEvents: null };
const database = {} as Database;

function pruner(log: EventLog) {
  const logger = { info: vi.fn(), warn: vi.fn() };
  return { pruner: new EventPruner(database, log, retention, 1_000, logger), logger };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('EventPruner', () => {
  it('prunes once per interval after start, and not after stop', async () => {
    const { log, calls } = fakeLog();
    const { pruner: subject } = pruner(log);
    subject.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args).toEqual([database, retention]);
    calls[0]!.resolve(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(0);
    await subject.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toHaveLength(2);
  });

  it('logs how many events a round deleted, and nothing when it deleted none', async () => {
    const { log, calls } = fakeLog();
    const { pruner: subject, logger } = pruner(log);
    const quiet = subject.pruneOnce();
    calls[0]!.resolve(0);
    await quiet;
    expect(logger.info).not.toHaveBeenCalled();
    const busy = subject.pruneOnce();
    calls[1]!.resolve(42);
    await busy;
    expect(logger.info).toHaveBeenCalledWith({ deleted: 42 }, 'pruned the event log');
  });

  it('logs a failed round as a warning and tries again at the next tick', async () => {
    const { log, calls } = fakeLog();
    const { pruner: subject, logger } = pruner(log);
    subject.start();
    await vi.advanceTimersByTimeAsync(1_000);
    const failure = new Error('database gone');
    calls[0]!.reject(failure);
    await vi.advanceTimersByTimeAsync(0);
    expect(logger.warn).toHaveBeenCalledWith(
      { err: failure },
      'event log pruning failed; retrying at the next interval',
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(0);
    await subject.stop();
  });

  it('never runs two rounds at once, and stop waits for the one in progress', async () => {
    const { log, calls } = fakeLog();
    const { pruner: subject } = pruner(log);
    const first = subject.pruneOnce();
    expect(subject.pruneOnce()).toBe(first);
    expect(calls).toHaveLength(1);
    let stopped = false;
    const stopping = subject.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    calls[0]!.resolve(3);
    await stopping;
    expect(stopped).toBe(true);
    const next = subject.pruneOnce();
    expect(next).not.toBe(first);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(0);
    await next;
  });
});
