import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay, withTimeout } from '../../../src/domain/timing.js';
import { DEFAULT_RECONNECT_BACKOFF } from '../../../src/memory/mcp-connection.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with jitter taking off up to its share', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, options, () => 0))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay(2, options, () => 1)).toBe(200);
    expect(backoffDelay(20, options, () => 0.5)).toBe(750);
  });

  it('gives the event stream 100 ms doubling to 10 s, and the MCP client 100 ms doubling to 5 s', () => {
    const nominal = (attempt: number) => backoffDelay(attempt, DEFAULT_BACKOFF, () => 0);
    expect([0, 1, 7, 8].map(nominal)).toEqual([100, 200, 10_000, 10_000]);
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 1)).toBe(50);
    const memory = (attempt: number) => backoffDelay(attempt, DEFAULT_RECONNECT_BACKOFF, () => 0);
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(memory)).toEqual([
      100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000,
    ]);
    expect(backoffDelay(0, DEFAULT_RECONNECT_BACKOFF, () => 1)).toBe(80);
  });
});

describe('withTimeout', () => {
  const expired = () => new Error('too slow');

  it('settles like the operation when it answers in time, and leaves no timer', async () => {
    vi.useFakeTimers();
    await expect(withTimeout(async () => 'answer', 100, expired)).resolves.toBe('answer');
    await expect(withTimeout(() => Promise.reject(new Error('no')), 100, expired)).rejects.toThrow(
      'no',
    );
    const thrown = () => {
      throw new Error('at once');
    };
    await expect(withTimeout(thrown, 100, expired)).rejects.toThrow('at once');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the timeout error when the time is up, and aborts the signal with it', async () => {
    vi.useFakeTimers();
    let seen: AbortSignal | undefined;
    const pending = withTimeout(
      (signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      },
      100,
      expired,
    );
    const outcome = expect(pending).rejects.toThrow('too slow');
    await vi.advanceTimersByTimeAsync(99);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(seen?.reason).toEqual(new Error('too slow'));
  });
});
