import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { Config } from '../config.js';
import { UnauthorizedError } from '../domain/errors.js';
import { METRICS_TOKEN_SCHEME, type Security } from '../http/openapi.js';
import { problems } from '../http/responses.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

function httpMetrics(app: FastifyInstance, registry: Registry): void {
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames,
    registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1_000);
  });
}

function eventMetrics(app: FastifyInstance, registry: Registry): void {
  const { gateway, dispatcher, log } = app.events;
  new Gauge({
    name: 'ws_connections',
    help: 'Open WebSocket connections',
    registers: [registry],
    collect() {
      this.set(gateway.connectionCount);
    },
  });
  new Counter({
    name: 'ws_messages_total',
    help: 'WebSocket frames by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, gateway.traffic.sent);
      this.inc({ direction: 'received' }, gateway.traffic.received);
    },
  });
  new Gauge({
    name: 'event_log_lag_events',
    help: 'Committed events this instance has not dispatched yet',
    registers: [registry],
    async collect() {
      this.set(
        Math.max(
          0,
          (await log.latestId(app.database.db).catch(() => dispatcher.lastDeliveredId)) -
            dispatcher.lastDeliveredId,
        ),
      );
    },
  });
  new Gauge({
    name: 'event_log_last_dispatched_id',
    help: 'Id of the last event this instance dispatched',
    registers: [registry],
    collect() {
      this.set(dispatcher.lastDeliveredId);
    },
  });
}

function databaseMetrics(app: FastifyInstance, registry: Registry): void {
  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool connections by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const stats = app.database.poolStats();
      if (stats === null) return;
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
}

function tokenMatches(request: FastifyRequest, token: string): boolean {
  const given = Buffer.from(
    /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '',
  );
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const exposition = z.string();

/** `GET /metrics` in the OpenAPI document: public, or once METRICS_TOKEN is set, its token. */
const metricsSchema = {
  tags: ['Operations'],
  operationId: 'getMetrics',
  summary: 'Prometheus metrics',
  description:
    'HTTP, WebSocket, event log, database pool, memory breaker and process metrics. ' +
    'Public unless METRICS_TOKEN is set; then send it as `Authorization: Bearer <token>`.',
  security: [{}, { [METRICS_TOKEN_SCHEME]: [] }] as Security,
  response: {
    200: {
      description: 'The metrics in the Prometheus text exposition format (version 0.0.4)',
      content: { 'text/plain': { schema: exposition } },
    },
    ...problems(401, 429),
  },
};

/**
 * Prometheus metrics at `GET /metrics` (text format), on a registry of this app's own: HTTP,
 * WebSocket, event log, database pool and process metrics. Other plugins add theirs to
 * `app.metrics`. With `METRICS_TOKEN` the endpoint needs `Authorization: Bearer <token>`.
 */
export const metricsPlugin = fastifyPlugin<{ config: Pick<Config, 'METRICS_TOKEN'> }>(
  async (app, { config }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    app.decorate('metrics', registry);
    httpMetrics(app, registry);
    eventMetrics(app, registry);
    databaseMetrics(app, registry);
    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      if (config.METRICS_TOKEN !== undefined && !tokenMatches(request, config.METRICS_TOKEN)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new UnauthorizedError('Send the metrics token as Authorization: Bearer <token>');
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    };
    app.get('/metrics', { schema: metricsSchema, config: { access: 'public' } }, serve);
  },
  { name: 'metrics', dependencies: ['database', 'events'] },
);
