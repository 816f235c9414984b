import type {
  FastifyDynamicSwaggerOptions,
  SwaggerTransform,
  SwaggerTransformObject,
} from '@fastify/swagger';
import type { FastifySchema, RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { routeAccess } from '../domain/auth.js';
import { type OpenApiDocument, finishDocument } from './openapi-document.js';
import { withoutDefaults } from './strict-input.js';

/** The security scheme of API keys in the OpenAPI document. */
export const API_KEY_SCHEME = 'apiKey';
/** The security scheme of METRICS_TOKEN, which only `GET /metrics` takes. */
export const METRICS_TOKEN_SCHEME = 'metricsToken';

const securitySchemes = {
  [API_KEY_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'sc_<32 hex digits>_<43 base64url characters>',
    description: [
      'An API key, `sc_<key id: 32 hex digits>_<secret: 43 base64url characters>`, sent as',
      '`Authorization: Bearer <key>`. The first start prints an admin key once; admins create',
      'more with `POST /api/v1/keys`. Its role (reader, writer, admin) and projects decide what',
      'it may do.',
    ].join(' '),
  },
  [METRICS_TOKEN_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'The METRICS_TOKEN setting; `GET /metrics` needs it only when it is set.',
  },
} as const;

type Responses = Record<string, unknown>;
/** An operation's security requirements: any one of them will do; `[]` means no key at all. */
export type Security = ReadonlyArray<Record<string, readonly string[]>>;

/**
 * The response headers a route declares. fastify-type-provider-zod keeps only `description` and
 * `content` of a response given by media type, so they are carried over by hand.
 */
function withHeaders(transformed: unknown, declared: unknown): unknown {
  const isObject = (value: unknown) => typeof value === 'object' && value !== null;
  if (!isObject(transformed) || !isObject(declared)) return transformed;
  const responses = { ...(transformed as Responses) };
  for (const [status, response] of Object.entries(declared as Responses)) {
    const headers = (response as { headers?: unknown } | null)?.headers;
    if (headers !== undefined && typeof responses[status] === 'object') {
      responses[status] = { ...(responses[status] as object), headers };
    }
  }
  return responses;
}

/** `[]` (no key) for public routes, the API key for the rest, unless the route declares its own. */
function securityOf(route: RouteOptions, schema: FastifySchema): Security {
  if (schema.security !== undefined) return schema.security;
  const method = String([route.method].flat()[0]);
  const access = routeAccess(route.url, method, route.config?.access);
  return access === 'public' ? [] : [{ [API_KEY_SCHEME]: [] }];
}

/**
 * The zod transform of each route, plus what it leaves out: the `security` of the operation,
 * response headers, and WebSocket routes, which @fastify/websocket hides from the document but
 * a reader of /docs must find.
 */
export const transformRoute: SwaggerTransform = (input) => {
  const declared = withoutDefaults(input.schema as FastifySchema & { hide?: boolean });
  const hide = input.route.websocket === true ? false : declared.hide;
  const schema = { ...declared, hide, security: securityOf(input.route, declared) };
  const result = jsonSchemaTransform({ ...input, schema });
  const response = withHeaders(result.schema.response, declared.response);
  const responses = response === undefined ? {} : { response };
  return { ...result, schema: { ...result.schema, ...responses } };
};

/** The zod components, then {@link finishDocument}: request names, no unused schema. */
export const transformDocument: SwaggerTransformObject = (input) => {
  const document = jsonSchemaTransformObject(input) as OpenApiDocument;
  return finishDocument(document);
};

/** Options of @fastify/swagger: the OpenAPI 3.1 document `GET /openapi.json` serves. */
export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Swarm Control API',
        version: '1.0.0',
        description: 'Projects, agents, events and shared memory for AI agent swarms.',
      },
      components: { securitySchemes },
    },
    transform: transformRoute,
    transformObject: transformDocument,
  };
}
