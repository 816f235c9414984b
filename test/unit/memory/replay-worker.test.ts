import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../../src/memory/circuit-breaker.js';
import type { ConnectionChangeListener } from '../../../src/memory/mcp-connection.js';
import type { MemoryRecord } from '../../../src/memory/mcp-records.js';
import {
  BUSY_POLL_MS,
  type LockedReplayQueue,
  MAX_DELIVERY_BATCH,
  type LockOutcome,
  PROBE_KEY,
  type QueuedWrite,
  type ReplayQueue,
  ReplayWorker,
  type ReplayWorkerOptions,
} from '../../../src/memory/replay-worker.js';

class CallerFault extends Error {}

/** The replay queue in memory; `busy` simulates another instance holding the lock. */
class FakeQueue implements ReplayQueue {
  rows: Array<QueuedWrite & { lastError?: string }> = [];
  busy = false;
  failStillQueued = false;
  stillQueuedDelayMs = 0;
  #nextId = 1;

  add(key: string, content = `v${this.#nextId}`): number {
    const id = this.#nextId++;
    this.rows.push({ id, key, record: record(key, content), attempts: 0 });
    return id;
  }

  /** How long the transaction's COMMIT takes after the work is done. */
  commitDelayMs = 0;
  committed = 0;

  async withLock<T>(work: (queue: LockedReplayQueue) => Promise<T>): Promise<LockOutcome<T>> {
    if (this.busy) return { acquired: false };
    const value = await work(this.#locked);
    if (this.commitDelayMs > 0)
      await new Promise((resolve) => setTimeout(resolve, this.commitDelayMs));
    this.committed += 1;
    return { acquired: true, value };
  }

  async stillQueued(ids: readonly number[]): Promise<Set<number>> {
    if (this.failStillQueued) throw new Error('database gone');
    await new Promise((resolve) => setTimeout(resolve, this.stillQueuedDelayMs));
    return new Set(ids.filter((id) => this.rows.some((row) => row.id === id)));
  }

  readonly #locked: LockedReplayQueue = {
    oldest: async (skippedKeys, limit) =>
      this.rows
        .filter((candidate) => !skippedKeys.includes(candidate.key))
        .slice(0, limit)
        .map((row) => ({ ...row })),
    acknowledge: async (ids) => {
      this.rows = this.rows.filter((row) => !ids.includes(row.id));
    },
    recordFailure: async (ids, message) => {
      for (const row of this.rows.filter((candidate) => ids.includes(candidate.id))) {
        row.attempts += 1;
        row.lastError = message;
      }
    },
  };
}

/**
 * The MCP server: `storeMany` runs `onStore` for each record of the batch (default: accept) and
 * delivers the batch only when every record was accepted; `get` runs `onGet`.
 */
class FakeServer {
  delivered: MemoryRecord[] = [];
  storeCalls = 0;
  batches: number[] = [];
  reads: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  onStore: (record: MemoryRecord) => Promise<void> = async () => undefined;
  onGet: () => Promise<null> = async () => null;
  readonly listeners = new Set<ConnectionChangeListener>();

  async storeMany(records: readonly MemoryRecord[]): Promise<void> {
    this.storeCalls += 1;
    this.batches.push(records.length);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      for (const record of records) await this.onStore(record);
      this.delivered.push(...records);
    } finally {
      this.inFlight -= 1;
    }
  }

  async get(key: string): Promise<null> {
    this.reads.push(key);
    return this.onGet();
  }

  onConnectionChange(listener: ConnectionChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function record(key: string, content: string): MemoryRecord {
  return { key, content, tags: [], project_id: null, agent_id: null };
}

const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
const never = () => new Promise<never>(() => undefined);
const unavailable = async (): Promise<never> => {
  throw new Error('server down');
};

/**
 * Counts the live subscriptions to the breaker's transitions, as the worker's `stop()` must end its
 * own.
 */
function countSubscriptions(breaker: CircuitBreaker): { active: number } {
  const counter = { active: 0 };
  const subscribe = breaker.onTransition.bind(breaker);
  breaker.onTransition = (listener) => {
    const unsubscribe = subscribe(listener);
    let subscribed = true;
    counter.active += 1;
    return () => {
      if (subscribed) counter.active -= 1;
      subscribed = false;
      unsubscribe();
    };
  };
  return counter;
}

function setup(overrides: Partial<ReplayWorkerOptions> = {}) {
  const queue = new FakeQueue();
  const server = new FakeServer();
  const breaker = new CircuitBreaker({
    failureThreshold: 2,
    openMs: 1_000,
    halfOpenSuccesses: 2,
    isCallerError: (error) => error instanceof CallerFault,
  });
  const subscriptions = countSubscriptions(breaker);
  const worker = new ReplayWorker({
    queue,
    breaker,
    server,
    logger,
    storeTimeoutMs: 100,
    probeTimeoutMs: 50,
    retryDelayMs: 200,
    isCallerError: (error) => error instanceof CallerFault,
    ...overrides,
  });
  return { queue, server, breaker, subscriptions, worker };
}

const keys = (records: MemoryRecord[]) =>
  records.map((delivered) => `${delivered.key}=${delivered.content}`);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.clearAllMocks();
});

describe('ReplayWorker: order and exactly-once', () => {
  it('drains what an earlier run left, oldest first, deleting each row after the server acknowledged it', async () => {
    const { queue, server, worker } = setup();
    queue.add('a', 'a1');
    queue.add('b', 'b1');
    queue.add('a', 'a2');
    worker.start();
    await worker.drain();
    expect(keys(server.delivered)).toEqual(['a=a1', 'b=b1', 'a=a2']);
    expect(queue.rows).toEqual([]);
    await worker.stop();
  });

  it('delivers nothing of a failed batch, keeps every row with the failure, and retries smaller after the retry delay', async () => {
    const { queue, server, worker } = setup();
    queue.add('a', 'a1');
    queue.add('k', 'k1');
    queue.add('k', 'k2');
    let failing = true;
    server.onStore = async (written) => {
      if (written.content === 'k1' && failing) throw new Error('write failed');
    };
    await worker.drain();
    expect(server.delivered).toEqual([]);
    expect(queue.rows.map((row) => [row.id, row.attempts, row.lastError])).toEqual([
      [1, 1, 'Error: write failed'],
      [2, 1, 'Error: write failed'],
      [3, 1, 'Error: write failed'],
    ]);

    failing = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(keys(server.delivered)).toEqual(['a=a1', 'k=k1', 'k=k2']);
    expect(server.batches).toEqual([3, 1, 2]);
    expect(queue.rows).toEqual([]);
    await worker.stop();
  });

  it('tells a waiter its row was delivered only once the deletion has committed', async () => {
    const { queue, worker } = setup();
    queue.commitDelayMs = 50;
    const id = queue.add('a');
    let answer: boolean | undefined;
    const waiting = worker.awaitDelivery(id, 1_000).then((delivered) => (answer = delivered));
    await vi.advanceTimersByTimeAsync(49);
    expect([answer, queue.committed]).toEqual([undefined, 0]);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect([answer, queue.committed]).toEqual([true, 1]);
    await vi.advanceTimersByTimeAsync(100);
    await worker.stop();
  });

  it('sends a backlog in batches of at most MAX_DELIVERY_BATCH rows, in id order', async () => {
    const { queue, server, worker } = setup();
    const total = MAX_DELIVERY_BATCH * 2 + 7;
    for (let n = 0; n < total; n += 1) queue.add(`k${n % 13}`, `c${n}`);
    await worker.drain();
    expect(server.batches).toEqual([MAX_DELIVERY_BATCH, MAX_DELIVERY_BATCH, 7]);
    expect(server.delivered.map((written) => written.content)).toEqual(
      Array.from({ length: total }, (_, n) => `c${n}`),
    );
    expect(queue.rows).toEqual([]);
    await worker.stop();
  });

  it('is single-flight: concurrent drains never send two writes at once, and a drain asked during a pass runs again', async () => {
    const { queue, server, worker } = setup();
    server.onStore = () => new Promise((resolve) => setTimeout(resolve, 10));
    queue.add('a');
    const first = worker.drain();
    queue.add('b');
    const second = worker.drain();
    expect(second).toBe(first);
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all([first, second]);
    expect(keys(server.delivered).map((entry) => entry[0])).toEqual(['a', 'b']);
    expect(server.maxInFlight).toBe(1);
    await worker.stop();
  });

  it('passes over a write the server rejects as invalid, with every later write of its key, and retries it next pass', async () => {
    const { queue, server, breaker, worker } = setup();
    queue.add('bad', 'bad1');
    queue.add('good', 'g1');
    queue.add('bad', 'bad2');
    queue.add('good', 'g2');
    let refusing = true;
    server.onStore = async (written) => {
      if (written.content === 'bad1' && refusing) throw new CallerFault('invalid arguments');
    };
    await worker.drain();
    expect(server.batches).toEqual([4, 2, 1, 1, 1]);
    expect(keys(server.delivered)).toEqual(['good=g1', 'good=g2']);
    expect(queue.rows.map((row) => [row.key, row.attempts])).toEqual([
      ['bad', 1],
      ['bad', 0],
    ]);
    expect(breaker.snapshot()).toMatchObject({ state: 'CLOSED', failure_count: 0 });
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ key: 'bad', attempts: 1 }),
      expect.stringContaining('rejected a queued write'),
    );

    refusing = false;
    await worker.drain();
    expect(keys(server.delivered)).toEqual(['good=g1', 'good=g2', 'bad=bad1', 'bad=bad2']);
    await worker.stop();
  });
});

describe('ReplayWorker: the breaker', () => {
  it('opens after repeated failures, then sends the next queued row as the probe at next_attempt_at and closes', async () => {
    const { queue, server, breaker, worker } = setup();
    const transitions: string[] = [];
    breaker.onTransition((transition) => transitions.push(`${transition.from}>${transition.to}`));
    server.onStore = unavailable;
    queue.add('a');
    queue.add('b');
    worker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(breaker.currentState().name).toBe('CLOSED');
    await vi.advanceTimersByTimeAsync(200);
    expect(breaker.currentState()).toMatchObject({ name: 'OPEN' });

    server.onStore = async () => undefined;
    await vi.advanceTimersByTimeAsync(999);
    expect(server.delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(keys(server.delivered).map((entry) => entry[0])).toEqual(['a', 'b']);
    expect(transitions).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
    expect(queue.rows).toEqual([]);
    expect(breaker.snapshot().rejected_count).toBe(0);
    await worker.stop();
  });

  it('probes with a harmless read when the queue is empty, until the breaker closes', async () => {
    const { server, breaker, worker } = setup();
    worker.start();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    expect(breaker.currentState().name).toBe('OPEN');

    server.onGet = unavailable;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(server.reads).toEqual([PROBE_KEY]);
    expect(breaker.currentState().name).toBe('OPEN');

    server.onGet = async () => null;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(server.reads).toEqual([PROBE_KEY, PROBE_KEY, PROBE_KEY]);
    expect(breaker.currentState().name).toBe('CLOSED');
    // Closed on an empty queue, it is idle: no retry is left scheduled.
    expect(vi.getTimerCount()).toBe(0);
    await worker.stop();
  });

  it('sends at the end of the open period, not at the next retry tick after it', async () => {
    const { queue, server, breaker, worker } = setup({ retryDelayMs: 300 });
    server.onStore = unavailable;
    queue.add('a');
    worker.start();
    await vi.advanceTimersByTimeAsync(300);
    expect(breaker.currentState().name).toBe('OPEN');
    server.onStore = async () => undefined;
    // Opened at 300 ms for 1 000 ms; retry ticks would fall at 600, 900, 1 200 and 1 500 ms.
    await vi.advanceTimersByTimeAsync(999);
    expect(server.delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(keys(server.delivered)).toEqual(['a=v1']);
    await worker.stop();
  });

  it('gives the read probe its own timeout (MEMORY_SEARCH_TIMEOUT_MS) to answer', async () => {
    const { server, breaker, worker } = setup();
    worker.start();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    server.onGet = () => new Promise((resolve) => setTimeout(resolve, 30, null));
    await vi.advanceTimersByTimeAsync(1_000 + 2 * 30);
    expect(server.reads).toEqual([PROBE_KEY, PROBE_KEY]);
    expect(breaker.currentState().name).toBe('CLOSED');
    await worker.stop();
  });

  it('keeps the reason of a failure that is not an Error', async () => {
    const { queue, server, worker } = setup();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a reason that is not an Error, on purpose
    server.onStore = () => Promise.reject('socket hang up');
    queue.add('a');
    await worker.drain();
    expect(queue.rows[0]?.lastError).toBe("'socket hang up'");
    await worker.stop();
  });

  it('counts a delivery that outlives the store timeout as a failure and keeps the row', async () => {
    const { queue, server, breaker, worker } = setup();
    server.onStore = never;
    queue.add('slow');
    const drained = worker.drain();
    await vi.advanceTimersByTimeAsync(100);
    await drained;
    expect(breaker.snapshot()).toMatchObject({ failure_count: 1, consecutive_failures: 1 });
    expect(queue.rows[0]).toMatchObject({
      attempts: 1,
      lastError: 'BreakerTimeoutError: operation timed out after 100 ms',
    });
    await worker.stop();
  });

  it('leaves the queue alone while another caller holds the half-open probe, and comes back after the retry delay', async () => {
    const { queue, server, breaker, worker } = setup();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    const probe = breaker.execute(() => new Promise((resolve) => setTimeout(resolve, 300)), {
      timeoutMs: 1_000,
    });
    queue.add('a');
    await worker.drain();
    expect(server.storeCalls).toBe(0);
    expect(queue.rows).toEqual([expect.objectContaining({ key: 'a', attempts: 0 })]);
    expect(queue.rows[0]?.lastError).toBeUndefined();
    await vi.advanceTimersByTimeAsync(300);
    await probe;
    await vi.advanceTimersByTimeAsync(200);
    expect(keys(server.delivered)).toEqual(['a=v1']);
    await worker.stop();
  });

  it('does not probe while another caller holds the half-open probe and the queue is empty', async () => {
    const { server, breaker, worker } = setup();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    const probe = breaker.execute(() => new Promise((resolve) => setTimeout(resolve, 300)), {
      timeoutMs: 1_000,
    });
    await worker.drain();
    expect(server.reads).toEqual([]);
    await vi.advanceTimersByTimeAsync(300);
    await probe;
    await vi.advanceTimersByTimeAsync(200);
    expect(server.reads).toEqual([PROBE_KEY]);
    expect(breaker.currentState().name).toBe('CLOSED');
    await worker.stop();
  });

  it('drains on a transition to CLOSED (a manual reset) and when the server reconnects', async () => {
    const { queue, server, breaker, worker } = setup();
    worker.start();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    queue.add('after-reset');
    breaker.reset();
    await vi.advanceTimersByTimeAsync(0);
    expect(keys(server.delivered)).toEqual(['after-reset=v1']);

    queue.add('after-reconnect');
    for (const listener of server.listeners)
      listener({ connected: false, pid: 1, failedAttempts: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.delivered).toHaveLength(1);
    for (const listener of server.listeners)
      listener({ connected: true, pid: 2, failedAttempts: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(keys(server.delivered)).toEqual(['after-reset=v1', 'after-reconnect=v2']);
    await worker.stop();
  });
});

describe('ReplayWorker: waiting for one row', () => {
  it('answers true as soon as the row is delivered', async () => {
    const { queue, worker } = setup();
    const id = queue.add('mine');
    await expect(worker.awaitDelivery(id, 1_000)).resolves.toBe(true);
    await worker.stop();
  });

  it('answers false as soon as the pass fails, without waiting for the timeout', async () => {
    const { queue, server, worker } = setup();
    server.onStore = unavailable;
    const id = queue.add('mine');
    const answer = worker.awaitDelivery(id, 60_000);
    await vi.advanceTimersByTimeAsync(0);
    await expect(answer).resolves.toBe(false);
    await worker.stop();
  });

  it('answers false after the timeout while the server stalls', async () => {
    const { queue, server, worker } = setup({ storeTimeoutMs: 5_000 });
    server.onStore = never;
    const id = queue.add('mine');
    const answer = worker.awaitDelivery(id, 100);
    await vi.advanceTimersByTimeAsync(100);
    await expect(answer).resolves.toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    await worker.stop();
  });

  it('answers true when another instance, holding the lock, delivered the row', async () => {
    const { queue, worker } = setup();
    const id = queue.add('mine');
    queue.busy = true;
    const answer = worker.awaitDelivery(id, 1_000);
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS);
    queue.rows = [];
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS);
    await expect(answer).resolves.toBe(true);
    await worker.stop();
  });

  it('answers a waiter whose time ran out while the queue was being read only once', async () => {
    const { queue, server, worker } = setup();
    server.onStore = unavailable;
    queue.stillQueuedDelayMs = 100;
    const answer = worker.awaitDelivery(queue.add('mine'), 50);
    await vi.advanceTimersByTimeAsync(100);
    await expect(answer).resolves.toBe(false);
    await worker.stop();
  });

  it('answers false when the queue cannot be read after a failed pass', async () => {
    const { queue, server, worker } = setup();
    server.onStore = unavailable;
    queue.failStillQueued = true;
    const answer = worker.awaitDelivery(queue.add('mine'), 60_000);
    await vi.advanceTimersByTimeAsync(0);
    await expect(answer).resolves.toBe(false);
    await worker.stop();
  });
});

describe('ReplayWorker: lifecycle', () => {
  it('logs an error that ends a pass and tries again after the retry delay', async () => {
    const { queue, server, worker } = setup();
    queue.add('a');
    const head = vi
      .spyOn(queue, 'withLock')
      .mockRejectedValueOnce(new Error('connection terminated'));
    await worker.drain();
    expect(logger.error).toHaveBeenCalledWith(
      { err: new Error('connection terminated') },
      'memory replay failed; retrying',
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(head).toHaveBeenCalledTimes(3);
    expect(server.delivered).toHaveLength(1);
    await worker.stop();
  });

  it('stop() releases timers and subscriptions, answers waiters and ignores later drains', async () => {
    const { queue, server, subscriptions, worker } = setup();
    server.onStore = unavailable;
    worker.start();
    worker.start();
    const answer = worker.awaitDelivery(queue.add('mine'), 60_000);
    await vi.advanceTimersByTimeAsync(0);
    await expect(answer).resolves.toBe(false);
    expect([subscriptions.active, server.listeners.size, vi.getTimerCount()]).toEqual([1, 1, 1]);

    const waiting = worker.awaitDelivery(queue.add('other'), 60_000);
    await worker.stop();
    await expect(waiting).resolves.toBe(false);
    expect([subscriptions.active, server.listeners.size, vi.getTimerCount()]).toEqual([0, 0, 0]);
    const calls = server.storeCalls;
    await worker.drain();
    await expect(worker.awaitDelivery(1, 10)).resolves.toBe(false);
    worker.start();
    expect(server.storeCalls).toBe(calls);
  });
});

describe('ReplayWorker: stopping mid-pass', () => {
  it('leaves no timer when the delivery in flight at stop() fails afterwards', async () => {
    const { queue, server, worker } = setup();
    queue.add('a');
    server.onStore = async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error('server down');
    };
    void worker.drain();
    await vi.advanceTimersByTimeAsync(10);
    const stopped = worker.stop();
    await vi.advanceTimersByTimeAsync(50);
    await stopped;
    expect(server.storeCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('ReplayWorker: when it wakes', () => {
  it('keeps no timer, takes no lock and reads nothing once the queue is empty and the breaker closed', async () => {
    const { queue, server, worker } = setup();
    queue.add('a');
    await worker.drain();
    const locks = queue.committed;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(queue.committed).toBe(locks);
    expect(server.reads).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    await worker.stop();
  });

  it('waits the retry delay, not the busy poll, while another instance holds the lock and nobody waits', async () => {
    const { queue, worker } = setup();
    queue.add('a');
    queue.busy = true;
    const withLock = vi.spyOn(queue, 'withLock');
    await worker.drain();
    expect(withLock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS);
    expect(withLock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(200 - BUSY_POLL_MS);
    expect(withLock).toHaveBeenCalledTimes(2);
    await worker.stop();
  });

  it('does not answer a waiter "not delivered" while another instance holds the lock', async () => {
    const { queue, worker } = setup();
    const id = queue.add('mine');
    queue.busy = true;
    let answer: boolean | undefined;
    void worker.awaitDelivery(id, 10_000).then((delivered) => {
      answer = delivered;
    });
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS * 3);
    expect(answer).toBeUndefined();
    queue.rows = [];
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS);
    expect(answer).toBe(true);
    await worker.stop();
  });

  it('drains at once on a manual reset, before the open period would end', async () => {
    const { queue, server, breaker, worker } = setup();
    worker.start();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);
    queue.add('after-reset');
    breaker.reset();
    await vi.advanceTimersByTimeAsync(0);
    expect(keys(server.delivered)).toEqual(['after-reset=v1']);
    await worker.stop();
  });

  it('runs the pass a waiter asked for during a failing one at once, and judges it by that pass', async () => {
    const { queue, server, worker } = setup();
    queue.add('a');
    let stores = 0;
    server.onStore = async () => {
      stores += 1;
      if (stores > 1) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error('server down');
    };
    void worker.drain();
    await vi.advanceTimersByTimeAsync(10);
    const id = queue.add('b');
    let answer: boolean | undefined;
    void worker.awaitDelivery(id, 10_000).then((delivered) => {
      answer = delivered;
    });
    // The failure comes at 50 ms; the retry delay (200 ms) would wake the worker at 250 ms.
    await vi.advanceTimersByTimeAsync(45);
    expect(answer).toBe(true);
    expect(keys(server.delivered)).toEqual(['a=v1', 'b=v2']);
    await worker.stop();
  });

  it('retries a failed delivery after the retry delay, even while a store waits for it', async () => {
    const { queue, server, worker } = setup();
    server.onStore = unavailable;
    void worker.awaitDelivery(queue.add('a'), 10_000);
    await vi.advanceTimersByTimeAsync(BUSY_POLL_MS);
    expect(server.storeCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(200 - BUSY_POLL_MS);
    expect(server.storeCalls).toBe(2);
    await worker.stop();
  });

  it('retries the retry delay after the first failure, however many failures follow', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 10 });
    const { queue, server, worker } = setup({ breaker });
    server.onStore = unavailable;
    queue.add('a');
    await worker.drain();
    await vi.advanceTimersByTimeAsync(100);
    await worker.drain();
    expect(server.storeCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(server.storeCalls).toBe(3);
    await worker.stop();
  });

  it('retries after the retry delay once a manual reset ends an open period', async () => {
    const { queue, server, breaker, worker } = setup();
    worker.start();
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await breaker.execute(unavailable, { timeoutMs: 10 }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);
    server.onStore = unavailable;
    queue.add('a');
    breaker.reset();
    await vi.advanceTimersByTimeAsync(0);
    expect(server.storeCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(server.storeCalls).toBe(2);
    await worker.stop();
  });

  it('works with a server that does not report reconnects', async () => {
    const fake = new FakeServer();
    const server = { storeMany: fake.storeMany.bind(fake), get: fake.get.bind(fake) };
    const { queue, worker } = setup({ server });
    queue.add('a');
    worker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(keys(fake.delivered)).toEqual(['a=v1']);
    await expect(worker.stop()).resolves.toBeUndefined();
  });
});
