import fastifyPlugin from 'fastify-plugin';
import { Counter } from 'prom-client';
import type { Config } from '../config.js';
import { makesWork } from '../tasks/claim-waiters.js';
import { MaintenanceLoop } from '../tasks/maintenance-loop.js';

/** The settings the task machinery reads. */
export type TasksConfig = Pick<Config, 'TASK_SWEEP_MS' | 'AGENT_OFFLINE_AFTER_MS'>;

/**
 * Wakes waiting claims on every event that queues a task (from any instance, through the
 * dispatcher), and runs the maintenance loop: expired leases, due tasks, races, schedules, silent
 * agents, each counted in `task_maintenance_items_total{job}`. Waiting claims are answered 204 as
 * soon as the service starts closing.
 */
export const tasksPlugin = fastifyPlugin<{ config: TasksConfig }>(
  async (app, { config }) => {
    const { taskExecution, schedules, agents } = app.services;
    const unsubscribe = app.events.dispatcher.subscribe((event) => {
      if (makesWork(event)) taskExecution.wakeClaims();
    });
    const handled = new Counter({
      name: 'task_maintenance_items_total',
      help: 'Items the task maintenance loop handled, by job (leases expired, tasks queued, …)',
      labelNames: ['job'],
      registers: [app.metrics],
    });
    const loop = new MaintenanceLoop(
      [
        { name: 'expire leases', run: () => taskExecution.expireLeases() },
        { name: 'queue due tasks', run: () => taskExecution.promoteDue() },
        { name: 'settle races', run: () => taskExecution.settleRaces() },
        { name: 'fire schedules', run: () => schedules.fireDue() },
        {
          name: 'mark silent agents offline',
          run: () => agents.markSilentOffline(config.AGENT_OFFLINE_AFTER_MS),
        },
      ],
      {
        intervalMs: config.TASK_SWEEP_MS,
        onError: (job, error) => app.log.warn({ err: error, job }, 'task maintenance failed'),
        onDone: (job, count) => handled.inc({ job }, count),
      },
    );
    app.addHook('onReady', async () => loop.start());
    app.addHook('preClose', async () => taskExecution.closeClaims());
    app.addHook('onClose', async () => {
      unsubscribe();
      await loop.stop();
    });
  },
  { name: 'tasks', dependencies: ['services', 'events', 'metrics'] },
);
