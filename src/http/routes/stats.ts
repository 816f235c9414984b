import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { statsSchema } from '../../domain/stats.js';
import { json, problems } from '../responses.js';

/** `GET /stats`: the counts a dashboard's overview shows, computed in SQL within the key's projects. */
export async function statsRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/stats', {
    schema: {
      tags: ['Operations'],
      operationId: 'getStats',
      summary: 'Counts by status of projects and agents, and the state of shared memory',
      description:
        'Computed by the database in one statement. A key limited to projects counts only their ' +
        'projects, agents and memory entries; the replay queue and the circuit are shared.',
      response: { 200: json('The counts now', statsSchema), ...problems(401, 429, 503) },
    },
    handler: (request) => app.services.stats.summary(request.principal),
  });
}
