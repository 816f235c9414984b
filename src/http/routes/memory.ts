import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  memoryCircuitSchema,
  memoryEntryPath,
  memoryEntryQuerySchema,
  memoryEntrySchema,
  memoryInputSchema,
  memoryListQuerySchema,
  memoryKeyParamsSchema,
  memorySearchQuerySchema,
  memorySearchResultSchema,
  memoryStoreResultSchema,
} from '../../domain/memory.js';
import { pageSchema } from '../../domain/common.js';
import { actorOf } from '../../plugins/auth.js';
import { problems } from './crud.js';

const tags = ['Memory'];

/**
 * `/memory`: shared memory backed by the MCP server, with local storage and a replay queue
 * behind a circuit breaker (docs/memory.md). Static paths win over `/memory/{key}` in the
 * router, which is why the keys `search` and `circuit` are refused at write.
 */
export async function memoryRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { service } = app.memory;

  app.post('/memory', {
    schema: {
      tags, summary: 'Store an entry (saved locally, then sent to the MCP server or queued for it)',
      body: memoryInputSchema, response: { 201: memoryStoreResultSchema, ...problems(401, 403, 413, 415, 422, 429, 503) },
    },
    handler: async (request, reply) => {
      const stored = await service.store(request.body, actorOf(request));
      return reply.code(201).header('location', memoryEntryPath(stored)).send(stored);
    },
  });

  app.get('/memory', {
    schema: {
      tags, summary: 'List entries from local storage, a page at a time',
      querystring: memoryListQuerySchema, response: { 200: pageSchema(memoryEntrySchema), ...problems(401, 422, 429, 503) },
    },
    handler: (request) => service.list(request.query, request.principal),
  });

  app.get('/memory/search', {
    schema: {
      tags, summary: 'Search entries; `source` says whether the MCP server or a fallback answered',
      querystring: memorySearchQuerySchema, response: { 200: memorySearchResultSchema, ...problems(401, 403, 422, 429, 503) },
    },
    handler: (request) => service.search(request.query, request.principal),
  });

  app.get('/memory/circuit', {
    schema: { tags, summary: 'State and counters of the memory circuit breaker', response: { 200: memoryCircuitSchema, ...problems(401, 429, 503) } },
    handler: () => service.circuit(),
  });

  app.post('/memory/circuit/reset', {
    config: { access: 'admin' },
    schema: { tags, summary: 'Force the breaker CLOSED and zero its counters (admin)', response: { 200: memoryCircuitSchema, ...problems(401, 403, 429, 503) } },
    handler: (request) => service.resetCircuit(actorOf(request)),
  });

  app.get('/memory/:key', {
    schema: {
      tags, summary: 'Get one entry (of `project_id`, or of no project) from local storage',
      params: memoryKeyParamsSchema, querystring: memoryEntryQuerySchema, response: { 200: memoryEntrySchema, ...problems(401, 403, 404, 414, 422, 429, 503) },
    },
    handler: (request) => service.get(request.params.key, request.query.project_id ?? null, request.principal),
  });
}
