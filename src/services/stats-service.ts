import { agentStatuses } from '../domain/agent.js';
import type { Principal } from '../domain/auth.js';
import type { MemoryCircuit } from '../domain/memory.js';
import { projectStatuses } from '../domain/project.js';
import { type AgentFigures, type Stats, completeCounts } from '../domain/stats.js';
import { attemptOutcomes, taskStatuses } from '../domain/task.js';
import type { Database } from '../store/database.js';
import { StatsRepository } from '../store/stats-repository.js';

/** What {@link StatsService} reads besides the database: this instance's memory circuit breaker. */
export interface StatsSources {
  circuit: () => Promise<Pick<MemoryCircuit, 'state' | 'fallback_count'>>;
}

/**
 * The overview's counts (`GET /api/v1/stats`) and the roster's figures per agent
 * (`GET /api/v1/stats/agents`): the database computes them, within the caller's projects; the
 * circuit state and fallback count are this instance's.
 */
export class StatsService {
  constructor(
    private readonly db: Database,
    private readonly sources: StatsSources,
    private readonly repository = new StatsRepository(),
  ) {}

  async summary(principal: Principal): Promise<Stats> {
    const [counts, circuit] = await Promise.all([
      this.repository.counts(this.db, principal.projectIds),
      this.sources.circuit(),
    ]);
    const runs = completeCounts(attemptOutcomes, counts.runsLastHour);
    return {
      generated_at: new Date().toISOString(),
      projects: completeCounts(projectStatuses, counts.projects),
      agents: completeCounts(agentStatuses, counts.agents),
      tasks: completeCounts(taskStatuses, counts.tasks),
      runs_last_hour: {
        finished: runs.total,
        by_outcome: runs.by_status,
        success_rate: runs.total === 0 ? null : runs.by_status.succeeded / runs.total,
      },
      memory: {
        entries: counts.memoryEntries,
        queued_writes: counts.queuedWrites,
        circuit: circuit.state,
        fallback_count: circuit.fallback_count,
      },
    };
  }

  /** The asked-for agents' figures that the caller may see, in the order asked; others left out. */
  agents(ids: readonly string[], principal: Principal): Promise<AgentFigures[]> {
    return this.repository.agentFigures(this.db, ids, principal.projectIds);
  }
}
