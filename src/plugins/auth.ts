import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken } from '../http/request.js';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../config.js';
import { type Access, type Principal, allows, routeAccess, unrestricted } from '../domain/auth.js';
import { ForbiddenError, UnauthorizedError } from '../domain/errors.js';
import { AuthService } from '../services/auth-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /**
     * What the route needs; default: `read` for GET, `write` otherwise. `public` skips
     * authentication.
     */
    access?: Access | 'public';
  }
  interface FastifyInstance {
    auth: AuthService;
  }
}

function requiredAccess(request: FastifyRequest): Access | 'public' | null {
  const url = request.routeOptions.url;
  if (url === undefined) return null;
  return routeAccess(url, request.method, request.routeOptions.config.access);
}

async function authenticate(
  auth: AuthService,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const access = requiredAccess(request);
  if (access === null || access === 'public') return;
  const token = bearerToken(request);
  const principal = token === undefined ? null : await auth.authenticate(token);
  if (principal === null) {
    reply.header('www-authenticate', 'Bearer realm="swarm-control"');
    throw new UnauthorizedError(
      token === undefined
        ? 'Send an API key as Authorization: Bearer <key>'
        : 'The API key is unknown or revoked',
    );
  }
  if (!allows(principal, access)) {
    const action = access === 'admin' ? 'administer the service' : 'make changes';
    throw new ForbiddenError(`A ${principal.role} key cannot ${action}`);
  }
  request.principal = principal;
}

/** Where text for a person goes: standard error unless the caller says otherwise. */
export type Announce = (text: string) => void;

const writeToStderr: Announce = (text) => void process.stderr.write(text);

/**
 * The first-start admin key as a block of its own between `====` lines, so that a person can copy
 * it from the terminal. It is never part of a log line: log lines are shipped, indexed and kept,
 * and a secret in them outlives its purpose.
 */
export function firstStartKeyBlock(key: string): string {
  const rule = '='.repeat(72);
  return [
    '',
    rule,
    'FIRST START: an admin API key was created. It is shown this once; store it now:',
    '',
    `    ${key}`,
    '',
    'Send it as "Authorization: Bearer <key>". Create more keys with POST /api/v1/keys.',
    rule,
    '',
    '',
  ].join('\n');
}

/**
 * A socket must not outlive its key: a revocation here closes its sockets at once, and every
 * instance re-checks the keys of its sockets as often as a verified key is cached.
 */
function closeSocketsOfRevokedKeys(app: FastifyInstance, auth: AuthService): void {
  const { gateway } = app.events;
  gateway.watchKeys({ intervalMs: auth.keyCacheMs, activeKeys: (ids) => auth.activeKeys(ids) });
  const unsubscribe = auth.onRevoke((keyId) => gateway.closeKey(keyId));
  app.addHook('onClose', async () => void unsubscribe());
}

/** What {@link authPlugin} reads of the configuration, and where it announces a first-start key. */
interface AuthPluginOptions {
  config: Pick<Config, 'AUTH' | 'AUTH_KEY_CACHE_MS'>;
  announce?: Announce;
}

/**
 * Authentication (`Authorization: Bearer <key>`) and role checks for every route but health,
 * docs and metrics. With `AUTH=off` (allowed on a loopback HOST only) every request acts as an
 * unrestricted admin. On a first start with no key, an admin key is created and printed once
 * through `announce` (standard error by default), and a log line without the secret says so.
 */
export const authPlugin = fastifyPlugin<AuthPluginOptions>(
  async (app, { config, announce = writeToStderr }) => {
    const auth = new AuthService(app.database.db, app.services.writes, undefined, {
      keyCacheMs: config.AUTH_KEY_CACHE_MS,
    });
    app.decorate('auth', auth);
    app.decorateRequest('principal', null as unknown as Principal);
    if (config.AUTH === 'off') {
      app.log.warn('AUTH=off: every request has full access; use this on a trusted machine only');
      app.addHook('onRequest', async (request) => void (request.principal = unrestricted));
      return;
    }
    app.addHook('preParsing', async (request, reply) => authenticate(auth, request, reply));
    closeSocketsOfRevokedKeys(app, auth);
    const created = await auth.bootstrap();
    if (created === null) return;
    announce(firstStartKeyBlock(created.key));
    const note = 'first start: created an admin API key, printed once to stderr';
    app.log.warn({ key_id: created.id }, note);
  },
  { name: 'auth', dependencies: ['database', 'services', 'events'] },
);
