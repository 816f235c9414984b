import { describe, expect, it, vi } from 'vitest';
import type { Agent } from '../../../src/domain/agent.js';
import { NotFoundError, PreconditionFailedError } from '../../../src/domain/errors.js';
import { AgentService } from '../../../src/services/agent-service.js';
import type { AgentRepository } from '../../../src/store/agent-repository.js';
import type { Database } from '../../../src/store/database.js';

const transaction = { name: 'tx' };
const agent: Agent = {
  id: '22222222-2222-4222-8222-222222222222', name: 'coder', agent_type: 'coder', capabilities: [], status: 'idle', project_id: null,
  metadata: {}, last_active_at: null, version: 1, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z',
};

function setup() {
  const db = { transaction: vi.fn(async (work: (tx: unknown) => unknown) => work(transaction)) };
  const agents = {
    insert: vi.fn(async () => agent), findById: vi.fn(async () => agent), list: vi.fn(async () => ({ items: [], total: 0, limit: 20, offset: 0 })),
    update: vi.fn(async () => agent), heartbeat: vi.fn(async () => agent), delete: vi.fn(async () => agent), lockVersion: vi.fn(async () => 1),
  };
  return { db, agents, service: new AgentService(db as unknown as Database, agents as unknown as AgentRepository) };
}

const input = { name: 'coder', agent_type: 'coder' as const, capabilities: [], status: 'idle' as const, project_id: null, metadata: {} };

describe('AgentService', () => {
  it('creates, replaces and patches inside transactions', async () => {
    const { db, agents, service } = setup();
    await service.create(input);
    await service.replace(agent.id, input, [1]);
    await service.patch(agent.id, { status: 'busy' }, null);
    expect(db.transaction).toHaveBeenCalledTimes(3);
    expect(agents.insert).toHaveBeenCalledWith(transaction, input);
    expect(agents.update).toHaveBeenCalledWith(transaction, agent.id, input, [1]);
    expect(agents.update).toHaveBeenCalledWith(transaction, agent.id, { status: 'busy' }, null);
  });

  it('gets and lists, throwing NotFoundError for a missing agent', async () => {
    const { db, agents, service } = setup();
    await expect(service.get(agent.id)).resolves.toBe(agent);
    agents.findById.mockResolvedValueOnce(null as never);
    await expect(service.get(agent.id)).rejects.toThrow(`Agent ${agent.id} not found`);
    await service.list({ limit: 1, offset: 0, sort: 'name' });
    expect(agents.list).toHaveBeenCalledWith(db, { limit: 1, offset: 0, sort: 'name' });
  });

  it('records heartbeats and reports a missing agent', async () => {
    const { agents, service } = setup();
    await service.heartbeat(agent.id, { status: 'busy' });
    expect(agents.heartbeat).toHaveBeenCalledWith(transaction, agent.id, { status: 'busy' });
    agents.heartbeat.mockResolvedValueOnce(null as never);
    await expect(service.heartbeat(agent.id, undefined)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('explains refused updates and deletes', async () => {
    const { agents, service } = setup();
    agents.update.mockResolvedValue(null as never);
    agents.delete.mockResolvedValue(null as never);
    agents.lockVersion.mockResolvedValueOnce(4);
    await expect(service.patch(agent.id, { status: 'busy' }, [1])).rejects.toBeInstanceOf(PreconditionFailedError);
    agents.lockVersion.mockResolvedValueOnce(null as never);
    await expect(service.delete(agent.id, null)).rejects.toBeInstanceOf(NotFoundError);
    agents.lockVersion.mockResolvedValueOnce(4);
    await expect(service.delete(agent.id, [3])).rejects.toThrow('is at version 4');
  });

  it('deletes with the version guard', async () => {
    const { agents, service } = setup();
    await service.delete(agent.id, [1]);
    expect(agents.delete).toHaveBeenCalledWith(transaction, agent.id, [1]);
  });
});
