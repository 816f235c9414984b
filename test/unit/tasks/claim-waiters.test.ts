import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClaimTicket, ClaimWaiters, makesWork } from '../../../src/tasks/claim-waiters.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('ClaimWaiters', () => {
  it('wakes every waiting claim at once', async () => {
    const waiters = new ClaimWaiters();
    const waits = [waiters.ticket(), waiters.ticket()].map((ticket) => ticket.wait(30_000));
    waiters.wake();
    await expect(Promise.all(waits)).resolves.toEqual([true, true]);
    expect(waiters.size).toBe(0);
  });

  it('keeps a wake that came before the wait began', async () => {
    const waiters = new ClaimWaiters();
    const ticket = waiters.ticket();
    waiters.wake();
    await expect(ticket.wait(1_000)).resolves.toBe(true);
  });

  it('answers false once the time is up, and forgets the ticket', async () => {
    const waiters = new ClaimWaiters();
    const wait = waiters.ticket().wait(5_000);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(waiters.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(wait).resolves.toBe(false);
    expect(waiters.size).toBe(0);
  });

  it('answers false when the client goes away', async () => {
    const waiters = new ClaimWaiters();
    const controller = new AbortController();
    const wait = waiters.ticket().wait(30_000, controller.signal);
    controller.abort();
    await expect(wait).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers false to every wait on close, and to every later one', async () => {
    const waiters = new ClaimWaiters();
    const wait = waiters.ticket().wait(30_000);
    waiters.close();
    await expect(wait).resolves.toBe(false);
    await expect(waiters.ticket().wait(30_000)).resolves.toBe(false);
    expect(waiters.size).toBe(0);
  });

  it("leaves no listener on the caller's signal once the wait is over", async () => {
    const waiters = new ClaimWaiters();
    const controller = new AbortController();
    const timedOut = waiters.ticket().wait(500, controller.signal);
    await vi.advanceTimersByTimeAsync(500);
    await expect(timedOut).resolves.toBe(false);
    const woken = waiters.ticket().wait(1_000, controller.signal);
    waiters.wake();
    await expect(woken).resolves.toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('keeps the first outcome of a ticket: a later wake or close does not change it', async () => {
    const released = vi.fn();
    const closed = new ClaimTicket(released);
    closed.settle(false);
    closed.settle(true);
    await expect(closed.wait(1_000)).resolves.toBe(false);
    const woken = new ClaimTicket(released);
    woken.settle(true);
    woken.settle(false);
    await expect(woken.wait(1_000)).resolves.toBe(true);
    expect(released).toHaveBeenCalledTimes(2);
  });

  it('lets a ticket leave the line without waiting', () => {
    const waiters = new ClaimWaiters();
    waiters.ticket().release();
    expect(waiters.size).toBe(0);
  });
});

describe('makesWork', () => {
  const task = (status: string) => ({ task: { status } });
  it('is true for task events whose task is now queued', () => {
    expect(makesWork({ type: 'TASK_CREATED', data: task('queued') })).toBe(true);
    expect(makesWork({ type: 'TASK_UPDATE', data: task('queued') })).toBe(true);
    expect(makesWork({ type: 'TASK_EXECUTION', data: task('queued') })).toBe(true);
  });

  it('is false for anything else', () => {
    expect(makesWork({ type: 'TASK_CREATED', data: task('blocked') })).toBe(false);
    expect(makesWork({ type: 'TASK_EXECUTION', data: task('running') })).toBe(false);
    expect(makesWork({ type: 'PROJECT_UPDATE', data: task('queued') })).toBe(false);
    expect(makesWork({ type: 'TASK_DELETED', data: { id: 'x' } })).toBe(false);
  });
});
