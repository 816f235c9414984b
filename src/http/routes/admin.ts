import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiKeySchema,
  auditActions,
  auditEntrySchema,
  auditResources,
  callerSchema,
  createdKeySchema,
  keyInputSchema,
} from '../../domain/auth.js';
import { idParamsSchema, queryInteger, storableString } from '../../domain/common.js';
import { actorOf } from '../request.js';
import { empty, json, problems } from '../responses.js';

const auditQuerySchema = z.strictObject({
  limit: queryInteger(1, 1000).default(100),
  before: queryInteger(1, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Page backwards: the smallest id of the previous page'),
  key_id: z.uuid().optional(),
  action: z.enum(auditActions).optional(),
  resource: z.enum(auditResources).optional(),
  resource_id: storableString().max(255).optional(),
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
});

const auditPageSchema = z
  .object({
    items: z.array(auditEntrySchema),
    next_before: z
      .number()
      .int()
      .nullable()
      .describe('Pass as `before` to read the next (older) page; null on the last'),
    has_more: z.boolean(),
  })
  .meta({ id: 'AuditPage' });

const keyListSchema = z.object({ items: z.array(apiKeySchema) }).meta({ id: 'ApiKeyList' });
const revoked = empty('Revoked: the key is refused from now on, and its sockets are closed');

const admin = { access: 'admin' as const };
const adminProblems = problems(401, 403, 422, 429, 503);

/** Key management and the audit log: admin keys only; and `GET /keys/self`, for any key. */
export async function adminRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get('/keys/self', {
    schema: {
      tags: ['Admin'],
      operationId: 'getCaller',
      summary: "The caller's own key: its role and projects (any key)",
      description:
        'What the key may do, for a client that shows only what is allowed (the dashboard). ' +
        'With AUTH=off it answers without a key: `authentication` is `off`, the role admin.',
      response: { 200: json('The caller', callerSchema), ...problems(401, 429, 503) },
    },
    handler: (request) => app.auth.describe(request.principal),
  });
  app.post('/keys', {
    config: admin,
    schema: {
      tags: ['Admin'],
      operationId: 'createKey',
      summary: 'Create an API key (the secret is in this answer only)',
      body: keyInputSchema,
      response: {
        201: json('Created; `key` is the secret, shown this once', createdKeySchema),
        ...adminProblems,
      },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await app.auth.createKey(request.body, actorOf(request))),
  });
  app.get('/keys', {
    config: admin,
    schema: {
      tags: ['Admin'],
      operationId: 'listKeys',
      summary: 'List API keys (never their secrets)',
      response: { 200: json('Every key, revoked ones included', keyListSchema), ...adminProblems },
    },
    handler: async () => ({ items: await app.auth.listKeys() }),
  });
  app.delete('/keys/:id', {
    config: admin,
    schema: {
      tags: ['Admin'],
      operationId: 'revokeKey',
      summary: 'Revoke an API key',
      params: idParamsSchema,
      response: { 204: revoked, ...problems(401, 403, 404, 422, 429, 503) },
    },
    handler: async (request, reply) => {
      await app.auth.revokeKey(request.params.id, actorOf(request));
      return reply.code(204).send();
    },
  });
  app.get('/audit', {
    config: admin,
    schema: {
      tags: ['Admin'],
      operationId: 'listAuditEntries',
      summary: 'Page through the audit log, newest first',
      querystring: auditQuerySchema,
      response: { 200: json('A page of the log, newest first', auditPageSchema), ...adminProblems },
    },
    handler: (request) => app.services.audit.page(request.query),
  });
}
