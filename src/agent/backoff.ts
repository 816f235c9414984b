import { ApiError } from '../client/rest-client.js';

/** How retries wait: exponential from `baseMs`, capped at `maxMs`, with full jitter. */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** A number in [0, 1); `Math.random` unless a test fixes it. */
  random?: () => number;
}

/** The default: 200 ms, doubling up to 10 s. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 200, maxMs: 10_000 };

/**
 * The wait before retry number `attempt` (0-based): a random share of the capped exponential.
 * Full jitter, so that a fleet of runners that lost the service at the same moment does not
 * come back in lockstep and knock it over again.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

/**
 * True for a failure that may pass: the service unreachable (fetch's TypeError), overloaded
 * (429) or failing (5xx). A 4xx other than 429 is an answer, and asking again changes nothing.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return error.status === 429 || error.status >= 500;
  return error instanceof TypeError;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Options of {@link retrying}. */
export interface RetryOptions {
  policy?: RetryPolicy;
  /** Stops retrying (the last error is thrown) once aborted. */
  signal?: AbortSignal;
  /** Told about each transient failure before the wait. */
  onRetry?: (error: unknown, delayMs: number) => void;
}

/**
 * Calls `call` until it succeeds or fails for good ({@link isTransient}), waiting between tries.
 */
export async function retrying<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error) || options.signal?.aborted === true) throw error;
      const delay = backoffDelay(attempt, policy);
      options.onRetry?.(error, delay);
      await sleep(delay, options.signal);
    }
  }
}
