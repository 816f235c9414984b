import type { Backoff } from '../domain/task.js';

/**
 * How long to wait before attempt `failures + 1` after `failures` failed ones: exponential from
 * `base_ms` (doubling per failure), capped at `max_ms`, with "equal jitter" — half the delay is
 * fixed, half random — so retries of many tasks that failed together spread out, yet never come
 * back sooner than half the nominal delay. `random` is injectable for tests.
 */
export function retryDelay(
  failures: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const nominal = Math.min(backoff.max_ms, backoff.base_ms * 2 ** exponent);
  const half = nominal / 2;
  return Math.round(half + random() * half);
}
