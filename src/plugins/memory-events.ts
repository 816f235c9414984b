import type { FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { Counter, Gauge } from 'prom-client';
import { systemActor } from '../domain/auth.js';
import { systemEvent } from '../domain/event.js';
import type { BreakerTransition } from '../memory/circuit-breaker.js';

const stateValues = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;

function publishTransition(app: FastifyInstance, transition: BreakerTransition): void {
  const data = {
    from: transition.from,
    to: transition.to,
    reason: transition.reason,
    at: new Date(transition.at).toISOString(),
  };
  app.services.writes
    .run(systemActor, async (_tx, emit) => emit(systemEvent('MEMORY_CIRCUIT', data)))
    .catch((error: unknown) =>
      app.log.warn({ err: error, transition: data }, 'could not log a MEMORY_CIRCUIT event'),
    );
}

function breakerMetrics(app: FastifyInstance): () => void {
  const registers = [app.metrics];
  const transitions = new Counter({
    name: 'memory_breaker_transitions_total',
    help: 'Memory circuit-breaker transitions',
    labelNames: ['from', 'to'],
    registers,
  });
  new Gauge({
    name: 'memory_breaker_state',
    help: 'Memory circuit-breaker state: 0 closed, 1 half-open, 2 open',
    registers,
    async collect() {
      this.set(stateValues[(await app.memory.service.circuit()).state]);
    },
  });
  new Gauge({
    name: 'memory_breaker_calls',
    help: 'Memory breaker counters since the last reset',
    labelNames: ['outcome'],
    registers,
    async collect() {
      const circuit = await app.memory.service.circuit();
      this.set({ outcome: 'success' }, circuit.success_count);
      this.set({ outcome: 'failure' }, circuit.failure_count);
      this.set({ outcome: 'rejected' }, circuit.rejected_count);
      this.set({ outcome: 'fallback' }, circuit.fallback_count);
      this.set({ outcome: 'queued_writes' }, circuit.queued_writes);
    },
  });
  return app.memory.onCircuitTransition((transition) =>
    transitions.inc({ from: transition.from, to: transition.to }),
  );
}

/**
 * Joins the memory breaker to the rest of the service (memory and events never import each
 * other): each transition becomes one `MEMORY_CIRCUIT` event on the `system` topic and moves the
 * breaker metrics.
 */
export const memoryEventsPlugin = fastifyPlugin(
  async (app) => {
    const stopEvents = app.memory.onCircuitTransition((transition) =>
      publishTransition(app, transition),
    );
    const stopMetrics = breakerMetrics(app);
    app.addHook('onClose', async () => {
      stopEvents();
      stopMetrics();
    });
  },
  { name: 'memory-events', dependencies: ['memory', 'services', 'metrics'] },
);
