import type { EventDraft, LoggedEvent } from '../domain/event.js';
import type { EventLog } from '../events/event-log.js';
import type { Executor, TransactionRunner } from '../store/database.js';

/** Receives events once their transaction has committed, to deliver them live. */
export interface EventPublisher {
  publish(events: LoggedEvent[]): void;
}

/** Adds an event to the transaction in progress; it is logged at commit, after every row change. */
export type Emit = (draft: EventDraft) => void;

/**
 * Runs a write as one transaction that also appends the events it emitted, so an event exists
 * if and only if its change committed; publishes them after the commit.
 */
export class WriteTransactions {
  constructor(
    private readonly transaction: TransactionRunner,
    private readonly log: EventLog,
    private readonly publisher: EventPublisher,
  ) {}

  async run<T>(work: (tx: Executor, emit: Emit) => Promise<T>): Promise<T> {
    const { result, logged } = await this.transaction(async (tx) => {
      const drafts: EventDraft[] = [];
      const result = await work(tx, (draft) => drafts.push(draft));
      return { result, logged: await this.log.append(tx, drafts) };
    });
    this.publisher.publish(logged);
    return result;
  }
}
