import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type Page, idParamsSchema } from '../../domain/common.js';
import type { Actor, Principal } from '../../domain/auth.js';
import { actorOf } from '../request.js';
import type { ExpectedVersions } from '../../domain/common.js';
import { entityTag, expectedVersions, notModified, withEntityTag } from '../conditional.js';
import { deleted, json, notModified as notModifiedResponse, problems } from '../responses.js';

/** The use cases a resource must offer to be served by {@link registerCrudRoutes}. */
export interface CrudService<Resource, Input, Patch, Query> {
  create(input: Input, actor: Actor): Promise<Resource>;
  get(id: string, principal: Principal): Promise<Resource>;
  list(query: Query, principal: Principal): Promise<Page<Resource>>;
  /** PUT; a collection without it (tasks, schedules) has no PUT route. */
  replace?(id: string, input: Input, expected: ExpectedVersions, actor: Actor): Promise<Resource>;
  patch(id: string, patch: Patch, expected: ExpectedVersions, actor: Actor): Promise<Resource>;
  delete(id: string, expected: ExpectedVersions, actor: Actor): Promise<void>;
}

/** Describes one resource collection: its URL, its schemas and the service behind it. */
export interface CrudDefinition<
  Resource extends { id: string; version: number },
  Input,
  Patch,
  Query,
> {
  path: string;
  /** The resource's name, e.g. `Project`: tags, summaries and operation ids derive from it. */
  tag: string;
  resource: z.ZodType<Resource>;
  /** A page of the list; registered under a name of its own, once (see `pageSchema`). */
  page: z.ZodType<Page<Resource>>;
  /** Body of POST and of PUT: one schema under two names (`ProjectCreate`, `ProjectReplace`). */
  create: z.ZodType<Input>;
  replace?: z.ZodType<Input>;
  patch: z.ZodType<Patch>;
  query: z.ZodType<Query>;
  service: CrudService<Resource, Input, Patch, Query>;
}

const conditionalHeaders = z.looseObject({
  'if-match': z
    .string()
    .max(1024)
    .optional()
    .describe('Write only if the resource is at one of these versions, e.g. "3"'),
});
const readHeaders = z.looseObject({
  'if-none-match': z
    .string()
    .max(1024)
    .optional()
    .describe('Answer 304 if the resource is still at this version'),
});

const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
const headerOf = (request: FastifyRequest, name: string) =>
  request.headers[name] as string | undefined;
const conditionOf = (request: FastifyRequest) => expectedVersions(headerOf(request, 'if-match'));

/** "a project", "an agent": summaries read as English whatever the resource is called. */
export function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

/** Names, operation ids and tags of one resource's routes, derived from its tag. */
function namesOf(tag: string) {
  const noun = tag.toLowerCase();
  const base = { tags: [tag] };
  return {
    noun,
    create: { ...base, operationId: `create${tag}`, summary: `Create ${withArticle(noun)}` },
    list: { ...base, operationId: `list${tag}s`, summary: `List ${noun}s` },
    get: { ...base, operationId: `get${tag}`, summary: `Get one ${noun}` },
    replace: { ...base, operationId: `replace${tag}`, summary: `Replace ${withArticle(noun)}` },
    update: {
      ...base,
      operationId: `update${tag}`,
      summary: `Change some fields of ${withArticle(noun)}`,
    },
    delete: { ...base, operationId: `delete${tag}`, summary: `Delete ${withArticle(noun)}` },
  };
}

/**
 * Registers POST, GET (one and list), PUT, PATCH and DELETE for a resource. The handlers only
 * translate HTTP to service calls; validation happens in the schemas, rules in the service.
 */
export function registerCrudRoutes<
  Resource extends { id: string; version: number },
  Input,
  Patch,
  Query,
>(fastify: FastifyInstance, definition: CrudDefinition<Resource, Input, Patch, Query>): void {
  const app = fastify;
  const { path, service, resource } = definition;
  const item = `${path}/:id`;
  const names = namesOf(definition.tag);
  const writeProblems = problems(401, 403, 404, 409, 412, 413, 415, 422, 429, 503);

  app.post(path, {
    schema: {
      ...names.create,
      body: definition.create,
      response: {
        201: json('Created', resource, 'Location', 'ETag'),
        ...problems(401, 403, 409, 413, 415, 422, 429, 503),
      },
    },
    handler: async (request: FastifyRequest, reply) => {
      const created = await service.create(request.body as Input, actorOf(request));
      reply
        .code(201)
        .header('location', `${request.routeOptions.url?.replace(/\/$/, '')}/${created.id}`);
      return withEntityTag(reply, created);
    },
  });

  app.get(path, {
    schema: {
      ...names.list,
      querystring: definition.query,
      response: {
        200: json(`A page of ${names.noun}s`, definition.page),
        ...problems(401, 403, 422, 429, 503),
      },
    },
    handler: (request: FastifyRequest) => service.list(request.query as Query, request.principal),
  });

  app.get(item, {
    schema: {
      ...names.get,
      params: idParamsSchema,
      headers: readHeaders,
      response: {
        200: json(`The ${names.noun}`, resource, 'ETag'),
        304: notModifiedResponse,
        ...problems(401, 403, 404, 422, 429, 503),
      },
    },
    handler: async (request: FastifyRequest, reply) => {
      const found = await service.get(idOf(request), request.principal);
      if (notModified(headerOf(request, 'if-none-match'), found.version))
        return reply.code(304).header('etag', entityTag(found.version)).send();
      return withEntityTag(reply, found);
    },
  });

  if (definition.replace !== undefined && service.replace !== undefined) {
    const replace = service.replace.bind(service);
    app.put(item, {
      schema: {
        ...names.replace,
        params: idParamsSchema,
        headers: conditionalHeaders,
        body: definition.replace,
        response: {
          200: json(`The ${names.noun} as replaced`, resource, 'ETag'),
          ...writeProblems,
        },
      },
      handler: async (request: FastifyRequest, reply) =>
        withEntityTag(
          reply,
          await replace(
            idOf(request),
            request.body as Input,
            conditionOf(request),
            actorOf(request),
          ),
        ),
    });
  }

  app.patch(item, {
    schema: {
      ...names.update,
      params: idParamsSchema,
      headers: conditionalHeaders,
      body: definition.patch,
      response: { 200: json(`The ${names.noun} as changed`, resource, 'ETag'), ...writeProblems },
    },
    handler: async (request: FastifyRequest, reply) =>
      withEntityTag(
        reply,
        await service.patch(
          idOf(request),
          request.body as Patch,
          conditionOf(request),
          actorOf(request),
        ),
      ),
  });

  app.delete(item, {
    schema: {
      ...names.delete,
      params: idParamsSchema,
      headers: conditionalHeaders,
      response: { 204: deleted, ...problems(401, 403, 404, 409, 412, 422, 429, 503) },
    },
    handler: async (request: FastifyRequest, reply) => {
      await service.delete(idOf(request), conditionOf(request), actorOf(request));
      return reply.code(204).send();
    },
  });
}
