import { describe, expect, it, vi } from 'vitest';
import type { Agent } from '../../../src/domain/agent.js';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
} from '../../../src/domain/errors.js';
import { AgentService } from '../../../src/services/agent-service.js';
import type { AgentRepository } from '../../../src/store/agent-repository.js';
import { type Actor, unrestricted } from '../../../src/domain/auth.js';
import { fakeWrites } from './fakes.js';

const actor: Actor = { principal: unrestricted, ip: '127.0.0.1', userAgent: 'test' };

const projectA = '33333333-3333-4333-8333-333333333333';
const projectB = '44444444-4444-4444-8444-444444444444';
const agent: Agent = {
  id: '22222222-2222-4222-8222-222222222222',
  name: 'coder',
  agent_type: 'coder',
  capabilities: [],
  status: 'idle',
  project_id: projectA,
  metadata: {},
  last_active_at: null,
  version: 1,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

function setup() {
  const fakes = fakeWrites();
  const agents = {
    insert: vi.fn(async () => agent),
    findById: vi.fn(async (): Promise<Agent | null> => agent),
    list: vi.fn(async (_db: unknown, _query: Record<string, unknown>) => ({
      items: [] as Agent[],
      total: 0,
      limit: 20,
      offset: 0,
    })),
    update: vi.fn(async (_tx: unknown, _id: string, fields: Partial<Agent>) => ({
      ...agent,
      ...fields,
      version: 2,
    })),
    heartbeatStatement: vi.fn((...args: unknown[]) => ({ name: 'hb', text: '', values: args })),
    delete: vi.fn(async () => agent),
    runningTask: vi.fn(async (): Promise<string | null> => null),
    unpinFinished: vi.fn(async () => undefined),
    pinnedTasks: vi.fn(async () => 0),
    pinnedElsewhere: vi.fn(async () => 0),
    markSilentOffline: vi.fn(async () => [{ ...agent, status: 'offline' as const, version: 2 }]),
  };
  return {
    ...fakes,
    agents,
    service: new AgentService(fakes.db, fakes.writes, agents as unknown as AgentRepository),
  };
}

const input = {
  name: 'coder',
  agent_type: 'coder' as const,
  capabilities: [],
  status: 'idle' as const,
  project_id: projectA,
  metadata: {},
};

describe('AgentService', () => {
  it('creates with AGENT_CREATED on agents, agent:<id> and its project', async () => {
    const { agents, transaction, emitted, audited, service } = setup();
    await service.create(input, actor);
    expect(agents.insert).toHaveBeenCalledWith(transaction, input);
    expect(emitted).toEqual([
      {
        type: 'AGENT_CREATED',
        topic: `agent:${agent.id}`,
        topics: ['agents', `agent:${agent.id}`, `project:${projectA}`],
        data: { agent },
      },
    ]);
    expect(audited).toEqual([{ action: 'create', resource: 'agent', resourceId: agent.id }]);
  });

  it('gets and lists, throwing NotFoundError for a missing agent', async () => {
    const { db, agents, service } = setup();
    await expect(service.get(agent.id, unrestricted)).resolves.toBe(agent);
    agents.findById.mockResolvedValueOnce(null);
    await expect(service.get(agent.id, unrestricted)).rejects.toThrow(
      `Agent ${agent.id} not found`,
    );
    await service.list({ limit: 1, offset: 0, sort: 'name' }, unrestricted);
    expect(agents.list).toHaveBeenCalledWith(db, { limit: 1, offset: 0, sort: 'name' }, null);
  });

  it('announces and audits a status-only change as a status change, anything else as an update', async () => {
    const { emitted, audited, service } = setup();
    await service.patch(agent.id, { status: 'busy' }, null, actor);
    await service.replace(agent.id, { ...input, capabilities: ['ts'], status: 'busy' }, [1], actor);
    await service.patch(agent.id, { status: 'idle' }, null, actor);
    expect(emitted.map((event) => [event.type, event.data.changed_fields])).toEqual([
      ['AGENT_STATUS', ['status']],
      ['AGENT_UPDATE', ['capabilities', 'status']],
      ['AGENT_UPDATE', []],
    ]);
    expect(audited.map((record) => [record.action, record.changedFields])).toEqual([
      ['status', ['status']],
      ['update', ['capabilities', 'status']],
      ['update', []],
    ]);
    expect(new Set(audited.map((record) => `${record.resource}:${record.resourceId}`))).toEqual(
      new Set([`agent:${agent.id}`]),
    );
  });

  it('tells both the old and the new project when an agent moves', async () => {
    const { emitted, service } = setup();
    await service.patch(agent.id, { project_id: projectB }, null, actor);
    expect(emitted[0]?.topics).toEqual([
      'agents',
      `agent:${agent.id}`,
      `project:${projectA}`,
      `project:${projectB}`,
    ]);
  });

  it('refuses with 409 to move while tasks of another project are pinned to it', async () => {
    const { agents, transaction, emitted, audited, service } = setup();
    agents.pinnedElsewhere.mockResolvedValueOnce(1).mockResolvedValueOnce(3);
    for (const count of ['1 unfinished task is', '3 unfinished tasks are'])
      await expect(service.patch(agent.id, { project_id: projectB }, null, actor)).rejects.toThrow(
        new ConflictError(
          `Agent ${agent.id} cannot move to project ${projectB}: ${count} pinned to it in ` +
            'another project; cancel them or change their agent_id first',
        ),
      );
    expect(agents.pinnedElsewhere).toHaveBeenCalledWith(transaction, agent.id, projectB);
    expect(agents.update).not.toHaveBeenCalled();
    expect([emitted, audited]).toEqual([[], []]);
    // Staying, or leaving for no project (it claims everywhere then), strands nothing.
    agents.pinnedElsewhere.mockResolvedValue(1);
    await service.patch(agent.id, { project_id: projectA, name: 'x' }, null, actor);
    await service.patch(agent.id, { project_id: null }, null, actor);
    await service.patch(agent.id, { name: 'y' }, null, actor);
    expect(agents.pinnedElsewhere).toHaveBeenCalledTimes(2);
    expect(agents.update).toHaveBeenCalledTimes(3);
  });

  it("heartbeats in one statement within the key's scope and reports a missing agent", async () => {
    const { agents, writes, service, answerStatements } = setup();
    const seen = { ...agent, status: 'busy' as const, last_active_at: '2026-01-02T00:00:00.000Z' };
    answerStatements({ agent: seen });
    await expect(service.heartbeat(agent.id, { status: 'busy' }, actor)).resolves.toEqual(seen);
    expect(agents.heartbeatStatement).toHaveBeenCalledWith(agent.id, { status: 'busy' }, null);
    expect(writes.runStatement).toHaveBeenCalledWith(
      actor,
      agents.heartbeatStatement.mock.results[0]!.value,
    );
    answerStatements({ agent: null });
    await expect(service.heartbeat(agent.id, undefined, actor)).rejects.toThrow(
      new NotFoundError('Agent', agent.id),
    );
  });

  it('deletes with the version check, 404 when missing, and AGENT_DELETED for its project too', async () => {
    const { agents, transaction, emitted, audited, service } = setup();
    await expect(service.delete(agent.id, [3], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    agents.findById.mockResolvedValueOnce(null);
    await expect(service.delete(agent.id, null, actor)).rejects.toThrow(
      new NotFoundError('Agent', agent.id),
    );
    await service.delete(agent.id, [1], actor);
    expect(agents.delete).toHaveBeenCalledOnce();
    expect(agents.delete).toHaveBeenCalledWith(transaction, agent.id);
    expect(emitted).toEqual([
      {
        type: 'AGENT_DELETED',
        topic: `agent:${agent.id}`,
        topics: ['agents', `agent:${agent.id}`, `project:${projectA}`],
        data: { id: agent.id, project_id: projectA },
      },
    ]);
    expect(audited).toEqual([{ action: 'delete', resource: 'agent', resourceId: agent.id }]);
  });

  it('lets go of its finished tasks before the delete, in its transaction', async () => {
    const { agents, transaction, service } = setup();
    await service.delete(agent.id, null, actor);
    expect(agents.runningTask).toHaveBeenCalledWith(transaction, agent.id);
    expect(agents.unpinFinished).toHaveBeenCalledWith(transaction, agent.id);
    expect(agents.pinnedTasks).toHaveBeenCalledWith(transaction, agent.id);
    expect(agents.pinnedTasks.mock.invocationCallOrder[0]).toBeGreaterThan(
      agents.unpinFinished.mock.invocationCallOrder[0]!,
    );
  });

  it('refuses with 409 while it runs a task or tasks are pinned to it', async () => {
    const { agents, emitted, audited, service } = setup();
    agents.runningTask.mockResolvedValueOnce('t1');
    const running = service.delete(agent.id, null, actor);
    await expect(running).rejects.toBeInstanceOf(ConflictError);
    await expect(running).rejects.toThrow(
      `Agent ${agent.id} cannot be deleted: it is running a task; let the task finish or ` +
        'cancel it first',
    );
    expect(agents.unpinFinished).not.toHaveBeenCalled();
    agents.pinnedTasks.mockResolvedValueOnce(1);
    await expect(service.delete(agent.id, null, actor)).rejects.toThrow(
      `Agent ${agent.id} cannot be deleted: 1 unfinished task is pinned to it; cancel them ` +
        'or change their agent_id (PATCH, to another agent or null) first',
    );
    agents.pinnedTasks.mockResolvedValueOnce(2);
    await expect(service.delete(agent.id, null, actor)).rejects.toThrow(
      ': 2 unfinished tasks are pinned to it; cancel them',
    );
    expect(agents.delete).not.toHaveBeenCalled();
    expect([emitted, audited]).toEqual([[], []]);
  });

  it('marks silent agents offline with an AGENT_STATUS event and a status audit record each', async () => {
    const { agents, transaction, emitted, audited, service } = setup();
    await expect(service.markSilentOffline(60_000)).resolves.toBe(1);
    expect(agents.markSilentOffline).toHaveBeenCalledWith(transaction, 60_000, 500);
    expect(emitted).toMatchObject([
      {
        type: 'AGENT_STATUS',
        topics: ['agents', `agent:${agent.id}`, `project:${projectA}`],
        data: { agent: { status: 'offline' }, changed_fields: ['status'] },
      },
    ]);
    expect(audited).toEqual([
      { action: 'status', resource: 'agent', resourceId: agent.id, changedFields: ['status'] },
    ]);
  });
});

describe('AgentService.register', () => {
  /** The service, its repository listing `named` for the name asked, one list per call. */
  function registering(...named: Agent[][]) {
    const context = setup();
    for (const items of named)
      context.agents.list.mockResolvedValueOnce({
        items,
        total: items.length,
        limit: 100,
        offset: 0,
      });
    return context;
  }

  it('creates the agent when its name is free in its project, if taken in another', async () => {
    const { agents, service } = registering([{ ...agent, project_id: projectB }]);
    await expect(service.register(input, actor)).resolves.toEqual({ agent, created: true });
    expect(agents.insert).toHaveBeenCalledOnce();
  });

  it('reuses the agent of its name as it is when type and capabilities match', async () => {
    const capable = { ...agent, capabilities: ['go', 'ts'] };
    const { agents, service } = registering([capable]);
    const registration = service.register({ ...input, capabilities: ['go', 'ts'] }, actor);
    await expect(registration).resolves.toEqual({ agent: capable, created: false });
    expect(agents.insert).not.toHaveBeenCalled();
    expect(agents.update).not.toHaveBeenCalled();
  });

  it.each([
    ['another type', { agent_type: 'reviewer' as const }],
    ['other capabilities', { capabilities: ['go', 'rs'] }],
    ['fewer capabilities', { capabilities: ['go'] }],
  ])('brings a reused agent with %s up to date', async (_case, differences) => {
    const { agents, service } = registering([
      { ...agent, capabilities: ['go', 'ts'], ...differences },
    ]);
    const wanted = { agent_type: 'coder' as const, capabilities: ['go', 'ts'] };
    const registration = await service.register({ ...input, ...wanted }, actor);
    expect(registration).toMatchObject({ agent: wanted, created: false });
    expect(agents.update).toHaveBeenCalledOnce();
  });

  it('finds its agent among more of its name in other projects than a page holds', async () => {
    const elsewhere = Array.from({ length: 120 }, (_, index) => ({
      ...agent,
      id: `22222222-2222-4222-8222-${String(index).padStart(12, '0')}`,
      project_id: projectB,
    }));
    const { agents, service } = setup();
    // The repository as on PostgreSQL: the name and project filters, then a page of `limit`.
    agents.list.mockImplementation(async (_db: unknown, query: Record<string, unknown>) => {
      const items = [...elsewhere, agent]
        .filter((row) => row.name === query.name)
        .filter((row) => query.project_id === undefined || row.project_id === query.project_id)
        .slice(0, query.limit as number);
      return { items, total: items.length, limit: query.limit as number, offset: 0 };
    });
    await expect(service.register(input, actor)).resolves.toEqual({ agent, created: false });
    expect(agents.insert).not.toHaveBeenCalled();
  });

  it('reuses the agent a concurrent registration made, and rethrows other failures', async () => {
    const { agents, service } = registering([], [agent], []);
    agents.insert.mockRejectedValueOnce(new ConflictError('taken'));
    await expect(service.register(input, actor)).resolves.toEqual({ agent, created: false });
    agents.insert.mockRejectedValueOnce(new Error('database down'));
    await expect(service.register(input, actor)).rejects.toThrow('database down');
  });
});
