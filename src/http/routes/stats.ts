import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { agentFiguresListSchema, agentStatsQuerySchema, statsSchema } from '../../domain/stats.js';
import { json, problems } from '../responses.js';

/**
 * `GET /stats`: the counts a dashboard's overview shows, computed in SQL within the key's projects.
 */
export async function statsRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/stats', {
    schema: {
      tags: ['Operations'],
      operationId: 'getStats',
      summary: 'Counts by status of projects, agents and tasks, recent runs, and shared memory',
      description:
        'Computed by the database in one statement. A key limited to projects counts only their ' +
        'projects, agents, tasks, runs and memory entries; the replay queue and the circuit ' +
        'are shared. Runs are the attempts that ended in the last hour.',
      response: { 200: json('The counts now', statsSchema), ...problems(401, 429, 503) },
    },
    handler: (request) => app.services.stats.summary(request.principal),
  });
  app.get('/stats/agents', {
    schema: {
      tags: ['Operations'],
      operationId: 'getAgentFigures',
      summary: "Agents' current task, success rate and mean duration over recent attempts",
      description:
        'For each agent asked for (`agent_id`, repeated, at most 100) that the key may see: the ' +
        'task of its live attempt, and over its latest 20 finished attempts how many succeeded ' +
        'and their mean time from claim to end. Agents the key may not see are left out.',
      querystring: agentStatsQuerySchema,
      response: {
        200: json('The figures, in the order asked', agentFiguresListSchema),
        ...problems(401, 422, 429, 503),
      },
    },
    handler: async (request) => ({
      items: await app.services.stats.agents(request.query.agent_id, request.principal),
    }),
  });
}
