import { describe, expect, it } from 'vitest';
import { healthCheckSchema } from '../../../src/domain/health.js';

describe('healthCheckSchema', () => {
  it('describes a dependency as up, down or degraded, with the memory circuit and MCP link', () => {
    expect(healthCheckSchema.parse({ status: 'up' })).toEqual({ status: 'up' });
    const memory = { status: 'degraded', detail: 'open', circuit: 'OPEN', mcp: 'disconnected' };
    expect(healthCheckSchema.parse(memory)).toEqual(memory);
  });

  it('refuses a status, circuit state or connection it does not know', () => {
    for (const check of [
      { status: 'ok' },
      { status: 'up', circuit: 'closed' },
      { status: 'up', mcp: 'connecting' },
    ]) {
      expect(healthCheckSchema.safeParse(check).success, JSON.stringify(check)).toBe(false);
    }
  });
});
