import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MaintenanceLoop } from '../../../src/tasks/maintenance-loop.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('MaintenanceLoop', () => {
  it('runs every job once per interval, in order', async () => {
    const runs: string[] = [];
    const job = (name: string) => ({ name, run: async () => runs.push(name) });
    const loop = new MaintenanceLoop([job('a'), job('b')], { intervalMs: 1_000, onError: vi.fn() });
    loop.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runs).toEqual(['a', 'b', 'a', 'b']);
    await loop.stop();
  });

  it('never overlaps a slow tick with the next one', async () => {
    let active = 0;
    let peak = 0;
    const slow = async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      active -= 1;
      return 0;
    };
    const loop = new MaintenanceLoop([{ name: 'slow', run: slow }], {
      intervalMs: 100,
      onError: vi.fn(),
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(peak).toBe(1);
    const stopping = loop.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    await stopping;
  });

  it('tells what each run of a job handled, and nothing of a job that failed', async () => {
    const onDone = vi.fn();
    const jobs = [
      { name: 'expire leases', run: async () => 2 },
      { name: 'broken', run: () => Promise.reject(new Error('database away')) },
      { name: 'fire schedules', run: async () => 0 },
    ];
    const loop = new MaintenanceLoop(jobs, { intervalMs: 10, onError: vi.fn(), onDone });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(onDone.mock.calls).toEqual([
      ['expire leases', 2],
      ['fire schedules', 0],
    ]);
    await loop.stop();
  });

  it('reports a failing job and still runs the others', async () => {
    const onError = vi.fn();
    const ran = vi.fn(async () => 0);
    const failing = async () => {
      throw new Error('database away');
    };
    const loop = new MaintenanceLoop(
      [
        { name: 'broken', run: failing },
        { name: 'fine', run: ran },
      ],
      { intervalMs: 10, onError },
    );
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(onError).toHaveBeenCalledWith(
      'broken',
      expect.objectContaining({ message: 'database away' }),
    );
    expect(ran).toHaveBeenCalledTimes(1);
    await loop.stop();
  });

  it('starts no further job of the tick in progress once stopped', async () => {
    let release: () => void = () => undefined;
    const first = vi.fn(() => new Promise<number>((resolve) => (release = () => resolve(0))));
    const second = vi.fn(async () => 0);
    const loop = new MaintenanceLoop(
      [
        { name: 'first', run: first },
        { name: 'second', run: second },
      ],
      { intervalMs: 10, onError: vi.fn() },
    );
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    const stopping = loop.stop();
    release();
    await stopping;
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).not.toHaveBeenCalled();
  });

  it('stops after the tick in progress and schedules no other', async () => {
    let release: () => void = () => undefined;
    const run = vi.fn(() => new Promise<number>((resolve) => (release = () => resolve(0))));
    const loop = new MaintenanceLoop([{ name: 'held', run }], { intervalMs: 10, onError: vi.fn() });
    loop.start();
    await vi.advanceTimersByTimeAsync(10);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(run).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
