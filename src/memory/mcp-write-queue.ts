/**
 * Runs tasks one at a time, in call order.
 *
 * server-memory implements every mutation as "read the whole JSONL file,
 * modify, write it back" with no locking, so two concurrent writes lose one
 * of them (measured: 25 concurrent create_entities calls left 1 entity).
 * All mutating tool calls of a client therefore go through one queue.
 */
export class SerialWriteQueue {
  private tail: Promise<void> = Promise.resolve();

  /**
   * Runs `task` after every previously queued task has settled.
   *
   * An aborted `signal` rejects the wait immediately, but the queue slot is
   * only released once the predecessor settles, so ordering is never broken.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const predecessor = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await waitUnlessAborted(predecessor, signal);
      return await task();
    } finally {
      void predecessor.then(release);
    }
  }
}

/** Resolves with `promise`, or rejects with `signal.reason` as soon as the signal aborts. */
function waitUnlessAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) {
    return promise;
  }
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: a signal aborts only once
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
