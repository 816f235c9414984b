import { backoffDelay } from '../domain/timing.js';
import type { Backoff } from '../domain/task.js';

/**
 * How long to wait before attempt `failures + 1` after `failures` failed ones: the shared
 * backoff of `domain/timing.ts`, doubling from `base_ms` per failure and capped at `max_ms`, with
 * half of each delay random, so retries of many tasks that failed together spread out, yet
 * never come back sooner than half the nominal delay. `random` is injectable for tests.
 */
export function retryDelay(
  failures: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  const attempt = Math.min(Math.max(failures - 1, 0), 30);
  const options = { initialMs: backoff.base_ms, maxMs: backoff.max_ms, factor: 2, jitter: 0.5 };
  return backoffDelay(attempt, options, random);
}
