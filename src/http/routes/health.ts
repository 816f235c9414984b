import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../domain/common.js';
import type { MemoryHealth } from '../../plugins/memory.js';
import { problem, sendProblem } from '../problem.js';
import { json, problemResponse } from '../responses.js';

const READY_TIMEOUT_MS = 2_000;
const checkSchema = z.object({
  status: z.enum(['up', 'down', 'degraded']),
  detail: z.string().optional(),
  circuit: z.enum(['CLOSED', 'OPEN', 'HALF_OPEN']).optional().describe('memory: state of the MCP circuit breaker'),
  mcp: z.enum(['connected', 'disconnected']).optional().describe('memory: whether the MCP server is connected'),
});
const checksSchema = z
  .record(z.string(), checkSchema)
  .describe('`database`, and `memory` when MEMORY_MCP is on');
const readySchema = z
  .object({ status: z.literal('ready'), checks: checksSchema })
  .meta({ id: 'Readiness' });
/** The 503 of readiness: a problem document that also says which check failed. */
const notReadySchema = problemSchema
  .extend({ checks: checksSchema })
  .meta({ id: 'ReadinessProblem' });
const liveSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

async function withTimeout(check: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The memory check, when MEMORY_MCP is on: a breaker that is not CLOSED degrades it but never fails readiness. */
function memoryChecks(app: FastifyInstance): Record<string, MemoryHealth> {
  const memory = app.memory.health();
  return memory === null ? {} : { memory };
}

/**
 * `/health/live` says the process serves; `/health/ready` says it can do useful work (database
 * reachable). `/health` answers as `/health/ready` does: it is the URL a person tries first.
 */
export async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/health/live', {
    schema: {
      tags: ['Health'], operationId: 'getLiveness',
      summary: 'The process is up (answered before routing, see src/http/liveness.ts)',
      response: { 200: json('The process serves requests', liveSchema) },
    },
    handler: async () => ({ status: 'ok' as const }),
  });
  const readiness = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      await withTimeout(app.database.ping(), READY_TIMEOUT_MS);
      const database = { status: 'up' as const };
      return { status: 'ready' as const, checks: { database, ...memoryChecks(app) } };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      const body = problem(503, 'The database is unreachable');
      const database = { status: 'down', detail: String(error) };
      return sendProblem(reply, { ...body, checks: { database, ...memoryChecks(app) } } as never);
    }
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
