/**
 * Delivers the durable replay queue to the MCP server: oldest rows first, in batches of up to
 * {@link MAX_DELIVERY_BATCH} rows, each batch one call through the circuit breaker, deleting rows
 * only once the server acknowledged them. A batch that fails is halved for the next try, so a
 * slow server gets smaller batches and a write the server refuses is soon alone in its batch.
 *
 * One worker runs per process, and it is single-flight: a drain requested while one runs makes
 * that one go around again. Draining in id order through one writer is what keeps an older
 * write of a key from landing after a newer one. While the breaker is OPEN a timer wakes the
 * worker at `next_attempt_at`, so the next queued row (or, with an empty queue, a harmless read)
 * is the half-open probe and the breaker closes without waiting for user traffic.
 */
import { inspect } from 'node:util';
import { BreakerOpenError, type CircuitBreaker } from './circuit-breaker.js';
import type { MemoryBackend } from './mcp-client.js';
import type { ConnectionChangeListener, MemoryLogger } from './mcp-connection.js';
import type { MemoryRecord } from './mcp-records.js';

/** A write waiting in the replay queue; `id` is its place in the delivery order. */
export interface QueuedWrite {
  id: number;
  key: string;
  record: MemoryRecord;
  attempts: number;
}

/** The queue as seen while holding the drain lock. */
export interface LockedReplayQueue {
  /** The oldest writes (at most `limit`) whose key is not in `skippedKeys`, oldest first. */
  oldest(skippedKeys: readonly string[], limit: number): Promise<QueuedWrite[]>;
  /** Deletes delivered writes. */
  acknowledge(ids: readonly number[]): Promise<void>;
  /** Counts a failed attempt on each write and keeps the error message. */
  recordFailure(ids: readonly number[], message: string): Promise<void>;
}

/** Either the lock was taken and `work` ran, or another instance holds it. */
export type LockOutcome<T> = { acquired: true; value: T } | { acquired: false };

/** The durable queue the worker drains; see `DatabaseReplayQueue` for the locking guarantee. */
export interface ReplayQueue {
  /** Runs `work` holding the lock that makes one drainer at a time deliver in id order. */
  withLock<T>(work: (queue: LockedReplayQueue) => Promise<T>): Promise<LockOutcome<T>>;
  /** Which of `ids` are still queued (the others were delivered, by this or another instance). */
  stillQueued(ids: readonly number[]): Promise<Set<number>>;
}

/** What the worker needs from the MCP server. */
export interface ReplayTarget extends Pick<MemoryBackend, 'storeMany' | 'get'> {
  onConnectionChange?(listener: ConnectionChangeListener): () => void;
}

/** What the worker needs from the breaker. */
export type ReplayBreaker = Pick<CircuitBreaker, 'execute' | 'currentState' | 'onTransition'>;

/** Collaborators and timings of a {@link ReplayWorker}. */
export interface ReplayWorkerOptions {
  queue: ReplayQueue;
  breaker: ReplayBreaker;
  server: ReplayTarget;
  /** Time limit of one delivery (MEMORY_STORE_TIMEOUT_MS). */
  storeTimeoutMs: number;
  /** Time limit of one read probe, sent when the breaker is HALF_OPEN and the queue is empty. */
  probeTimeoutMs: number;
  /** Wait before trying again after a failure that did not open the breaker. */
  retryDelayMs: number;
  /**
   * Errors that are a refusal of that one write, not a failing server (see `isMemoryCallerError`).
   */
  isCallerError: (error: unknown) => boolean;
  logger: MemoryLogger;
  /** Clock in epoch milliseconds, the breaker's; defaults to `Date.now()`. */
  now?: () => number;
}

/**
 * Key of the read probe. A NUL can never be part of a stored key (the API refuses it), so the
 * probe reads an entity that cannot exist and changes nothing.
 */
export const PROBE_KEY = '\u0000swarm-control-probe';

/** Most queued writes sent in one batch (one `storeMany` call). */
export const MAX_DELIVERY_BATCH = 100;

/** How soon to look again while another instance holds the lock and a caller waits for its row. */
export const BUSY_POLL_MS = 50;

type StepResult =
  'delivered' | 'skipped' | 'split' | 'empty' | 'open' | 'refused' | 'failed' | 'busy';
type ProbeResult = 'succeeded' | 'refused' | 'failed';
/** Why a pass ended: `idle` means the queue is empty and the breaker CLOSED. */
type PassEnd = 'idle' | 'open' | 'refused' | 'failed' | 'busy' | 'error' | 'stopped';

interface Waiter {
  /**
   * The first pass that started after the caller asked; only it (or a later one) may answer "not
   * delivered".
   */
  readonly judgedFromPass: number;
  settle(delivered: boolean): void;
}

/** The single drainer of the replay queue; see the module comment. */
export class ReplayWorker {
  readonly #options: ReplayWorkerOptions;
  readonly #now: () => number;
  readonly #waiters = new Map<number, Waiter>();
  readonly #unsubscribes: Array<() => void> = [];
  #running: Promise<void> | undefined;
  // Stryker disable next-line BooleanLiteral: every run of passes sets it to false before reading it
  #rerun = false;
  #passesStarted = 0;
  #wake: { timer: NodeJS.Timeout; dueAt: number } | undefined;
  #started = false;
  #stopped = false;
  #batchSize = MAX_DELIVERY_BATCH;

  /** The durations are positive, from settings config.ts validates once (memory-module.ts). */
  constructor(options: ReplayWorkerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now());
  }

  /** Follows breaker transitions and reconnects, and drains what an earlier run left queued. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#unsubscribes.push(this.#options.breaker.onTransition(() => void this.drain()));
    const unsubscribe = this.#options.server.onConnectionChange?.((change) => {
      if (change.connected) void this.drain();
    });
    if (unsubscribe !== undefined) this.#unsubscribes.push(unsubscribe);
    void this.drain();
  }

  /** Delivers queued rows until the queue is empty or the breaker stops it; resolves when done. */
  drain(): Promise<void> {
    if (this.#running !== undefined) {
      this.#rerun = true;
      return this.#running;
    }
    // Deferred by a microtask so that `#running` is set before any of the pass's code runs.
    this.#running = Promise.resolve().then(() => this.#runPasses());
    return this.#running;
  }

  /**
   * Starts a drain and resolves true once row `id` is delivered (by this instance or another),
   * false when a drain ends without it (breaker open, server failing) or after `timeoutMs`.
   */
  awaitDelivery(id: number, timeoutMs: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const delivered = new Promise<boolean>((resolve) => {
      const settle = (value: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(id);
        resolve(value);
      };
      const timer = setTimeout(() => settle(false), timeoutMs);
      this.#waiters.set(id, { judgedFromPass: this.#passesStarted + 1, settle });
    });
    void this.drain();
    return delivered;
  }

  /**
   * Stops timers and subscriptions, answers every waiter "not delivered" and waits for the pass in
   * flight.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#wake?.timer);
    this.#wake = undefined;
    for (const unsubscribe of this.#unsubscribes.splice(0)) unsubscribe();
    for (const waiter of [...this.#waiters.values()]) waiter.settle(false);
    await this.#running;
  }

  /**
   * Runs passes while drains were requested during the last one; clears `#running` in the same tick
   * as the last check.
   */
  async #runPasses(): Promise<void> {
    try {
      do {
        this.#rerun = false;
        await this.#runOnePass();
      } while (this.#rerun && !this.#stopped);
    } finally {
      this.#running = undefined;
    }
  }

  async #runOnePass(): Promise<void> {
    const pass = ++this.#passesStarted;
    const end = await this.#pass().catch((error: unknown) => {
      this.#options.logger.error({ err: error }, 'memory replay failed; retrying');
      return 'error' as const;
    });
    this.#scheduleAfter(end);
    await this.#settleWaiters(pass, end);
  }

  async #pass(): Promise<PassEnd> {
    const skippedKeys = new Set<string>();
    while (!this.#stopped) {
      const step = await this.#step(skippedKeys);
      if (step === 'delivered' || step === 'skipped' || step === 'split') continue;
      if (step !== 'empty') return step;
      if (this.#options.breaker.currentState().name === 'CLOSED') return 'idle';
      const probe = await this.#probe();
      if (probe !== 'succeeded') return probe;
    }
    // Stryker disable next-line StringLiteral: only 'idle' and 'busy' ends are told apart
    return 'stopped';
  }

  async #step(skippedKeys: Set<string>): Promise<StepResult> {
    // Stryker disable next-line StringLiteral: only 'idle' and 'busy' ends are told apart
    if (this.#options.breaker.currentState().name === 'OPEN') return 'open';
    // Stryker disable next-line ArrayDeclaration: no waiter has the id of a placeholder string
    const delivered: number[] = [];
    const outcome = await this.#options.queue.withLock((queue) =>
      this.#deliverBatch(queue, skippedKeys, delivered),
    );
    // Only now has the rows' deletion committed: a caller told "delivered" finds them gone.
    delivered.forEach((id) => this.#waiters.get(id)?.settle(true));
    return outcome.acquired ? outcome.value : 'busy';
  }

  /** Sends the oldest rows in one batch; the ids it acknowledged go into `delivered`. */
  async #deliverBatch(
    queue: LockedReplayQueue,
    skippedKeys: Set<string>,
    delivered: number[],
  ): Promise<StepResult> {
    const writes = await queue.oldest([...skippedKeys], this.#batchSize);
    if (writes.length === 0) return 'empty';
    try {
      const { storeTimeoutMs: timeoutMs } = this.#options;
      const records = writes.map((write) => write.record);
      await this.#options.breaker.execute(
        (signal) => this.#options.server.storeMany(records, signal),
        { timeoutMs },
      );
    } catch (error) {
      return this.#failedDelivery(queue, writes, error, skippedKeys);
    }
    const ids = writes.map((write) => write.id);
    await queue.acknowledge(ids);
    delivered.push(...ids);
    this.#batchSize = Math.min(MAX_DELIVERY_BATCH, this.#batchSize * 2);
    return 'delivered';
  }

  /**
   * A refused call leaves the rows untouched. A failed batch is halved for the next try. A batch
   * the server rejects as invalid is split at once, until the write it rejects is alone. A
   * failure is recorded on the rows and ends the pass. A single write the server rejects as
   * invalid would block the queue forever, so it is recorded and passed over, together with
   * every later write of its key (their order must hold); it is tried again on the next pass.
   */
  async #failedDelivery(
    queue: LockedReplayQueue,
    writes: QueuedWrite[],
    error: unknown,
    skippedKeys: Set<string>,
  ): Promise<StepResult> {
    // Stryker disable next-line StringLiteral: only 'idle' and 'busy' ends are told apart
    if (error instanceof BreakerOpenError) return 'refused';
    this.#batchSize = Math.max(1, Math.floor(writes.length / 2));
    const callerError = this.#options.isCallerError(error);
    if (callerError && writes.length > 1) return 'split';
    await queue.recordFailure(
      writes.map((write) => write.id),
      errorMessage(error),
    );
    const [first] = writes as [QueuedWrite];
    const context = {
      err: error,
      queueId: first.id,
      key: first.key,
      batch: writes.length,
      attempts: first.attempts + 1,
    };
    if (!callerError) {
      // Stryker disable next-line StringLiteral: log text, not a contract
      this.#options.logger.warn(context, 'memory replay: delivery failed; the writes stay queued');
      // Stryker disable next-line StringLiteral: only 'idle' and 'busy' ends are told apart
      return 'failed';
    }
    skippedKeys.add(first.key);
    this.#options.logger.error(
      context,
      'memory replay: the MCP server rejected a queued write; ' +
        // Stryker disable next-line StringLiteral: log text, not a contract
        'it and later writes of its key stay queued',
    );
    return 'skipped';
  }

  async #probe(): Promise<ProbeResult> {
    try {
      const { probeTimeoutMs: timeoutMs } = this.#options;
      await this.#options.breaker.execute((signal) => this.#options.server.get(PROBE_KEY, signal), {
        timeoutMs,
      });
      return 'succeeded';
    } /* Stryker disable next-line BlockStatement: undefined ends a pass too */ catch (error) {
      // Stryker disable next-line StringLiteral: only 'succeeded' is told apart
      return error instanceof BreakerOpenError ? 'refused' : 'failed';
    }
  }

  /** Nothing to do when idle; at `next_attempt_at` when OPEN; otherwise after the retry delay. */
  #scheduleAfter(end: PassEnd): void {
    if (end === 'idle') return;
    const state = this.#options.breaker.currentState();
    if (state.name === 'OPEN') return this.#wakeAt(state.nextAttemptAt);
    const delayMs =
      end === 'busy' && this.#waiters.size > 0 ? BUSY_POLL_MS : this.#options.retryDelayMs;
    this.#wakeAt(this.#now() + delayMs);
  }

  /** Keeps one timer, the earliest asked for. */
  #wakeAt(dueAt: number): void {
    // Stryker disable next-line EqualityOperator: replacing a timer by one due at once is the same
    if (this.#stopped || (this.#wake !== undefined && this.#wake.dueAt <= dueAt)) return;
    clearTimeout(this.#wake?.timer);
    const timer = setTimeout(
      () => {
        this.#wake = undefined;
        void this.drain();
      },
      Math.max(0, dueAt - this.#now()),
    );
    timer.unref();
    this.#wake = { timer, dueAt };
  }

  /**
   * Answers waiters whose rows are gone, and "not delivered" to those this pass was due to judge.
   */
  async #settleWaiters(pass: number, end: PassEnd): Promise<void> {
    const ids = [...this.#waiters.keys()];
    if (ids.length === 0) return;
    const queued = await this.#options.queue.stillQueued(ids).catch(() => new Set(ids));
    for (const id of ids) {
      const waiter = this.#waiters.get(id);
      if (waiter === undefined) continue;
      if (!queued.has(id)) waiter.settle(true);
      else if (pass >= waiter.judgedFromPass && end !== 'busy') waiter.settle(false);
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : inspect(error);
}
