import type { FastifyInstance } from 'fastify';
import {
  projectCreateSchema,
  projectListQuerySchema,
  projectPageSchema,
  projectPatchSchema,
  projectReplaceSchema,
  projectSchema,
} from '../../domain/project.js';
import { registerCrudRoutes } from './crud.js';

/** `/projects`: CRUD with filters `status`, `sparc_mode` and `q`. */
export async function projectRoutes(app: FastifyInstance): Promise<void> {
  registerCrudRoutes(app, {
    path: '/projects',
    tag: 'Project',
    resource: projectSchema,
    page: projectPageSchema,
    create: projectCreateSchema,
    replace: projectReplaceSchema,
    patch: projectPatchSchema,
    query: projectListQuerySchema,
    service: app.services.projects,
  });
}
