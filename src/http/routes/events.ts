import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eventSchema, toEnvelope, topicSchema } from '../../domain/event.js';
import type { GatewaySocket } from '../../events/ws-gateway.js';
import { problems } from './crud.js';

/** `topics=a,b` or `topic=a&topic=b`: a list of topic names. */
const topicList = z
  .preprocess((value) => (Array.isArray(value) ? value : String(value).split(',')).map((item) => String(item).trim()), z.array(topicSchema).min(1).max(100))
  .optional();

const eventsQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  topic: topicList,
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const eventPageSchema = z.object({
  items: z.array(eventSchema),
  next_after: z.number().int().describe('Pass as `after` to read the next page'),
  has_more: z.boolean(),
  pruned_through_id: z.number().int().describe('Events up to this id were removed by retention; an `after` below it has missed some'),
});

const socketQuerySchema = z.strictObject({
  topics: topicList.describe('Comma-separated topics; default: projects, agents and system (everything)'),
  last_event_id: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('Resume after this event'),
});

/** `GET /api/v1/events` pages through the log; `GET /ws` streams it live. */
export async function eventRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { log } = app.events;
  app.get('/api/v1/events', {
    schema: { tags: ['Event'], summary: 'Read the event log after an id, oldest first', querystring: eventsQuerySchema, response: { 200: eventPageSchema, ...problems(422, 503) } },
    handler: async (request) => {
      const { after, topic, limit } = request.query;
      const [events, prunedThroughId] = await Promise.all([log.readAfter(app.database.db, after, topic ?? null, limit + 1), log.prunedThroughId(app.database.db)]);
      const items = events.slice(0, limit).map(toEnvelope);
      return { items, next_after: items.at(-1)?.id ?? after, has_more: events.length > limit, pruned_through_id: prunedThroughId };
    },
  });
  app.get(
    '/ws',
    { websocket: true, schema: { tags: ['Event'], summary: 'WebSocket stream of events (see docs/events.md for the protocol)', querystring: socketQuerySchema } },
    (socket, request) => app.events.gateway.accept(socket as GatewaySocket, { topics: request.query.topics ?? null, lastEventId: request.query.last_event_id }),
  );
}
