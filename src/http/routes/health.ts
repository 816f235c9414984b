import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../domain/common.js';
import { healthCheckSchema } from '../../domain/health.js';
import { problem, sendProblem } from '../problem.js';
import { json, problemResponse } from '../responses.js';

const checksSchema = z
  .record(z.string(), healthCheckSchema)
  .describe('`database`, and `memory` when MEMORY_MCP is on');
const readySchema = z
  .object({ status: z.literal('ready'), checks: checksSchema })
  .meta({ id: 'Readiness' });
/** The 503 of readiness: a problem document that also says which check failed. */
const notReadySchema = problemSchema
  .extend({ checks: checksSchema })
  .meta({ id: 'ReadinessProblem' });
const liveSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

/**
 * `/health/live` says the process serves; `/health/ready` says it can do useful work (database
 * reachable). `/health` answers as `/health/ready` does: it is the URL a person tries first.
 */
export async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/health/live', {
    schema: {
      tags: ['Health'],
      operationId: 'getLiveness',
      summary: 'The process is up (answered before routing, see src/http/liveness.ts)',
      response: { 200: json('The process serves requests', liveSchema) },
    },
    handler: async () => ({ status: 'ok' as const }),
  });
  const readiness = async (request: FastifyRequest, reply: FastifyReply) => {
    const { ready, checks } = await app.services.health.readiness();
    if (ready) return { status: 'ready' as const, checks };
    request.log.warn({ checks }, 'readiness check failed');
    return sendProblem(reply, { ...problem(503, 'The database is unreachable'), checks } as never);
  };
  const summary = 'The service can reach its database (503 when not)';
  const response = {
    200: json('Ready: every check is up (memory may be degraded)', readySchema),
    503: {
      ...problemResponse(503, notReadySchema),
      description: 'Not ready: the database is unreachable; retry after Retry-After',
    },
  };
  const schema = { tags: ['Health'], operationId: 'getReadiness', summary, response };
  app.get('/health/ready', { schema, handler: readiness });
  const alias = { operationId: 'getHealth', summary: `As /health/ready: ${summary}` };
  const aliasSchema = { ...schema, ...alias };
  app.get('/health', { schema: aliasSchema, handler: readiness });
}
