import type { FastifyRequest } from 'fastify';
import type { Actor } from '../domain/auth.js';

/** The bearer token: the Authorization header, or for a WebSocket upgrade also `?token=`. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match !== null) return match[1];
  const query = request.query as { token?: unknown } | undefined;
  return request.headers.upgrade?.toLowerCase() === 'websocket' && typeof query?.token === 'string'
    ? query.token
    : undefined;
}

/** Who made the request, as services and the audit log need it. */
export function actorOf(request: FastifyRequest): Actor {
  return {
    principal: request.principal,
    ip: request.ip,
    userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
  };
}
