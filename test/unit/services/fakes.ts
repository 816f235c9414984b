import { vi } from 'vitest';
import type { EventDraft } from '../../../src/domain/event.js';
import type { Database } from '../../../src/store/database.js';
import type { AuditRecord, WriteTransactions } from '../../../src/store/write-transaction.js';

/**
 * A transaction token the fakes hand to repositories, and the events and audit records of a write.
 */
export function fakeWrites() {
  const transaction = { name: 'tx' };
  const emitted: EventDraft[] = [];
  const audited: AuditRecord[] = [];
  const writes = {
    run: vi.fn(
      async (
        _actor: unknown,
        work: (
          tx: unknown,
          emit: (draft: EventDraft) => void,
          audit: (record: AuditRecord) => void,
        ) => unknown,
      ) =>
        work(
          transaction,
          (draft) => emitted.push(draft),
          (record) => audited.push(record),
        ),
    ),
    /** A one-statement write: answers the row the test sets (nothing changed by default). */
    runStatement: vi.fn(async (_actor: unknown, _statement: unknown) => statementRow),
    /** A batch: answers the row the test sets for each item (its first parameter's entries). */
    runBatch: vi.fn(async (statement: { values: unknown[] }) =>
      (statement.values[0] as unknown[]).map(() => batchRow),
    ),
  };
  let statementRow: Record<string, unknown> = {};
  let batchRow: Record<string, unknown> = { event: null };
  return {
    /** Sets the row the next one-statement writes answer. */
    answerStatements: (row: Record<string, unknown>) => void (statementRow = row),
    /** Sets the row each item of the next batches answers. */
    answerBatches: (row: Record<string, unknown>) => void (batchRow = row),
    transaction,
    emitted,
    audited,
    writes: writes as unknown as WriteTransactions & typeof writes,
    db: { name: 'db' } as unknown as Database,
  };
}
