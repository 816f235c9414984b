import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { EventStream } from '../../src/client/index.js';
import { openDatabase } from '../../src/store/database.js';
import { testConfig } from '../support/app.js';
import {
  type CapturedLog,
  INFO_LEVEL,
  type LogLine,
  WARN_LEVEL,
  captureLog,
} from '../support/captured-log.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';

/**
 * Two instances on one real PostgreSQL and one real Redis. The dispatchers' log polling is set to
 * a minute, so everything these tests see crossing instances within seconds went through Redis
 * (or, after an outage, through the catch-up a Redis message triggers).
 */
let redis: RedisServer;
let database: TestDatabase;
const instances: Array<{
  app: FastifyInstance;
  wsUrl: string;
  log: CapturedLog;
  close(): Promise<void>;
}> = [];

async function startInstance() {
  const handle = await openDatabase({ engine: 'postgres', url: database.url, poolSize: 10 });
  const log = captureLog();
  const app = await buildApp({
    config: testConfig({
      REDIS_URL: redis.url,
      EVENT_POLL_MS: '60000',
      WS_HEARTBEAT_MS: '5000',
      LOG_LEVEL: 'info',
    }),
    database: { handle },
    logStream: log.stream,
  });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const instance = {
    app,
    wsUrl: `${baseUrl.replace('http', 'ws')}/ws`,
    log,
    close: async () => {
      await app.close();
      await handle.close();
    },
  };
  instances.push(instance);
  return instance;
}

beforeAll(async () => {
  [redis, database] = await Promise.all([startRedis(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.close()));
  await Promise.all([redis.stop(), database.drop()]);
});

function collect(stream: EventStream): number[] {
  const ids: number[] = [];
  stream.onEvent((event) => ids.push(event.id));
  stream.start();
  return ids;
}

const createProject = (app: FastifyInstance, name: string) =>
  app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name } });

/**
 * Writes a project on `app` every 500 ms until `heard()` reaches `count`. What an instance
 * publishes while its own Redis connection is still coming back is dropped (the other instances'
 * log poll brings it, a minute apart here), so a write heard within seconds came through Redis.
 */
const writeUntilHeard = (app: FastifyInstance, name: string, heard: () => number, count: number) =>
  expect
    .poll(
      async () => {
        await createProject(app, `${name}-${Date.now()}`);
        return heard();
      },
      { timeout: 15_000, interval: 500 },
    )
    .toBeGreaterThanOrEqual(count);

const logged = (log: CapturedLog, level: number, msg: string): LogLine[] =>
  log.lines().filter((line) => line.level === level && line.msg === msg);
/** The connections (`publisher`, `subscriber`) an instance warned about losing Redis, with why. */
const connectionWarnings = (log: CapturedLog) =>
  new Set(
    logged(log, WARN_LEVEL, 'redis connection error')
      .filter(
        (line) => typeof (line.err as { message?: unknown } | undefined)?.message === 'string',
      )
      .map((line) => line.role),
  );
/** How often the instance's bus has (re)connected its subscriber. */
const connects = (log: CapturedLog) => logged(log, INFO_LEVEL, 'redis event bus connected').length;

describe('two instances sharing PostgreSQL and Redis', () => {
  it('delivers writes made on A to clients of B, and of A, in order and once', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    const onA = new EventStream({ url: a.wsUrl, lastEventId: 0 });
    const onB = new EventStream({ url: b.wsUrl, lastEventId: 0 });
    const [seenA, seenB] = [collect(onA), collect(onB)];
    await expect.poll(() => onA.connected && onB.connected).toBe(true);
    const writes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => createProject(i % 2 === 0 ? a.app : b.app, `p${i}`)),
    );
    const ids = writes.map((response) => response.statusCode === 201);
    expect(ids.every(Boolean)).toBe(true);
    await expect.poll(() => seenB.length, { timeout: 5_000 }).toBe(40);
    await expect.poll(() => seenA.length, { timeout: 5_000 }).toBe(40);
    expect(seenA).toEqual(seenB);
    expect([...seenB].sort((x, y) => x - y)).toEqual(seenB);
    onA.close();
    onB.close();
  });

  it('survives Redis stopping and restarting mid-stream without losing an event', async () => {
    const [a, b] = [
      instances[0] ?? (await startInstance()),
      instances[1] ?? (await startInstance()),
    ];
    const onB = new EventStream({ url: b.wsUrl, lastEventId: 0 });
    const seenB = collect(onB);
    const logged = (await a.app.inject({ method: 'GET', url: '/api/v1/events?limit=1000' })).json()
      .items.length;
    await expect.poll(() => seenB.length, { timeout: 5_000 }).toBe(logged);
    const before = seenB.length;
    for (let i = 0; i < 5; i += 1) await createProject(a.app, `before-outage-${i}`);
    await expect.poll(() => seenB.length, { timeout: 5_000 }).toBe(before + 5);

    const connectedBefore = connects(a.log);
    await redis.pause();
    for (let i = 0; i < 10; i += 1)
      expect((await createProject(a.app, `during-outage-${i}`)).statusCode).toBe(201);
    expect((await a.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    // What the operator reads meanwhile: a warning for each of A's two connections, with why.
    await expect
      .poll(() => connectionWarnings(a.log), { timeout: 5_000 })
      .toEqual(new Set(['publisher', 'subscriber']));
    await redis.resume();
    await expect.poll(() => connects(a.log), { timeout: 5_000 }).toBeGreaterThan(connectedBefore);

    await writeUntilHeard(a.app, 'after-outage', () => seenB.length, before + 16);
    const log = (
      await a.app.inject({ method: 'GET', url: `/api/v1/events?after=${seenB[0]! - 1}&limit=1000` })
    ).json();
    expect(seenB).toEqual(
      log.items.map((event: { id: number }) => event.id).slice(0, seenB.length),
    );
    onB.close();
  });

  it('has an instance started while Redis is down join the channel once Redis is up', async () => {
    const a = instances[0] ?? (await startInstance());
    await redis.pause();
    const late = await startInstance();
    const refused = () =>
      logged(late.log, WARN_LEVEL, 'redis connection error').filter(
        (line) => line.role === 'subscriber',
      ).length;
    // Three refused connects: ioredis has given up on any request queued before the first.
    await expect.poll(refused, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    await redis.resume();
    await expect.poll(() => connects(late.log), { timeout: 5_000 }).toBe(1);

    const onLate = new EventStream({ url: late.wsUrl });
    const seen = collect(onLate);
    await expect.poll(() => onLate.connected).toBe(true);
    // A's own connections are coming back from the outage too.
    await writeUntilHeard(a.app, 'heard-through-redis', () => seen.length, 1);
    expect(logged(late.log, WARN_LEVEL, 'redis subscribe failed')).toEqual([]);
    onLate.close();
  });
});
