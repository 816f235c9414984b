import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import type { Page } from '../domain/common.js';
import { NotFoundError } from '../domain/errors.js';
import { agentEvent } from '../domain/event.js';
import { AgentRepository } from '../store/agent-repository.js';
import type { Database } from '../store/database.js';
import type { ExpectedVersions } from '../store/versioning.js';
import { changedFields, lockForWrite } from './versioned-write.js';
import type { WriteTransactions } from './write-transaction.js';

const writableFields = ['name', 'agent_type', 'capabilities', 'status', 'project_id', 'metadata'] as const;

/** A change that touches nothing but the status is announced as AGENT_STATUS, anything else as AGENT_UPDATE. */
function updateType(changed: string[]): 'AGENT_STATUS' | 'AGENT_UPDATE' {
  return changed.length > 0 && changed.every((field) => field === 'status') ? 'AGENT_STATUS' : 'AGENT_UPDATE';
}

/** Use cases on agents. Each write is one transaction with its events, so a change is either whole or absent. */
export class AgentService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly agents = new AgentRepository(),
  ) {}

  create(input: AgentInput): Promise<Agent> {
    return this.writes.run(async (tx, emit) => {
      const agent = await this.agents.insert(tx, input);
      emit(agentEvent('AGENT_CREATED', agent.id, [agent.project_id], { agent }));
      return agent;
    });
  }

  async get(id: string): Promise<Agent> {
    const agent = await this.agents.findById(this.db, id);
    if (agent === null) throw new NotFoundError('Agent', id);
    return agent;
  }

  list(query: AgentListQuery): Promise<Page<Agent>> {
    return this.agents.list(this.db, query);
  }

  /** PUT: `input` already holds defaults for every omitted optional field. */
  replace(id: string, input: AgentInput, expected: ExpectedVersions): Promise<Agent> {
    return this.update(id, input, expected);
  }

  patch(id: string, patch: AgentPatch, expected: ExpectedVersions): Promise<Agent> {
    return this.update(id, patch, expected);
  }

  /** Marks the agent as just seen, optionally with a new status; always an AGENT_STATUS event. */
  heartbeat(id: string, heartbeat: Heartbeat): Promise<Agent> {
    return this.writes.run(async (tx, emit) => {
      const before = await lockForWrite(this.agents, { executor: tx, resource: 'Agent', id, expected: null });
      const agent = (await this.agents.heartbeat(tx, id, heartbeat))!;
      const changed = changedFields(before, agent, ['status', 'last_active_at']);
      emit(agentEvent('AGENT_STATUS', id, [agent.project_id], { agent, changed_fields: changed }));
      return agent;
    });
  }

  delete(id: string, expected: ExpectedVersions): Promise<void> {
    return this.writes.run(async (tx, emit) => {
      const agent = await lockForWrite(this.agents, { executor: tx, resource: 'Agent', id, expected });
      await this.agents.delete(tx, id);
      emit(agentEvent('AGENT_DELETED', id, [agent.project_id], { id, project_id: agent.project_id }));
    });
  }

  private update(id: string, fields: AgentPatch, expected: ExpectedVersions): Promise<Agent> {
    return this.writes.run(async (tx, emit) => {
      const before = await lockForWrite(this.agents, { executor: tx, resource: 'Agent', id, expected });
      const agent = (await this.agents.update(tx, id, fields))!;
      const changed = changedFields(before, agent, writableFields);
      emit(agentEvent(updateType(changed), id, [before.project_id, agent.project_id], { agent, changed_fields: changed }));
      return agent;
    });
  }
}
