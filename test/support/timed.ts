import { expect } from 'vitest';

/** How a call settled, and how long it took. */
export interface Timed<T> {
  outcome: PromiseSettledResult<T>;
  ms: number;
}

/** Runs `start` and measures it, whether it resolves or rejects. */
export async function timed<T>(start: () => Promise<T>): Promise<Timed<T>> {
  // The clock starts before the call, so a deadline made inside it (AbortSignal.timeout) never runs
  // ahead.
  const startedAt = performance.now();
  const [outcome] = await Promise.allSettled([start()]);
  return { outcome: outcome as PromiseSettledResult<T>, ms: performance.now() - startedAt };
}

/** The value of a call that must have resolved. */
export function fulfillment<T>(result: Timed<T>): T {
  expect(result.outcome.status, String((result.outcome as { reason?: unknown }).reason)).toBe(
    'fulfilled',
  );
  return (result.outcome as PromiseFulfilledResult<T>).value;
}

/** The reason of a call that must have rejected. */
export function rejection(result: Timed<unknown>): unknown {
  expect(result.outcome.status).toBe('rejected');
  return (result.outcome as PromiseRejectedResult).reason;
}
