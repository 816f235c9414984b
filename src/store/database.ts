import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type ExtractTablesWithRelations, sql } from 'drizzle-orm';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePostgres } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { type DataDirectoryLock, lockDataDirectory } from './data-directory-lock.js';
import * as schema from './schema.js';

/** The query interface repositories use, whichever engine is underneath. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction opened on a {@link Database}. */
export type Transaction = PgTransaction<
  PgQueryResultHKT,
  typeof schema,
  ExtractTablesWithRelations<typeof schema>
>;
/** Anything a repository can run a query on: the database itself or an open transaction. */
export type Executor = Database | Transaction;

/**
 * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. `work`
 * may end it sooner with its last statement, through `commitWith`.
 */
export type TransactionRunner = <T>(
  work: (tx: Executor, commitWith: CommitWith) => Promise<T>,
) => Promise<T>;

/**
 * Runs `text`, one statement, and COMMIT in one round trip, and returns the statement's rows; the
 * transaction is over once it resolves (and rolled back if it rejects). It goes over the simple
 * query protocol, which takes no parameters: values must be written into `text` as literals
 * (`pg.escapeLiteral`). Writes end with it so that the locks they take last (the event-log
 * counter) are not held while the COMMIT travels.
 */
export type CommitWith = (text: string) => Promise<Record<string, unknown>[]>;

/**
 * One SQL statement with its parameters. PostgreSQL parses and plans it once per connection under
 * `name`, so `text` must be the same for every use of a name.
 */
export interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

/**
 * Runs one statement on its own, as its own transaction (it commits when it returns), and gives
 * back its rows. The hot writes use it: a whole write in one round trip.
 */
export type StatementRunner = (statement: Statement) => Promise<Record<string, unknown>[]>;

/** An open database with the means to check and release it. */
export interface DatabaseHandle {
  readonly engine: 'postgres' | 'pglite';
  readonly db: Database;
  /**
   * Prefer this to `db.transaction()`: on PostgreSQL it also returns the connection to the pool
   * when BEGIN itself fails (a server going away), which drizzle 0.45 does not, and it discards a
   * connection whose ROLLBACK failed instead of reusing it.
   */
  readonly transaction: TransactionRunner;
  readonly statement: StatementRunner;
  /** Resolves when the database answers a trivial query, rejects otherwise. */
  ping(): Promise<void>;
  /**
   * PGlite only: the whole data directory, to start another in-memory database from (see {@link
   * DatabaseTarget}).
   */
  snapshot?: () => Promise<Blob>;
  /** Connections of the PostgreSQL pool (null on PGlite, which has one connection and no pool). */
  poolStats(): { total: number; idle: number; waiting: number } | null;
  close(): Promise<void>;
}

/**
 * How to reach the database: a PostgreSQL URL, or an embedded PGlite directory (null: in memory).
 * An in-memory PGlite may start from `snapshot`, a data directory saved with `dumpDataDir()`,
 * which is several times faster than creating one (the test suite uses it).
 */
export type DatabaseTarget =
  | { engine: 'postgres'; url: string; poolSize: number }
  | { engine: 'pglite'; dataDir: string | null; snapshot?: Blob };

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
const MIGRATION_LOCK_ID = 7_311_042;

/**
 * Chooses the engine from the configuration: `DATABASE_URL` names a PostgreSQL server,
 * `memory://` a throwaway embedded database, and no URL at all a persistent one in `dataDir`.
 */
export function resolveDatabaseTarget(
  url: string | undefined,
  dataDir: string,
  poolSize: number,
): DatabaseTarget {
  if (url === undefined) return { engine: 'pglite', dataDir: `${dataDir}/pglite` };
  if (url.startsWith('memory://')) return { engine: 'pglite', dataDir: null };
  return { engine: 'postgres', url, poolSize };
}

/** What {@link openDatabase} reports along the way. */
export interface OpenOptions {
  /** A warning worth an operator's eye, e.g. a stale lock of a crashed process taken over. */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * Opens the database and applies every pending migration before returning. An embedded database
 * in a directory is locked to this process until `close()` (see data-directory-lock.ts): a second
 * process on it throws `DataDirectoryLockedError` naming the holder.
 */
export async function openDatabase(
  target: DatabaseTarget,
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  if (target.engine === 'postgres') return openPostgres(target.url, target.poolSize);
  if (target.dataDir === null) return openPglite(null, target.snapshot);
  return openLockedPglite(target.dataDir, options);
}

/** PGlite in a directory, under its lock: released when the database closes or fails to open. */
async function openLockedPglite(dataDir: string, options: OpenOptions): Promise<DatabaseHandle> {
  mkdirSync(dataDir, { recursive: true });
  const onStaleLock = (message: string, stale: object) =>
    options.warn?.(message, { stale_lock: stale });
  const lock = lockDataDirectory(dataDir, { onStaleLock });
  try {
    return withLock(await openPglite(dataDir), lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

function withLock(handle: DatabaseHandle, lock: DataDirectoryLock): DatabaseHandle {
  const close = async () => {
    try {
      await handle.close();
    } finally {
      lock.release();
    }
  };
  return { ...handle, close };
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    query_timeout: 30_000,
    idleTimeoutMillis: 30_000,
  });
  // A connection that breaks while idle, or while checked out between two queries of a
  // transaction, emits 'error'; without a listener that would crash the process. The failed
  // query (or the next one) reports the problem to its caller, so these are just swallowed.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const db = drizzleNodePostgres({ client: pool, schema }) as unknown as Database;
  return {
    engine: 'postgres',
    db,
    transaction: (work) => poolTransaction(pool, work),
    statement: async ({ name, text, values }) =>
      (await pool.query<Record<string, unknown>>({ name, text, values })).rows,
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    ping: async () => void (await pool.query('select 1')),
    close: () => pool.end(),
  };
}

/**
 * One drizzle instance per pooled connection: building one extracts the schema again, which costs
 * on every write.
 */
const connectionDatabases = new WeakMap<pg.PoolClient, Database>();

function databaseOn(client: pg.PoolClient): Database {
  let db = connectionDatabases.get(client);
  if (db === undefined) {
    db = drizzleNodePostgres({ client, schema });
    connectionDatabases.set(client, db);
  }
  return db;
}

async function poolTransaction<T>(
  pool: pg.Pool,
  work: (tx: Executor, commitWith: CommitWith) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  let committed = false;
  const commitWith: CommitWith = async (text) => {
    const results = (await client.query(`${text};\ncommit`)) as unknown as pg.QueryResult[];
    committed = true;
    return results[0]!.rows as Record<string, unknown>[];
  };
  try {
    await client.query('begin');
    const result = await work(databaseOn(client), commitWith);
    if (!committed) await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Migrates under an advisory lock so that instances starting together take turns. */
async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await migrateNodePostgres(drizzleNodePostgres({ client }), { migrationsFolder });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

async function openPglite(dataDir: string | null, snapshot?: Blob): Promise<DatabaseHandle> {
  const client =
    dataDir === null ? await PGlite.create({ loadDataDir: snapshot }) : new PGlite(dataDir);
  try {
    await migratePglite(drizzlePglite({ client }), { migrationsFolder });
  } catch (error) {
    await client.close();
    throw error;
  }
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    engine: 'pglite',
    db,
    snapshot: () => client.dumpDataDir('none'),
    // PGlite has one connection and no other clients: its transaction commits when `work` returns.
    transaction: (work) =>
      db.transaction((tx) =>
        work(tx, async (text) => {
          const result = (await tx.execute(sql.raw(text))) as { rows: Record<string, unknown>[] };
          return result.rows;
        }),
      ),
    statement: async ({ text, values }) =>
      (await client.query<Record<string, unknown>>(text, values)).rows,
    poolStats: () => null,
    ping: async () => void (await client.query('select 1')),
    close: () => client.close(),
  };
}
