import type { LoggedEvent } from '../domain/event.js';
import type { Database } from '../store/database.js';
import type { EventBus } from './event-bus.js';
import type { EventLog } from './event-log.js';

/** Receives every committed event exactly once, in id order. */
export type DispatchListener = (event: LoggedEvent) => void;

/** Options of {@link EventDispatcher}; `pollMs` is EVENT_POLL_MS, validated by config.ts. */
export interface DispatcherOptions {
  /**
   * How often the log is read even without a bus message, so a lost message delays but never loses
   * an event.
   */
  pollMs: number;
  batchSize?: number;
  /**
   * How long an event that arrived before one with a lower id waits for it before the log is
   * read (default {@link GAP_WAIT_MS}).
   */
  gapWaitMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Concurrent writes commit in one order and announce their events in another, a few
 * microseconds to milliseconds apart; this is how long an early event waits for the ones before
 * it before the dispatcher reads them from the log instead.
 */
export const GAP_WAIT_MS = 50;

/**
 * Turns bus messages (hints that arrive in any order, possibly twice, possibly never) into one
 * gapless, ordered stream per instance. It keeps a cursor — the last id delivered — and delivers
 * every event that continues it. An event that arrives early waits, with the others past the
 * gap, until the missing ones are announced too; when they are not within `gapWaitMs` (a lost
 * message, a write of a process without a bus), or a batch of events waits, it reads the log
 * after the cursor. Because ids are assigned in commit order, the log holds every event below the
 * newest one a message announced. Under concurrent writes, waiting saves a read of the log per
 * write (bench/README.md, `writes`).
 */
export class EventDispatcher {
  private cursor = 0;
  private readonly listeners = new Set<DispatchListener>();
  private catchingUp = false;
  // Stryker disable next-line BooleanLiteral: each round clears it before it reads the log
  private catchUpAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly batchSize: number;
  private readonly gapWaitMs: number;
  /** Events past a gap, by id, waiting for the ones before them. */
  private readonly early = new Map<number, LoggedEvent>();
  private gapTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly log: EventLog,
    private readonly bus: EventBus,
    private readonly options: DispatcherOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.gapWaitMs = options.gapWaitMs ?? GAP_WAIT_MS;
  }

  /** The id of the last event delivered to listeners. */
  get lastDeliveredId(): number {
    return this.cursor;
  }

  /**
   * Starts from the newest event in the log: history is served by replays, not by the dispatcher.
   */
  async start(): Promise<void> {
    this.cursor = await this.log.latestId(this.db);
    this.unsubscribe = this.bus.subscribe((events) => this.receive(events));
    this.pollTimer = setInterval(() => void this.catchUp(), this.options.pollMs);
  }

  stop(): void {
    clearInterval(this.pollTimer);
    clearTimeout(this.gapTimer);
    this.early.clear();
    this.unsubscribe?.();
    this.listeners.clear();
  }

  subscribe(listener: DispatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the log after the cursor until it is exhausted; concurrent calls coalesce into one more
   * round.
   */
  async catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = true;
    try {
      do {
        this.catchUpAgain = false;
        await this.drainLog();
      } while (this.catchUpAgain);
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.catchingUp = false;
      this.deliverEarly(false);
    }
  }

  private receive(events: LoggedEvent[]): void {
    // Stryker disable next-line all: stale ids would be pruned by deliverEarly anyway
    const fresh = events.filter((event) => event.id > this.cursor);
    // Stryker disable next-line ConditionalExpression: an empty batch has nothing to deliver
    if (fresh.length === 0) return;
    // Stryker disable next-line ConditionalExpression: delivered from memory instead, in order too
    if (this.catchingUp) return void this.catchUp(); // the catch-up reads these too
    for (const event of fresh) this.early.set(event.id, event);
    this.deliverEarly(true);
  }

  /**
   * Delivers the waiting events that continue the cursor and watches the gap before the rest:
   * the log is read when the gap outlasts the wait, or at once (`readNow`, not after a read that
   * just failed or came short) when a batch waits.
   */
  private deliverEarly(readNow: boolean): void {
    for (let next = this.early.get(this.cursor + 1); next; next = this.early.get(this.cursor + 1))
      this.deliver(next);
    for (const id of this.early.keys()) if (id <= this.cursor) this.early.delete(id);
    if (this.early.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    } else if (readNow && this.early.size >= this.batchSize) {
      void this.catchUp();
    } else {
      this.gapTimer ??= setTimeout(() => {
        this.gapTimer = undefined;
        void this.catchUp();
      }, this.gapWaitMs);
    }
  }

  private async drainLog(): Promise<void> {
    for (;;) {
      const events = await this.log.readAfter(this.db, this.cursor, null, this.batchSize);
      events.forEach((event) => this.deliver(event));
      if (events.length < this.batchSize) return;
    }
  }

  private deliver(event: LoggedEvent): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: callers pass newer ids only
    if (event.id <= this.cursor) return;
    this.cursor = event.id;
    for (const listener of this.listeners) listener(event);
  }
}
