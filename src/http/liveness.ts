import {
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
  createServer,
} from 'node:http';

/** The liveness answer, the same body `GET /health/live` gives through Fastify. */
export const LIVE_BODY = JSON.stringify({ status: 'ok' });

function isLivenessProbe(request: IncomingMessage): boolean {
  return (
    request.method === 'GET' &&
    (request.url === '/health/live' || request.url?.startsWith('/health/live?') === true)
  );
}

const probeHeaders = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(Buffer.byteLength(LIVE_BODY)),
  'x-content-type-options': 'nosniff',
};

/** Most header fields a request may have; more are answered 431 (see the hardening plugin). */
export const MAX_HEADER_COUNT = 100;

/** How the HTTP server limits a client; from the configuration. */
export interface ServerLimits {
  /** Time a client has to send a whole request, headers included (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open (Fastify's default: 72 s). */
  keepAliveTimeoutMs: number;
}

/**
 * How often Node looks for requests past their timeout: a quarter of the timeout, between 25 ms
 * and 1 s. Node checks on an interval (30 s by default), so a 15 s timeout fired after 15 to
 * 45 s; now it fires within 1.25 times the setting, for one cheap native scan per interval.
 */
export function timeoutCheckInterval(requestTimeoutMs: number): number {
  return Math.min(1_000, Math.max(25, Math.round(requestTimeoutMs / 4)));
}

/**
 * The options of the HTTP server. Fastify sets its timeouts only on servers it creates, so a
 * factory must set them itself. `requireHostHeader` is off and the header count is capped just
 * above {@link MAX_HEADER_COUNT}: Node answers a request without Host, or whose Host was cut
 * off past 2 000 headers, with a bare 400; the app answers both with a problem document instead.
 */
function serverOptions(limits: ServerLimits): ServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: timeoutCheckInterval(limits.requestTimeoutMs),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requireHostHeader: false,
  };
}

/**
 * A Fastify `serverFactory` whose HTTP server answers `GET /health/live` before Fastify routes
 * the request. A liveness probe should say only that the process and its event loop answer,
 * independent of every plugin (auth, rate limits, metrics, logging); answering it here costs a
 * fifth of the full pipeline. The answer is JSON for machines, so of the security headers it
 * carries only `nosniff` (the browser-facing ones — CSP, frame options… — guard nothing here).
 * Every other request, and every upgrade, goes to Fastify. The server enforces `limits`.
 */
export function livenessServerFactory(limits: ServerLimits): (handler: RequestListener) => Server {
  return (handler) => {
    const listener = (request: IncomingMessage, response: ServerResponse) => {
      if (!isLivenessProbe(request)) return handler(request, response);
      response.writeHead(200, probeHeaders);
      response.end(LIVE_BODY);
    };
    const server = createServer(serverOptions(limits), listener);
    server.maxHeadersCount = MAX_HEADER_COUNT + 1;
    return server;
  };
}
