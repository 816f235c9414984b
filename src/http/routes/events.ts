import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Principal, scopeTopics } from '../../domain/auth.js';
import { queryInteger } from '../../domain/common.js';
import { ForbiddenError } from '../../domain/errors.js';
import { eventSchema, topicSchema } from '../../domain/event.js';
import { empty, json, problems } from '../responses.js';

/** `topics=a,b` or `topic=a&topic=b`: a list of topic names. */
const topicList = z
  .preprocess(
    (value) =>
      (Array.isArray(value) ? value : String(value).split(',')).map((item) => String(item).trim()),
    z.array(topicSchema).min(1).max(100),
  )
  .optional();

const eventsQuerySchema = z.strictObject({
  after: queryInteger(0, Number.MAX_SAFE_INTEGER).default(0),
  topic: topicList,
  limit: queryInteger(1, 1000).default(100),
});

const eventPageSchema = z
  .object({
    items: z.array(eventSchema),
    next_after: z.number().int().describe('Pass as `after` to read the next page'),
    has_more: z.boolean(),
    pruned_through_id: z
      .number()
      .int()
      .describe('Events up to this id were removed by retention; an `after` below it missed some'),
  })
  .meta({ id: 'EventPage' });
type EventPageBody = z.infer<typeof eventPageSchema>;

/**
 * The event page is written with JSON.stringify rather than compiled from its schema: events
 * leave as they were logged, as the WebSocket sends them, and an event logged before a schema
 * change (a field added to Project, say) is still served instead of failing its type's schema.
 */
const asLogged = () => (data: unknown) => JSON.stringify(data);

const socketQuerySchema = z.strictObject({
  token: z
    .string()
    .max(256)
    .optional()
    .describe('The API key, for clients that cannot set an Authorization header'),
  topics: topicList.describe(
    'Comma-separated topics; default: projects, agents and system (everything)',
  ),
  last_event_id: queryInteger(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Resume after this event'),
});

/**
 * What a reader of /docs needs to speak the protocol of `GET /ws` (docs/events.md has more).
 * The limits are written out, as in docs/events.md, because routes may not import the gateway
 * (docs/architecture.md); test/integration/health-and-docs.test.ts checks them against it.
 */
const socketDescription = [
  'Upgrades to a WebSocket that streams the event log: replayed after `last_event_id` when',
  'given, then live, without gap or duplicate. Authenticate with `Authorization: Bearer <key>`,',
  'or where headers cannot be set (browsers) with the key as the `token` query parameter (on',
  'this path only).',
  '',
  '**Server messages** (JSON text frames):',
  '- `WELCOME { connection_id, last_event_id, heartbeat_ms, topics }`, first;',
  '- each event on the subscribed topics, as the `Event` schema;',
  '- `ACK { action, topics, topic_count }` after a SUBSCRIBE or UNSUBSCRIBE;',
  '- `PING` every `heartbeat_ms`: answer `PONG` (a peer silent for two intervals is dropped);',
  '- `PONG`, the answer to a client `PING`;',
  '- `ERROR { code, message }`, after which the socket stays open: `REPLAY_GAP` (the resume',
  '  point was pruned or is ahead of the log: refetch state), `INVALID_JSON`, `UNKNOWN_TYPE`,',
  '  `INVALID_MESSAGE`, `TOO_MANY_TOPICS`.',
  '',
  '**Client messages**: `SUBSCRIBE { topics }`, `UNSUBSCRIBE { topics }` (1–100 topics; at',
  'most 200 held), `PING`, `PONG`.',
  '',
  '**Close codes**:',
  '- 1001: the server shuts down; reconnect (to another instance) and resume;',
  '- 1008: too many messages (over 60 at once or 10 per second);',
  '- 1009: a message over 64 KiB;',
  '- 1013: slow consumer, or too many connections; retry later;',
  '- 4401: the API key was revoked; reconnecting with it gets 401.',
].join('\n');

const switchingProtocols = empty(
  'Switching Protocols: the WebSocket is open; the description above says what it carries',
);

/**
 * The topics a request may read: those it asked for (403 if any is outside the key's scope), or
 * without a request every topic the key may read (null: all).
 */
function readableTopics(principal: Principal, requested: string[] | undefined): string[] | null {
  const allowed = scopeTopics(principal);
  if (requested === undefined || allowed === null) return requested ?? allowed;
  const forbidden = requested.filter((topic) => !allowed.includes(topic));
  if (forbidden.length > 0)
    throw new ForbiddenError(
      `This key may not read ${forbidden.join(', ')}; it may read ${allowed.join(', ')}`,
    );
  return requested;
}

/** `GET /api/v1/events` pages through the log; `GET /ws` streams it live. */
export async function eventRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/api/v1/events', {
    schema: {
      tags: ['Event'],
      operationId: 'listEvents',
      summary: 'Read the event log after an id, oldest first',
      querystring: eventsQuerySchema,
      response: {
        200: json('A page of the log, oldest first', eventPageSchema),
        ...problems(401, 403, 422, 429, 503),
      },
    },
    serializerCompiler: asLogged,
    handler: async (request) => {
      const { after, topic, limit } = request.query;
      const topics = readableTopics(request.principal, topic);
      // The logged events, typed as the schema documents them (they are written as logged).
      return (await app.services.events.page(after, topics, limit)) as EventPageBody;
    },
  });
  app.get(
    '/ws',
    {
      websocket: true,
      schema: {
        tags: ['Event'],
        operationId: 'openEventStream',
        summary: 'Stream events over a WebSocket',
        description: socketDescription,
        querystring: socketQuerySchema,
        response: { 101: switchingProtocols, ...problems(400, 401, 403, 422, 426, 429) },
      },
      preHandler: async (request) => void readableTopics(request.principal, request.query.topics),
    },
    (socket, request) =>
      app.services.events.stream(socket, {
        topics: request.query.topics ?? null,
        lastEventId: request.query.last_event_id,
        allowedTopics: scopeTopics(request.principal),
        keyId: request.principal.keyId,
      }),
  );
}
