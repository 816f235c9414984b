import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import {
  type Actor,
  type Principal,
  assertAssignable,
  inScope,
  systemActor,
} from '../domain/auth.js';
import type { Page } from '../domain/common.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { agentEvent } from '../domain/event.js';
import { AgentRepository, type AgentPlace } from '../store/agent-repository.js';
import type { Database, Executor } from '../store/database.js';
import type { ExpectedVersions } from '../domain/common.js';
import { changedFields, lockForWrite } from './versioned-write.js';
import type { WriteTransactions } from '../store/write-transaction.js';

const writableFields = [
  'name',
  'agent_type',
  'capabilities',
  'status',
  'project_id',
  'metadata',
] as const;

/**
 * A change that touches nothing but the status is announced as AGENT_STATUS, anything else as
 * AGENT_UPDATE.
 */
function updateType(changed: string[]): 'AGENT_STATUS' | 'AGENT_UPDATE' {
  return changed.length > 0 && changed.every((field) => field === 'status')
    ? 'AGENT_STATUS'
    : 'AGENT_UPDATE';
}

/** What {@link AgentService.register} did: made a new agent, or found the one of that name. */
export interface Registration {
  agent: Agent;
  created: boolean;
}

/** The fields a registration brings up to date on an agent found by name. */
function registrationChanges(agent: Agent, input: AgentInput): AgentPatch | null {
  const sameCapabilities =
    agent.capabilities.length === input.capabilities.length &&
    agent.capabilities.every((capability, index) => capability === input.capabilities[index]);
  if (sameCapabilities && agent.agent_type === input.agent_type) return null;
  return { agent_type: input.agent_type, capabilities: input.capabilities };
}

/** "1 unfinished task is", "3 unfinished tasks are". */
const unfinished = (count: number) =>
  count === 1 ? '1 unfinished task is' : `${count} unfinished tasks are`;

/** The audit action of an update: a status-only change is recorded as such, like its event. */
const auditAction = { AGENT_STATUS: 'status', AGENT_UPDATE: 'update' } as const;

/**
 * Use cases on agents. Each write is one transaction with its events and audit records, so a
 * change is either whole or absent. An agent is in a key's scope when its project is.
 */
export class AgentService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly agents = new AgentRepository(),
  ) {}

  create(input: AgentInput, actor: Actor): Promise<Agent> {
    assertAssignable(actor.principal, input.project_id);
    return this.writes.run(actor, async (tx, emit, audit) => {
      const agent = await this.agents.insert(tx, input);
      emit(agentEvent('AGENT_CREATED', agent.id, [agent.project_id], { agent }));
      audit({ action: 'create', resource: 'agent', resourceId: agent.id });
      return agent;
    });
  }

  /**
   * Creates the agent, or reuses the one of the same name in the same project (its type and
   * capabilities brought up to date), so that a worker that restarts keeps its identity, its
   * history and its claims instead of leaving a trail of dead agents behind.
   */
  async register(input: AgentInput, actor: Actor): Promise<Registration> {
    assertAssignable(actor.principal, input.project_id);
    const found = await this.findByName(input, actor.principal);
    if (found !== null) return this.reuse(found, input, actor);
    try {
      return { agent: await this.create(input, actor), created: true };
    } catch (error) {
      // Another registration of the same name won the race: reuse what it made.
      const raced =
        error instanceof ConflictError ? await this.findByName(input, actor.principal) : null;
      if (raced === null) throw error;
      return this.reuse(raced, input, actor);
    }
  }

  private async reuse(agent: Agent, input: AgentInput, actor: Actor): Promise<Registration> {
    const changes = registrationChanges(agent, input);
    const current = changes === null ? agent : await this.patch(agent.id, changes, null, actor);
    return { agent: current, created: false };
  }

  private async findByName(place: AgentPlace, principal: Principal): Promise<Agent | null> {
    const query = {
      name: place.name,
      ...(place.project_id === null ? {} : { project_id: place.project_id }),
      limit: 100,
      offset: 0,
      sort: 'created_at' as const,
    };
    const { items } = await this.agents.list(this.db, query, principal.projectIds);
    return items.find((agent) => agent.project_id === place.project_id) ?? null;
  }

  async get(id: string, principal: Principal): Promise<Agent> {
    const agent = await this.agents.findById(this.db, id);
    if (agent === null || !inScope(principal, agent.project_id))
      throw new NotFoundError('Agent', id);
    return agent;
  }

  list(query: AgentListQuery, principal: Principal): Promise<Page<Agent>> {
    return this.agents.list(this.db, query, principal.projectIds);
  }

  /** PUT: `input` already holds defaults for every omitted optional field. */
  replace(id: string, input: AgentInput, expected: ExpectedVersions, actor: Actor): Promise<Agent> {
    return this.update(id, input, expected, actor);
  }

  patch(id: string, patch: AgentPatch, expected: ExpectedVersions, actor: Actor): Promise<Agent> {
    return this.update(id, patch, expected, actor);
  }

  /**
   * Marks the agent as just seen, optionally with a new status. Heartbeats are the most frequent
   * write of a swarm, so one that changes no status writes no event, no audit record and no new
   * version (docs/events.md); one that does is an AGENT_STATUS change like any other.
   */
  async heartbeat(id: string, heartbeat: Heartbeat, actor: Actor): Promise<Agent> {
    const statement = this.agents.heartbeatStatement(id, heartbeat, actor.principal.projectIds);
    const { agent } = await this.writes.runStatement(actor, statement);
    if (agent === null) throw new NotFoundError('Agent', id);
    return agent as Agent;
  }

  /**
   * Deletes an agent that has no work left: while it runs a task or tasks wait pinned to it the
   * deletion is a 409, since it would strand the running attempt or make the pinned tasks
   * claimable by any agent, with no event. Its finished tasks and attempts keep their history.
   */
  delete(id: string, expected: ExpectedVersions, actor: Actor): Promise<void> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      const agent = await this.lock(tx, id, expected, actor.principal);
      await this.assertNoWork(tx, id);
      await this.agents.delete(tx, id);
      emit(
        agentEvent('AGENT_DELETED', id, [agent.project_id], { id, project_id: agent.project_id }),
      );
      audit({ action: 'delete', resource: 'agent', resourceId: id });
    });
  }

  /** 409 while the agent runs a task or unfinished tasks are pinned to it (docs/tasks.md). */
  private async assertNoWork(tx: Executor, id: string): Promise<void> {
    const running = await this.agents.runningTask(tx, id);
    if (running !== null)
      throw new ConflictError(
        `Agent ${id} cannot be deleted: it is running a task; let the task finish or cancel it ` +
          'first',
      );
    await this.agents.unpinFinished(tx, id);
    const pinned = await this.agents.pinnedTasks(tx, id);
    if (pinned > 0)
      throw new ConflictError(
        `Agent ${id} cannot be deleted: ${unfinished(pinned)} pinned to it; cancel them ` +
          'or change their agent_id (PATCH, to another agent or null) first',
      );
  }

  /**
   * Marks offline every agent silent for `silentMs`, each with an AGENT_STATUS event, so a crash
   * shows without anyone asking. Returns how many changed.
   */
  markSilentOffline(silentMs: number, limit = 500): Promise<number> {
    return this.writes.run(systemActor, async (tx, emit, audit) => {
      const changed = await this.agents.markSilentOffline(tx, silentMs, limit);
      const changedFields = ['status'];
      for (const agent of changed) {
        emit(
          agentEvent('AGENT_STATUS', agent.id, [agent.project_id], {
            agent,
            changed_fields: changedFields,
          }),
        );
        audit({ action: 'status', resource: 'agent', resourceId: agent.id, changedFields });
      }
      return changed.length;
    });
  }

  private update(
    id: string,
    fields: AgentPatch,
    expected: ExpectedVersions,
    actor: Actor,
  ): Promise<Agent> {
    assertAssignable(actor.principal, fields.project_id);
    return this.writes.run(actor, async (tx, emit, audit) => {
      const before = await this.lock(tx, id, expected, actor.principal);
      await this.assertMovable(tx, before, fields.project_id);
      const agent = (await this.agents.update(tx, id, fields, before))!;
      const changed = changedFields(before, agent, writableFields);
      const type = updateType(changed);
      emit(
        agentEvent(type, id, [before.project_id, agent.project_id], {
          agent,
          changed_fields: changed,
        }),
      );
      audit({
        action: auditAction[type],
        resource: 'agent',
        resourceId: id,
        changedFields: changed,
      });
      return agent;
    });
  }

  /**
   * 409 when the agent would move to another project while unfinished tasks outside it are
   * pinned to it: they could never run, as after a delete (docs/tasks.md, "Pinning"). Moving to
   * no project keeps every pin claimable.
   */
  private async assertMovable(tx: Executor, agent: Agent, projectId: string | null | undefined) {
    if (projectId === undefined || projectId === null || projectId === agent.project_id) return;
    const pinned = await this.agents.pinnedElsewhere(tx, agent.id, projectId);
    if (pinned > 0)
      throw new ConflictError(
        `Agent ${agent.id} cannot move to project ${projectId}: ${unfinished(pinned)} pinned ` +
          'to it in another project; cancel them or change their agent_id first',
      );
  }

  private lock(
    executor: Executor,
    id: string,
    expected: ExpectedVersions,
    principal: Principal,
  ): Promise<Agent> {
    return lockForWrite(this.agents, {
      executor,
      resource: 'Agent',
      id,
      expected,
      visible: (agent) => inScope(principal, agent.project_id),
    });
  }
}
