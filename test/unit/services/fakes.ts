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
  };
  return {
    transaction,
    emitted,
    audited,
    writes: writes as unknown as WriteTransactions & typeof writes,
    db: { name: 'db' } as unknown as Database,
  };
}
