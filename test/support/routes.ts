import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FastifyInstance } from 'fastify';

/** A route as registered: its method (HEAD left out: Fastify adds one to every GET) and URL. */
export interface RegisteredRoute {
  method: string;
  url: string;
}

const INITIALIZATION = 'fastify.initialization';

/**
 * Records the routes of the next Fastify instance this process creates, through Fastify's
 * `fastify.initialization` diagnostics channel (published as the instance is made, before any
 * plugin registers), so the app needs no hook for tests. Call it right before the code that
 * creates the instance synchronously (`buildApp` does, before its first await); the list fills
 * as the routes register.
 */
export function routesOfNextApp(): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const record = (message: unknown): void => {
    unsubscribe(INITIALIZATION, record);
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        if (method !== 'HEAD') routes.push({ method, url: route.url });
    });
  };
  subscribe(INITIALIZATION, record);
  return routes;
}
