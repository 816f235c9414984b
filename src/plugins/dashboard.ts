import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.js';

/** Options of {@link dashboardPlugin}. */
export interface DashboardOptions {
  /** The folder the dashboard was built into (`dist/web` by `npm run build`). */
  root: string;
  /** `AUTH`: whether the page must ask for a key before it calls the API. */
  authentication: 'on' | 'off';
}

/** The answer when there is no build to serve (sources run without `npm run build`). */
class DashboardNotBuiltError extends DomainError {
  readonly status = 404;
  readonly title = 'Not Found';
  constructor(root: string) {
    super(`The dashboard is not built (no ${root}/index.html): run npm run build`);
  }
}

/** A `Host` value safe to write into a header: a name or address and an optional port. */
const HOST_PATTERN = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The Content-Security-Policy of the dashboard's files: everything from the service's own
 * origin only, nothing inline, and the WebSocket of the same host (`'self'` covers `ws:` in
 * CSP 3, but not in every browser yet, so the URL is named too). No `upgrade-insecure-requests`
 * (helmet's default has it): a dashboard served over plain HTTP on a name other than localhost
 * would have its own requests moved to an https:// that does not exist.
 */
export function dashboardContentSecurityPolicy(host: string | undefined): string {
  const socket = host !== undefined && HOST_PATTERN.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "base-uri 'self'",
    `connect-src 'self'${socket}`,
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "img-src 'self' data:",
    "manifest-src 'self'",
    "object-src 'none'",
    "script-src 'self'",
    "script-src-attr 'none'",
    "style-src 'self'",
  ].join('; ');
}

/**
 * Hashed file names never change content: cache them for a year; the page itself is revalidated.
 */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The dashboard's static files at `/` (index.html) and `/assets/*` (the hashed scripts and
 * styles), and `/config.json` (whether authentication is on), public like /docs: the page asks
 * for a key itself. They are sent pre-compressed
 * (gzip or brotli, written by the build) to clients that accept it, with the security headers
 * every answer has and the dashboard's own Content-Security-Policy. Not wrapped in
 * fastify-plugin: the policy hook applies to these routes only.
 */
export async function dashboardPlugin(
  app: FastifyInstance,
  { root, authentication }: DashboardOptions,
) {
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root,
      serve: false,
      preCompressed: true,
      index: false,
      dotfiles: 'deny',
    });
  }
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header('content-security-policy', dashboardContentSecurityPolicy(request.headers.host));
    done();
  });
  const route = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get('/', route, async (_request, reply) => {
    if (!built) throw new DashboardNotBuiltError(root);
    return reply
      .header('cache-control', 'no-cache')
      .sendFile('index.html', { cacheControl: false });
  });
  // What the page needs before its first API call: whether to ask for a key. Asking the API
  // instead would answer 401, which the browser logs as a failed load on every visit.
  app.get('/config.json', route, async (_request, reply) =>
    reply.header('cache-control', 'no-cache').send({ authentication }),
  );
  app.get('/assets/*', route, async (request, reply) => {
    if (!built) throw new DashboardNotBuiltError(root);
    const file = (request.params as { '*': string })['*'];
    return reply.header('cache-control', IMMUTABLE).sendFile(`assets/${file}`, {
      cacheControl: false,
    });
  });
}
