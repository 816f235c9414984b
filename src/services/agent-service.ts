import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import type { Page } from '../domain/common.js';
import { NotFoundError } from '../domain/errors.js';
import { AgentRepository } from '../store/agent-repository.js';
import type { Database } from '../store/database.js';
import type { ExpectedVersions } from '../store/versioning.js';
import { writtenOrExplain } from './versioned-write.js';

/** Use cases on agents. Each write is one transaction, so a change is either whole or absent. */
export class AgentService {
  constructor(
    private readonly db: Database,
    private readonly agents = new AgentRepository(),
  ) {}

  create(input: AgentInput): Promise<Agent> {
    return this.db.transaction((tx) => this.agents.insert(tx, input));
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

  /** Marks the agent as just seen, optionally with a new status. */
  heartbeat(id: string, heartbeat: Heartbeat): Promise<Agent> {
    return this.db.transaction(async (tx) => {
      const agent = await this.agents.heartbeat(tx, id, heartbeat);
      if (agent === null) throw new NotFoundError('Agent', id);
      return agent;
    });
  }

  delete(id: string, expected: ExpectedVersions): Promise<void> {
    return this.db.transaction(async (tx) => {
      const deleted = await this.agents.delete(tx, id, expected);
      await writtenOrExplain(deleted, { executor: tx, repository: this.agents, resource: 'Agent', id });
    });
  }

  private update(id: string, fields: AgentPatch, expected: ExpectedVersions): Promise<Agent> {
    return this.db.transaction(async (tx) => {
      const written = await this.agents.update(tx, id, fields, expected);
      return writtenOrExplain(written, { executor: tx, repository: this.agents, resource: 'Agent', id });
    });
  }
}
