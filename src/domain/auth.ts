import { z } from 'zod';
import { nameSchema } from './common.js';
import { UnprocessableError } from './errors.js';

export const roles = ['admin', 'writer', 'reader'] as const;
/**
 * `admin`: everything, including keys, audit and circuit reset; `writer`: read and write; `reader`:
 * read only.
 */
export type Role = (typeof roles)[number];

/** What a route needs: reading, writing, or administration. */
export type Access = 'read' | 'write' | 'admin';

const granted: Record<Role, ReadonlySet<Access>> = {
  admin: new Set(['read', 'write', 'admin']),
  writer: new Set(['read', 'write']),
  reader: new Set(['read']),
};

/**
 * Who is calling: the key (null when authentication is off), its role and its project scope (null:
 * every project).
 */
export interface Principal {
  keyId: string | null;
  role: Role;
  projectIds: readonly string[] | null;
}

/** The principal plus where the request came from, as the audit log records it. */
export interface Actor {
  principal: Principal;
  ip: string | null;
  userAgent: string | null;
}

/** Full access for every request, used when `AUTH=off`. */
export const unrestricted: Principal = { keyId: null, role: 'admin', projectIds: null };

/** Actor for work the service does on its own (start-up, replays). */
export const systemActor: Actor = { principal: unrestricted, ip: null, userAgent: 'swarm-control' };

const PUBLIC_PATHS = [/^\/health(\/|$)/, /^\/docs(\/|$)/, /^\/openapi\.json$/, /^\/metrics$/];

/**
 * What a route needs: `public` for health, docs, the OpenAPI document and metrics (and a route
 * that says so), else its `access`, by default `read` for GET and `write` for the rest. One rule
 * for the auth hook and for the `security` the OpenAPI document declares on each operation.
 */
export function routeAccess(
  url: string,
  method: string,
  access: Access | 'public' | undefined,
): Access | 'public' {
  if (PUBLIC_PATHS.some((pattern) => pattern.test(url))) return 'public';
  return access ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'write');
}

export function allows(principal: Principal, access: Access): boolean {
  return granted[principal.role].has(access);
}

/**
 * True when the principal may see a resource of `projectId` (null: a resource outside every
 * project).
 */
export function inScope(principal: Principal, projectId: string | null): boolean {
  return (
    principal.projectIds === null ||
    // Stryker disable next-line ConditionalExpression: a key's project list never includes null
    (projectId !== null && principal.projectIds.includes(projectId))
  );
}

/**
 * A scoped key may only place things (agents, memory entries) in its own projects. A project
 * outside its scope is reported exactly like one that does not exist, so the key learns nothing.
 */
export function assertAssignable(principal: Principal, projectId: string | null | undefined): void {
  if (projectId === undefined || inScope(principal, projectId)) return;
  const message =
    projectId === null
      ? 'is required for a key limited to projects'
      : `Project ${projectId} does not exist`;
  throw new UnprocessableError(projectId === null ? `project_id ${message}` : message, [
    { path: '/project_id', message },
  ]);
}

/** The event topics a principal may read: its projects' topics, or null for every topic. */
export function scopeTopics(principal: Principal): string[] | null {
  return principal.projectIds?.map((id) => `project:${id}`) ?? null;
}

/** Body of POST /keys. */
export const keyInputSchema = z
  .strictObject({
    name: nameSchema,
    role: z.enum(roles),
    project_ids: z
      .array(z.uuid())
      .min(1)
      .max(1000)
      .nullable()
      .default(null)
      .describe('Limit the key to these projects; null: all'),
  })
  .meta({ id: 'KeyCreate' });
export type KeyInput = z.infer<typeof keyInputSchema>;

/** An API key as listed (never with its secret). */
export const apiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: z.enum(roles),
    project_ids: z.array(z.uuid()).nullable(),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof apiKeySchema>;

/** The answer to POST /keys: the only time the secret is shown. */
export const createdKeySchema = apiKeySchema
  .extend({ key: z.string().describe('Send as `Authorization: Bearer <key>`; shown once') })
  .meta({ id: 'CreatedApiKey' });
export type CreatedKey = z.infer<typeof createdKeySchema>;

/**
 * What an audit record says was done. One list for the writers (typed) and for `GET /audit`'s
 * filter, so that no write can record an action the filter refuses. `run` and `skip` are a
 * schedule's ticks; `status` is a status-only change, by a key or by the service.
 */
export const auditActions = [
  'create',
  'update',
  'delete',
  'status',
  'revoke',
  'reset',
  'store',
  'claim',
  'complete',
  'fail',
  'cancel',
  'retry',
  'lost',
  'timed_out',
  'run',
  'skip',
] as const;
export type AuditAction = (typeof auditActions)[number];

/** What an audit record names as changed. */
export const auditResources = [
  'project',
  'agent',
  'task',
  'schedule',
  'key',
  'memory',
  'memory_circuit',
] as const;
export type AuditResource = (typeof auditResources)[number];

/** An audit record. */
export const auditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.iso.datetime(),
    key_id: z.uuid().nullable(),
    action: z.string(),
    resource: z.string(),
    resource_id: z.string().nullable(),
    changed_fields: z.array(z.string()).nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/**
 * `GET /api/v1/keys/self`: who the caller is, so that a client (the dashboard) can show what its
 * key may do. With `AUTH=off` there is no key: `key_id` and `name` are null and the role is admin.
 */
export const callerSchema = z
  .object({
    authentication: z
      .enum(['on', 'off'])
      .describe('`off`: AUTH=off, every request has full access without a key'),
    key_id: z.uuid().nullable(),
    name: z.string().nullable(),
    role: z.enum(roles),
    project_ids: z
      .array(z.uuid())
      .nullable()
      .describe('The projects the key is limited to; null: all'),
  })
  .meta({ id: 'Caller' });
export type Caller = z.infer<typeof callerSchema>;
