import { z } from 'zod';
import { problemSchema } from '../domain/common.js';

/**
 * The response headers the OpenAPI document declares, as JSON Schemas with a description
 * (@fastify/swagger turns each into a header object). Named as HTTP spells them, so generators
 * and readers of /docs see `ETag`, not `etag`.
 */
export const responseHeaders = {
  Location: { type: 'string', description: 'Path of the created resource' },
  ETag: {
    type: 'string',
    description: 'The version as an entity tag, e.g. "3"; send it in If-Match or If-None-Match',
  },
  'Retry-After': { type: 'integer', description: 'Seconds to wait before trying again' },
  'WWW-Authenticate': { type: 'string', description: 'The scheme to authenticate with: Bearer' },
} as const;

/** A header of {@link responseHeaders}. */
export type ResponseHeader = keyof typeof responseHeaders;

type HeaderSchemas = Partial<Record<ResponseHeader, (typeof responseHeaders)[ResponseHeader]>>;

function headerSchemas(names: readonly ResponseHeader[]): { headers?: HeaderSchemas } {
  if (names.length === 0) return {};
  return { headers: Object.fromEntries(names.map((name) => [name, responseHeaders[name]])) };
}

/**
 * A documented response with a body: what it means, its schema under its media type, and its
 * headers. Fastify serializes by media type from `content`; `description` and `headers` are for
 * the document (see `http/openapi.ts`, which carries `headers` through the zod transform).
 */
export interface DocumentedResponse<Schema extends z.ZodType = z.ZodType> {
  description: string;
  content: Record<string, { schema: Schema }>;
  headers?: HeaderSchemas;
}

/**
 * A JSON response: a description of what it means instead of "Default Response". Generic, so
 * that the zod type provider still checks what a handler returns against `schema`.
 */
export function json<Schema extends z.ZodType>(
  description: string,
  schema: Schema,
  ...headers: ResponseHeader[]
): DocumentedResponse<Schema> & { content: { 'application/json': { schema: Schema } } } {
  return { description, content: { 'application/json': { schema } }, ...headerSchemas(headers) };
}

/**
 * A response without a body (204, 304, 101). Kept as a zod schema, which is what Fastify
 * compiles for a status without `content`; the description and headers travel as metadata.
 * Create each once, at module level: the serializer compiles once per schema instance.
 */
export function empty(description: string, ...headers: ResponseHeader[]): z.ZodType {
  return z.undefined().meta({ description, ...headerSchemas(headers) });
}

/** 204 of a DELETE. */
export const deleted = empty('Deleted');
/** 304 of a GET with If-None-Match. */
export const notModified = empty('Not modified (If-None-Match matched)', 'ETag');

/** What each error status means for a client, as the document states it. */
const problemDescriptions: Record<number, string> = {
  400: 'Malformed request (JSON, URL escapes or WebSocket handshake)',
  401: 'No API key, or an unknown or revoked one; see WWW-Authenticate',
  403: "The key's role does not allow this, or it names a project outside the key's projects",
  404: "Not found, or outside the key's projects",
  405: 'The method is not allowed here; see Allow',
  409: 'Conflicts with existing data, e.g. an agent name taken in its project',
  412: 'If-Match names another version',
  413: 'Body over 1 MiB',
  414: 'A path parameter over 1 024 characters',
  415: 'The body is not application/json',
  422: 'Invalid input; `errors` names each field',
  426: 'Sec-WebSocket-Version must be 13 or 8',
  429: 'Too many requests; see Retry-After',
  503: 'Database unavailable; retry after Retry-After',
};

const problemHeaders: Record<number, ResponseHeader[]> = {
  401: ['WWW-Authenticate'],
  429: ['Retry-After'],
  503: ['Retry-After'],
};

/** The response of one error status: an RFC 9457 problem document. */
export function problemResponse(
  status: number,
  schema: z.ZodType = problemSchema,
): DocumentedResponse {
  const description = problemDescriptions[status];
  if (description === undefined) throw new Error(`No description for problem status ${status}`);
  return {
    description,
    content: { 'application/problem+json': { schema } },
    ...headerSchemas(problemHeaders[status] ?? []),
  };
}

/** Standard problem responses, so each route documents what can go wrong and what it means. */
export function problems(...statuses: number[]): Record<number, DocumentedResponse> {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(status)]));
}
