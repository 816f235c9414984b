import { ApiError, SwarmClient } from '../client/rest-client.js';
import type { Agent, AgentInput } from '../domain/agent.js';
import type { Claimed, Completion, Failure, Lease, TaskHeartbeat } from '../domain/task.js';

/** Where the service is and the key to reach it with. */
export interface ServiceOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
}

/** What the runner registers as: a name, a type and capabilities, in a project or none. */
export type Registration = Pick<AgentInput, 'name' | 'agent_type' | 'capabilities' | 'project_id'>;

function sameCapabilities(agent: Agent, wanted: readonly string[]): boolean {
  return (
    agent.capabilities.length === wanted.length &&
    agent.capabilities.every((capability, index) => capability === wanted[index])
  );
}

/**
 * The REST calls the runner makes, through the typed {@link SwarmClient} that every other
 * client uses: one request path, one error type ({@link ApiError}) for the retry decisions.
 */
export class RunnerService {
  private readonly client: SwarmClient;

  constructor(options: ServiceOptions) {
    this.client = new SwarmClient(options);
  }

  /**
   * The agent of this name in the project, brought up to date, or a new one: a runner that
   * restarts keeps its identity. A 409 means another registration won a race; it is reused.
   */
  async register(wanted: Registration): Promise<Agent> {
    const found = await this.findAgent(wanted);
    if (found !== null) return this.refresh(found, wanted);
    try {
      return await this.client.agents.create(wanted);
    } catch (error) {
      const raced = error instanceof ApiError && error.status === 409;
      const agent = raced ? await this.findAgent(wanted) : null;
      if (agent === null) throw error;
      return this.refresh(agent, wanted);
    }
  }

  agentHeartbeat(agentId: string, status: 'busy' | 'idle' | 'offline'): Promise<Agent> {
    return this.client.agents.heartbeat(agentId, { status });
  }

  /** The claimed task and attempt, or null when none came within `waitMs`. */
  claim(agentId: string, waitMs: number, signal?: AbortSignal): Promise<Claimed | null> {
    return this.client.tasks.claim({ agent_id: agentId, wait_ms: waitMs }, { signal });
  }

  heartbeat(taskId: string, body: TaskHeartbeat): Promise<Lease> {
    return this.client.tasks.heartbeat(taskId, body);
  }

  async complete(taskId: string, body: Partial<Completion> & { attempt: number }): Promise<void> {
    await this.client.tasks.complete(taskId, body);
  }

  async fail(taskId: string, body: Failure): Promise<void> {
    await this.client.tasks.fail(taskId, body);
  }

  private async findAgent(wanted: Registration): Promise<Agent | null> {
    const scope = wanted.project_id === null ? {} : { project_id: wanted.project_id };
    const page = await this.client.agents.list({ name: wanted.name, limit: 100, ...scope });
    return page.items.find((agent) => agent.project_id === wanted.project_id) ?? null;
  }

  private async refresh(agent: Agent, wanted: Registration): Promise<Agent> {
    if (agent.agent_type === wanted.agent_type && sameCapabilities(agent, wanted.capabilities))
      return agent;
    const patch = { agent_type: wanted.agent_type, capabilities: wanted.capabilities };
    return this.client.agents.patch(agent.id, patch);
  }
}
