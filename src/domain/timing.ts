/**
 * The two timing rules the code base shares: how long to wait before trying again, and how long
 * to wait for an answer. Pure (no I/O, no Node API), so the published client can use them too.
 */

/**
 * Exponential backoff: attempt `n` waits `initialMs · factorⁿ`, capped at `maxMs`, minus a random
 * share of up to `jitter` of it. Taking jitter off (rather than adding it on both sides) keeps
 * every delay within the nominal schedule and the cap, so the worst case is the plain schedule,
 * while clients that lost their server together still spread out.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: how much of each delay is random (0.5: between 50 % and 100 % of the computed delay). */
  jitter: number;
}

/** 100 ms doubling to 10 s, each delay between half and all of its nominal value. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 100,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.5,
};

/** The delay before attempt `attempt` (0-based); `random` is injectable for tests. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}

/**
 * Runs `operation` with a signal that aborts after `timeoutMs`: the result rejects then with
 * `timeoutError()` (also the signal's reason), whether or not the operation heeds the signal,
 * and the timer never outlives the call.
 */
export async function withTimeout<T>(
  operation: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  timeoutError: () => Error,
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = timeoutError();
      reject(error);
      controller.abort(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([invoke(operation, controller.signal), expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `operation`, turning a synchronous throw into a rejection. */
async function invoke<T>(
  operation: (signal: AbortSignal) => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return operation(signal);
}
