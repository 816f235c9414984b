import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type DestinationStream, destination } from 'pino';
import type { Config } from './config.js';
import { ClientErrorLog } from './http/client-errors.js';
import { installJsonParser } from './http/json-body.js';
import { swaggerOptions } from './http/openapi.js';
import { refuseMalformedQuery } from './http/query-escapes.js';
import { strictInputs } from './http/strict-input.js';
import { isDatabaseUnavailable } from './store/database-errors.js';
import {
  answerClientError,
  frameworkErrorHandler,
  installProblemHandlers,
} from './http/problem.js';
import { loggableUrl, redactingDestination } from './http/redaction.js';
import { json, problems } from './http/responses.js';
import { adminRoutes } from './http/routes/admin.js';
import { agentRoutes } from './http/routes/agents.js';
import { scheduleRoutes } from './http/routes/schedules.js';
import { taskRoutes } from './http/routes/tasks.js';
import { livenessServerFactory } from './http/liveness.js';
import { serializerCompiler } from './http/serializer.js';
import { eventRoutes } from './http/routes/events.js';
import { healthRoutes } from './http/routes/health.js';
import { memoryRoutes } from './http/routes/memory.js';
import { projectRoutes } from './http/routes/projects.js';
import { statsRoutes } from './http/routes/stats.js';
import { type Announce, authPlugin } from './plugins/auth.js';
import { dashboardPlugin } from './plugins/dashboard.js';
import { type DatabasePluginOptions, databasePlugin } from './plugins/database.js';
import { eventsPlugin } from './plugins/events.js';
import { hardeningPlugin, securityHeaders } from './plugins/hardening.js';
import { metricsPlugin } from './plugins/metrics.js';
import { memoryPlugin } from './plugins/memory.js';
import { mcpPlugin } from './plugins/mcp.js';
import { memoryEventsPlugin } from './plugins/memory-events.js';
import { servicesPlugin } from './plugins/services.js';
import { tasksPlugin } from './plugins/tasks.js';
import { upgradesPlugin } from './plugins/upgrades.js';

/**
 * How long an idle keep-alive connection stays open: Fastify's default, which Fastify sets only
 * on servers it creates itself (this app supplies its own, see `http/liveness.ts`).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** Largest accepted request body. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * Longest path parameter (decoded), so that a 255-character memory key fits; longer ones are 414.
 */
export const MAX_PARAM_LENGTH = 1024;

/**
 * What {@link buildApp} needs: the configuration, and the database to open or an open one to
 * borrow.
 */
export interface AppOptions {
  config: Config;
  database: DatabasePluginOptions;
  /** Replaces the pino logger settings (tests pass `false`). */
  logger?: FastifyServerOptions['logger'];
  /** Where text for a person (the first-start admin key) goes; default: standard error. */
  announce?: Announce;
  /** Where the log lines go (default: standard output); tests pass a stream to read them. */
  logStream?: DestinationStream;
  /** The folder of the built dashboard (default: `web/` beside this module, i.e. `dist/web`). */
  dashboardRoot?: string;
}

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;

function requestId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/**
 * pino with the request serializer (no headers; a `?token=` masked) writing through
 * {@link redactingDestination}, so that no line holds a credential whoever wrote it.
 */
function loggerOptions(options: AppOptions): FastifyServerOptions['logger'] {
  if (options.logger !== undefined) return options.logger;
  return {
    level: options.config.LOG_LEVEL,
    stream: redactingDestination(options.logStream ?? destination(1)),
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: loggableUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
  };
}

const openApiDocumentSchema = z.record(z.string(), z.unknown());

/** `GET /openapi.json` in the document it serves, so that a generator finds where it came from. */
const openApiRouteSchema = {
  tags: ['Operations'],
  operationId: 'getOpenApiDocument',
  summary: 'This OpenAPI 3.1 document (browsable at /docs)',
  response: { 200: json('The OpenAPI document', openApiDocumentSchema), ...problems(429) },
};

/** The OpenAPI document (see `http/openapi.ts`) at `/openapi.json` and Swagger UI at `/docs`. */
async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, swaggerOptions());
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: openApiRouteSchema }, async () => app.swagger());
}

/**
 * Builds the whole service as a Fastify instance; `main.ts` listens on it and tests inject into it.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const headers = securityHeaders();
  let clientErrors: ClientErrorLog | undefined;
  const app = Fastify({
    logger: loggerOptions(options),
    genReqId: requestId,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: (error, socket) => answerClientError(error, socket, clientErrors),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    serverFactory: livenessServerFactory({
      requestTimeoutMs: options.config.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
    }),
  });
  clientErrors = new ClientErrorLog(app.log);
  app.addHook('onClose', async () => clientErrors.flush());
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app, { clientErrors, isUnavailable: isDatabaseUnavailable });
  installJsonParser(app);
  app.addHook('onRoute', strictInputs);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onRequest', refuseMalformedQuery);
  await app.register(hardeningPlugin, { config: options.config, headers });
  await registerDocs(app);
  await app.register(databasePlugin, options.database);
  await app.register(eventsPlugin, { config: options.config, clientErrors });
  await app.register(upgradesPlugin, { config: options.config });
  await app.register(servicesPlugin);
  await app.register(authPlugin, { config: options.config, announce: options.announce });
  await app.register(metricsPlugin, { config: options.config });
  await app.register(memoryPlugin, { config: options.config });
  await app.register(memoryEventsPlugin);
  await app.register(tasksPlugin, { config: options.config });
  await app.register(mcpPlugin);
  await app.register(eventRoutes);
  await app.register(healthRoutes);
  await app.register(dashboardPlugin, {
    root: options.dashboardRoot ?? fileURLToPath(new URL('./web', import.meta.url)),
    authentication: options.config.AUTH,
  });
  await app.register(
    async (api) => {
      await api.register(projectRoutes);
      await api.register(agentRoutes);
      await api.register(taskRoutes);
      await api.register(scheduleRoutes);
      await api.register(adminRoutes);
      await api.register(memoryRoutes);
      await api.register(statsRoutes);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
