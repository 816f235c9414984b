/**
 * Helpers of the McpMemoryClient tests (test/memory/mcp-client*.test.ts) against real MCP server
 * processes.
 */
import { it as base } from 'vitest';
import {
  McpMemoryClient,
  type ConnectionChange,
  type MemoryLogger,
  type MemoryRecord,
  type McpMemoryClientOptions,
} from '../../src/memory/mcp-client.js';
import { McpConnection } from '../../src/memory/mcp-connection.js';
import {
  type McpConnectionOptions,
  serverMemoryConnection,
} from '../../src/memory/mcp-transport.js';
import { mcpServerPid, temporaryMemoryFile, waitFor } from './memory.js';

export { FAKE_SERVER, HANGING_SERVER } from './memory.js';
export { processAlive as isAlive } from './process.js';
export { fulfillment, rejection, timed } from './timed.js';

/**
 * What one test opened (temporary graph files, clients, bridges), released in reverse order when
 * the test ends. Each test gets its own, so the tests of a file can run concurrently: most of
 * their time is spent waiting on server processes, timeouts and backoff, not on the CPU.
 */
export class McpTestScope {
  readonly #cleanups: Array<() => Promise<void>> = [];
  readonly #graphFiles = new Map<McpMemoryClient, string>();

  /** Runs `cleanup` when the test ends (clients before the temporary directories they use). */
  defer(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** A graph file in a temporary directory of its own. */
  async memoryFile(): Promise<string> {
    const file = await temporaryMemoryFile();
    this.defer(file.remove);
    return file.path;
  }

  /**
   * A client of the installed server-memory (the service's default) on a new graph file, unless
   * `options` say otherwise.
   */
  async connect(options: Partial<McpMemoryClientOptions> = {}): Promise<McpMemoryClient> {
    const memoryFilePath = options.memoryFilePath ?? (await this.memoryFile());
    const server = await McpMemoryClient.connect({ ...options, memoryFilePath });
    this.defer(() => server.close());
    const { connection } = options;
    const env = connection?.kind === 'stdio' ? connection.env : undefined;
    this.#graphFiles.set(server, env?.MEMORY_FILE_PATH ?? memoryFilePath);
    return server;
  }

  /** A bare connection to server-memory on `memoryFilePath` (no tool check), for raw tool calls. */
  async rawConnection(memoryFilePath?: string): Promise<McpConnection> {
    const connection = await McpConnection.open({
      connection: serverMemoryConnection(memoryFilePath ?? (await this.memoryFile())),
      requiredTools: [],
    });
    this.defer(() => connection.close());
    return connection;
  }

  /**
   * Pid of the stdio server process of a client this scope connected (see {@link mcpServerPid}).
   */
  serverPid(client: McpMemoryClient): number | undefined {
    return mcpServerPid(this.#graphFiles.get(client)!);
  }

  /** Releases everything, newest first; a failing cleanup does not stop the others. */
  async release(): Promise<void> {
    const failures: unknown[] = [];
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0)
      throw new AggregateError(failures, 'cleanup of an MCP client test failed');
  }
}

/** `it` with an {@link McpTestScope} as `mcp`, released after the test. */
export const it = base.extend<{ mcp: McpTestScope }>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  mcp: async ({}, use) => {
    const scope = new McpTestScope();
    try {
      await use(scope);
    } finally {
      await scope.release();
    }
  },
});

export function stdio(script: string, env: Record<string, string>): McpConnectionOptions {
  return { kind: 'stdio', command: process.execPath, args: [script], env };
}

export function record(key: string, overrides: Partial<MemoryRecord> = {}): MemoryRecord {
  return {
    key,
    content: `content of ${key}`,
    tags: [],
    project_id: null,
    agent_id: null,
    ...overrides,
  };
}

/** Logger that keeps every message, to assert on forwarded stderr lines. */
export function recordingLogger(): MemoryLogger & { messages: string[] } {
  const messages: string[] = [];
  const log = (_bindings: object, message: string): void => {
    messages.push(message);
  };
  return { messages, debug: log, info: log, warn: log, error: log };
}

export function nextChange(
  server: McpMemoryClient,
  connected: boolean,
  timeoutMs = 10_000,
): Promise<ConnectionChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no connected=${connected} change in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const unsubscribe = server.onConnectionChange((change) => {
      if (change.connected === connected) {
        clearTimeout(timer);
        unsubscribe();
        resolve(change);
      }
    });
  });
}

/** Waits until `condition` holds, polling every 20 ms. */
export async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  await waitFor(condition, (met) => met, timeoutMs);
}
