import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SerialWriteQueue } from '../../../src/memory/mcp-write-queue.js';

/**
 * server-memory loses one of two concurrent writes, so every write of a client waits for the one
 * before it to settle, in call order, whatever the outcome or an abort of a waiting caller.
 * Deferred promises instead of timers: the test decides when each write finishes.
 */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise run its reactions. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A queue and a log of the writes it started, in order. */
function recordingQueue() {
  const queue = new SerialWriteQueue();
  const started: string[] = [];
  const write =
    <T>(name: string, outcome: Promise<T>) =>
    () => {
      started.push(name);
      return outcome;
    };
  return { queue, started, write };
}

describe('SerialWriteQueue', () => {
  it('starts a write only once the one before it has finished, and returns its result', async () => {
    const { queue, started, write } = recordingQueue();
    const first = deferred<string>();
    const one = queue.run(write('first', first.promise));
    const two = queue.run(write('second', Promise.resolve('second done')));
    const three = queue.run(write('third', Promise.resolve('third done')));
    await settle();
    expect(started).toEqual(['first']);
    first.resolve('first done');
    expect(await Promise.all([one, two, three])).toEqual([
      'first done',
      'second done',
      'third done',
    ]);
    expect(started).toEqual(['first', 'second', 'third']);
  });

  it('goes on after a failed write: its caller gets the error, the next write runs', async () => {
    const { queue, started, write } = recordingQueue();
    const failing = deferred();
    const one = queue.run(write('failing', failing.promise));
    const two = queue.run(write('next', Promise.resolve('next done')));
    await settle();
    expect(started).toEqual(['failing']);
    failing.reject(new Error('server gone'));
    await expect(one).rejects.toThrow('server gone');
    expect(await two).toBe('next done');
    expect(started).toEqual(['failing', 'next']);
  });

  it('rejects a write whose signal is already aborted without running it', async () => {
    const { queue, started, write } = recordingQueue();
    const reason = new Error('caller gave up');
    await expect(
      queue.run(write('aborted', Promise.resolve()), AbortSignal.abort(reason)),
    ).rejects.toBe(reason);
    expect(await queue.run(write('next', Promise.resolve('next done')))).toBe('next done');
    expect(started).toEqual(['next']);
  });

  it('rejects a waiting write as soon as its signal aborts, yet keeps later writes in order', async () => {
    const { queue, started, write } = recordingQueue();
    const first = deferred();
    const controller = new AbortController();
    const one = queue.run(write('first', first.promise));
    const waiting = queue.run(write('abandoned', Promise.resolve()), controller.signal);
    const later = queue.run(write('later', Promise.resolve('later done')));
    const reason = new Error('request timed out');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await settle();
    // The abandoned write's slot is released only when the first write settles.
    expect(started).toEqual(['first']);
    first.resolve();
    await one;
    expect(await later).toBe('later done');
    expect(started).toEqual(['first', 'later']);
  });

  it('runs a write with a live signal after its predecessor and leaves no listener on it', async () => {
    const { queue, started, write } = recordingQueue();
    const first = deferred();
    // One long-lived signal (a shutdown signal, say) shared by many writes.
    const controller = new AbortController();
    const one = queue.run(write('first', first.promise), controller.signal);
    const two = queue.run(write('second', Promise.resolve('second done')), controller.signal);
    await settle();
    expect(started).toEqual(['first']);
    first.resolve();
    await one;
    expect(await two).toBe('second done');
    expect(started).toEqual(['first', 'second']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
