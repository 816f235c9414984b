import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, type FieldError, UnprocessableError } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../store/database-errors.js';

/** Media type of every error response (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The body of an error response. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: Array<FieldError & { in?: string }>;
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A URL as it may appear in logs and problem documents: an API key passed as `?token=` (WebSocket clients) is masked. */
export function loggableUrl(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

/** Builds a problem document; `type` is a stable, documented slug derived from the title. */
export function problem(status: number, detail: string, errors?: Problem['errors']): Problem {
  const title = titles[status] ?? (status < 500 ? 'Bad Request' : 'Internal Server Error');
  const slug = title.toLowerCase().replaceAll(' ', '-');
  return { type: `/problems/${slug}`, title, status, detail, ...(errors === undefined ? {} : { errors }) };
}

type ZodValidation = Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>;

const contexts: Record<string, string> = { querystring: 'query', body: 'body', params: 'path', headers: 'header' };

function fieldErrors(validation: ZodValidation, context: string | undefined): FieldError[] {
  const where = contexts[context ?? 'body'] ?? 'body';
  return validation.flatMap((issue) => {
    const path = issue.instancePath === '/' ? '' : issue.instancePath;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(issue.params.keys)) {
      return issue.params.keys.map((key) => ({ path: `${path}/${String(key)}`, message: 'is not allowed', in: where }));
    }
    return [{ path: path === '' ? '/' : path, message: issue.message ?? 'is invalid', in: where }];
  });
}

function validationProblem(error: FastifyError & { validation: ZodValidation }): Problem {
  const errors = fieldErrors(error.validation, error.validationContext);
  const names = [...new Set(errors.map((entry) => `${entry.in} ${entry.path}`))].join(', ');
  return problem(422, `The request has invalid fields: ${names}`, errors);
}

/** Maps any thrown value to the problem the client should see; unknown errors become a bare 500. */
export function toProblem(error: unknown): Problem {
  if (error instanceof UnprocessableError) return problem(422, error.message, error.errors);
  if (error instanceof DomainError) return { ...problem(error.status, error.message), title: error.title };
  if (hasZodFastifySchemaValidationErrors(error)) return validationProblem(error as never);
  if (isDatabaseUnavailable(error)) return problem(503, 'The database is unavailable; retry later');
  const status = (error as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return clientProblem(error as FastifyError, status);
  return problem(500, 'An unexpected error occurred; it has been logged');
}

function clientProblem(error: FastifyError, status: number): Problem {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problem(415, 'Send JSON with Content-Type: application/json');
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return problem(413, 'The request body exceeds the 1 MiB limit');
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return problem(400, 'The body is not valid JSON');
  return problem(status, error.message);
}

/** Sends a problem document with the right status and media type. */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  if (body.status === 503) reply.header('retry-after', '1');
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/**
 * Fastify's `frameworkErrors` hook: errors raised before routing (a malformed URL, an
 * over-long path parameter) leave as problem documents too.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply, { ...toProblem(error), instance: loggableUrl(request.url) });
}

/**
 * Fastify's `clientErrorHandler`: requests Node rejects before routing (headers over 16 KiB, a
 * malformed request line, a request that timed out) also get a problem document.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify(problem(status, status === 431 ? 'The request headers exceed 16 KiB' : 'The request is malformed or incomplete'));
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${titles[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Installs the one error handler and the not-found handler: every error leaves as a problem document. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = { ...toProblem(error), instance: loggableUrl(request.url) };
    if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problem(404, `No route for ${request.method} ${request.url.split('?')[0]}`), instance: loggableUrl(request.url) }),
  );
}
