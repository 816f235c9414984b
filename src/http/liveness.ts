import { type IncomingMessage, type RequestListener, type Server, type ServerResponse, createServer } from 'node:http';

/** The liveness answer, the same body `GET /health/live` gives through Fastify. */
export const LIVE_BODY = JSON.stringify({ status: 'ok' });

function isLivenessProbe(request: IncomingMessage): boolean {
  return request.method === 'GET' && (request.url === '/health/live' || request.url?.startsWith('/health/live?') === true);
}

const probeHeaders = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(Buffer.byteLength(LIVE_BODY)),
  'x-content-type-options': 'nosniff',
};

/**
 * A Fastify `serverFactory` whose HTTP server answers `GET /health/live` before Fastify routes
 * the request. A liveness probe should say only that the process and its event loop answer,
 * independent of every plugin (auth, rate limits, metrics, logging); answering it here costs a
 * fifth of the full pipeline. The answer is JSON for machines, so of the security headers it
 * carries only `nosniff` (the browser-facing ones — CSP, frame options… — guard nothing here).
 * Every other request, and every upgrade, goes to Fastify.
 */
export function livenessServerFactory(): (handler: RequestListener) => Server {
  return (handler) =>
    createServer((request: IncomingMessage, response: ServerResponse) => {
      if (!isLivenessProbe(request)) return handler(request, response);
      response.writeHead(200, probeHeaders);
      response.end(LIVE_BODY);
    });
}
