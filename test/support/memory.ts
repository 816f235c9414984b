/**
 * Helpers for the memory tests: apps with memory settings on a database the test owns (so one
 * database can outlive an app, as across a restart), temporary graph files, a direct client on
 * the same graph file, and polling.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { McpMemoryClient } from '../../src/memory/mcp-client.js';
import { type StdioConnectionOptions, serverMemoryConnection } from '../../src/memory/mcp-transport.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { testConfig } from './app.js';
import { makeTempDir } from './process.js';

/*
 * The MCP servers run from this run's bundles (see child-bundles.ts): the same code, started with
 * half the CPU. Tests that prove the service's own way of starting server-memory say so and use
 * `serverMemoryConnection()` or leave MEMORY_MCP_COMMAND unset.
 */
const scripts = inject('mcpServers');
/** The stalling stdio proxy in front of server-memory (see test/support/hanging-mcp-server.mjs). */
export const HANGING_SERVER = scripts.hanging;
/** Deliberately incomplete or failing MCP servers (see test/support/fake-mcp-server.mjs). */
export const FAKE_SERVER = scripts.fake;

/** The service's default server-memory connection, with this run's bundle as the script. */
export function bundledServerMemory(memoryFilePath: string): StdioConnectionOptions {
  return { ...serverMemoryConnection(memoryFilePath), args: [scripts.serverMemory] };
}

/** Small breaker settings so that the real breaker opens and recovers within a second. */
export const FAST_BREAKER = {
  MEMORY_BREAKER_FAILURE_THRESHOLD: '2',
  MEMORY_BREAKER_OPEN_MS: '300',
  MEMORY_BREAKER_HALF_OPEN_SUCCESSES: '1',
  MEMORY_STORE_TIMEOUT_MS: '1000',
  MEMORY_SEARCH_TIMEOUT_MS: '1000',
};

/** A command line (for MEMORY_MCP_COMMAND) running `script` with this Node binary and extra environment variables. */
export function nodeCommand(script: string, environment: Record<string, string> = {}): string {
  const assignments = Object.entries(environment).map(([name, value]) => `${name}=${value}`);
  const env = assignments.length > 0 ? ['env', ...assignments] : [];
  return [...env, process.execPath, script].map((word) => `'${word}'`).join(' ');
}

/** MEMORY_MCP_COMMAND for an app that runs the bundled server-memory (MEMORY_FILE_PATH still names its graph). */
export const SERVER_MEMORY_COMMAND = nodeCommand(scripts.serverMemory);

/** A graph file in a new temporary directory; `remove()` deletes the directory. */
export async function temporaryMemoryFile(): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = makeTempDir('memory-test-');
  return { path: path.join(directory, 'mcp-memory.jsonl'), remove: () => rm(directory, { recursive: true, force: true }) };
}

/** The real app with these settings on `database`, which the caller keeps open and closes. */
export async function buildMemoryApp(database: DatabaseHandle, settings: Record<string, string>): Promise<FastifyInstance> {
  const app = await buildApp({ config: testConfig(settings), database: { handle: database }, logger: false });
  await app.ready();
  return app;
}

/** Short request helpers bound to one app. */
export function memoryApi(app: () => FastifyInstance) {
  const send = (options: InjectOptions): Promise<LightMyRequestResponse> => app().inject(options);
  return {
    store: (payload: object) => send({ method: 'POST', url: '/api/v1/memory', payload }),
    search: (query: string) => send({ method: 'GET', url: `/api/v1/memory/search?${query}` }),
    get: (key: string, projectId?: string) => {
      const query = projectId === undefined ? '' : `?project_id=${projectId}`;
      return send({ method: 'GET', url: `/api/v1/memory/${encodeURIComponent(key)}${query}` });
    },
    circuit: async () => (await send({ method: 'GET', url: '/api/v1/memory/circuit' })).json(),
    reset: () => send({ method: 'POST', url: '/api/v1/memory/circuit/reset' }),
    ready: () => send({ method: 'GET', url: '/health/ready' }),
  };
}

/** A second, independent server-memory process on the same graph file: reads what the app delivered, bypassing every fallback. */
export async function readGraphDirectly<T>(memoryFilePath: string, read: (server: McpMemoryClient) => Promise<T>): Promise<T> {
  const server = await McpMemoryClient.connect({ memoryFilePath, connection: bundledServerMemory(memoryFilePath) });
  try {
    return await read(server);
  } finally {
    await server.close();
  }
}

/** Polls `probe` every 20 ms until `accept` holds for its value; fails with the last value after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
