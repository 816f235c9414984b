import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  BreakerOpenError,
  BreakerTimeoutError,
  CircuitBreaker,
  type BreakerTransition,
  type CircuitBreakerOptions,
} from '../../../src/memory/circuit-breaker.js';

/** The snapshot of a breaker that has seen nothing since its start or its last reset. */
const emptySnapshot = {
  state: 'CLOSED',
  failure_count: 0,
  success_count: 0,
  consecutive_failures: 0,
  last_failure_at: null,
  last_success_at: null,
  opened_at: null,
  next_attempt_at: null,
  rejected_count: 0,
};

const START = Date.UTC(2026, 0, 1);
const CALL = { timeoutMs: 1_000 };

class ValidationError extends Error {}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T = string>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

function manualClock(): { now: () => number; advance: (milliseconds: number) => void } {
  let current = START;
  return {
    now: () => current,
    advance: (milliseconds) => {
      current += milliseconds;
    },
  };
}

const succeed = (): Promise<string> => Promise.resolve('ok');
const fail = (): Promise<string> => Promise.reject(new Error('backend down'));
const rejectAsCaller = (): Promise<string> => Promise.reject(new ValidationError('bad input'));

function setup(options: CircuitBreakerOptions = {}) {
  const clock = manualClock();
  const breaker = new CircuitBreaker({
    failureThreshold: 3,
    openMs: 10_000,
    halfOpenSuccesses: 2,
    now: clock.now,
    isCallerError: (error) => error instanceof ValidationError,
    ...options,
  });
  const transitions: BreakerTransition[] = [];
  breaker.onTransition((transition) => transitions.push(transition));
  return { breaker, clock, transitions };
}

async function failTimes(breaker: CircuitBreaker, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await expect(breaker.execute(fail, CALL)).rejects.toThrow('backend down');
  }
}

async function succeedTimes(breaker: CircuitBreaker, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await expect(breaker.execute(succeed, CALL)).resolves.toBe('ok');
  }
}

async function openedAndElapsed() {
  const context = setup();
  await failTimes(context.breaker, 3);
  context.clock.advance(10_000);
  return context;
}

function route(transition: BreakerTransition): string {
  return `${transition.from}->${transition.to}`;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(START);
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('constructor', () => {
  it('accepts openMs = 0, which admits a probe on the first call after opening', async () => {
    const { breaker } = setup({ openMs: 0 });
    await failTimes(breaker, 3);
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: false,
      successes: 0,
    });
  });

  it('defaults to 5 failures, 30 s open, 2 probe successes and Date.now()', async () => {
    const breaker = new CircuitBreaker();
    await failTimes(breaker, 4);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 4 });
    await failTimes(breaker, 1);
    expect(breaker.currentState()).toEqual({
      name: 'OPEN',
      openedAt: START,
      nextAttemptAt: START + 30_000,
    });
    vi.setSystemTime(START + 30_000);
    await succeedTimes(breaker, 1);
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: false,
      successes: 1,
    });
    await succeedTimes(breaker, 1);
    expect(breaker.currentState().name).toBe('CLOSED');
  });

  it('counts every error as a failure when isCallerError is not given', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    await expect(breaker.execute(rejectAsCaller, CALL)).rejects.toThrow(ValidationError);
    expect(breaker.currentState().name).toBe('OPEN');
  });
});

describe('execute', () => {
  it('resolves with the result and hands the operation a live AbortSignal', async () => {
    const { breaker } = setup();
    const operation = vi.fn((signal: AbortSignal) => Promise.resolve(signal.aborted));
    await expect(breaker.execute(operation, CALL)).resolves.toBe(false);
    expect(operation).toHaveBeenCalledOnce();
  });

  it('counts an operation that throws synchronously as a failure', async () => {
    const { breaker } = setup();
    const operation = (): Promise<string> => {
      throw new Error('sync boom');
    };
    await expect(breaker.execute(operation, CALL)).rejects.toThrow('sync boom');
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 1 });
  });
});

describe('CLOSED', () => {
  it('opens after failureThreshold consecutive failures and emits one transition', async () => {
    const { breaker, transitions } = setup();
    await failTimes(breaker, 2);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 2 });
    expect(transitions).toEqual([]);
    await failTimes(breaker, 1);
    expect(breaker.currentState()).toEqual({
      name: 'OPEN',
      openedAt: START,
      nextAttemptAt: START + 10_000,
    });
    expect(transitions).toEqual([
      { from: 'CLOSED', to: 'OPEN', at: START, reason: 'failure-threshold' },
    ]);
  });

  it('restarts the consecutive count after a success', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 2);
    await succeedTimes(breaker, 1);
    await failTimes(breaker, 2);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 2 });
  });

  it('does not count caller errors, neither as failures nor as successes', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 2);
    for (let index = 0; index < 5; index += 1) {
      await expect(breaker.execute(rejectAsCaller, CALL)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 2 });
    expect(breaker.snapshot()).toMatchObject({ failure_count: 2, success_count: 0 });
  });

  it('counts a throwing isCallerError as a failure', async () => {
    const { breaker } = setup({
      isCallerError: () => {
        throw new Error('classifier bug');
      },
    });
    await expect(breaker.execute(rejectAsCaller, CALL)).rejects.toBeInstanceOf(ValidationError);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 1 });
  });
});

describe('OPEN', () => {
  it('refuses calls with BreakerOpenError without running them, and counts refusals', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 3);
    const operation = vi.fn(succeed);
    const refusal = breaker.execute(operation, CALL);
    await expect(refusal).rejects.toBeInstanceOf(BreakerOpenError);
    await expect(refusal).rejects.toMatchObject({
      name: 'BreakerOpenError',
      state: 'OPEN',
      nextAttemptAt: START + 10_000,
      message: `circuit breaker is OPEN until ${new Date(START + 10_000).toISOString()}`,
    });
    expect(operation).not.toHaveBeenCalled();
    expect(breaker.snapshot().rejected_count).toBe(1);
  });

  it('holds no timer while open', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 3);
    expect(breaker.currentState().name).toBe('OPEN');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves to HALF_OPEN only when a call arrives at or after nextAttemptAt', async () => {
    const { breaker, clock, transitions } = setup();
    await failTimes(breaker, 3);
    clock.advance(9_999);
    await expect(breaker.execute(succeed, CALL)).rejects.toBeInstanceOf(BreakerOpenError);
    clock.advance(1);
    const probe = deferred();
    const call = breaker.execute(() => probe.promise, CALL);
    expect(transitions.at(-1)).toEqual({
      from: 'OPEN',
      to: 'HALF_OPEN',
      at: START + 10_000,
      reason: 'open-elapsed',
    });
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: true,
      successes: 0,
    });
    probe.resolve('probed');
    await expect(call).resolves.toBe('probed');
  });

  it('makes reads apply the lazy check too, so a snapshot never reports an elapsed OPEN', async () => {
    const { breaker, clock, transitions } = setup();
    await failTimes(breaker, 3);
    clock.advance(10_000);
    expect(breaker.snapshot()).toMatchObject({
      state: 'HALF_OPEN',
      opened_at: null,
      next_attempt_at: null,
    });
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: false,
      successes: 0,
    });
    expect(transitions.map(route)).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN']);
  });
});

describe('HALF_OPEN', () => {
  it('admits exactly one probe among 50 concurrent calls; the others get BreakerOpenError', async () => {
    const { breaker } = await openedAndElapsed();
    const probe = deferred();
    const operation = vi.fn(() => probe.promise);
    const calls = Array.from({ length: 50 }, () => breaker.execute(operation, CALL));
    const refusals = await Promise.allSettled(calls.slice(1));
    expect(operation).toHaveBeenCalledOnce();
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({
        status: 'rejected',
        reason: { state: 'HALF_OPEN', nextAttemptAt: null },
      });
    }
    expect(breaker.snapshot().rejected_count).toBe(49);
    probe.resolve('probed');
    await expect(calls[0]).resolves.toBe('probed');
  });

  it('explains in the refusal that the probe is in flight', async () => {
    const { breaker } = await openedAndElapsed();
    const probe = deferred();
    const call = breaker.execute(() => probe.promise, CALL);
    await expect(breaker.execute(succeed, CALL)).rejects.toThrow(
      'circuit breaker is HALF_OPEN and its probe is in flight',
    );
    probe.resolve('done');
    await call;
  });

  it('reopens with a new openedAt and nextAttemptAt when the probe fails', async () => {
    const { breaker, clock, transitions } = await openedAndElapsed();
    clock.advance(500);
    await failTimes(breaker, 1);
    const reopenedAt = START + 10_500;
    expect(breaker.currentState()).toEqual({
      name: 'OPEN',
      openedAt: reopenedAt,
      nextAttemptAt: reopenedAt + 10_000,
    });
    expect(transitions.at(-1)).toEqual({
      from: 'HALF_OPEN',
      to: 'OPEN',
      at: reopenedAt,
      reason: 'probe-failed',
    });
  });

  it('admits the next probe after a success and closes after halfOpenSuccesses, resetting counters', async () => {
    const { breaker, transitions } = await openedAndElapsed();
    await succeedTimes(breaker, 1);
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: false,
      successes: 1,
    });
    await succeedTimes(breaker, 1);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 0 });
    expect(transitions.at(-1)).toEqual({
      from: 'HALF_OPEN',
      to: 'CLOSED',
      at: START + 10_000,
      reason: 'probe-succeeded',
    });
    await failTimes(breaker, 2);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 2 });
  });

  it('releases the probe on a caller error without counting it', async () => {
    const { breaker, transitions } = await openedAndElapsed();
    await succeedTimes(breaker, 1);
    await expect(breaker.execute(rejectAsCaller, CALL)).rejects.toBeInstanceOf(ValidationError);
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: false,
      successes: 1,
    });
    expect(transitions.map(route)).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN']);
    await succeedTimes(breaker, 1);
    expect(breaker.currentState().name).toBe('CLOSED');
  });
});

describe('generations', () => {
  it('ignores a burst of late failures after opening: same timer, one transition', async () => {
    const { breaker, clock, transitions } = setup();
    const pending = Array.from({ length: 13 }, () => deferred());
    const calls = pending.map((call) =>
      breaker.execute(() => call.promise, CALL).catch(() => undefined),
    );
    pending.slice(0, 3).forEach((call) => call.reject(new Error('down')));
    await Promise.all(calls.slice(0, 3));
    const opened = breaker.currentState();
    clock.advance(5_000);
    pending.slice(3).forEach((call) => call.reject(new Error('down')));
    await Promise.all(calls);
    expect(breaker.currentState()).toEqual(opened);
    expect(opened).toEqual({ name: 'OPEN', openedAt: START, nextAttemptAt: START + 10_000 });
    expect(transitions.map(route)).toEqual(['CLOSED->OPEN']);
    expect(breaker.snapshot()).toMatchObject({ failure_count: 13, consecutive_failures: 0 });
  });

  it('does not let a late failure reopen a HALF_OPEN breaker or a late success count as a probe', async () => {
    const { breaker, clock, transitions } = setup();
    const lateFailure = deferred();
    const lateSuccess = deferred();
    const late = [lateFailure, lateSuccess].map((call) =>
      breaker.execute(() => call.promise, CALL).catch(() => undefined),
    );
    await failTimes(breaker, 3);
    clock.advance(10_000);
    const probe = deferred();
    const probeCall = breaker.execute(() => probe.promise, CALL);
    lateFailure.reject(new Error('down'));
    lateSuccess.resolve('late');
    await Promise.all(late);
    expect(breaker.currentState()).toEqual({
      name: 'HALF_OPEN',
      probeInFlight: true,
      successes: 0,
    });
    expect(transitions.map(route)).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN']);
    probe.resolve('probed');
    await probeCall;
  });

  it('does not let calls from an earlier CLOSED period count toward the next one', async () => {
    const { breaker, clock } = setup();
    const lateFailure = deferred();
    const lateSuccess = deferred();
    const late = [lateFailure, lateSuccess].map((call) =>
      breaker.execute(() => call.promise, CALL).catch(() => undefined),
    );
    await failTimes(breaker, 3);
    clock.advance(10_000);
    await succeedTimes(breaker, 2);
    await failTimes(breaker, 2);
    lateFailure.reject(new Error('down'));
    lateSuccess.resolve('late');
    await Promise.all(late);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 2 });
  });
});

describe('timeouts', () => {
  it('rejects a hung call with BreakerTimeoutError, aborts its signal and counts a failure', async () => {
    const { breaker } = setup();
    let received: AbortSignal | undefined;
    const call = breaker.execute((signal) => {
      received = signal;
      return new Promise<string>(() => undefined);
    }, CALL);
    const outcome = expect(call).rejects.toMatchObject({
      name: 'BreakerTimeoutError',
      timeoutMs: 1_000,
    });
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(received?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(received?.aborted).toBe(true);
    expect(received?.reason).toBeInstanceOf(BreakerTimeoutError);
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 1 });
    expect(breaker.snapshot()).toMatchObject({ failure_count: 1, success_count: 0 });
  });

  it('reports the timeout even when the operation rejects as soon as it is aborted', async () => {
    const { breaker } = setup();
    const call = breaker.execute(
      (signal) =>
        new Promise<string>((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
      CALL,
    );
    const outcome = expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await outcome;
  });

  it('counts a timeout as a failure even when isCallerError accepts every error', async () => {
    const { breaker } = setup({ isCallerError: () => true, failureThreshold: 1 });
    const call = breaker.execute(() => new Promise<string>(() => undefined), CALL);
    const outcome = expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await outcome;
    expect(breaker.currentState().name).toBe('OPEN');
  });

  it('reopens when a hung probe times out', async () => {
    const { breaker, transitions } = await openedAndElapsed();
    const call = breaker.execute(() => new Promise<string>(() => undefined), CALL);
    const outcome = expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await outcome;
    expect(transitions.at(-1)).toMatchObject({
      from: 'HALF_OPEN',
      to: 'OPEN',
      reason: 'probe-failed',
    });
  });

  it('ignores an operation that resolves after its timeout', async () => {
    const { breaker } = setup();
    const slow = deferred();
    const call = breaker.execute(() => slow.promise, CALL);
    const outcome = expect(call).rejects.toBeInstanceOf(BreakerTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await outcome;
    slow.resolve('too late');
    await Promise.resolve();
    expect(breaker.snapshot()).toMatchObject({
      failure_count: 1,
      success_count: 0,
      consecutive_failures: 1,
    });
  });

  it('leaves no timer behind after successes, failures, caller errors, timeouts and refusals', async () => {
    const { breaker } = setup({ failureThreshold: 4 });
    await succeedTimes(breaker, 2);
    await failTimes(breaker, 2);
    await expect(breaker.execute(rejectAsCaller, CALL)).rejects.toBeInstanceOf(ValidationError);
    const hung = breaker.execute(() => new Promise<string>(() => undefined), CALL);
    const outcome = expect(hung).rejects.toBeInstanceOf(BreakerTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await outcome;
    await failTimes(breaker, 1);
    await expect(breaker.execute(succeed, CALL)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('reset', () => {
  it('forces CLOSED from OPEN, zeroes counters and emits one manual-reset transition', async () => {
    const { breaker, clock, transitions } = setup();
    await succeedTimes(breaker, 1);
    await failTimes(breaker, 3);
    await expect(breaker.execute(succeed, CALL)).rejects.toBeInstanceOf(BreakerOpenError);
    clock.advance(20);
    breaker.reset();
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 0 });
    expect(transitions.at(-1)).toEqual({
      from: 'OPEN',
      to: 'CLOSED',
      at: START + 20,
      reason: 'manual-reset',
    });
    expect(transitions).toHaveLength(2);
    expect(breaker.snapshot()).toEqual(emptySnapshot);
  });

  it('reports the stored state as `from`, even when nextAttemptAt has passed', async () => {
    const { breaker, transitions } = await openedAndElapsed();
    breaker.reset();
    expect(transitions.map(route)).toEqual(['CLOSED->OPEN', 'OPEN->CLOSED']);
  });

  it('emits nothing when already CLOSED but still zeroes the counters', async () => {
    const { breaker, transitions } = setup();
    await failTimes(breaker, 2);
    breaker.reset();
    expect(transitions).toEqual([]);
    expect(breaker.snapshot()).toMatchObject({
      failure_count: 0,
      consecutive_failures: 0,
      last_failure_at: null,
    });
  });

  it('resets from HALF_OPEN and ignores the probe that was in flight', async () => {
    const { breaker, transitions } = await openedAndElapsed();
    const probe = deferred();
    const probeCall = breaker.execute(() => probe.promise, CALL).catch(() => undefined);
    breaker.reset();
    probe.reject(new Error('down'));
    await probeCall;
    expect(transitions.map(route)).toEqual([
      'CLOSED->OPEN',
      'OPEN->HALF_OPEN',
      'HALF_OPEN->CLOSED',
    ]);
    expect(breaker.snapshot()).toMatchObject({
      state: 'CLOSED',
      failure_count: 0,
      consecutive_failures: 0,
    });
  });

  it('keeps calls started before a reset out of the state and the totals', async () => {
    const { breaker } = setup();
    const lateFailure = deferred();
    const lateSuccess = deferred();
    const late = [lateFailure, lateSuccess].map((call) =>
      breaker.execute(() => call.promise, CALL).catch(() => undefined),
    );
    breaker.reset();
    lateFailure.reject(new Error('down'));
    await late[0];
    expect(breaker.currentState()).toEqual({ name: 'CLOSED', consecutiveFailures: 0 });
    await failTimes(breaker, 1);
    lateSuccess.resolve('late');
    await late[1];
    expect(breaker.snapshot()).toMatchObject({
      failure_count: 1,
      success_count: 0,
      consecutive_failures: 1,
    });
  });
});

describe('transition events', () => {
  it('emits each transition of a full cycle exactly once, each `from` matching the previous `to`', async () => {
    const { breaker, clock, transitions } = setup();
    await failTimes(breaker, 3);
    clock.advance(10_000);
    await failTimes(breaker, 1);
    clock.advance(10_000);
    await succeedTimes(breaker, 2);
    expect(transitions).toEqual([
      { from: 'CLOSED', to: 'OPEN', at: START, reason: 'failure-threshold' },
      { from: 'OPEN', to: 'HALF_OPEN', at: START + 10_000, reason: 'open-elapsed' },
      { from: 'HALF_OPEN', to: 'OPEN', at: START + 10_000, reason: 'probe-failed' },
      { from: 'OPEN', to: 'HALF_OPEN', at: START + 20_000, reason: 'open-elapsed' },
      { from: 'HALF_OPEN', to: 'CLOSED', at: START + 20_000, reason: 'probe-succeeded' },
    ]);
    transitions
      .slice(1)
      .forEach((transition, index) => expect(transition.from).toBe(transitions[index]?.to));
  });

  it('keeps working when a listener throws: state changes, others are notified, the call keeps its own error', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const before = vi.fn();
    const after = vi.fn();
    breaker.onTransition(before);
    breaker.onTransition(() => {
      throw new Error('listener bug');
    });
    breaker.onTransition(after);
    await expect(breaker.execute(fail, CALL)).rejects.toThrow('backend down');
    expect(breaker.currentState().name).toBe('OPEN');
    expect(before).toHaveBeenCalledOnce();
    expect(after).toHaveBeenCalledOnce();
  });

  it('hands listeners a frozen event and a state they can already read', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const seen: Array<{ frozen: boolean; state: string }> = [];
    breaker.onTransition((transition) => {
      seen.push({ frozen: Object.isFrozen(transition), state: breaker.currentState().name });
    });
    await failTimes(breaker, 1);
    expect(seen).toEqual([{ frozen: true, state: 'OPEN' }]);
  });

  it('delivers an event only to listeners subscribed before it was emitted', async () => {
    const { breaker, clock } = setup();
    const late = vi.fn();
    const unsubscribe = breaker.onTransition(() => {
      breaker.onTransition(late);
      unsubscribe();
    });
    await failTimes(breaker, 3);
    expect(late).not.toHaveBeenCalled();
    clock.advance(10_000);
    breaker.currentState();
    expect(late).toHaveBeenCalledOnce();
  });

  it('stops delivering after unsubscribe; unsubscribing twice is harmless', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, now: manualClock().now });
    const listener = vi.fn();
    const first = breaker.onTransition(listener);
    const second = breaker.onTransition(listener);
    first();
    first();
    await failTimes(breaker, 1);
    expect(listener).toHaveBeenCalledOnce();
    second();
    breaker.reset();
    expect(listener).toHaveBeenCalledOnce();
  });
});

describe('currentState', () => {
  it('returns frozen states, so callers cannot corrupt the breaker', async () => {
    const { breaker, clock } = setup();
    const states = [breaker.currentState()];
    await failTimes(breaker, 3);
    states.push(breaker.currentState());
    clock.advance(10_000);
    states.push(breaker.currentState());
    expect(states.map((state) => [state.name, Object.isFrozen(state)])).toEqual([
      ['CLOSED', true],
      ['OPEN', true],
      ['HALF_OPEN', true],
    ]);
  });
});

describe('snapshot', () => {
  it('starts empty', () => {
    const { breaker } = setup();
    expect(breaker.snapshot()).toEqual(emptySnapshot);
  });

  it('reports totals, ISO timestamps and the OPEN window', async () => {
    const { breaker, clock } = setup();
    await succeedTimes(breaker, 2);
    clock.advance(1_000);
    await failTimes(breaker, 3);
    await expect(breaker.execute(succeed, CALL)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(breaker.snapshot()).toEqual({
      state: 'OPEN',
      failure_count: 3,
      success_count: 2,
      consecutive_failures: 0,
      last_failure_at: '2026-01-01T00:00:01.000Z',
      last_success_at: '2026-01-01T00:00:00.000Z',
      opened_at: '2026-01-01T00:00:01.000Z',
      next_attempt_at: '2026-01-01T00:00:11.000Z',
      rejected_count: 1,
    });
  });

  it('reports consecutive failures while CLOSED', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 2);
    expect(breaker.snapshot()).toMatchObject({ state: 'CLOSED', consecutive_failures: 2 });
  });
});
