import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Actor, systemActor, unrestricted } from '../../../src/domain/auth.js';
import { ConflictError, NotFoundError } from '../../../src/domain/errors.js';
import type { Attempt, Task } from '../../../src/domain/task.js';
import { TaskExecutionService } from '../../../src/services/task-execution-service.js';
import { TaskTransitions } from '../../../src/services/task-transitions.js';
import type { AttemptEnd, ExpiredAttempt } from '../../../src/store/attempt-repository.js';
import { ClaimWaiters } from '../../../src/tasks/claim-waiters.js';
import { fakeWrites } from './fakes.js';

/**
 * The execution service with a fake store and a fake clock: the long poll's deadline, waking and
 * abort, the 500 ms between progress events, the sweeper's race paths (an attempt that ended or
 * was extended after the sweep found it) and the counts the sweeps return, which the API tests
 * meet only by chance or not at all. The end-to-end proofs are in test/tasks/.
 */
const actor: Actor = { principal: unrestricted, ip: '127.0.0.1', userAgent: 'test' };
const agentId = '22222222-2222-4222-8222-222222222222';
const taskId = '11111111-1111-4111-8111-111111111111';

const task = {
  id: taskId,
  status: 'running',
  attempts: 1,
  lease_ms: 30_000,
  progress: null,
} as unknown as Task;
const claimed = {
  task: { ...task, status: 'running' },
  attempt: { number: 1, lease_expires_at: '2026-01-01T00:00:30.000Z' },
};
const found = { agent_visible: true, ...claimed };
const nothing = { agent_visible: true, task: null, attempt: null };

/** Attempt 1, whose lease ran out at 00:00:30; the sweeper's database clock reads 00:01:00. */
const liveAttempt: Attempt = {
  task_id: taskId,
  number: 1,
  agent_id: agentId,
  claimed_at: '2026-01-01T00:00:00.000Z',
  heartbeat_at: '2026-01-01T00:00:00.000Z',
  lease_expires_at: '2026-01-01T00:00:30.000Z',
  ended_at: null,
  outcome: null,
  output: null,
  error: null,
  duration_ms: null,
};
const sweptAt = new Date('2026-01-01T00:01:00.000Z');
const expiredAttempt: ExpiredAttempt = {
  taskId,
  number: 1,
  leaseExpiresAt: new Date(liveAttempt.lease_expires_at),
  deadline: null,
  now: sweptAt,
};

function setup() {
  const fakes = fakeWrites();
  const waiters = new ClaimWaiters();
  const transitions = {
    tasks: {
      findById: vi.fn(async (): Promise<Task | null> => task),
      databaseNow: vi.fn(async () => sweptAt),
      settledBlocked: vi.fn(async (): Promise<Task[]> => []),
      progressEventAt: vi.fn(async (): Promise<Date | null> => null),
      change: vi.fn(async () => task),
      promoteDue: vi.fn(async (): Promise<Task[]> => []),
    },
    attempts: {
      expired: vi.fn(async (): Promise<ExpiredAttempt[]> => []),
      find: vi.fn(async (): Promise<Attempt | null> => liveAttempt),
      end: vi.fn(async (...args: [unknown, string, number, AttemptEnd]) => ({
        ...liveAttempt,
        outcome: args[3].outcome,
      })),
      extend: vi.fn(async (): Promise<Attempt | null> => liveAttempt),
    },
    agents: { busyWithoutWork: vi.fn(async () => [] as Array<{ id: string; version: number }>) },
    lock: vi.fn(async () => task),
    assertHolds: TaskTransitions.prototype.assertHolds,
    statusChanged: TaskTransitions.prototype.statusChanged,
    agentTookWork: vi.fn(async () => undefined),
    afterFailure: vi.fn(async () => task),
    settle: vi.fn(async () => undefined),
    agentReleased: vi.fn(async () => undefined),
  };
  fakes.answerStatements(nothing);
  const service = new TaskExecutionService(
    fakes.db,
    fakes.writes,
    waiters,
    transitions as unknown as TaskTransitions,
  );
  return { ...fakes, waiters, transitions, service };
}

/** The answer of a claim as it stands: 'waiting' until it settles. */
function watch(promise: Promise<unknown>) {
  const state = { answer: 'waiting' as unknown };
  void promise.then((answer) => (state.answer = answer));
  return state;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TaskExecutionService.claim, the long poll', () => {
  it('answers a free task at once, and no task at once when wait_ms is 0', async () => {
    const { service, answerStatements, waiters } = setup();
    answerStatements(found);
    const first = watch(service.claim({ agent_id: agentId, wait_ms: 10_000 }, actor));
    await vi.advanceTimersByTimeAsync(0);
    expect(first.answer).toEqual(claimed);
    answerStatements(nothing);
    const second = watch(service.claim({ agent_id: agentId, wait_ms: 0 }, actor));
    await vi.advanceTimersByTimeAsync(0);
    expect(second.answer).toBeNull();
    expect(waiters.size).toBe(0);
  });

  it('answers no task once wait_ms has passed, and not before', async () => {
    const { service, writes, waiters } = setup();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(999);
    expect(claim.answer).toBe('waiting');
    expect(waiters.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(claim.answer).toBeNull();
    expect(writes.runStatement).toHaveBeenCalledTimes(1);
    expect(waiters.size).toBe(0);
  });

  it('looks again when woken, and takes the task that woke it', async () => {
    const { service, writes, answerStatements } = setup();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(400);
    answerStatements(found);
    service.wakeClaims();
    await vi.advanceTimersByTimeAsync(0);
    expect(claim.answer).toEqual(claimed);
    expect(writes.runStatement).toHaveBeenCalledTimes(2);
  });

  it('waits on after a wake that brought it nothing, until the first deadline only', async () => {
    const { service, writes } = setup();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(400);
    service.wakeClaims();
    await vi.advanceTimersByTimeAsync(599);
    expect(writes.runStatement).toHaveBeenCalledTimes(2);
    expect(claim.answer).toBe('waiting');
    await vi.advanceTimersByTimeAsync(1);
    expect(claim.answer).toBeNull();
  });

  it('answers at its deadline while tasks keep coming that other agents take first', async () => {
    const { service, writes } = setup();
    // Each look takes 500 ms, and meanwhile a task is queued that another claim takes.
    writes.runStatement.mockImplementation(async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      service.wakeClaims();
      return nothing;
    });
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(claim.answer).toBeNull();
    expect(writes.runStatement).toHaveBeenCalledTimes(2);
  });

  it('answers no task as soon as its client goes away', async () => {
    const { service, waiters } = setup();
    const client = new AbortController();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor, client.signal));
    await vi.advanceTimersByTimeAsync(100);
    client.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(claim.answer).toBeNull();
    expect(waiters.size).toBe(0);
  });

  it('does not wait on for a client that went away while it looked', async () => {
    const { service, writes } = setup();
    const client = new AbortController();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor, client.signal));
    await vi.advanceTimersByTimeAsync(100);
    writes.runStatement.mockImplementationOnce(async () => {
      client.abort();
      return nothing;
    });
    service.wakeClaims();
    await vi.advanceTimersByTimeAsync(0);
    expect(claim.answer).toBeNull();
  });

  it('fails with 404 for an agent the key does not see, leaving no claim waiting', async () => {
    const { service, answerStatements, waiters } = setup();
    answerStatements({ agent_visible: false, task: null, attempt: null });
    await expect(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor)).rejects.toThrow(
      new NotFoundError('Agent', agentId),
    );
    expect(waiters.size).toBe(0);
  });

  it('answers every waiting claim no task once closing, and waits for none after', async () => {
    const { service } = setup();
    const claim = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(100);
    service.closeClaims();
    await vi.advanceTimersByTimeAsync(0);
    expect(claim.answer).toBeNull();
    const late = watch(service.claim({ agent_id: agentId, wait_ms: 1_000 }, actor));
    await vi.advanceTimersByTimeAsync(0);
    expect(late.answer).toBeNull();
  });
});

describe('TaskExecutionService.heartbeat', () => {
  const beatAt = (ms: number) => ({
    ...liveAttempt,
    heartbeat_at: new Date(Date.parse(liveAttempt.claimed_at) + ms).toISOString(),
  });

  it('announces progress 500 ms after the last progress event, not sooner', async () => {
    const { service, transitions, emitted } = setup();
    transitions.tasks.progressEventAt.mockResolvedValue(new Date(liveAttempt.claimed_at));
    transitions.attempts.extend.mockResolvedValueOnce(beatAt(499));
    await service.heartbeat(taskId, { attempt: 1, progress: 0.5 }, actor);
    expect(emitted).toEqual([]);
    transitions.attempts.extend.mockResolvedValueOnce(beatAt(500));
    await service.heartbeat(taskId, { attempt: 1, progress: 0.6 }, actor);
    expect(emitted.map((event) => [event.type, event.data.phase, event.data.attempt])).toEqual([
      ['TASK_EXECUTION', 'progress', { number: 1, agent_id: agentId }],
    ]);
  });

  it('refuses with 409 an attempt the store no longer finds live', async () => {
    const { service, transitions } = setup();
    transitions.attempts.extend.mockResolvedValueOnce(null);
    await expect(service.heartbeat(taskId, { attempt: 1 }, actor)).rejects.toThrow(
      new ConflictError(`Attempt 1 of task ${taskId} ended`),
    );
  });
});

describe('TaskExecutionService.fail', () => {
  const failure = { attempt: 1, error: 'killed at its timeout', output: 'half', retryable: true };

  it('asks the store to end the attempt failed, or timed_out once past its deadline', async () => {
    const { service, transitions, audited } = setup();
    await service.fail(taskId, failure, actor);
    expect(transitions.attempts.end).toHaveBeenCalledWith(expect.anything(), taskId, 1, {
      outcome: 'failed',
      pastDeadline: 'timed_out',
      output: 'half',
      error: 'killed at its timeout',
    });
    expect(audited).toEqual([{ action: 'fail', resource: 'task', resourceId: taskId }]);
  });

  it('moves the task on with the outcome the attempt got, as the sweeper would', async () => {
    const { service, transitions, audited } = setup();
    transitions.attempts.end.mockResolvedValueOnce({ ...liveAttempt, outcome: 'timed_out' });
    await service.fail(taskId, failure, actor);
    expect(transitions.afterFailure).toHaveBeenCalledWith(
      expect.anything(),
      task,
      { number: 1, agent_id: agentId, outcome: 'timed_out' },
      failure,
    );
    expect(audited).toEqual([{ action: 'fail', resource: 'task', resourceId: taskId }]);
  });
});

describe('TaskExecutionService.expireLeases, the sweeper', () => {
  it('ends an attempt whose lease ran out as lost, retries its task and counts it', async () => {
    const { service, transitions, audited } = setup();
    transitions.attempts.expired.mockResolvedValueOnce([expiredAttempt]);
    await expect(service.expireLeases()).resolves.toBe(1);
    expect(audited).toEqual([{ action: 'lost', resource: 'task', resourceId: taskId }]);
    expect(transitions.afterFailure).toHaveBeenCalledWith(
      expect.anything(),
      task,
      { number: 1, agent_id: agentId, outcome: 'lost' },
      { error: 'lease expired without a heartbeat', retryable: true },
    );
  });

  it('leaves alone an attempt that ended, was extended or lost its task since found', async () => {
    const { service, transitions, audited } = setup();
    transitions.attempts.expired.mockResolvedValueOnce([
      expiredAttempt,
      expiredAttempt,
      expiredAttempt,
      expiredAttempt,
    ]);
    // The agent completed it; a heartbeat extended it; the task was deleted; it was deleted too.
    transitions.attempts.find
      .mockResolvedValueOnce({ ...liveAttempt, ended_at: '2026-01-01T00:00:59.000Z' })
      .mockResolvedValueOnce({ ...liveAttempt, lease_expires_at: '2026-01-01T00:01:20.000Z' })
      .mockResolvedValueOnce(liveAttempt)
      .mockResolvedValueOnce(null);
    transitions.tasks.findById
      .mockResolvedValueOnce(task)
      .mockResolvedValueOnce(task)
      .mockResolvedValueOnce(null)
      .mockResolvedValueOnce(task);
    await expect(service.expireLeases()).resolves.toBe(0);
    expect(transitions.attempts.end).not.toHaveBeenCalled();
    expect(transitions.afterFailure).not.toHaveBeenCalled();
    expect(audited).toEqual([]);
  });

  it('counts only the attempts it ended', async () => {
    const { service, transitions } = setup();
    transitions.attempts.expired.mockResolvedValueOnce([expiredAttempt, expiredAttempt]);
    transitions.attempts.find
      .mockResolvedValueOnce({ ...liveAttempt, ended_at: '2026-01-01T00:00:59.000Z' })
      .mockResolvedValueOnce(liveAttempt);
    await expect(service.expireLeases()).resolves.toBe(1);
  });
});

describe('TaskExecutionService.settleRaces', () => {
  it('settles each blocked task and releases each idle-in-fact agent, counting both', async () => {
    const { service, transitions } = setup();
    const blocked = [
      { ...task, status: 'blocked' },
      { ...task, status: 'blocked' },
    ] as Task[];
    transitions.tasks.settledBlocked.mockResolvedValueOnce(blocked);
    transitions.agents.busyWithoutWork.mockResolvedValueOnce([{ id: agentId, version: 4 }]);
    await expect(service.settleRaces()).resolves.toBe(3);
    expect(transitions.settle).toHaveBeenCalledTimes(2);
    expect(transitions.agentReleased).toHaveBeenCalledWith(expect.anything(), agentId, 4);
  });
});

describe('TaskExecutionService.promoteDue', () => {
  it('queues each due task with TASK_UPDATE and a status audit record by the service', async () => {
    const { service, transitions, transaction, writes, emitted, audited } = setup();
    const other = '33333333-3333-4333-8333-333333333333';
    const due = [
      { ...task, status: 'queued' },
      { ...task, id: other, status: 'queued' },
    ] as Task[];
    transitions.tasks.promoteDue.mockResolvedValueOnce(due);
    await expect(service.promoteDue(7)).resolves.toBe(2);
    expect(transitions.tasks.promoteDue).toHaveBeenCalledWith(transaction, 7);
    expect(writes.run).toHaveBeenCalledWith(systemActor, expect.any(Function));
    expect(emitted.map((event) => [event.type, event.topic, event.data])).toEqual(
      due.map((queued) => [
        'TASK_UPDATE',
        `task:${queued.id}`,
        { task: queued, changed_fields: ['status'] },
      ]),
    );
    expect(audited).toEqual(
      [taskId, other].map((resourceId) => ({
        action: 'status',
        resource: 'task',
        resourceId,
        changedFields: ['status'],
      })),
    );
    await expect(service.promoteDue()).resolves.toBe(0);
    expect(transitions.tasks.promoteDue).toHaveBeenLastCalledWith(transaction, 500);
  });
});
