import fastifyPlugin from 'fastify-plugin';
import { AgentService } from '../services/agent-service.js';
import { AuditService } from '../services/audit-service.js';
import { EventService } from '../services/event-service.js';
import { HealthService } from '../services/health-service.js';
import { ProjectService } from '../services/project-service.js';
import { ScheduleService } from '../services/schedule-service.js';
import { StatsService } from '../services/stats-service.js';
import { TaskExecutionService } from '../services/task-execution-service.js';
import { TaskService } from '../services/task-service.js';
import { WriteTransactions } from '../store/write-transaction.js';
import { ClaimWaiters } from '../tasks/claim-waiters.js';

/** The use-case layer, shared by every route. */
export interface Services {
  projects: ProjectService;
  agents: AgentService;
  tasks: TaskService;
  taskExecution: TaskExecutionService;
  schedules: ScheduleService;
  audit: AuditService;
  events: EventService;
  health: HealthService;
  stats: StatsService;
  /** The transaction runner every write goes through (events and audit records included). */
  writes: WriteTransactions;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** Builds the services on top of the database and the event log. */
export const servicesPlugin = fastifyPlugin(
  async (app) => {
    const db = app.database.db;
    const writes = new WriteTransactions(app.database, app.events.bus);
    app.decorate('services', {
      projects: new ProjectService(db, writes),
      agents: new AgentService(db, writes),
      tasks: new TaskService(db, writes),
      taskExecution: new TaskExecutionService(db, writes, new ClaimWaiters()),
      schedules: new ScheduleService(db, writes),
      audit: new AuditService(db),
      events: new EventService(db, app.events.log, app.events.gateway),
      writes,
      // app.memory is decorated by a later plugin; readiness asks for it only when probed.
      health: new HealthService({
        pingDatabase: () => app.database.ping(),
        memory: () => app.memory?.health() ?? null,
      }),
      // The same for the circuit: asked for at request time, once every plugin is in place.
      stats: new StatsService(db, { circuit: () => app.memory.service.circuit() }),
    });
  },
  { name: 'services', dependencies: ['database', 'events'] },
);
