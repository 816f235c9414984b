/**
 * REST baseline: bare Fastify + pg on the same database and schema as the service, running the
 * same SQL text drizzle generates for the service's queries, with no validation, no request ids,
 * no logger, no response schema, no events and no transaction. What the service costs on top of
 * this is what the REST benchmark reports.
 *
 * - GET /api/v1/projects/:id      the service's `select … where id = $1`
 * - GET /api/v1/projects          the service's page query and its `count(*)` (filters: status;
 *                                 limit/offset)
 * - POST /api/v1/projects         one `insert … returning` (the service adds a transaction and an
 *                                 event)
 * - PATCH /api/v1/projects/:id    one `update … returning` (the service adds a transaction, a
 *                                 `select … for update`, the event-log lock and an event insert)
 *
 * Env: DATABASE_URL (required), DATABASE_POOL_SIZE (default 20, as the service). Prints
 * `READY {"port":N}`.
 */
import Fastify from 'fastify';
import pg from 'pg';
import { serveBaseline } from './lib/ready.js';

const COLUMNS =
  '"id", "name", "description", "status", "sparc_mode", "metadata", "version", "created_at", "updated_at"';
const BY_ID = `select ${COLUMNS} from "projects" where "projects"."id" = $1`;
const ORDER = 'order by "projects"."created_at" desc, "projects"."id" desc';
const INSERT =
  'insert into "projects" ("id", "name", "description", "status", "sparc_mode", "metadata", "version", "created_at", "updated_at") ' +
  `values (default, $1, $2, $3, $4, $5, default, default, default) returning ${COLUMNS}`;
/** Body field → column, so PATCH builds its SET list from known names only. */
const PATCHABLE: Record<string, string> = {
  name: 'name',
  description: 'description',
  status: 'status',
  sparc_mode: 'sparc_mode',
  metadata: 'metadata',
};

type Body = Record<string, unknown>;

async function serve(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pool = new pg.Pool({
    connectionString: url,
    max: Number(process.env.DATABASE_POOL_SIZE ?? 20),
  });
  const app = Fastify({ logger: false });

  app.get('/api/v1/projects/:id', async (request, reply) => {
    const { rows } = await pool.query(BY_ID, [(request.params as { id: string }).id]);
    return rows[0] ?? reply.code(404).send({ status: 404 });
  });

  app.get('/api/v1/projects', async (request) => {
    const query = request.query as { status?: string; limit?: string; offset?: string };
    const limit = Number(query.limit ?? 20);
    const offset = Number(query.offset ?? 0);
    // As drizzle renders it: the filter as $1, then limit, and an offset only when it is not 0.
    const filter = query.status === undefined ? [] : [query.status];
    const where = query.status === undefined ? '' : ' where "projects"."status" = $1';
    const paging = [limit, ...(offset === 0 ? [] : [offset])];
    const placeholders = paging.map((_, index) => `$${filter.length + index + 1}`);
    const limits = ` limit ${placeholders[0]}${offset === 0 ? '' : ` offset ${placeholders[1]}`}`;
    const page = await pool.query(`select ${COLUMNS} from "projects"${where} ${ORDER}${limits}`, [
      ...filter,
      ...paging,
    ]);
    const total = await pool.query(`select count(*) from "projects"${where}`, filter);
    return { items: page.rows, total: Number(total.rows[0].count), limit, offset };
  });

  app.post('/api/v1/projects', async (request, reply) => {
    const body = request.body as Body;
    const values = [
      body.name,
      body.description ?? null,
      body.status ?? 'active',
      body.sparc_mode ?? 'specification',
      JSON.stringify(body.metadata ?? {}),
    ];
    const { rows } = await pool.query(INSERT, values);
    return reply.code(201).send(rows[0]);
  });

  app.patch('/api/v1/projects/:id', async (request, reply) => {
    const body = request.body as Body;
    const names = Object.keys(body).filter((key) => key in PATCHABLE);
    const values = names.map((key) => (key === 'metadata' ? JSON.stringify(body[key]) : body[key]));
    const set = names.map((key, index) => `"${PATCHABLE[key]}" = $${index + 1}`);
    set.push(
      '"version" = "projects"."version" + 1',
      `"updated_at" = greatest(now(), "projects"."updated_at" + interval '1 millisecond')`,
    );
    const sql = `update "projects" set ${set.join(', ')} where "projects"."id" = $${names.length + 1} returning ${COLUMNS}`;
    const { rows } = await pool.query(sql, [...values, (request.params as { id: string }).id]);
    return rows[0] ?? reply.code(404).send({ status: 404 });
  });

  await pool.query('select 1');
  await serveBaseline(app, () => pool.end());
}

serve().catch((error: unknown) => {
  process.stderr.write(`baseline-rest failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
