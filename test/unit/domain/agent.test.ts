import { describe, expect, it } from 'vitest';
import {
  agentInputSchema,
  agentListQuerySchema,
  agentPatchSchema,
  heartbeatSchema,
} from '../../../src/domain/agent.js';
import { fieldErrors, messagesOf } from './field-errors.js';

const projectId = '5f0c7b8e-2a44-4d0a-9b1e-0c6f3c1d2e3a';

describe('agentInputSchema', () => {
  it('fills every optional field with its default', () => {
    expect(agentInputSchema.parse({ name: 'coder-1', agent_type: 'coder' })).toEqual({
      name: 'coder-1',
      agent_type: 'coder',
      capabilities: [],
      status: 'idle',
      project_id: null,
      metadata: {},
    });
  });

  it('refuses a repeated capability', () => {
    const input = { name: 'a', agent_type: 'tester', capabilities: ['ts', 'go', 'ts'] };
    expect(fieldErrors(agentInputSchema, input)).toEqual([
      { path: '/capabilities', message: 'must not repeat an item' },
    ]);
    expect(
      agentInputSchema.parse({ ...input, capabilities: ['ts', 'go', 'TS'] }).capabilities,
    ).toHaveLength(3);
  });

  it('bounds capabilities to 64 items of 1–64 characters', () => {
    const agent = (capabilities: string[]) => ({ name: 'a', agent_type: 'coder', capabilities });
    const distinct = (count: number) => Array.from({ length: count }, (_, i) => `c${i}`);
    expect(agentInputSchema.safeParse(agent(distinct(64))).success).toBe(true);
    expect(messagesOf(agentInputSchema, agent(distinct(65)))).toEqual([
      'must hold at most 64 items',
    ]);
    expect(agentInputSchema.safeParse(agent(['c'.repeat(64)])).success).toBe(true);
    expect(fieldErrors(agentInputSchema, agent(['ok', 'c'.repeat(65)]))).toEqual([
      { path: '/capabilities/1', message: 'must be at most 64 characters' },
    ]);
    expect(fieldErrors(agentInputSchema, agent([''])).map((error) => error.path)).toEqual([
      '/capabilities/0',
    ]);
  });

  it('wants a UUID or null as project_id', () => {
    const agent = (project_id: unknown) => ({ name: 'a', agent_type: 'coder', project_id });
    expect(agentInputSchema.parse(agent(projectId)).project_id).toBe(projectId);
    expect(fieldErrors(agentInputSchema, agent('p-1'))).toEqual([
      { path: '/project_id', message: 'must be a UUID' },
    ]);
  });
});

describe('agentPatchSchema', () => {
  it('accepts any one field alone and refuses an empty patch', () => {
    expect(agentPatchSchema.parse({ capabilities: ['a', 'b'] })).toEqual({
      capabilities: ['a', 'b'],
    });
    expect(messagesOf(agentPatchSchema, { capabilities: ['a', 'a'] })).toEqual([
      'must not repeat an item',
    ]);
    expect(fieldErrors(agentPatchSchema, {})).toEqual([
      { path: '/', message: 'must change at least one field' },
    ]);
  });
});

describe('heartbeatSchema', () => {
  it('accepts no body, an empty one, or a status', () => {
    expect(heartbeatSchema.parse(undefined)).toBeUndefined();
    expect(heartbeatSchema.parse(null)).toBeNull();
    expect(heartbeatSchema.parse({})).toEqual({});
    expect(heartbeatSchema.parse({ status: 'busy' })).toEqual({ status: 'busy' });
    expect(heartbeatSchema.safeParse({ status: 'asleep' }).success).toBe(false);
  });
});

describe('agentListQuerySchema', () => {
  it('sorts by last heartbeat too, and reads repeated filters as lists', () => {
    expect(
      agentListQuerySchema.parse({
        sort: '-last_active_at',
        capability: ['ts', 'go'],
        status: 'busy',
        name: ' coder-1 ',
      }),
    ).toEqual({
      limit: 20,
      offset: 0,
      sort: '-last_active_at',
      capability: ['ts', 'go'],
      status: ['busy'],
      name: 'coder-1',
    });
  });
});
