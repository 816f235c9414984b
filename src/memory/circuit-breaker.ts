/**
 * Circuit breaker that protects the shared MCP memory from a failing backend.
 *
 * While the backend keeps failing, callers are refused at once with
 * {@link BreakerOpenError} so they can use a fallback instead of piling up
 * requests that will time out. After a pause, single probe calls test whether
 * the backend recovered. See docs/circuit-breaker.md for the state machine and
 * why no library is used.
 */

import { withTimeout } from '../domain/timing.js';

/** Names of the three breaker states, as reported by the HTTP endpoint. */
export type BreakerStateName = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** Calls flow normally; consecutive failures are counted toward opening. */
export interface ClosedState {
  readonly name: 'CLOSED';
  readonly consecutiveFailures: number;
}

/** Calls are refused until `nextAttemptAt` (epoch milliseconds of the breaker clock). */
export interface OpenState {
  readonly name: 'OPEN';
  readonly openedAt: number;
  readonly nextAttemptAt: number;
}

/** One probe call at a time tests the backend; `successes` counts probes that succeeded. */
export interface HalfOpenState {
  readonly name: 'HALF_OPEN';
  readonly probeInFlight: boolean;
  readonly successes: number;
}

/** The breaker state; each variant carries only the data that state needs. */
export type BreakerState = ClosedState | OpenState | HalfOpenState;

/** Why a transition happened, so listeners can log or alert without reconstructing it. */
export type TransitionReason =
  'failure-threshold' | 'open-elapsed' | 'probe-failed' | 'probe-succeeded' | 'manual-reset';

/** One state change; `at` is epoch milliseconds of the breaker clock. */
export interface BreakerTransition {
  readonly from: BreakerStateName;
  readonly to: BreakerStateName;
  readonly at: number;
  readonly reason: TransitionReason;
}

/** Receives every transition exactly once, synchronously, right after the state changed. */
export type TransitionListener = (transition: BreakerTransition) => void;

/**
 * Tuning and test seams. The service's values come from the MEMORY_BREAKER_* settings, which
 * config.ts validates once; the breaker trusts them.
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures (while CLOSED) that open the breaker. Positive integer, default 5. */
  failureThreshold?: number;
  /**
   * How long the breaker stays OPEN before admitting a probe. Finite, at least 0, default 30 000.
   */
  openMs?: number;
  /** Successful probes needed to close again. Positive integer, default 2. */
  halfOpenSuccesses?: number;
  /** Clock in epoch milliseconds; inject one in tests. Defaults to `Date.now()`. */
  now?: () => number;
  /**
   * Recognises errors that are the caller's fault (such as validation errors). They are
   * rethrown unchanged but count neither as failure nor as success, and release a probe.
   * Timeouts always count as failures. An `isCallerError` that throws counts as a failure.
   */
  isCallerError?: (error: unknown) => boolean;
}

/** Per-call settings of {@link CircuitBreaker.execute}. */
export interface ExecuteOptions {
  /** Milliseconds before the call is abandoned; positive and at most 2 147 483 647 (config.ts). */
  readonly timeoutMs: number;
}

/**
 * Counters for `GET /api/v1/memory/circuit`. Totals cover calls started since the last
 * reset; timestamps are ISO strings, or null when the event never happened or the
 * current state has no such field.
 */
export interface CircuitSnapshot {
  state: BreakerStateName;
  failure_count: number;
  success_count: number;
  consecutive_failures: number;
  last_failure_at: string | null;
  last_success_at: string | null;
  opened_at: string | null;
  next_attempt_at: string | null;
  rejected_count: number;
}

/**
 * The breaker refused the call without running it: it is OPEN, or HALF_OPEN with its
 * single probe already in flight. Callers should use their fallback.
 */
export class BreakerOpenError extends Error {
  override readonly name = 'BreakerOpenError';
  readonly state: 'OPEN' | 'HALF_OPEN';
  /** When an OPEN breaker will admit a probe; null while a probe is in flight. */
  readonly nextAttemptAt: number | null;

  constructor(state: OpenState | HalfOpenState) {
    super(refusalMessage(state));
    this.state = state.name;
    this.nextAttemptAt = state.name === 'OPEN' ? state.nextAttemptAt : null;
  }
}

/** The call exceeded its `timeoutMs`; its signal was aborted and it counted as a failure. */
export class BreakerTimeoutError extends Error {
  override readonly name = 'BreakerTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`operation timed out after ${timeoutMs} ms`);
  }
}

type Outcome = 'success' | 'failure' | 'caller-error';

interface Totals {
  failures: number;
  successes: number;
  rejected: number;
  lastFailureAt: number | null;
  lastSuccessAt: number | null;
}

interface Subscription {
  readonly listener: TransitionListener;
}

/**
 * Consecutive-failure circuit breaker with lazy OPEN → HALF_OPEN, a single probe at a
 * time and generation tracking, so calls started before a transition cannot change the
 * state that followed it.
 */
export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #openMs: number;
  readonly #halfOpenSuccesses: number;
  readonly #now: () => number;
  readonly #isCallerError: (error: unknown) => boolean;
  readonly #subscriptions = new Set<Subscription>();
  #state: BreakerState = closed(0);
  #generation = 0;
  #firstCountedGeneration = 0;
  #totals: Totals = emptyTotals();

  constructor(options: CircuitBreakerOptions = {}) {
    this.#failureThreshold = options.failureThreshold ?? 5;
    this.#openMs = options.openMs ?? 30_000;
    this.#halfOpenSuccesses = options.halfOpenSuccesses ?? 2;
    this.#now = options.now ?? (() => Date.now());
    // Stryker disable next-line ArrowFunction: undefined is as falsy as false where it is tested
    this.#isCallerError = options.isCallerError ?? (() => false);
  }

  /**
   * Runs `operation` if the breaker admits it and records the outcome.
   *
   * Rejects with {@link BreakerOpenError} without calling `operation` when refused, with
   * {@link BreakerTimeoutError} (after aborting the signal) when `timeoutMs` elapses, and
   * otherwise settles like `operation`.
   */
  async execute<T>(
    operation: (signal: AbortSignal) => Promise<T>,
    options: ExecuteOptions,
  ): Promise<T> {
    const { timeoutMs } = options;
    const generation = this.#admit();
    try {
      const value = await withTimeout(
        operation,
        timeoutMs,
        () => new BreakerTimeoutError(timeoutMs),
      );
      this.#settle(generation, 'success');
      return value;
    } catch (error) {
      this.#settle(generation, this.#classify(error));
      throw error;
    }
  }

  /**
   * The current state. Like a call, a read at or after `nextAttemptAt` moves OPEN to
   * HALF_OPEN (emitting that transition), so the answer never claims OPEN when a call
   * made now would be admitted.
   */
  currentState(): BreakerState {
    return this.#refresh();
  }

  /** Counters for the HTTP endpoint; applies the same lazy check as {@link currentState}. */
  snapshot(): CircuitSnapshot {
    const state = this.#refresh();
    const totals = this.#totals;
    return {
      state: state.name,
      failure_count: totals.failures,
      success_count: totals.successes,
      consecutive_failures: state.name === 'CLOSED' ? state.consecutiveFailures : 0,
      last_failure_at: isoOrNull(totals.lastFailureAt),
      last_success_at: isoOrNull(totals.lastSuccessAt),
      opened_at: state.name === 'OPEN' ? iso(state.openedAt) : null,
      next_attempt_at: state.name === 'OPEN' ? iso(state.nextAttemptAt) : null,
      rejected_count: totals.rejected,
    };
  }

  /**
   * Subscribes to transitions. A listener that throws is ignored so the breaker and the
   * other listeners keep working. Returns an idempotent unsubscribe function.
   */
  onTransition(listener: TransitionListener): () => void {
    const subscription: Subscription = { listener };
    this.#subscriptions.add(subscription);
    return () => {
      this.#subscriptions.delete(subscription);
    };
  }

  /**
   * Operator override: forces CLOSED and zeroes every counter. Emits a `manual-reset`
   * transition only when the stored state was not already CLOSED. Calls still in flight
   * affect neither the state nor the totals afterwards.
   */
  reset(): void {
    this.#totals = emptyTotals();
    this.#firstCountedGeneration = this.#generation + 1;
    if (this.#state.name === 'CLOSED') {
      this.#enter(closed(0));
    } else {
      this.#transition(closed(0), this.#now(), 'manual-reset');
    }
  }

  #admit(): number {
    const state = this.#refresh();
    if (state.name === 'CLOSED') {
      return this.#generation;
    }
    if (state.name === 'HALF_OPEN' && !state.probeInFlight) {
      this.#state = halfOpen(true, state.successes);
      return this.#generation;
    }
    this.#totals.rejected += 1;
    throw new BreakerOpenError(state);
  }

  #refresh(): BreakerState {
    const state = this.#state;
    const at = this.#now();
    // Stryker disable next-line ConditionalExpression: only OPEN has a nextAttemptAt
    if (state.name === 'OPEN' && at >= state.nextAttemptAt) {
      this.#transition(halfOpen(false, 0), at, 'open-elapsed');
    }
    return this.#state;
  }

  #classify(error: unknown): Outcome {
    if (error instanceof BreakerTimeoutError) {
      return 'failure';
    }
    try {
      // Stryker disable next-line StringLiteral: any other outcome counts as a caller error
      return this.#isCallerError(error) ? 'caller-error' : 'failure';
    } catch {
      return 'failure';
    }
  }

  /**
   * Totals count every call started since the last reset; only the generation that admitted
   * the call may change the state. OPEN admits no calls, so it never matches a generation.
   */
  #settle(generation: number, outcome: Outcome): void {
    const at = this.#now();
    if (generation >= this.#firstCountedGeneration) {
      this.#count(outcome, at);
    }
    const state = this.#state;
    // Stryker disable next-line ConditionalExpression,StringLiteral: OPEN starts a new generation
    if (generation !== this.#generation || state.name === 'OPEN') {
      return;
    }
    if (state.name === 'HALF_OPEN') {
      this.#settleProbe(state, outcome, at);
    } else {
      this.#settleClosed(state, outcome, at);
    }
  }

  #count(outcome: Outcome, at: number): void {
    if (outcome === 'success') {
      this.#totals.successes += 1;
      this.#totals.lastSuccessAt = at;
    } else if (outcome === 'failure') {
      this.#totals.failures += 1;
      this.#totals.lastFailureAt = at;
    }
  }

  #settleClosed(state: ClosedState, outcome: Outcome, at: number): void {
    if (outcome === 'success') {
      this.#state = closed(0);
    } else if (outcome === 'failure') {
      this.#failWhileClosed(state.consecutiveFailures + 1, at);
    }
  }

  #failWhileClosed(consecutiveFailures: number, at: number): void {
    if (consecutiveFailures < this.#failureThreshold) {
      this.#state = closed(consecutiveFailures);
    } else {
      this.#transition(open(at, this.#openMs), at, 'failure-threshold');
    }
  }

  #settleProbe(state: HalfOpenState, outcome: Outcome, at: number): void {
    const successes = state.successes + (outcome === 'success' ? 1 : 0);
    if (outcome === 'failure') {
      this.#transition(open(at, this.#openMs), at, 'probe-failed');
    } else if (successes >= this.#halfOpenSuccesses) {
      this.#transition(closed(0), at, 'probe-succeeded');
    } else {
      this.#state = halfOpen(false, successes);
    }
  }

  #enter(next: BreakerState): void {
    this.#state = next;
    this.#generation += 1;
  }

  #transition(next: BreakerState, at: number, reason: TransitionReason): void {
    const transition = Object.freeze({ from: this.#state.name, to: next.name, at, reason });
    this.#enter(next);
    for (const subscription of [...this.#subscriptions]) {
      notify(subscription.listener, transition);
    }
  }
}

function notify(listener: TransitionListener, transition: BreakerTransition): void {
  try {
    listener(transition);
  } catch {
    // A faulty listener must not stop the breaker or starve the other listeners.
  }
}

function closed(consecutiveFailures: number): ClosedState {
  return Object.freeze({ name: 'CLOSED', consecutiveFailures });
}

function open(openedAt: number, openMs: number): OpenState {
  return Object.freeze({ name: 'OPEN', openedAt, nextAttemptAt: openedAt + openMs });
}

function halfOpen(probeInFlight: boolean, successes: number): HalfOpenState {
  return Object.freeze({ name: 'HALF_OPEN', probeInFlight, successes });
}

function emptyTotals(): Totals {
  return { failures: 0, successes: 0, rejected: 0, lastFailureAt: null, lastSuccessAt: null };
}

function iso(epochMilliseconds: number): string {
  return new Date(epochMilliseconds).toISOString();
}

function isoOrNull(epochMilliseconds: number | null): string | null {
  return epochMilliseconds === null ? null : iso(epochMilliseconds);
}

function refusalMessage(state: OpenState | HalfOpenState): string {
  return state.name === 'OPEN'
    ? `circuit breaker is OPEN until ${iso(state.nextAttemptAt)}`
    : 'circuit breaker is HALF_OPEN and its probe is in flight';
}
