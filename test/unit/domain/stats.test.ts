import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentStatsQuerySchema, completeCounts } from '../../../src/domain/stats.js';
import { taskStatuses } from '../../../src/domain/task.js';
import { fieldErrors } from './field-errors.js';

const agentId = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';

describe('completeCounts', () => {
  it('lists every status, 0 for the ones the database did not return', () => {
    expect(completeCounts(['active', 'idle', 'busy'], { idle: 2, busy: 5 })).toEqual({
      total: 7,
      by_status: { active: 0, idle: 2, busy: 5 },
    });
    expect(completeCounts(['active', 'idle'], {})).toEqual({
      total: 0,
      by_status: { active: 0, idle: 0 },
    });
  });

  it('totals the counts, and the total is the sum of by_status', () => {
    const counts = fc.dictionary(fc.constantFrom(...taskStatuses), fc.nat({ max: 1_000_000 }));
    fc.assert(
      fc.property(counts, (byDatabase) => {
        const { total, by_status } = completeCounts(taskStatuses, byDatabase);
        expect(Object.keys(by_status)).toEqual([...taskStatuses]);
        const sum = Object.values(by_status).reduce((a, b) => a + b, 0);
        expect(total).toBe(sum);
      }),
    );
  });
});

describe('agentStatsQuerySchema', () => {
  it('reads one agent_id and repeated ones alike as a list', () => {
    expect(agentStatsQuerySchema.parse({ agent_id: agentId })).toEqual({ agent_id: [agentId] });
    expect(agentStatsQuerySchema.parse({ agent_id: [agentId, agentId] }).agent_id).toHaveLength(2);
  });

  it('wants 1–100 UUIDs', () => {
    expect(fieldErrors(agentStatsQuerySchema, { agent_id: 'a-1' })).toEqual([
      { path: '/agent_id/0', message: 'must be a UUID' },
    ]);
    expect(agentStatsQuerySchema.safeParse({ agent_id: Array(100).fill(agentId) }).success).toBe(
      true,
    );
    expect(
      fieldErrors(agentStatsQuerySchema, { agent_id: Array(101).fill(agentId) })[0]?.path,
    ).toBe('/agent_id');
    expect(fieldErrors(agentStatsQuerySchema, { agent_id: [] })[0]?.path).toBe('/agent_id');
  });
});
