import { describe, expect, it, vi } from 'vitest';
import type { LoggedEvent } from '../../../src/domain/event.js';
import {
  PublishAfterCommitError,
  WriteTransactions,
} from '../../../src/store/write-transaction.js';

const appended = {
  id: '7',
  type: 'PROJECT_UPDATE',
  topic: 'project:p',
  topics: ['projects', 'project:p'],
  data: { project: { id: 'p' } },
  created_at: '2026-12-03T10:00:00.000Z',
};

/** Writes over a database whose every statement answers `rows`. */
function writesAnswering(
  rows: Array<Record<string, unknown>>,
  publish: (e: LoggedEvent[]) => void,
) {
  const database = { transaction: vi.fn(), statement: vi.fn(async () => rows) };
  return new WriteTransactions(database, { publish });
}

describe('WriteTransactions.runBatch', () => {
  it('publishes the logged events of the batch and answers a row per item', async () => {
    const published: LoggedEvent[][] = [];
    const writes = writesAnswering(
      [
        { n: 1, current_version: 3, event: appended },
        { n: 2, current_version: null, event: null },
      ],
      (events) => published.push(events),
    );
    const rows = await writes.runBatch({ name: 'batch', text: '', values: [] });
    expect(rows.map((row) => row.event?.id ?? null)).toEqual([7, null]);
    expect(published).toEqual([[rows[0]!.event]]);
  });

  it('says the batch committed when publishing its events fails', async () => {
    const failure = new Error('a listener threw');
    const writes = writesAnswering([{ n: 1, event: appended }], () => {
      throw failure;
    });
    const run = writes.runBatch({ name: 'batch', text: '', values: [] });
    await expect(run).rejects.toBeInstanceOf(PublishAfterCommitError);
    // What the log shows of it: the write must not be run again.
    await expect(run).rejects.toMatchObject({
      name: 'PublishAfterCommitError',
      message: 'the write committed; publishing its events failed',
      cause: failure,
    });
  });
});
