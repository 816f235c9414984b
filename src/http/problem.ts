import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, type FieldError, UnprocessableError } from '../domain/errors.js';
import { type ClientErrorLog, isClientCausedError } from './client-errors.js';
import { placeErrors } from './error-place.js';
import { loggableUrl } from './redaction.js';

export { loggableUrl } from './redaction.js';

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
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Builds a problem document; `type` is a stable, documented slug derived from the title. */
export function problem(status: number, detail: string, errors?: Problem['errors']): Problem {
  // Stryker disable next-line EqualityOperator: 500 has its own title, so 500 never gets here
  const title = titles[status] ?? (status < 500 ? 'Bad Request' : 'Internal Server Error');
  const slug = title.toLowerCase().replaceAll(' ', '-');
  return {
    type: `/problems/${slug}`,
    title,
    status,
    detail,
    ...(errors === undefined ? {} : { errors }),
  };
}

type ZodValidation = Array<{
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}>;

const contexts: Record<string, string> = {
  querystring: 'query',
  body: 'body',
  params: 'path',
  headers: 'header',
};

function fieldErrors(validation: ZodValidation, context: string | undefined): FieldError[] {
  // Stryker disable next-line StringLiteral: Fastify's context is always one of the four above
  const where = contexts[context ?? 'body'] ?? 'body';
  return validation.flatMap((issue) => {
    const path = issue.instancePath === '/' ? '' : issue.instancePath;
    // Stryker disable next-line ConditionalExpression,LogicalOperator: only that issue has keys
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(issue.params.keys)) {
      return issue.params.keys.map((key) => ({
        path: `${path}/${String(key)}`,
        message: 'is not allowed',
        in: where,
      }));
    }
    // Stryker disable next-line StringLiteral,LogicalOperator: zod gives every issue a message
    return [{ path: path === '' ? '/' : path, message: issue.message ?? 'is invalid', in: where }];
  });
}

function validationProblem(error: FastifyError & { validation: ZodValidation }): Problem {
  const errors = fieldErrors(error.validation, error.validationContext);
  const names = [...new Set(errors.map((entry) => `${entry.in} ${entry.path}`))].join(', ');
  return problem(422, `The request has invalid fields: ${names}`, errors);
}

/** Tells whether an error means the database is away (503 rather than 500); the store knows. */
export type UnavailableCheck = (error: unknown) => boolean;

/** Maps any thrown value to the problem the client should see; unknown errors become a bare 500. */
// Stryker disable next-line ArrowFunction: `undefined` is as false as `false` to the check
export function toProblem(error: unknown, isUnavailable: UnavailableCheck = () => false): Problem {
  if (error instanceof UnprocessableError) return problem(422, error.message, error.errors);
  if (error instanceof DomainError)
    return { ...problem(error.status, error.message), title: error.title };
  if (hasZodFastifySchemaValidationErrors(error)) return validationProblem(error);
  if (isUnavailable(error)) return problem(503, 'The database is unavailable; retry later');
  const status = (error as FastifyError | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return clientProblem(error as FastifyError, status);
  return problem(500, 'An unexpected error occurred; it has been logged');
}

function clientProblem(error: FastifyError, status: number): Problem {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return problem(415, 'Send JSON with Content-Type: application/json');
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return problem(413, 'The request body exceeds the 1 MiB limit');
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return problem(400, 'The body is not valid JSON');
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
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  void sendProblem(reply, { ...toProblem(error), instance: loggableUrl(request.url) });
}

/** How much more of a body is read (and discarded) before an answer that closes the connection. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Reads and discards the rest of a request body, up to `limit` more bytes; resolves when the
 * body has ended, the limit is passed, or the request is gone. An answer that closes the
 * connection while the client is still sending makes the client's kernel reset it, and the
 * client then often reads the reset instead of the answer (EPIPE in Node's fetch).
 */
export function drainBody(request: IncomingMessage, limit = DRAIN_LIMIT_BYTES): Promise<void> {
  if (request.complete || request.readableEnded || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    const finish = () => {
      request.off('data', count).off('end', finish).off('close', finish).off('error', finish);
      resolve();
    };
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) finish();
    };
    request.on('data', count).once('close', finish).once('error', finish);
    // Stryker disable next-line StringLiteral: an ended request also closes, which finishes it too
    request.once('end', finish);
    request.resume();
  });
}

/**
 * True when the error is the request stream's own: the client aborted or reset mid-request. The
 * stream's `errored` is null until then, so a thrown null must not match it.
 */
function isClientAbort(error: unknown, request: FastifyRequest): boolean {
  return error instanceof Error && request.raw.errored === error;
}

/** Status and detail for an error Node reports on a connection before Fastify sees a request. */
function clientErrorStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'The request headers exceed 16 KiB'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'The request was not received in time'];
  return [400, 'The request is malformed or incomplete'];
}

/** True when a response is on its way on this socket: raw bytes written now would corrupt it. */
function responseStarted(socket: Duplex): boolean {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return inFlight?.headersSent === true;
}

/**
 * Fastify's `clientErrorHandler`: requests Node rejects before routing (headers over 16 KiB, a
 * malformed request line, a request not received within REQUEST_TIMEOUT_MS) get a problem
 * document too, unless the socket is gone or a response already started on it. Each is logged
 * as a client error (rate-limited).
 */
export function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  log: ClientErrorLog | undefined,
): void {
  if (isClientCausedError(error) || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    log?.note({ code: error.code }, 'client closed or reset the connection mid-request');
    return void socket.destroy();
  }
  const [status, detail] = clientErrorStatus(error.code);
  log?.note({ code: error.code, status }, `client error: ${detail}`);
  if (responseStarted(socket)) return void socket.destroy();
  const body = JSON.stringify(problem(status, detail));
  socket.end(
    `HTTP/1.1 ${status} ${titles[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Options of {@link installProblemHandlers}. */
export interface ProblemHandlerOptions {
  /** Where client aborts are logged instead of as failures. */
  clientErrors: ClientErrorLog;
  /** Database errors that are an outage, answered 503 with Retry-After. */
  isUnavailable: UnavailableCheck;
}

/**
 * Installs the one error handler and the not-found handler: every error leaves as a problem
 * document. A client that aborted gets nothing (it is gone) and is logged as a client error;
 * an answer that closes the connection first reads what is left of the body (bounded).
 */
export function installProblemHandlers(app: FastifyInstance, options: ProblemHandlerOptions): void {
  app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (isClientAbort(error, request)) {
      const code = (error as { code?: unknown }).code;
      options.clientErrors.note({ reqId: request.id, code }, 'client aborted the request');
      return reply.hijack();
    }
    const body = { ...toProblem(error, options.isUnavailable), instance: loggableUrl(request.url) };
    if (error instanceof UnprocessableError) body.errors = placeErrors(error.errors, request);
    if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    if (reply.getHeader('connection') === 'close') await drainBody(request.raw);
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      ...problem(404, `No route for ${request.method} ${request.url.split('?')[0]}`),
      instance: loggableUrl(request.url),
    }),
  );
}
