/**
 * Write baselines: bare Fastify on the service's database and schema, no validation, no request
 * ids, no logger, no authentication, in two variants under two route prefixes:
 *
 * - `/minimal/api/v1/…`: one autocommitted `insert … returning` / `update … returning`, as
 *   bench/baseline-rest.ts does (what a write costs with no guarantee at all);
 * - `/guaranteed/api/v1/…`: the guarantees the service gives a project write — no lost update,
 *   `version` bumped, an audit row, an event with a gapless, commit-ordered id and the project as
 *   the API returns it, all in one transaction — written as tightly as we can: ONE autocommitted
 *   statement of data-modifying CTEs, so the event-log counter row is held for no round trip:
 *
 *     before  select … for update   the row as it was (for `changed_fields`), locked
 *     updated update … from before  version + 1, updated_at as the service sets it; returns
 *                                    the project JSON (snake_case, ISO timestamps) and
 *                                    `changed_fields` (the writable fields that differ)
 *     audit   insert into audit_log  (key_id, action, resource, resource_id, changed_fields, ip,
 *                                    user_agent) from the updated row
 *     state   update event_log_state last_id + 1, WHERE depending on the audit row, so the counter
 *                                    is locked last: after the project row, as the service does
 *     ev      insert into events     (id, type, topic, topics, data) as src/domain/event.ts
 *                                    projectEvent: topic `project:<id>`, topics
 *                                    [`projects`, `project:<id>`]
 *
 *   No row (a missing project) → nothing audited, the counter untouched, 404.
 *
 * Routes (the same bodies and answers as the service: the project, with `etag`; POST 201 and
 * `location`):
 *   PATCH /{minimal,guaranteed}/api/v1/projects/:id
 *   POST  /{minimal,guaranteed}/api/v1/projects
 *   POST  /minimal/api/v1/agents/:id/heartbeat
 *         `update agents set last_active_at = now() … returning`
 *
 * Statements are prepared by name (pg), so PostgreSQL parses and plans each once per connection.
 *
 * Env: `DATABASE_URL` (PostgreSQL; `DATABASE_POOL_SIZE`, default 20, as the service) or
 * `PGLITE_DIR` (embedded PGlite in that directory, already migrated by the service: one process
 * per directory, so the orchestrator gives this one a copy). Prints `READY {"port":N}`.
 */
import { PGlite } from '@electric-sql/pglite';
import Fastify, { type FastifyReply } from 'fastify';
import pg from 'pg';
import { lockDataDirectory } from '../src/store/data-directory-lock.js';
import { isoText } from '../src/store/write-statement.js';
import { serveBaseline } from './lib/ready.js';

type Body = Record<string, unknown>;
type Row = Record<string, unknown>;

/** Runs a named statement: prepared once per connection on PostgreSQL. */
interface Engine {
  query(name: string, text: string, values: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

const PROJECT_COLUMNS =
  '"id", "name", "description", "status", "sparc_mode", "metadata", "version", "created_at", "updated_at"';
const AGENT_COLUMNS =
  '"id", "name", "agent_type", "capabilities", "status", "project_id", "metadata", "last_active_at", "version", "created_at", "updated_at"';
/** The writable fields of a project, in the order the service lists changed fields. */
const WRITABLE = ['name', 'description', 'status', 'sparc_mode', 'metadata'] as const;

/** A project row of alias `p` as the API returns it (json keeps the keys in this order). */
const PROJECT_JSON = `json_build_object('id', p.id, 'name', p.name, 'description', p.description,
  'status', p.status, 'sparc_mode', p.sparc_mode, 'metadata', p.metadata, 'version', p.version,
  'created_at', ${isoText('p.created_at')}, 'updated_at', ${isoText('p.updated_at')})`;

const MINIMAL_INSERT =
  'insert into "projects" ("id", "name", "description", "status", "sparc_mode", "metadata", "version", "created_at", "updated_at") ' +
  `values (default, $1, $2, $3, $4, $5, default, default, default) returning ${PROJECT_COLUMNS}`;

/**
 * The audit row, the counter bump (locked last: its condition reads the audit row, which reads
 * the changed row) and the event of the one row of CTE `c`. Parameters are SQL text.
 */
function auditAndEvent(row: {
  action: string;
  type: string;
  actor: [key: string, ip: string, agent: string];
  changed: string;
  data: string;
}): string {
  const [key, ip, agent] = row.actor;
  return `audit as (
  insert into audit_log (key_id, action, resource, resource_id, changed_fields, ip, user_agent)
  select ${key}::uuid, '${row.action}', 'project', c.id::text, ${row.changed}, ${ip}, ${agent}
  from c
  returning 1
), state as (
  update event_log_state set last_id = last_id + 1
  where singleton and (select count(*) from audit) > 0
  returning last_id
), ev as (
  insert into events (id, type, topic, topics, data)
  select s.last_id, '${row.type}', 'project:' || c.id, array['projects', 'project:' || c.id],
         ${row.data}
  from state s, c
)`;
}

const GUARANTEED_INSERT = `
with c as (
  insert into projects as p (name, description, status, sparc_mode, metadata)
  values ($1, $2, $3, $4, $5::jsonb)
  returning p.id, p.version, ${PROJECT_JSON} as project
), ${auditAndEvent({
  action: 'create',
  type: 'PROJECT_CREATED',
  actor: ['$6', '$7', '$8'],
  changed: 'null',
  data: "jsonb_build_object('project', c.project)",
})}
select c.project::text as body, c.id, c.version from c`;

const MINIMAL_HEARTBEAT = `update "agents" set "last_active_at" = now() where "agents"."id" = $1 returning ${AGENT_COLUMNS}`;

/** `update … set <fields>` for PATCH: field values are $1…$n, the id $n+1. */
function setList(names: readonly string[]): string[] {
  return [
    ...names.map(
      (name, index) => `"${name}" = $${index + 1}${name === 'metadata' ? '::jsonb' : ''}`,
    ),
    '"version" = p."version" + 1',
    `"updated_at" = greatest(now(), p."updated_at" + interval '1 millisecond')`,
  ];
}

function minimalUpdate(names: readonly string[]): string {
  const set = setList(names).join(', ');
  return `update "projects" as p set ${set} where p."id" = $${names.length + 1} returning ${PROJECT_COLUMNS}`;
}

/** The PATCH statement of the guaranteed variant; key id, ip and user agent follow the id. */
function guaranteedUpdate(names: readonly string[]): string {
  const param = (offset: number) => `$${names.length + offset}`;
  const id = param(1);
  const changed = WRITABLE.map(
    (field) => `case when b.${field} is distinct from p.${field} then '${field}' end`,
  ).join(', ');
  return `
with before as (
  select id, ${WRITABLE.join(', ')} from projects where id = ${id} for update
), c as (
  update projects as p set ${setList(names).join(', ')}
  from before b where p.id = ${id} and p.id = b.id
  returning p.id, p.version, ${PROJECT_JSON} as project,
            array_remove(array[${changed}]::text[], null) as changed
), ${auditAndEvent({
    action: 'update',
    type: 'PROJECT_UPDATE',
    actor: [param(2), param(3), param(4)],
    changed: 'c.changed',
    data: "jsonb_build_object('project', c.project, 'changed_fields', to_jsonb(c.changed))",
  })}
select c.project::text as body, c.version from c`;
}

async function openEngine(): Promise<Engine> {
  const url = process.env.DATABASE_URL;
  const dir = process.env.PGLITE_DIR;
  if (url) {
    const pool = new pg.Pool({
      connectionString: url,
      max: Number(process.env.DATABASE_POOL_SIZE ?? 20),
    });
    pool.on('error', () => undefined);
    await pool.query('select 1');
    return {
      query: async (name, text, values) => (await pool.query({ name, text, values })).rows,
      close: () => pool.end(),
    };
  }
  if (dir) {
    const lock = lockDataDirectory(dir);
    const client = new PGlite(dir);
    await client.query('select 1');
    // One connection: statements run one at a time, in the order they are sent.
    return {
      query: async (_name, text, values) => (await client.query<Row>(text, values)).rows,
      close: async () => {
        await client.close();
        lock.release();
      },
    };
  }
  throw new Error('DATABASE_URL or PGLITE_DIR is required');
}

async function serve(): Promise<void> {
  const engine = await openEngine();
  // The audit rows name a key as the service's do: the first key (the admin key of the run).
  const [keyRow] = await engine.query(
    'first-key',
    'select id from api_keys order by created_at limit 1',
    [],
  );
  const keyId = (keyRow?.id as string | undefined) ?? null;
  const app = Fastify({ logger: false });
  const actor = (request: { ip: string; headers: Record<string, unknown> }) => [
    keyId,
    request.ip,
    (request.headers['user-agent'] as string | undefined) ?? null,
  ];
  const sendProject = (reply: FastifyReply, row: Row | undefined, code = 200) => {
    if (row === undefined) return reply.code(404).send({ status: 404 });
    return reply
      .code(code)
      .header('etag', `"${String(row.version)}"`)
      .header('content-type', 'application/json; charset=utf-8')
      .send(row.body);
  };
  const patchFields = (body: Body) => {
    const names = WRITABLE.filter((key) => key in body);
    const values = names.map((key) => (key === 'metadata' ? JSON.stringify(body[key]) : body[key]));
    return { names, values, key: names.join(',') };
  };

  app.post('/minimal/api/v1/projects', async (request, reply) => {
    const body = request.body as Body;
    const rows = await engine.query('min-insert', MINIMAL_INSERT, [
      body.name,
      body.description ?? null,
      body.status ?? 'active',
      body.sparc_mode ?? 'specification',
      JSON.stringify(body.metadata ?? {}),
    ]);
    return reply.code(201).send(rows[0]);
  });

  app.post('/guaranteed/api/v1/projects', async (request, reply) => {
    const body = request.body as Body;
    const [row] = await engine.query('g-insert', GUARANTEED_INSERT, [
      body.name,
      body.description ?? null,
      body.status ?? 'active',
      body.sparc_mode ?? 'specification',
      JSON.stringify(body.metadata ?? {}),
      ...actor(request),
    ]);
    if (row !== undefined) reply.header('location', `/api/v1/projects/${String(row.id)}`);
    return sendProject(reply, row, 201);
  });

  app.patch('/minimal/api/v1/projects/:id', async (request, reply) => {
    const { names, values, key } = patchFields(request.body as Body);
    const rows = await engine.query(`min-update:${key}`, minimalUpdate(names), [
      ...values,
      (request.params as { id: string }).id,
    ]);
    return rows[0] ?? reply.code(404).send({ status: 404 });
  });

  app.patch('/guaranteed/api/v1/projects/:id', async (request, reply) => {
    const { names, values, key } = patchFields(request.body as Body);
    const [row] = await engine.query(`g-update:${key}`, guaranteedUpdate(names), [
      ...values,
      (request.params as { id: string }).id,
      ...actor(request),
    ]);
    return sendProject(reply, row);
  });

  app.post('/minimal/api/v1/agents/:id/heartbeat', async (request, reply) => {
    const rows = await engine.query('min-heartbeat', MINIMAL_HEARTBEAT, [
      (request.params as { id: string }).id,
    ]);
    return rows[0] ?? reply.code(404).send({ status: 404 });
  });

  await serveBaseline(app, () => engine.close());
}

serve().catch((error: unknown) => {
  process.stderr.write(`baseline-writes failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
