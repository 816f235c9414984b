import { agentStatuses } from '../domain/agent.js';
import type { Principal } from '../domain/auth.js';
import type { MemoryCircuit } from '../domain/memory.js';
import { projectStatuses } from '../domain/project.js';
import { type Stats, completeCounts } from '../domain/stats.js';
import type { Database } from '../store/database.js';
import { StatsRepository } from '../store/stats-repository.js';

/** What {@link StatsService} reads besides the database: this instance's memory circuit breaker. */
export interface StatsSources {
  circuit: () => Promise<Pick<MemoryCircuit, 'state' | 'fallback_count'>>;
}

/**
 * The overview's counts (`GET /api/v1/stats`): the database counts rows in one statement, within
 * the caller's projects; the circuit state and fallback count are this instance's.
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
    return {
      generated_at: new Date().toISOString(),
      projects: completeCounts(projectStatuses, counts.projects),
      agents: completeCounts(agentStatuses, counts.agents),
      memory: {
        entries: counts.memoryEntries,
        queued_writes: counts.queuedWrites,
        circuit: circuit.state,
        fallback_count: circuit.fallback_count,
      },
    };
  }
}
