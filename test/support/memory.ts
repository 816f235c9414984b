/**
 * Helpers for the memory tests: apps with memory settings on a database the test owns (so one
 * database can outlive an app, as across a restart), temporary graph files, a direct client on
 * the same graph file, and polling.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/app.js';
import { McpMemoryClient } from '../../src/memory/mcp-client.js';
import { resolveServerMemoryBin } from '../../src/memory/mcp-transport.js';
import type { DatabaseHandle } from '../../src/store/database.js';
import { openTestDatabase, testConfig } from './app.js';
import { childrenWithEnvironment, makeTempDir } from './process.js';

/**
 * The stalling stdio proxy in front of the installed server-memory (`node <script>`, see the
 * script).
 */
export const HANGING_SERVER = fileURLToPath(new URL('./hanging-mcp-server.mjs', import.meta.url));
/** Deliberately incomplete or failing MCP servers (`node <script>`, see the script). */
export const FAKE_SERVER = fileURLToPath(new URL('./fake-mcp-server.mjs', import.meta.url));

/** Small breaker settings so that the real breaker opens and recovers within a second. */
export const FAST_BREAKER = {
  MEMORY_BREAKER_FAILURE_THRESHOLD: '2',
  MEMORY_BREAKER_OPEN_MS: '300',
  MEMORY_BREAKER_HALF_OPEN_SUCCESSES: '1',
  MEMORY_STORE_TIMEOUT_MS: '1000',
  MEMORY_SEARCH_TIMEOUT_MS: '1000',
};

/**
 * A command line (for MEMORY_MCP_COMMAND) running `script` with this Node binary and extra
 * environment variables.
 */
export function nodeCommand(script: string, environment: Record<string, string> = {}): string {
  const assignments = Object.entries(environment).map(([name, value]) => `${name}=${value}`);
  const env = assignments.length > 0 ? ['env', ...assignments] : [];
  return [...env, process.execPath, script].map((word) => `'${word}'`).join(' ');
}

/**
 * MEMORY_MCP_COMMAND spelling out what the service runs when it is unset: the installed
 * server-memory with this Node binary (MEMORY_FILE_PATH still names its graph). Tests that also
 * set variables of the server's environment, or wrap it, need the command form.
 */
export const SERVER_MEMORY_COMMAND = nodeCommand(resolveServerMemoryBin());

/** A graph file in a new temporary directory; `remove()` deletes the directory. */
export async function temporaryMemoryFile(): Promise<{ path: string; remove(): Promise<void> }> {
  const directory = makeTempDir('memory-test-');
  return {
    path: path.join(directory, 'mcp-memory.jsonl'),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}

/** The real app with these settings on `database`, which the caller keeps open and closes. */
export async function buildMemoryApp(
  database: DatabaseHandle,
  settings: Record<string, string>,
): Promise<FastifyInstance> {
  const app = await buildApp({
    config: testConfig(settings),
    database: { handle: database },
    logger: false,
  });
  await app.ready();
  return app;
}

/** A memory test file's database and graph file; see {@link useMemoryTestBed}. */
export interface MemoryTestBed {
  /** The file's own database, open from `beforeAll` to `afterAll`. */
  readonly database: DatabaseHandle;
  /** The graph file of the file's MCP servers. */
  readonly graphPath: string;
  /**
   * The real app on the file's database with MCP on: server-memory on the graph file, unless
   * `settings` say otherwise. Closed by {@link closeApps}, or after the file at the latest.
   */
  app(settings?: Record<string, string>): Promise<FastifyInstance>;
  /** Closes the apps opened so far (e.g. after each test). */
  closeApps(): Promise<void>;
}

/**
 * Opens a database and a graph file for a memory test file before its tests, and after them
 * closes the apps it built, then removes both. Call it at the top level of the file.
 */
export function useMemoryTestBed(): MemoryTestBed {
  let opened: Awaited<ReturnType<typeof openTestDatabase>> | undefined;
  let graph: Awaited<ReturnType<typeof temporaryMemoryFile>> | undefined;
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    [opened, graph] = await Promise.all([openTestDatabase(), temporaryMemoryFile()]);
  });
  const closeApps = async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  };
  afterAll(async () => {
    await closeApps();
    await opened?.database.close();
    await opened?.drop();
    await graph?.remove();
  });
  return {
    get database() {
      return opened!.database;
    },
    get graphPath() {
      return graph!.path;
    },
    async app(settings = {}) {
      const app = await buildMemoryApp(opened!.database, {
        MEMORY_MCP: 'on',
        MEMORY_MCP_COMMAND: SERVER_MEMORY_COMMAND,
        MEMORY_FILE_PATH: graph!.path,
        ...settings,
      });
      apps.push(app);
      return app;
    },
    closeApps,
  };
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

/**
 * A second, independent server-memory process on the same graph file: reads what the app delivered,
 * bypassing every fallback.
 */
export async function readGraphDirectly<T>(
  memoryFilePath: string,
  read: (server: McpMemoryClient) => Promise<T>,
): Promise<T> {
  const server = await McpMemoryClient.connect({ memoryFilePath });
  try {
    return await read(server);
  } finally {
    await server.close();
  }
}

/**
 * Pid of the MCP server process this process runs on the graph file `memoryFilePath` (as its
 * MEMORY_FILE_PATH), found in /proc; undefined while there is none (not yet started, or between a
 * crash and the respawn). Tests kill servers by it; the service offers no such hook.
 */
export function mcpServerPid(memoryFilePath: string): number | undefined {
  const pids = childrenWithEnvironment('MEMORY_FILE_PATH', path.resolve(memoryFilePath));
  if (pids.length > 1)
    throw new Error(`several MCP servers on ${memoryFilePath}: ${pids.join(', ')}`);
  return pids[0];
}

/**
 * Polls `probe` every 20 ms until `accept` holds for its value; fails with the last value after
 * `timeoutMs`.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
