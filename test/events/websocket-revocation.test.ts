import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { systemActor } from '../../src/domain/auth.js';
import { openDatabase } from '../../src/store/database.js';
import { testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { type TestSocket, openSocket } from '../support/ws-client.js';

/**
 * A revoked key's sockets close with 4401: at once on the instance that revoked it, and within
 * the auth cache's lifetime (`AUTH_KEY_CACHE_MS`, 1 s here) on every other instance (they share
 * only the database here, so the second instance learns of it from its own periodic re-check,
 * with real timers).
 */
const KEY_CACHE_MS = 1_000;
let database: TestDatabase;
const instances: Array<{ app: FastifyInstance; wsUrl: string; close(): Promise<void> }> = [];

async function startInstance() {
  const handle = await openDatabase({ engine: 'postgres', url: database.url, poolSize: 5 });
  const app = await buildApp({
    config: testConfig({ AUTH: 'on', AUTH_KEY_CACHE_MS: String(KEY_CACHE_MS) }),
    database: { handle },
    logger: false,
  });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const close = async () => {
    await app.close();
    await handle.close();
  };
  const instance = { app, wsUrl: `${baseUrl.replace('http', 'ws')}/ws`, close };
  instances.push(instance);
  return instance;
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.close()));
  await database.drop();
});

const createKey = (app: FastifyInstance, name: string) =>
  app.auth.createKey({ name, role: 'reader', project_ids: null }, systemActor);

async function connect(wsUrl: string, key: string): Promise<TestSocket> {
  const socket = await openSocket(`${wsUrl}?token=${key}`);
  await socket.next((message) => message.type === 'WELCOME');
  return socket;
}

describe('revoking a key with open sockets', () => {
  it('closes them with 4401 on every instance, and only them', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    const [revoked, kept] = [await createKey(a.app, 'revoked'), await createKey(a.app, 'kept')];
    const adminKey = (
      await a.app.auth.createKey({ name: 'root', role: 'admin', project_ids: null }, systemActor)
    ).key;
    const onA = await connect(a.wsUrl, revoked.key);
    const onB = await connect(b.wsUrl, revoked.key);
    const other = await connect(b.wsUrl, kept.key);

    const started = Date.now();
    const response = await a.app.inject({
      method: 'DELETE',
      url: `/api/v1/keys/${revoked.id}`,
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(response.statusCode).toBe(204);
    expect(await onA.closed).toEqual({ code: 4401, reason: 'API key revoked' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await onB.closed).toEqual({ code: 4401, reason: 'API key revoked' });
    expect(Date.now() - started).toBeLessThan(KEY_CACHE_MS + 1_500);

    expect(other.socket.readyState).toBe(other.socket.OPEN);
    await expect(openSocket(`${b.wsUrl}?token=${revoked.key}`)).rejects.toThrow('401');
    other.socket.close();
  });
});
