import type { Logger } from '../domain/logger.js';
import type { Retention } from '../config.js';
import type { Database } from '../store/database.js';
import type { EventLog } from './event-log.js';

/** Something the pruner can report to. */
export type PrunerLogger = Pick<Logger, 'info' | 'warn'>;

/**
 * Prunes the event log in the background every `intervalMs`. A failed round is logged and
 * retried at the next tick; the timer is unref'd so it never keeps the process alive.
 */
export class EventPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly log: EventLog,
    private readonly retention: Retention,
    private readonly intervalMs: number,
    private readonly logger: PrunerLogger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.pruneOnce(), this.intervalMs).unref();
  }

  /** Stops the timer and waits for a round in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pruning round; rounds never overlap. */
  pruneOnce(): Promise<void> {
    this.running ??= this.prune().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async prune(): Promise<void> {
    try {
      const deleted = await this.log.prune(this.db, this.retention);
      if (deleted > 0) this.logger.info({ deleted }, 'pruned the event log');
    } catch (error) {
      this.logger.warn({ err: error }, 'event log pruning failed; retrying at the next interval');
    }
  }
}
