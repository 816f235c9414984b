import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  agentCreateSchema,
  agentListQuerySchema,
  agentPageSchema,
  agentPatchSchema,
  agentReplaceSchema,
  agentSchema,
  heartbeatSchema,
} from '../../domain/agent.js';
import { idParamsSchema } from '../../domain/common.js';
import { actorOf } from '../request.js';
import { withEntityTag } from '../conditional.js';
import { json, problems } from '../responses.js';
import { registerCrudRoutes } from './crud.js';

/**
 * `/agents`: CRUD with filters `agent_type`, `status`, `project_id` and `capability`, plus
 * heartbeats.
 */
export async function agentRoutes(app: FastifyInstance): Promise<void> {
  const service = app.services.agents;
  registerCrudRoutes(app, {
    path: '/agents',
    tag: 'Agent',
    resource: agentSchema,
    page: agentPageSchema,
    create: agentCreateSchema,
    replace: agentReplaceSchema,
    patch: agentPatchSchema,
    query: agentListQuerySchema,
    service,
  });
  app.withTypeProvider<ZodTypeProvider>().post('/agents/:id/heartbeat', {
    schema: {
      tags: ['Agent'],
      operationId: 'heartbeatAgent',
      summary: 'Report that an agent is alive, optionally with its status',
      description:
        'Sets `last_active_at`, and `status` when given (an `offline` agent that names none ' +
        'becomes `idle`); the body may be omitted. Only a change of status is a new version with ' +
        'an `AGENT_STATUS` event and an audit record (docs/events.md).',
      params: idParamsSchema,
      body: heartbeatSchema,
      response: {
        200: json('The agent as updated', agentSchema, 'ETag'),
        ...problems(401, 403, 404, 413, 415, 422, 429, 503),
      },
    },
    handler: async (request, reply) =>
      withEntityTag(
        reply,
        await service.heartbeat(request.params.id, request.body, actorOf(request)),
      ),
  });
}
