import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  memoryCircuitSchema,
  memoryEntryPageSchema,
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
import { actorOf } from '../request.js';
import { json, problems } from '../responses.js';

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
      tags,
      operationId: 'storeMemoryEntry',
      summary: 'Store an entry (saved locally, then sent to the MCP server or queued for it)',
      body: memoryInputSchema,
      response: {
        201: json(
          'Stored; `stored_in` says whether the MCP server has it or it is queued',
          memoryStoreResultSchema,
          'Location',
        ),
        ...problems(401, 403, 413, 415, 422, 429, 503),
      },
    },
    handler: async (request, reply) => {
      const stored = await service.store(request.body, actorOf(request));
      return reply.code(201).header('location', memoryEntryPath(stored)).send(stored);
    },
  });

  app.get('/memory', {
    schema: {
      tags,
      operationId: 'listMemoryEntries',
      summary: 'List entries from local storage, a page at a time',
      querystring: memoryListQuerySchema,
      response: {
        200: json('A page of entries', memoryEntryPageSchema),
        ...problems(401, 422, 429, 503),
      },
    },
    handler: (request) => service.list(request.query, request.principal),
  });

  app.get('/memory/search', {
    schema: {
      tags,
      operationId: 'searchMemory',
      summary: 'Search entries; `source` says whether the MCP server or a fallback answered',
      querystring: memorySearchQuerySchema,
      response: {
        200: json('The entries found and where the answer came from', memorySearchResultSchema),
        ...problems(401, 403, 422, 429, 503),
      },
    },
    handler: (request) => service.search(request.query, request.principal),
  });

  app.get('/memory/circuit', {
    schema: {
      tags,
      operationId: 'getMemoryCircuit',
      summary: 'State and counters of the memory circuit breaker',
      response: { 200: json('The breaker now', memoryCircuitSchema), ...problems(401, 429, 503) },
    },
    handler: () => service.circuit(),
  });

  app.post('/memory/circuit/reset', {
    config: { access: 'admin' },
    schema: {
      tags,
      operationId: 'resetMemoryCircuit',
      summary: 'Force the breaker CLOSED and zero its counters (admin)',
      response: {
        200: json('The breaker after the reset', memoryCircuitSchema),
        ...problems(401, 403, 429, 503),
      },
    },
    handler: (request) => service.resetCircuit(actorOf(request)),
  });

  app.get('/memory/:key', {
    schema: {
      tags,
      operationId: 'getMemoryEntry',
      summary: 'Get one entry (of `project_id`, or of no project) from local storage',
      params: memoryKeyParamsSchema,
      querystring: memoryEntryQuerySchema,
      response: {
        200: json('The entry', memoryEntrySchema),
        ...problems(401, 403, 404, 414, 422, 429, 503),
      },
    },
    handler: (request) =>
      service.get(request.params.key, request.query.project_id ?? null, request.principal),
  });
}
