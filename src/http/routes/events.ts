import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Principal, scopeTopics } from '../../domain/auth.js';
import { queryInteger } from '../../domain/common.js';
import { ForbiddenError } from '../../domain/errors.js';
import { eventSchema, topicSchema } from '../../domain/event.js';
import type { GatewaySocket } from '../../events/ws-gateway.js';
import { problems } from './crud.js';

/** `topics=a,b` or `topic=a&topic=b`: a list of topic names. */
const topicList = z
  .preprocess((value) => (Array.isArray(value) ? value : String(value).split(',')).map((item) => String(item).trim()), z.array(topicSchema).min(1).max(100))
  .optional();

const eventsQuerySchema = z.strictObject({
  after: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  topic: topicList,
  limit: queryInteger(1, 1000).default(100),
});

const eventPageSchema = z.object({
  items: z.array(eventSchema),
  next_after: z.number().int().describe('Pass as `after` to read the next page'),
  has_more: z.boolean(),
  pruned_through_id: z.number().int().describe('Events up to this id were removed by retention; an `after` below it has missed some'),
});
type EventPageBody = z.infer<typeof eventPageSchema>;

/**
 * The event page is written with JSON.stringify rather than compiled from its schema: events
 * leave as they were logged, as the WebSocket sends them, and an event logged before a schema
 * change (a field added to Project, say) is still served instead of failing its type's schema.
 */
const asLogged = () => (data: unknown) => JSON.stringify(data);

const socketQuerySchema = z.strictObject({
  token: z.string().max(256).optional().describe('The API key, for clients that cannot set an Authorization header'),
  topics: topicList.describe('Comma-separated topics; default: projects, agents and system (everything)'),
  last_event_id: queryInteger(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Resume after this event'),
});

/**
 * The topics a request may read: those it asked for (403 if any is outside the key's scope), or
 * without a request every topic the key may read (null: all).
 */
function readableTopics(principal: Principal, requested: string[] | undefined): string[] | null {
  const allowed = scopeTopics(principal);
  if (requested === undefined || allowed === null) return requested ?? allowed;
  const forbidden = requested.filter((topic) => !allowed.includes(topic));
  if (forbidden.length > 0) throw new ForbiddenError(`This key may not read ${forbidden.join(', ')}; it may read ${allowed.join(', ')}`);
  return requested;
}

/** `GET /api/v1/events` pages through the log; `GET /ws` streams it live. */
export async function eventRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/api/v1/events', {
    schema: { tags: ['Event'], summary: 'Read the event log after an id, oldest first', querystring: eventsQuerySchema, response: { 200: eventPageSchema, ...problems(401, 403, 422, 429, 503) } },
    serializerCompiler: asLogged,
    handler: async (request) => {
      const { after, topic, limit } = request.query;
      const topics = readableTopics(request.principal, topic);
      return (await app.services.events.page(after, topics, limit)) as EventPageBody;
    },
  });
  app.get(
    '/ws',
    {
      websocket: true,
      schema: { tags: ['Event'], summary: 'WebSocket stream of events (see docs/events.md for the protocol)', querystring: socketQuerySchema, response: problems(401, 403, 422, 429) },
      preHandler: async (request) => void readableTopics(request.principal, request.query.topics),
    },
    (socket, request) =>
      app.events.gateway.accept(socket as GatewaySocket, {
        topics: request.query.topics ?? null, lastEventId: request.query.last_event_id,
        allowedTopics: scopeTopics(request.principal), keyId: request.principal.keyId,
      }),
  );
}
