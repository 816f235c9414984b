import fastifyPlugin from 'fastify-plugin';
import { AgentService } from '../services/agent-service.js';
import { ProjectService } from '../services/project-service.js';

/** The use-case layer, shared by every route. */
export interface Services {
  projects: ProjectService;
  agents: AgentService;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** Builds the services on top of the database plugin. */
export const servicesPlugin = fastifyPlugin(
  async (app) => {
    const db = app.database.db;
    app.decorate('services', { projects: new ProjectService(db), agents: new AgentService(db) });
  },
  { name: 'services', dependencies: ['database'] },
);
