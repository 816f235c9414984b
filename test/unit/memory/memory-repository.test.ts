import { describe, expect, it, vi } from 'vitest';
import {
  DatabaseReplayQueue,
  type MemoryRepository,
} from '../../../src/memory/memory-repository.js';
import type { DatabaseHandle } from '../../../src/store/database.js';

/**
 * The replay queue's PGlite path, which the memory tests on PostgreSQL never take: PGlite is one
 * process's database, so the delivery runs on it directly, with no transaction held across the
 * call to the MCP server (test/memory/ proves the PostgreSQL path and its advisory lock).
 */
describe('DatabaseReplayQueue on PGlite', () => {
  it('delivers on the database itself: no transaction, no lock to take', async () => {
    const db = { name: 'pglite db' };
    const transaction = vi.fn();
    const repository = {
      oldest: vi.fn(async () => []),
      acknowledge: vi.fn(async () => undefined),
      recordFailure: vi.fn(async () => undefined),
    };
    const handle = { db, engine: 'pglite', transaction } as unknown as DatabaseHandle;
    const queue = new DatabaseReplayQueue(handle, repository as unknown as MemoryRepository);
    const outcome = await queue.withLock(async (locked) => {
      await locked.oldest(['k'], 5);
      await locked.acknowledge([1]);
      await locked.recordFailure([2], 'down');
      return 'drained';
    });
    expect(outcome).toEqual({ acquired: true, value: 'drained' });
    expect(transaction).not.toHaveBeenCalled();
    expect(repository.oldest).toHaveBeenCalledWith(db, ['k'], 5);
    expect(repository.acknowledge).toHaveBeenCalledWith(db, [1]);
    expect(repository.recordFailure).toHaveBeenCalledWith(db, [2], 'down');
  });
});
