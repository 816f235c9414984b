/**
 * Proves the test harness itself: the global setup's Postgres 15 and Redis are reachable and
 * createTestDatabase() gives each file an isolated database that drop() really removes.
 */
import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { testEngine } from '../support/app.js';

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function redisCommand(url: string, command: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(command));
    let reply = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('redis reply timed out')));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n')) socket.end(() => resolve(reply));
    });
    socket.on('error', reject);
  });
}

describe('test harness', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('runs the servers project against real PostgreSQL 15', async () => {
    expect(testEngine()).toBe('postgres');
    const [row] = await query<{ version: string }>(db.url, 'select version()');
    expect(row?.version).toMatch(/^PostgreSQL 15\./);
  });

  it('connects to a uniquely named, per-file database', async () => {
    expect(db.name).toMatch(new RegExp(`^t_${process.pid}_\\d+_[0-9a-f]{6}$`));
    const [row] = await query<{ db: string }>(db.url, 'select current_database() as db');
    expect(row?.db).toBe(db.name);
  });

  it('copies the migrated template by default, and migrates an empty database on open', async () => {
    const tables =
      "select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('projects', 'agents', 'events')";
    expect((await query<{ n: number }>(db.url, tables))[0]?.n).toBe(3);
    const empty = await createTestDatabase({ migrated: false });
    try {
      expect((await query<{ n: number }>(empty.url, tables))[0]?.n).toBe(0);
      const database = await openDatabase({ engine: 'postgres', url: empty.url, poolSize: 2 });
      await database.close();
      expect((await query<{ n: number }>(empty.url, tables))[0]?.n).toBe(3);
    } finally {
      await empty.drop();
    }
  });

  it('drop() removes a database even while a client is still connected', async () => {
    const extra = await createTestDatabase();
    const lingering = new pg.Client({ connectionString: extra.url });
    lingering.on('error', () => {}); // expected: the server terminates this session
    await lingering.connect();
    await extra.drop();
    await extra.drop(); // idempotent
    const rows = await query(
      inject('postgresAdminUrl'),
      'select 1 from pg_database where datname = $1',
      [extra.name],
    );
    expect(rows).toHaveLength(0);
    await lingering.end().catch(() => {});
  });

  it('reaches the shared Redis', async () => {
    expect(await redisCommand(inject('redisUrl'), 'PING\r\n')).toBe('+PONG\r\n');
  });
});
