import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/store/database.js';
import { testConfig } from '../support/app.js';
import { type PostgresServer, startPostgres } from '../support/postgres-server.js';

/**
 * PostgreSQL stopped for 5 s under write load: 503s, not 500s or hangs; recovery without a restart;
 * no acknowledged write lost.
 */
let server: PostgresServer;
let app: FastifyInstance;
let close: () => Promise<void>;
const REQUEST_TIMEOUT_MS = 8_000;

beforeAll(async () => {
  server = await startPostgres({ copyOf: inject('postgresClusterDataDir') });
  const handle = await openDatabase({ engine: 'postgres', url: server.adminUrl, poolSize: 10 });
  app = await buildApp({
    config: testConfig({ EVENT_POLL_MS: '200' }),
    database: { handle },
    logger: false,
  });
  close = async () => {
    await app.close();
    await handle.close();
  };
}, 60_000);
afterAll(async () => {
  await close?.();
  await server?.stop();
});

interface Outcome {
  status: number;
  ms: number;
  id?: string;
  type?: string;
}

async function writer(stopAt: () => boolean, outcomes: Outcome[], worker: number): Promise<void> {
  for (let i = 0; !stopAt(); i += 1) {
    const started = Date.now();
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/projects',
      payload: { name: `w${worker}-${i}` },
    });
    const body = response.json();
    outcomes.push({
      status: response.statusCode,
      ms: Date.now() - started,
      id: response.statusCode === 201 ? body.id : undefined,
      type: body.type,
    });
    if (response.statusCode !== 201) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('PostgreSQL outage under write load', () => {
  it('answers 503 problems during the outage, recovers by itself and keeps every acknowledged write', async () => {
    const outcomes: Outcome[] = [];
    const readiness: number[] = [];
    let done = false;
    const load = Promise.all(
      Array.from({ length: 8 }, (_, worker) => writer(() => done, outcomes, worker)),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.pause();
    const outageStarted = Date.now();
    while (Date.now() - outageStarted < 5_000) {
      readiness.push((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await server.resume();
    const recovered = Date.now();
    await expect
      .poll(async () => (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(200);
    const recoveryMs = Date.now() - recovered;
    await new Promise((resolve) => setTimeout(resolve, 500));
    done = true;
    await load;

    const statuses = new Set(outcomes.map((outcome) => outcome.status));
    expect([...statuses].sort()).toEqual([201, 503]);
    expect(
      outcomes
        .filter((outcome) => outcome.status === 503)
        .every((outcome) => outcome.type === '/problems/service-unavailable'),
    ).toBe(true);
    expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(readiness.every((status) => status === 503)).toBe(true);
    expect(recoveryMs).toBeLessThan(5_000);
    expect(outcomes.at(-1)?.status).toBe(201);

    const acknowledged = outcomes.flatMap((outcome) =>
      outcome.id === undefined ? [] : [outcome.id],
    );
    const client = new pg.Client({ connectionString: server.adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>(
        'select id from projects where id = any($1::uuid[])',
        [acknowledged],
      );
      expect(rows).toHaveLength(acknowledged.length);
      const events = await client.query<{ id: string }>(
        "select id from events where type = 'PROJECT_CREATED' order by id",
      );
      expect(events.rows).toHaveLength(acknowledged.length);
      const ids = events.rows.map((row) => Number(row.id));
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, index) => ids[0]! + index));
    } finally {
      await client.end();
    }
  });
});
