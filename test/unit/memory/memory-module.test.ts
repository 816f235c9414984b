import { drizzle } from 'drizzle-orm/pg-proxy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { unrestricted } from '../../../src/domain/auth.js';
import type { MemorySearchHit } from '../../../src/memory/mcp-records.js';
import type { McpMemoryClientOptions } from '../../../src/memory/mcp-client.js';
import {
  type MemoryModule,
  type MemoryServer,
  openMemory,
} from '../../../src/memory/memory-module.js';
import { PROBE_KEY } from '../../../src/memory/replay-worker.js';
import type { DatabaseHandle } from '../../../src/store/database.js';
import * as schema from '../../../src/store/schema.js';

/**
 * The MCP server: answers every search with one hit named after the query (or fails while
 * `failing`), reads nothing, accepts every write.
 */
class FakeServer implements MemoryServer {
  connected = true;
  failing = false;
  closed = 0;
  reads: string[] = [];

  async search(query: string): Promise<MemorySearchHit[]> {
    if (this.failing) throw new Error('server-memory exited');
    return [{ key: query, content: `about ${query}`, tags: [], project_id: null, agent_id: null }];
  }

  async get(name: string): Promise<null> {
    this.reads.push(name);
    return null;
  }

  async storeMany(): Promise<void> {}

  isConnected(): boolean {
    return this.connected;
  }

  onConnectionChange(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed += 1;
  }
}

/**
 * The service's database as drizzle sees it, each query answered by `answer` (rows of values in
 * column order); by default one that holds no rows. The module reads only `engine` and `db`.
 */
function fakeDatabase(answer: (sql: string) => Promise<unknown[][]> = async () => []) {
  const queries: string[] = [];
  const db = drizzle(
    async (sql) => {
      queries.push(sql);
      return { rows: await answer(sql) };
    },
    { schema },
  );
  const handle = { engine: 'pglite', db } as unknown as DatabaseHandle;
  return { handle, queries };
}

const logger = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

const opened: MemoryModule[] = [];

/** The module on fakes, with MEMORY_* `settings` over MCP on at a URL. */
async function open(
  settings: Record<string, string> = {},
  database = fakeDatabase().handle,
  server = new FakeServer(),
) {
  const log = logger();
  const connectServer = vi.fn(async (_options: McpMemoryClientOptions) => server);
  const memory = await openMemory({
    config: loadConfig({
      MEMORY_MCP: 'on',
      MEMORY_MCP_URL: 'http://127.0.0.1:8123/mcp',
      ...settings,
    }),
    database,
    writes: { run: () => Promise.reject(new Error('no writes in these tests')) },
    logger: log,
    connectServer,
  });
  opened.push(memory);
  return { memory, server, logger: log, connectServer };
}

/** The breaker's transition lines among `calls` of one log level. */
const transitionLines = (calls: unknown[][]) =>
  calls.filter(([, message]) => String(message).startsWith('memory circuit breaker'));

const search = (memory: MemoryModule, q: string) =>
  memory.service.search({ q, limit: 10 }, unrestricted);

afterEach(async () => {
  await Promise.all(opened.splice(0).map((memory) => memory.close()));
  vi.useRealTimers();
});

describe('openMemory with MEMORY_MCP=off', () => {
  it('connects to no server, reports no health, and starts and closes without one', async () => {
    const { memory, connectServer } = await open({ MEMORY_MCP: 'off' });
    expect(connectServer).not.toHaveBeenCalled();
    expect(memory.health()).toBeNull();
    expect(() => memory.start()).not.toThrow();
    await expect(search(memory, 'deploy')).resolves.toEqual({
      items: [],
      source: 'fallback_storage',
    });
    await expect(memory.close()).resolves.toBeUndefined();
  });
});

describe('openMemory with MEMORY_MCP=on', () => {
  it('connects to the configured server with the module logger, and searches it', async () => {
    const { memory, connectServer, logger: log } = await open();
    expect(connectServer).toHaveBeenCalledExactlyOnceWith({
      connection: { kind: 'http', url: 'http://127.0.0.1:8123/mcp' },
      logger: log,
    });
    await expect(search(memory, 'deploy')).resolves.toMatchObject({
      items: [{ key: 'deploy' }],
      source: 'mcp',
    });
  });

  it('opens the MCP client itself without connectServer: a server that cannot start leaves it degraded', async () => {
    const memory = await openMemory({
      config: loadConfig({ MEMORY_MCP: 'on', MEMORY_MCP_COMMAND: '/nonexistent/memory-server' }),
      database: fakeDatabase().handle,
      writes: { run: () => Promise.reject(new Error('no writes in these tests')) },
      logger: logger(),
    });
    opened.push(memory);
    expect(memory.health()).toEqual({ status: 'degraded', circuit: 'CLOSED', mcp: 'disconnected' });
  });

  it('is up only while the breaker is CLOSED and the server connected', async () => {
    const { memory, server } = await open({ MEMORY_BREAKER_FAILURE_THRESHOLD: '1' });
    expect(memory.health()).toEqual({ status: 'up', circuit: 'CLOSED', mcp: 'connected' });
    server.connected = false;
    expect(memory.health()).toEqual({ status: 'degraded', circuit: 'CLOSED', mcp: 'disconnected' });
    server.connected = true;
    server.failing = true;
    await search(memory, 'deploy');
    expect(memory.health()).toEqual({ status: 'degraded', circuit: 'OPEN', mcp: 'connected' });
  });

  it('logs each breaker transition: a warning when it leaves CLOSED, information on return', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-04T10:00:00.000Z') });
    const {
      memory,
      server,
      logger: log,
    } = await open({
      MEMORY_BREAKER_FAILURE_THRESHOLD: '2',
      MEMORY_BREAKER_OPEN_MS: '5000',
      MEMORY_BREAKER_HALF_OPEN_SUCCESSES: '1',
    });
    const seen: string[] = [];
    memory.onCircuitTransition(({ from, to }) => seen.push(`${from} -> ${to}`));
    memory.start();
    server.failing = true;
    await search(memory, 'deploy');
    expect(memory.health()?.circuit).toBe('CLOSED');
    await search(memory, 'deploy');
    const openedAt = Date.now();
    expect(memory.health()).toEqual({ status: 'degraded', circuit: 'OPEN', mcp: 'connected' });

    // The replay worker wakes when the breaker admits a probe, finds the queue empty and reads
    // the probe key; one success closes the breaker.
    server.failing = false;
    await vi.advanceTimersByTimeAsync(4_999);
    expect(memory.health()?.circuit).toBe('OPEN');
    await vi.advanceTimersByTimeAsync(1);
    expect(server.reads).toEqual([PROBE_KEY]);
    expect(memory.health()).toEqual({ status: 'up', circuit: 'CLOSED', mcp: 'connected' });

    const transition = (from: string, to: string, at: number, reason: string) => [
      { circuit: { from, to, at, reason } },
      `memory circuit breaker ${from} -> ${to} (${reason})`,
    ];
    expect(transitionLines(log.warn.mock.calls)).toEqual([
      transition('CLOSED', 'OPEN', openedAt, 'failure-threshold'),
      transition('OPEN', 'HALF_OPEN', openedAt + 5_000, 'open-elapsed'),
    ]);
    expect(transitionLines(log.info.mock.calls)).toEqual([
      transition('HALF_OPEN', 'CLOSED', openedAt + 5_000, 'probe-succeeded'),
    ]);
    expect(seen).toEqual(['CLOSED -> OPEN', 'OPEN -> HALF_OPEN', 'HALF_OPEN -> CLOSED']);
  });

  it.each([
    { openMs: 300, retryMs: 300 },
    { openMs: 5_000, retryMs: 1_000 },
  ])(
    'retries a failed replay pass after a second, or the open time ($openMs ms) if shorter',
    async ({ openMs, retryMs }) => {
      vi.useFakeTimers();
      const database = fakeDatabase(() => Promise.reject(new Error('connection refused')));
      const { memory, logger: log } = await open(
        { MEMORY_BREAKER_OPEN_MS: String(openMs) },
        database.handle,
      );
      memory.start();
      const failures = () =>
        log.error.mock.calls.filter(([, message]) => message === 'memory replay failed; retrying')
          .length;
      await vi.advanceTimersByTimeAsync(0);
      expect(failures()).toBe(1);
      await vi.advanceTimersByTimeAsync(retryMs - 1);
      expect(failures()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(failures()).toBe(2);
    },
  );

  it('keeps at most MEMORY_CACHE_MAX_ENTRIES answers to fall back on', async () => {
    const { memory, server } = await open({ MEMORY_CACHE_MAX_ENTRIES: '1' });
    await search(memory, 'alpha');
    await search(memory, 'beta');
    server.failing = true;
    await expect(search(memory, 'beta')).resolves.toMatchObject({
      items: [{ key: 'beta' }],
      source: 'fallback_cache',
    });
    await expect(search(memory, 'alpha')).resolves.toEqual({
      items: [],
      source: 'fallback_storage',
    });
  });

  it('keeps no answer larger than MEMORY_CACHE_MAX_BYTES', async () => {
    const { memory, server } = await open({ MEMORY_CACHE_MAX_BYTES: '16' });
    await search(memory, 'alpha');
    server.failing = true;
    await expect(search(memory, 'alpha')).resolves.toMatchObject({ source: 'fallback_storage' });
  });

  it('on close, lets the replay pass in flight end before it closes the server, then stays still', async () => {
    vi.useFakeTimers();
    let release = (): void => undefined;
    const database = fakeDatabase(
      () => new Promise<unknown[][]>((resolve) => (release = () => resolve([]))),
    );
    const { memory, server } = await open({}, database.handle);
    memory.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(database.queries).toHaveLength(1);

    const closing = memory.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(server.closed).toBe(0);
    release();
    await closing;
    expect(server.closed).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(database.queries).toHaveLength(1);
  });
});
