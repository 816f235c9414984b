import { z } from 'zod';
import { agentStatuses } from './agent.js';
import { timestampSchema } from './common.js';
import { memoryCircuitSchema } from './memory.js';
import { projectStatuses } from './project.js';

const count = z.number().int().min(0);

/** A count per value of `values`, every value present (0 when none has it). */
function countsBy<const Values extends readonly [string, ...string[]]>(values: Values) {
  return z.record(z.enum(values), count);
}

/**
 * `GET /api/v1/stats`: the counts a dashboard's overview shows, computed by the database in one
 * statement instead of by downloading lists. Counted within the key's projects: a key limited
 * to projects counts only their projects, agents and memory entries.
 */
export const statsSchema = z
  .object({
    generated_at: timestampSchema,
    projects: z.object({ total: count, by_status: countsBy(projectStatuses) }),
    agents: z.object({ total: count, by_status: countsBy(agentStatuses) }),
    memory: z.object({
      entries: count.describe('Entries in local storage (within the key’s projects)'),
      queued_writes: count.describe('Rows waiting in the replay queue (every project)'),
      circuit: memoryCircuitSchema.shape.state.describe("This instance's circuit breaker"),
      fallback_count: count.describe(
        'Searches answered from a fallback and writes answered "queued" since the last reset',
      ),
    }),
  })
  .meta({ id: 'Stats' });
export type Stats = z.infer<typeof statsSchema>;

/** Counts by status as the database returns them: only the statuses that occur. */
export type StatusCounts = Record<string, number>;

/** Every value of `values` with its count in `counts` (0 when absent), and their total. */
export function completeCounts<const Values extends readonly string[]>(
  values: Values,
  counts: StatusCounts,
): { total: number; by_status: Record<Values[number], number> } {
  const byStatus = Object.fromEntries(values.map((value) => [value, counts[value] ?? 0]));
  const total = Object.values(counts).reduce((sum, value) => sum + value, 0);
  return { total, by_status: byStatus as Record<Values[number], number> };
}
