import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { idParamsSchema } from '../../domain/common.js';
import {
  scheduleInputSchema,
  scheduleListQuerySchema,
  schedulePageSchema,
  schedulePatchSchema,
  scheduleSchema,
} from '../../domain/schedule.js';
import { taskSchema } from '../../domain/task.js';
import { withEntityTag } from '../conditional.js';
import { actorOf } from '../request.js';
import { json, problems } from '../responses.js';
import { registerCrudRoutes } from './crud.js';

/** `/schedules`: cron schedules that make tasks, and "run now". */
export async function scheduleRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const service = app.services.schedules;
  registerCrudRoutes(app, {
    path: '/schedules',
    tag: 'Schedule',
    resource: scheduleSchema,
    page: schedulePageSchema,
    create: scheduleInputSchema,
    patch: schedulePatchSchema,
    query: scheduleListQuerySchema,
    service,
  });
  app.post('/schedules/:id/run', {
    schema: {
      tags: ['Schedule'],
      operationId: 'runSchedule',
      summary: "Make the schedule's task now",
      params: idParamsSchema,
      response: {
        201: json('The task made', taskSchema, 'Location', 'ETag'),
        ...problems(401, 403, 404, 409, 422, 429, 503),
      },
    },
    handler: async (request, reply) => {
      const task = await service.runNow(request.params.id, actorOf(request));
      reply.code(201).header('location', `/api/v1/tasks/${task.id}`);
      return withEntityTag(reply, task);
    },
  });
}
