import { z } from 'zod';
import { agentStatuses } from './agent.js';
import { timestampSchema } from './common.js';
import { memoryCircuitSchema } from './memory.js';
import { projectStatuses } from './project.js';
import { attemptOutcomes, taskStatuses } from './task.js';

const count = z.number().int().min(0);
const rate = z.number().min(0).max(1).nullable();

/** A count per value of `values`, every value present (0 when none has it). */
function countsBy<const Values extends readonly [string, ...string[]]>(values: Values) {
  return z.record(z.enum(values), count);
}

/**
 * `GET /api/v1/stats`: the counts a dashboard's overview shows, computed by the database in one
 * statement instead of by downloading lists. Counted within the key's projects: a key limited
 * to projects counts only their projects, agents, tasks, runs and memory entries.
 */
export const statsSchema = z
  .object({
    generated_at: timestampSchema,
    projects: z.object({ total: count, by_status: countsBy(projectStatuses) }),
    agents: z.object({ total: count, by_status: countsBy(agentStatuses) }),
    tasks: z.object({ total: count, by_status: countsBy(taskStatuses) }),
    runs_last_hour: z
      .object({
        finished: count,
        by_outcome: countsBy(attemptOutcomes),
        success_rate: rate.describe('Succeeded ÷ finished; null when none finished'),
      })
      .describe('Attempts that ended in the last hour'),
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

/** How many of an agent's latest attempts its figures are computed over. */
export const RECENT_ATTEMPTS = 20;

/** Query of `GET /api/v1/stats/agents`: the agents to report on (1–100, `agent_id` repeated). */
export const agentStatsQuerySchema = z.strictObject({
  agent_id: z
    .preprocess(
      (value): unknown[] => (Array.isArray(value) ? (value as unknown[]) : [value]),
      z
        .array(z.uuid({ message: 'must be a UUID' }))
        .min(1)
        .max(100),
    )
    .describe('Repeat for each agent, at most 100'),
});

/**
 * One agent's figures: what it runs now, and over its latest {@link RECENT_ATTEMPTS} finished
 * attempts how many succeeded and how long they took on average (claim to end).
 */
export const agentFiguresSchema = z
  .object({
    agent_id: z.uuid(),
    current_task: z.object({ id: z.uuid(), title: z.string() }).nullable(),
    recent_attempts: count,
    succeeded: count,
    success_rate: rate,
    mean_duration_ms: z.number().int().nullable(),
  })
  .meta({ id: 'AgentFigures' });
export type AgentFigures = z.infer<typeof agentFiguresSchema>;

/** `GET /api/v1/stats/agents`: the agents asked for that the key may see, in the order asked. */
export const agentFiguresListSchema = z
  .object({ items: z.array(agentFiguresSchema) })
  .meta({ id: 'AgentFiguresList' });
