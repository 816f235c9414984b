/**
 * Two instances sharing one PostgreSQL database and one graph file drain the same replay queue
 * at once. The advisory lock must make them deliver one batch at a time in id order: otherwise
 * server-memory, which rewrites its whole file on every change, loses entities, and an older
 * write of a key can land after a newer one.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DELIVERY_BATCH } from '../../src/memory/replay-worker.js';
import { MemoryRepository } from '../../src/memory/memory-repository.js';
import { memoryApi, readGraphDirectly, useMemoryTestBed, waitFor } from '../support/memory.js';

const bed = useMemoryTestBed();

describe('several instances on one database', () => {
  it('deliver a shared backlog exactly in order, whichever instance takes each row', async () => {
    const repository = new MemoryRepository();
    const total = MAX_DELIVERY_BATCH * 2 + 50;
    for (let version = 0; version < total; version += 1) {
      const entry = {
        key: `shared-${version % 6}`,
        content: `version ${version}`,
        tags: [],
        project_id: null,
        agent_id: null,
      };
      await bed.database.transaction(async (tx) => {
        await repository.save(tx, entry);
        await repository.enqueue(tx, entry);
      });
    }
    const settings = { MEMORY_BREAKER_OPEN_MS: '100' };
    const apps = await Promise.all([bed.app(settings), bed.app(settings)]);

    await waitFor(
      () => repository.queuedCount(bed.database.db),
      (count) => count === 0,
      15_000,
    );
    const latest = await readGraphDirectly(bed.graphPath, (server) =>
      server.search('shared-', { limit: 100 }),
    );
    expect(latest.map((entry) => `${entry.key}: ${entry.content}`).sort()).toEqual([
      'shared-0: version 246',
      'shared-1: version 247',
      'shared-2: version 248',
      'shared-3: version 249',
      'shared-4: version 244',
      'shared-5: version 245',
    ]);
    const circuits = await Promise.all(apps.map((app) => memoryApi(() => app).circuit()));
    expect(circuits.map((circuit) => circuit.state)).toEqual(['CLOSED', 'CLOSED']);
    // Three batches (100, 100, 50), each delivered once by whichever instance held the lock.
    expect(circuits.reduce((sum, circuit) => sum + circuit.success_count, 0)).toBe(3);
  });
});
