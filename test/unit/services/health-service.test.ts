import { afterEach, describe, expect, it, vi } from 'vitest';
import { HealthService, READY_TIMEOUT_MS } from '../../../src/services/health-service.js';

afterEach(() => vi.useRealTimers());

describe('HealthService.readiness', () => {
  it('is ready when the database answers, with the memory check when there is one', async () => {
    const memory = {
      status: 'degraded' as const,
      circuit: 'OPEN' as const,
      mcp: 'disconnected' as const,
    };
    const health = new HealthService({ pingDatabase: async () => undefined, memory: () => memory });
    expect(await health.readiness()).toEqual({
      ready: true,
      checks: { database: { status: 'up' }, memory },
    });
    const without = new HealthService({ pingDatabase: async () => undefined, memory: () => null });
    expect(await without.readiness()).toEqual({
      ready: true,
      checks: { database: { status: 'up' } },
    });
  });

  it('is not ready when the database fails or does not answer in time', async () => {
    const failing = new HealthService({
      pingDatabase: async () => Promise.reject(new Error('refused')),
      memory: () => null,
    });
    expect(await failing.readiness()).toEqual({
      ready: false,
      checks: { database: { status: 'down', detail: 'Error: refused' } },
    });
    vi.useFakeTimers();
    const silent = new HealthService({
      pingDatabase: () => new Promise<void>(() => undefined),
      memory: () => null,
    });
    const pending = silent.readiness();
    await vi.advanceTimersByTimeAsync(READY_TIMEOUT_MS);
    expect((await pending).checks.database).toEqual({
      status: 'down',
      detail: `Error: no answer within ${READY_TIMEOUT_MS} ms`,
    });
    expect(vi.getTimerCount()).toBe(0);
  });
});
