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
  onError?: (error: unknown) => void;
}

/**
 * Turns bus messages (hints that arrive in any order, possibly twice, possibly never) into one
 * gapless, ordered stream per instance. It keeps a cursor — the last id delivered — and delivers
 * a batch straight away only when it continues the cursor; on any gap it reads the log after the
 * cursor. Because ids are assigned in commit order, the log holds every event below the newest
 * one a message announced.
 */
export class EventDispatcher {
  private cursor = 0;
  private readonly listeners = new Set<DispatchListener>();
  private catchingUp = false;
  private catchUpAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly batchSize: number;

  constructor(
    private readonly db: Database,
    private readonly log: EventLog,
    private readonly bus: EventBus,
    private readonly options: DispatcherOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
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
    }
  }

  private receive(events: LoggedEvent[]): void {
    const fresh = events.filter((event) => event.id > this.cursor);
    if (fresh.length === 0) return;
    if (this.catchingUp || !this.continuesCursor(fresh)) {
      void this.catchUp();
      return;
    }
    fresh.forEach((event) => this.deliver(event));
  }

  private continuesCursor(events: LoggedEvent[]): boolean {
    return events.every((event, index) => event.id === this.cursor + index + 1);
  }

  private async drainLog(): Promise<void> {
    for (;;) {
      const events = await this.log.readAfter(this.db, this.cursor, null, this.batchSize);
      events.forEach((event) => this.deliver(event));
      if (events.length < this.batchSize) return;
    }
  }

  private deliver(event: LoggedEvent): void {
    if (event.id <= this.cursor) return;
    this.cursor = event.id;
    for (const listener of this.listeners) listener(event);
  }
}
