import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../../src/tasks/backoff.js';

const backoff = { base_ms: 1_000, max_ms: 10_000 };

describe('retryDelay', () => {
  it('doubles from base_ms per failure and stops at max_ms (no jitter at random = 0)', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((failures) => retryDelay(failures, backoff, () => 0));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  it('keeps at least half of the nominal delay whatever the jitter', () => {
    expect(retryDelay(3, backoff, () => 1)).toBe(2_000);
    expect(retryDelay(3, backoff, () => 0.5)).toBe(3_000);
  });

  it('spreads the retries of tasks that failed together', () => {
    const values = [0.1, 0.4, 0.9].map((random) => retryDelay(2, backoff, () => random));
    expect(new Set(values).size).toBe(3);
    for (const value of values) expect(value).toBeGreaterThanOrEqual(1_000);
    for (const value of values) expect(value).toBeLessThanOrEqual(2_000);
  });

  it('does not overflow on very many failures, and is 0 with a zero base', () => {
    expect(retryDelay(10_000, backoff, () => 0)).toBe(10_000);
    expect(retryDelay(10_000, { base_ms: 0, max_ms: 0 }, () => 0)).toBe(0);
  });
});
