import type { FastifySchema, RouteOptions } from 'fastify';
import { z } from 'zod';

/**
 * The query of a route that declares none: no parameter at all, so that `?limit=1` on a route
 * without paging is a 422 naming `limit` instead of a silently ignored parameter.
 */
export const noQuery = z.strictObject({});

/**
 * The body of a write that declares none: nothing (null or undefined, as Fastify gives it), or an
 * empty JSON object (what clients that
 * always send a body send). A member is a 422 naming it, like an unknown field of any body.
 */
export const noBody = z.strictObject({}).nullish();

/** Methods whose requests Fastify parses a body for. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Fastify `onRoute` hook: every documented route that declares no query schema gets
 * {@link noQuery}, and every write that declares no body schema gets {@link noBody}. One rule
 * for all routes, so a new route cannot forget it (docs/api.md: unknown query parameters are
 * 422, like unknown body fields). Hidden routes (the documentation UI, the dashboard's files)
 * are served by others' code and keep their own rules.
 */
export function strictInputs(route: RouteOptions): void {
  const schema = route.schema;
  if (schema === undefined || schema.hide === true) return;
  const takesBody = [route.method].flat().some((method) => BODY_METHODS.has(method));
  route.schema = {
    ...schema,
    querystring: schema.querystring ?? noQuery,
    ...(takesBody ? { body: schema.body ?? noBody } : {}),
  };
}

/**
 * A route's schema as the OpenAPI document shows it: without the defaults of
 * {@link strictInputs}, which declare nothing a client could send.
 */
export function withoutDefaults<T extends FastifySchema>(schema: T): T {
  const shown = { ...schema };
  if (shown.querystring === noQuery) delete shown.querystring;
  if (shown.body === noBody) delete shown.body;
  return shown;
}
