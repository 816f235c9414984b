import type { FastifyRequest } from 'fastify';
import type { FieldError } from '../domain/errors.js';

/** The request parts a 422 names in `in`, and the Fastify schema key of each. */
const parts = [
  ['path', 'params'],
  ['query', 'querystring'],
  ['body', 'body'],
] as const;

type Part = (typeof parts)[number][0];

/** The top-level field a JSON pointer names (`/project_id/0` → `project_id`), if any. */
function fieldOf(pointer: string): string | undefined {
  const name = pointer.split('/')[1];
  return name === undefined || name === ''
    ? undefined
    : name.replaceAll('~1', '/').replaceAll('~0', '~');
}

function holds(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, name);
}

/** The object schema inside wrappers (optional, nullable, pipes), as far as a few levels go. */
function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  let current = schema as
    { shape?: unknown; def?: { innerType?: unknown; in?: unknown } } | undefined;
  for (let depth = 0; depth < 4 && current !== undefined; depth += 1) {
    if (typeof current.shape === 'object' && current.shape !== null)
      return current.shape as Record<string, unknown>;
    current = (current.def?.innerType ?? current.def?.in) as typeof current;
  }
  return undefined;
}

/** The part that carries `name` in this request, else the part whose schema declares it. */
function partOf(request: FastifyRequest, name: string): Part | undefined {
  const sent = { path: request.params, query: request.query, body: request.body };
  const carrying = parts.find(([part]) => holds(sent[part], name));
  if (carrying !== undefined) return carrying[0];
  const schema = (request.routeOptions.schema ?? {}) as Record<string, unknown>;
  return parts.find(([, key]) => holds(shapeOf(schema[key]), name))?.[0];
}

/**
 * Services raise 422s naming a field (`/project_id`) and never where the request carried it:
 * the same service call serves a body on one route and a query on another
 * (`GET /memory/search?project_id=…`). The route knows, so `in` is decided here, and only here:
 * the part that holds the field, else the part whose schema declares it, else `body`.
 */
export function placeErrors(errors: FieldError[], request: FastifyRequest): FieldError[] {
  return errors.map((error) => {
    const name = fieldOf(error.path);
    const part = name === undefined ? undefined : partOf(request, name);
    return { ...error, in: part ?? 'body' };
  });
}
