import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { serviceArgs } from '../support/programs.js';

/**
 * The service killed with SIGKILL mid-load and restarted: nothing acknowledged is missing, nothing
 * is half-written, the log has no gap.
 */
let database: TestDatabase;
let service: ChildProcess | undefined;
let baseUrl: string;

async function startService(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, serviceArgs(), {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      MEMORY_MCP: 'off',
      AUTH: 'off',
      RATE_LIMIT_MAX: '10000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.resume();
  child.stdout?.resume();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the service did not become ready within 20 s');
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  service?.kill('SIGKILL');
  if (service !== undefined && service.exitCode === null && service.signalCode === null)
    await once(service, 'exit');
  await database?.drop();
});

interface Acknowledged {
  id: string;
  version: number;
}

async function writer(
  stop: () => boolean,
  acknowledged: Map<string, number>,
  worker: number,
): Promise<void> {
  let mine: string | undefined;
  for (let i = 0; !stop(); i += 1) {
    const request =
      mine === undefined || i % 3 === 0
        ? fetch(`${baseUrl}/api/v1/projects`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `w${worker}-${i}` }),
          })
        : fetch(`${baseUrl}/api/v1/projects/${mine}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ metadata: { i } }),
          });
    const response = await request.catch(() => undefined);
    if (response === undefined) return;
    if (!response.ok) continue;
    const body = (await response.json().catch(() => undefined)) as Acknowledged | undefined;
    if (body === undefined) return;
    mine = body.id;
    acknowledged.set(body.id, Math.max(acknowledged.get(body.id) ?? 0, body.version));
  }
}

describe('SIGKILL mid-load', () => {
  it('loses no acknowledged write and leaves no half-written record or gap in the log', async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    service = await startService(port);
    const acknowledged = new Map<string, number>();
    let stopped = false;
    const load = Promise.all(
      Array.from({ length: 8 }, (_, worker) => writer(() => stopped, acknowledged, worker)),
    );
    await expect
      .poll(() => acknowledged.size, { timeout: 15_000, interval: 20 })
      .toBeGreaterThanOrEqual(30);
    service.kill('SIGKILL');
    await once(service, 'exit');
    stopped = true;
    await load;

    service = await startService(port);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const projects = await client.query<{ id: string; version: number }>(
        'select id, version from projects',
      );
      const stored = new Map(projects.rows.map((row) => [row.id, row.version]));
      for (const [id, version] of acknowledged)
        expect(stored.get(id), id).toBeGreaterThanOrEqual(version);
      const events = await client.query<{ id: string; type: string; project: string }>(
        "select id, type, data->'project'->>'id' as project from events order by id",
      );
      const ids = events.rows.map((row) => Number(row.id));
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, index) => index + 1));
      const state = await client.query<{ last_id: string }>('select last_id from event_log_state');
      expect(Number(state.rows[0]!.last_id)).toBe(ids.length);
      const created = events.rows
        .filter((row) => row.type === 'PROJECT_CREATED')
        .map((row) => row.project);
      expect(new Set(created)).toEqual(new Set(stored.keys()));
      for (const [id, version] of stored) {
        expect(
          events.rows.filter((row) => row.type === 'PROJECT_UPDATE' && row.project === id),
        ).toHaveLength(version - 1);
      }
    } finally {
      await client.end();
    }
    const after = await fetch(`${baseUrl}/api/v1/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after restart' }),
    });
    expect(after.status).toBe(201);
  });
});
