import { describe, expect, it } from 'vitest';
import { WriteBatcher } from '../../../src/store/write-batcher.js';

interface Write {
  key: string;
  value: number;
}

/** A batcher over a fake statement whose batches the test ends by hand. */
function setup(options: {
  maxInFlight?: number;
  maxSize?: number;
  fail?: (w: Write) => boolean;
  keyless?: boolean;
  retryable?: (error: unknown) => boolean;
}) {
  const batches: Write[][] = [];
  const pending: Array<() => void> = [];
  const batcher = new WriteBatcher<Write, number>({
    ...options,
    ...(options.keyless === true ? {} : { keyOf: (write: Write) => write.key }),
    run: (items) => {
      batches.push([...items]);
      return new Promise((resolve, reject) => {
        pending.push(() => {
          if (items.some((item) => options.fail?.(item) === true)) reject(new Error('constraint'));
          else resolve(items.map((item) => item.value * 10));
        });
      });
    },
  });
  /** Ends the oldest batch in flight and lets its answers arrive. */
  const endOne = async () => {
    pending.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batcher, batches, pending, endOne };
}

const write = (key: string, value = 1): Write => ({ key, value });

describe('WriteBatcher', () => {
  it('sends a write at once when nothing is in flight', async () => {
    const { batcher, batches, endOne } = setup({});
    const answer = batcher.submit(write('a', 4));
    expect(batches).toEqual([[write('a', 4)]]);
    await endOne();
    await expect(answer).resolves.toBe(40);
  });

  it('gathers the writes that arrive while the batches in flight run, and answers each', async () => {
    const { batcher, batches, endOne } = setup({ maxInFlight: 1 });
    const first = batcher.submit(write('a', 1));
    const others = [2, 3, 4].map((value) => batcher.submit(write(`k${value}`, value)));
    expect(batches).toHaveLength(1);
    await endOne();
    expect(batches[1]).toEqual([write('k2', 2), write('k3', 3), write('k4', 4)]);
    await endOne();
    await expect(first).resolves.toBe(10);
    await expect(Promise.all(others)).resolves.toEqual([20, 30, 40]);
  });

  it('keeps a batch to its size and the batches in flight to their number', async () => {
    const { batcher, batches, pending, endOne } = setup({ maxInFlight: 2, maxSize: 2 });
    const answers = [1, 2, 3, 4, 5, 6, 7].map((value) => batcher.submit(write(`k${value}`, value)));
    expect(batches.map((batch) => batch.length)).toEqual([1, 1]);
    expect(pending).toHaveLength(2);
    await endOne();
    expect(batches.map((batch) => batch.length)).toEqual([1, 1, 2]);
    while (pending.length > 0) await endOne();
    expect(batches.map((batch) => batch.length)).toEqual([1, 1, 2, 2, 1]);
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('never puts two writes of one key in a batch, and keeps their order', async () => {
    const { batcher, batches, endOne } = setup({ maxInFlight: 1 });
    void batcher.submit(write('busy'));
    const answers = [batcher.submit(write('a', 1)), batcher.submit(write('a', 2))];
    void batcher.submit(write('b', 3));
    await endOne();
    expect(batches[1]).toEqual([write('a', 1), write('b', 3)]);
    await endOne();
    expect(batches[2]).toEqual([write('a', 2)]);
    await endOne();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20]);
  });

  it('without keys, lets any writes share a batch', async () => {
    const { batcher, batches, endOne } = setup({ maxInFlight: 1, keyless: true });
    void batcher.submit(write('busy'));
    const answers = [1, 2, 3].map((value) => batcher.submit(write('same', value)));
    await endOne();
    expect(batches[1]).toHaveLength(3);
    await endOne();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30]);
  });

  it('fails every write of a batch that must not run again, without a rerun', async () => {
    const { batcher, batches, endOne } = setup({
      maxInFlight: 1,
      fail: (item) => item.value === 2,
      retryable: () => false,
    });
    void batcher.submit(write('busy', 0));
    const answers = Promise.allSettled(
      [1, 2].map((value) => batcher.submit(write(`k${value}`, value))),
    );
    await endOne();
    await endOne();
    expect(batches).toHaveLength(2);
    expect((await answers).map((answer) => answer.status)).toEqual(['rejected', 'rejected']);
  });

  it('runs a failed batch again write by write, so only the bad write fails', async () => {
    const { batcher, batches, pending, endOne } = setup({
      maxInFlight: 1,
      fail: (item) => item.value === 2,
    });
    void batcher.submit(write('busy', 0));
    const answers = Promise.allSettled(
      [1, 2, 3].map((value) => batcher.submit(write(`k${value}`, value))),
    );
    await endOne();
    await endOne();
    expect(batches.slice(2)).toEqual([[write('k1', 1)], [write('k2', 2)], [write('k3', 3)]]);
    while (pending.length > 0) await endOne();
    expect(await answers).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'rejected', reason: new Error('constraint') },
      { status: 'fulfilled', value: 30 },
    ]);
  });
});
