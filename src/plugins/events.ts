import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { WebSocket } from 'ws';
import type { Config } from '../config.js';
import { type EventBus, InProcessEventBus, RedisEventBus } from '../events/event-bus.js';
import { EventDispatcher } from '../events/event-dispatcher.js';
import { EventLog } from '../events/event-log.js';
import { EventPruner } from '../events/retention.js';
import { CloseCode, type GatewayLogger, WebSocketGateway } from '../events/ws-gateway.js';
import { ClientErrorLog, isClientCausedError } from '../http/client-errors.js';

/** The event system of one instance. */
export interface Events {
  log: EventLog;
  bus: EventBus;
  dispatcher: EventDispatcher;
  gateway: WebSocketGateway;
  pruner: EventPruner;
}

declare module 'fastify' {
  interface FastifyInstance {
    events: Events;
  }
}

/** The settings the event system reads. */
export type EventsConfig = Pick<
  Config,
  | 'REDIS_URL'
  | 'EVENT_RETENTION'
  | 'EVENT_PRUNE_INTERVAL_MS'
  | 'EVENT_POLL_MS'
  | 'WS_HEARTBEAT_MS'
  | 'WS_MAX_BUFFERED_BYTES'
  | 'WS_MAX_CONNECTIONS'
>;

/** Options of {@link eventsPlugin}. */
export interface EventsOptions {
  config: EventsConfig;
  /** Where errors a WebSocket client causes (bad frames, resets) go; default: a log of its own. */
  clientErrors?: ClientErrorLog;
}

/** Largest message a client may send; a bigger one closes the socket with 1009. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

function createBus(app: FastifyInstance, config: EventsConfig): EventBus {
  return config.REDIS_URL === undefined
    ? new InProcessEventBus()
    : new RedisEventBus(config.REDIS_URL, app.log);
}

/**
 * Closes every socket with 1001 (the gateway's own, and any still upgrading) before the server
 * stops.
 */
function closeSocketsFirst(this: FastifyInstance, done: () => void): void {
  this.events.gateway.stop();
  for (const client of this.websocketServer.clients)
    client.close(CloseCode.goingAway, 'server shutting down');
  this.websocketServer.close(() => done());
}

/**
 * The gateway's logger: the app's, without the socket errors a client caused (a malformed
 * frame, a reset). Those reach {@link socketErrorHandler} too, which logs them once, as client
 * errors; the gateway would log each again at `warn`.
 */
function gatewayLogger(app: FastifyInstance): GatewayLogger {
  return {
    info: (object, message) => app.log.info(object, message),
    warn: (object, message) => {
      if (!isClientCausedError((object as { err?: unknown }).err)) app.log.warn(object, message);
    },
  };
}

/**
 * `@fastify/websocket`'s error handler (its default logs every socket error at `error` level and
 * terminates): client-caused errors are client errors, and `ws` already closes the socket with
 * the right code; anything else is logged as a failure and the socket terminated.
 */
function socketErrorHandler(clientErrors: ClientErrorLog) {
  return (error: Error, socket: WebSocket, request: FastifyRequest): void => {
    if (isClientCausedError(error)) {
      const code = (error as { code?: string }).code;
      clientErrors.note({ reqId: request.id, code }, 'WebSocket client error');
      return;
    }
    request.log.error({ err: error }, 'WebSocket handler failed');
    socket.terminate();
  };
}

/**
 * The event log, the bus (in process or Redis), the per-instance dispatcher, the WebSocket
 * gateway and the retention pruner; all stopped, and every socket closed with 1001, on close.
 */
export const eventsPlugin = fastifyPlugin<EventsOptions>(
  async (app, { config, clientErrors = new ClientErrorLog(app.log) }) => {
    const log = new EventLog();
    const db = app.database.db;
    const bus = createBus(app, config);
    const dispatcher = new EventDispatcher(db, log, bus, {
      pollMs: config.EVENT_POLL_MS,
      onError: (error) =>
        app.log.warn({ err: error }, 'event dispatch could not read the log; retrying'),
    });
    const gateway = new WebSocketGateway(
      db,
      log,
      dispatcher,
      {
        heartbeatMs: config.WS_HEARTBEAT_MS,
        maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
        maxConnections: config.WS_MAX_CONNECTIONS,
      },
      gatewayLogger(app),
    );
    const pruner = new EventPruner(
      db,
      log,
      config.EVENT_RETENTION,
      config.EVENT_PRUNE_INTERVAL_MS,
      app.log,
    );
    app.decorate('events', { log, bus, dispatcher, gateway, pruner });
    await dispatcher.start();
    gateway.start();
    pruner.start();
    await app.register(fastifyWebsocket, {
      options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES },
      preClose: closeSocketsFirst,
      errorHandler: socketErrorHandler(clientErrors),
    });
    app.addHook('onClose', async () => {
      dispatcher.stop();
      await pruner.stop();
      await bus.close();
    });
  },
  { name: 'events', dependencies: ['database'] },
);
