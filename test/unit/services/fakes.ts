import { vi } from 'vitest';
import type { EventDraft } from '../../../src/domain/event.js';
import type { Database } from '../../../src/store/database.js';
import type { WriteTransactions } from '../../../src/services/write-transaction.js';

/** A transaction token the fakes hand to repositories, and the events a write emitted. */
export function fakeWrites() {
  const transaction = { name: 'tx' };
  const emitted: EventDraft[] = [];
  const writes = {
    run: vi.fn(
      async (
        _actor: unknown,
        work: (tx: unknown, emit: (draft: EventDraft) => void, audit: () => void) => unknown,
      ) =>
        work(
          transaction,
          (draft) => emitted.push(draft),
          () => undefined,
        ),
    ),
  };
  return {
    transaction,
    emitted,
    writes: writes as unknown as WriteTransactions & typeof writes,
    db: { name: 'db' } as unknown as Database,
  };
}
