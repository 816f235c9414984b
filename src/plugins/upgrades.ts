import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../config.js';
import { type Problem, loggableUrl, problem, sendProblem } from '../http/problem.js';

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** The problem for a malformed WebSocket handshake, which `ws` would refuse with a bare status. */
function handshakeProblem(request: FastifyRequest, reply: FastifyReply): Problem | null {
  const headers = request.headers;
  if (headers.upgrade?.toLowerCase() !== 'websocket') {
    return problem(400, `Only WebSocket upgrades are served, not ${headers.upgrade}`);
  }
  const key = headers['sec-websocket-key'];
  if (key === undefined || !WEBSOCKET_KEY.test(key)) {
    return problem(400, 'Sec-WebSocket-Key is missing or malformed');
  }
  const version = headers['sec-websocket-version'];
  if (version === '13' || version === '8') return null;
  reply.header('sec-websocket-version', '13, 8');
  return problem(426, 'Sec-WebSocket-Version must be 13 or 8');
}

function normalizedOrigin(origin: string): string {
  return origin.toLowerCase().replace(/\/$/, '');
}

/**
 * True when a WebSocket may be opened from the request's `Origin`: none (not a browser), the
 * service's own origin (same host as the Host header) or one listed in CORS_ORIGINS. A browser
 * page of any other site is refused, even on loopback and with AUTH=off.
 */
function originAllowed(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.has(normalizedOrigin(origin))) return true;
  const host = request.headers.host?.toLowerCase();
  return URL.canParse(origin) && host !== undefined && new URL(origin).host === host;
}

/**
 * A request other than GET to a WebSocket route (a POST handshake, say) matches no route, since
 * those routes are GET only; it is told so with 405 and `Allow: GET` rather than a 404 that says
 * the endpoint does not exist. Null for any other unmatched request (its 404 follows).
 */
function wrongMethod(
  request: FastifyRequest,
  reply: FastifyReply,
  routes: ReadonlySet<string>,
): Problem | null {
  const path = request.url.split('?')[0] ?? '';
  if (!routes.has(path)) return null;
  reply.header('allow', 'GET');
  return problem(405, `${path} takes only GET: a WebSocket handshake is a GET request`);
}

/** What the upgrade check needs: the WebSocket routes, and the origins allowed besides its own. */
interface UpgradePolicy {
  routes: ReadonlySet<string>;
  origins: ReadonlySet<string>;
}

/**
 * The problem for an upgrade the service must refuse before accepting it: to a route that is not
 * a WebSocket route (400, so it is never accepted with 101), with a malformed handshake, or from
 * a foreign origin (403), and any request but GET to a WebSocket route (405). Null for a plain
 * request, an upgrade to an unknown route (its 404 follows) and an upgrade that may go on.
 */
function upgradeProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: UpgradePolicy,
): Problem | null {
  const route = request.routeOptions.url;
  if (route === undefined) return wrongMethod(request, reply, policy.routes);
  if (!request.ws) return null;
  if (!policy.routes.has(route)) {
    const endpoints = [...policy.routes].join(', ');
    return problem(400, `${route} is not a WebSocket endpoint; connect to ${endpoints}`);
  }
  const handshake = handshakeProblem(request, reply);
  if (handshake !== null) return handshake;
  if (originAllowed(request, policy.origins)) return null;
  const origin = request.headers.origin;
  return problem(403, `WebSocket connections from ${origin} are not allowed; see CORS_ORIGINS`);
}

/** Sends `refused`, if any, as the answer; otherwise lets the request go on. */
function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  refused: Problem | null,
  done: () => void,
): void {
  if (refused === null) return done();
  void sendProblem(reply, { ...refused, instance: loggableUrl(request.url) });
}

/**
 * Which requests may become WebSockets. Every upgrade is checked by {@link upgradeProblem}
 * before it is authenticated, rate-limited or accepted. A plain request to a WebSocket route
 * gets 426 with `Upgrade: websocket` once it has been authenticated and validated like any
 * other (so a bad query is still its 422). The WebSocket routes are collected as they are
 * registered, so this plugin goes before the routes (and after `events`, whose
 * `@fastify/websocket` marks upgrade requests as `request.ws`).
 */
export const upgradesPlugin = fastifyPlugin<{ config: Pick<Config, 'CORS_ORIGINS'> }>(
  async (app, { config }) => {
    const routes = new Set<string>();
    const origins = new Set((config.CORS_ORIGINS ?? []).map(normalizedOrigin));
    app.addHook('onRoute', (route) => {
      if (route.websocket === true || route.wsHandler !== undefined) routes.add(route.url);
    });
    app.addHook('onRequest', (request, reply, done) => {
      answer(request, reply, upgradeProblem(request, reply, { routes, origins }), done);
    });
    app.addHook('preHandler', (request, reply, done) => {
      const route = request.routeOptions.url;
      if (request.ws || route === undefined || !routes.has(route)) return done();
      reply.header('upgrade', 'websocket');
      const detail = `${route} is a WebSocket endpoint; connect with Upgrade: websocket`;
      answer(request, reply, problem(426, detail), done);
    });
  },
  { name: 'upgrades', dependencies: ['events'] },
);
