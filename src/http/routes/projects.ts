import type { FastifyInstance } from 'fastify';
import { projectInputSchema, projectListQuerySchema, projectPatchSchema, projectSchema } from '../../domain/project.js';
import { registerCrudRoutes } from './crud.js';

/** `/projects`: CRUD with filters `status`, `sparc_mode` and `q`. */
export async function projectRoutes(app: FastifyInstance): Promise<void> {
  registerCrudRoutes(app, {
    path: '/projects',
    tag: 'Project',
    resource: projectSchema,
    input: projectInputSchema,
    patch: projectPatchSchema,
    query: projectListQuerySchema,
    service: app.services.projects,
  });
}
