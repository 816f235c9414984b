import type { Actor } from '../domain/auth.js';
import type { EventDraft, LoggedEvent } from '../domain/event.js';
import type { EventLog } from '../events/event-log.js';
import type { AuditDraft } from '../store/audit-repository.js';
import type { Executor, TransactionRunner } from '../store/database.js';

/** Receives events once their transaction has committed, to deliver them live. */
export interface EventPublisher {
  publish(events: LoggedEvent[]): void;
}

/** Adds an event to the transaction in progress; it is logged at commit, after every row change. */
export type Emit = (draft: EventDraft) => void;

/** An audit record for a change that has no event of its own (key management, circuit reset). */
export type AuditRecord = Pick<AuditDraft, 'action' | 'resource' | 'resourceId'> & {
  changedFields?: string[] | null;
};

/** Adds an audit record to the transaction in progress. */
export type Audit = (record: AuditRecord) => void;

const auditActions: Partial<Record<EventDraft['type'], string>> = {
  PROJECT_CREATED: 'create',
  PROJECT_UPDATE: 'update',
  PROJECT_DELETED: 'delete',
  AGENT_CREATED: 'create',
  AGENT_UPDATE: 'update',
  AGENT_STATUS: 'status',
  AGENT_DELETED: 'delete',
};

/** The audit record of a resource event: every change to a project or an agent is traceable to a key. */
export function auditRecordOf(draft: EventDraft): AuditRecord | null {
  const action = auditActions[draft.type];
  if (action === undefined) return null;
  const [resource, resourceId] = draft.topic.split(':') as [string, string];
  const changed = draft.data.changed_fields;
  return {
    action,
    resource,
    resourceId,
    changedFields: Array.isArray(changed) ? (changed as string[]) : null,
  };
}

/**
 * Runs a write as one transaction that also appends the events it emitted and the audit records
 * of the actor who made it, so both exist if and only if the change committed; publishes the
 * events after the commit.
 */
export class WriteTransactions {
  constructor(
    private readonly transaction: TransactionRunner,
    private readonly log: EventLog,
    private readonly publisher: EventPublisher,
  ) {}

  async run<T>(
    actor: Actor,
    work: (tx: Executor, emit: Emit, audit: Audit) => Promise<T>,
  ): Promise<T> {
    const { result, logged } = await this.transaction(async (tx) => {
      const drafts: EventDraft[] = [];
      const records: AuditRecord[] = [];
      const result = await work(
        tx,
        (draft) => drafts.push(draft),
        (record) => records.push(record),
      );
      const derived = drafts
        .map(auditRecordOf)
        .filter((record): record is AuditRecord => record !== null);
      const audit = [...derived, ...records].map((record) => this.draftOf(actor, record));
      return { result, logged: await this.log.append(tx, drafts, audit) };
    });
    this.publisher.publish(logged);
    return result;
  }

  private draftOf(actor: Actor, record: AuditRecord): AuditDraft {
    return {
      ...record,
      changedFields: record.changedFields ?? null,
      keyId: actor.principal.keyId,
      ip: actor.ip,
      userAgent: actor.userAgent,
    };
  }
}
