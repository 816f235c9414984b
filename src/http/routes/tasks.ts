import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { idParamsSchema } from '../../domain/common.js';
import {
  attemptListSchema,
  claimSchema,
  claimedSchema,
  completeSchema,
  failSchema,
  leaseSchema,
  taskHeartbeatSchema,
  taskInputSchema,
  taskListQuerySchema,
  taskPageSchema,
  taskPatchSchema,
  taskSchema,
} from '../../domain/task.js';
import { withEntityTag } from '../conditional.js';
import { actorOf } from '../request.js';
import { empty, json, problems } from '../responses.js';
import { registerCrudRoutes } from './crud.js';

const tags = ['Task'];
const nothingToDo = empty('No task came within `wait_ms`');
const executionProblems = problems(401, 403, 404, 409, 413, 415, 422, 429, 503);

/**
 * Aborts when the client goes away, so a long-polling claim stops waiting for nobody. The
 * socket's listener goes when the response does: a runner claims over one keep-alive connection
 * for hours, and a listener left per claim piled up on it.
 */
function abortOnClose(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const socket = request.raw.socket;
  const abort = () => controller.abort();
  socket.once('close', abort);
  reply.raw.once('close', () => socket.off('close', abort));
  return controller.signal;
}

/**
 * `/tasks`: definitions (create, list, read, change, delete, cancel, retry, attempts) and
 * execution (claim, heartbeat, complete, fail) — docs/tasks.md.
 */
export async function taskRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { tasks, taskExecution } = app.services;
  registerCrudRoutes(app, {
    path: '/tasks',
    tag: 'Task',
    resource: taskSchema,
    page: taskPageSchema,
    create: taskInputSchema,
    patch: taskPatchSchema,
    query: taskListQuerySchema,
    service: tasks,
  });

  app.get('/tasks/:id/attempts', {
    schema: {
      tags,
      operationId: 'listTaskAttempts',
      summary: "A task's attempts, oldest first",
      params: idParamsSchema,
      response: {
        200: json('Every attempt', attemptListSchema),
        ...problems(401, 403, 404, 422, 429, 503),
      },
    },
    handler: async (request) => ({
      items: await tasks.attempts(request.params.id, request.principal),
    }),
  });

  app.post('/tasks/claim', {
    schema: {
      tags,
      operationId: 'claimTask',
      summary: 'Take the best task the agent may run, waiting up to `wait_ms` for one',
      body: claimSchema,
      response: {
        200: json('The task and the attempt the agent now holds', claimedSchema),
        204: nothingToDo,
        ...problems(401, 403, 404, 413, 415, 422, 429, 503),
      },
    },
    handler: async (request, reply) => {
      const signal = abortOnClose(request, reply);
      const claimed = await taskExecution.claim(request.body, actorOf(request), signal);
      return claimed === null ? reply.code(204).send() : claimed;
    },
  });

  app.post('/tasks/:id/heartbeat', {
    schema: {
      tags,
      operationId: 'heartbeatTask',
      summary: 'Extend the lease of an attempt, with its progress',
      params: idParamsSchema,
      body: taskHeartbeatSchema,
      response: { 200: json('The new lease', leaseSchema), ...executionProblems },
    },
    handler: (request) =>
      taskExecution.heartbeat(request.params.id, request.body, actorOf(request)),
  });

  app.post('/tasks/:id/complete', {
    schema: {
      tags,
      operationId: 'completeTask',
      summary: 'Report that an attempt succeeded, with its result',
      params: idParamsSchema,
      body: completeSchema,
      response: { 200: json('The task as it ended', taskSchema, 'ETag'), ...executionProblems },
    },
    handler: async (request, reply) =>
      withEntityTag(
        reply,
        await taskExecution.complete(request.params.id, request.body, actorOf(request)),
      ),
  });

  app.post('/tasks/:id/fail', {
    schema: {
      tags,
      operationId: 'failTask',
      summary: 'Report that an attempt failed; the task is retried or fails',
      params: idParamsSchema,
      body: failSchema,
      response: {
        200: json('The task after the failure', taskSchema, 'ETag'),
        ...executionProblems,
      },
    },
    handler: async (request, reply) =>
      withEntityTag(
        reply,
        await taskExecution.fail(request.params.id, request.body, actorOf(request)),
      ),
  });

  for (const action of ['cancel', 'retry'] as const) {
    app.post(`/tasks/:id/${action}`, {
      schema: {
        tags,
        operationId: `${action}Task`,
        summary:
          action === 'cancel'
            ? 'Cancel a task (a running attempt ends; dependents are cancelled)'
            : 'Run a failed or cancelled task again',
        params: idParamsSchema,
        response: {
          200: json('The task as changed', taskSchema, 'ETag'),
          ...problems(401, 403, 404, 409, 422, 429, 503),
        },
      },
      handler: async (request, reply) =>
        withEntityTag(reply, await tasks[action](request.params.id, actorOf(request))),
    });
  }
}
