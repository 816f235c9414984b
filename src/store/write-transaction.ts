import type { Actor } from '../domain/auth.js';
import type { EventDraft, LoggedEvent } from '../domain/event.js';
import type { AuditDraft } from './audit-repository.js';
import type { Executor, Statement, StatementRunner, TransactionRunner } from './database.js';
import { type AppendedRow, appendEventsAndCommit, toLoggedEvent } from './event-append.js';
import { actorValues } from './write-statement.js';

/**
 * Receives events once their transaction has committed, to deliver them live. An interface, so
 * the store runs writes without knowing the event bus behind it.
 */
export interface EventPublisher {
  publish(events: LoggedEvent[]): void;
}

/** Adds an event to the transaction in progress; it is logged at commit, after every row change. */
export type Emit = (draft: EventDraft) => void;

/**
 * What a change did, as the service that made it states it: every write is traceable to a key.
 * `resourceId` is null for a change to a singleton (the memory circuit).
 */
export type AuditRecord = Pick<AuditDraft, 'action' | 'resource' | 'resourceId'> & {
  changedFields?: string[] | null;
};

/** Adds an audit record to the transaction in progress. */
export type Audit = (record: AuditRecord) => void;

/** What writes need of the database: a transaction runner, and a runner of single statements. */
export interface WriteDatabase {
  transaction: TransactionRunner;
  statement: StatementRunner;
}

/**
 * Runs a write as one transaction that also appends the events it emitted and the audit records
 * of the actor who made it, so both exist if and only if the change committed; publishes the
 * events after the commit. Services (and the memory module) take it; it lives in the store so
 * that any layer above may run writes without importing another.
 */
export class WriteTransactions {
  constructor(
    private readonly database: WriteDatabase,
    private readonly publisher: EventPublisher,
  ) {}

  /** Runs `work` with the transaction, and the means to emit events and state audit records. */
  async run<T>(
    actor: Actor,
    work: (tx: Executor, emit: Emit, audit: Audit) => Promise<T>,
  ): Promise<T> {
    const { result, logged } = await this.database.transaction(async (tx, commitWith) => {
      const drafts: EventDraft[] = [];
      const records: AuditRecord[] = [];
      const result = await work(
        tx,
        (draft) => drafts.push(draft),
        (record) => records.push(record),
      );
      const audit = records.map((record) => auditDraft(actor, record));
      return { result, logged: await appendEventsAndCommit(commitWith, drafts, audit) };
    });
    this.publisher.publish(logged);
    return result;
  }

  /**
   * Runs a write built by writeStatementText() (write-statement.ts), which appends its own audit
   * records and events, as the actor; publishes the events it logged and returns the rest of its
   * one row.
   */
  async runStatement(actor: Actor, statement: Statement): Promise<Record<string, unknown>> {
    const values = [...actorValues(actor), ...statement.values];
    const [row] = await this.database.statement({ ...statement, values });
    const { logged_events: logged, ...result } = row!;
    this.publisher.publish((logged as AppendedRow[]).map(toLoggedEvent));
    return result;
  }

  /**
   * Runs a batch built by batchStatementText() (batch-statement.ts), which appends the audit
   * records and events of all its items; publishes the events and returns a row per item. A
   * failure to publish is a {@link PublishAfterCommitError}: the batch committed.
   */
  async runBatch(statement: Statement): Promise<BatchRow[]> {
    const rows = (await this.database.statement(statement)).map(({ event, ...row }) => ({
      ...row,
      event: event === null ? null : toLoggedEvent(event as AppendedRow),
    }));
    try {
      this.publisher.publish(rows.flatMap((row) => (row.event === null ? [] : [row.event])));
    } catch (error) {
      throw new PublishAfterCommitError(error);
    }
    return rows;
  }
}

/**
 * A write committed, then delivering its events live failed (a listener threw). The events are in
 * the log, where readers catch up; the write must not be run again.
 */
export class PublishAfterCommitError extends Error {
  override name = 'PublishAfterCommitError';
  constructor(cause: unknown) {
    super('the write committed; publishing its events failed', { cause });
  }
}

/** A row of a batch (batch-statement.ts): the item's own columns and its logged event, if any. */
export type BatchRow = Record<string, unknown> & { event: LoggedEvent | null };

function auditDraft(actor: Actor, record: AuditRecord): AuditDraft {
  return {
    ...record,
    changedFields: record.changedFields ?? null,
    keyId: actor.principal.keyId,
    ip: actor.ip,
    userAgent: actor.userAgent,
  };
}
