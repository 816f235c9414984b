/**
 * McpMemoryServer against real MCP server processes: the official
 * @modelcontextprotocol/server-memory, a stalling proxy in front of it
 * (test/support/hanging-mcp-server.mjs) and deliberately incomplete/failing
 * SDK servers (test/support/fake-mcp-server.mjs).
 *
 * Missing-tools and isError cases use a real fake server rather than a mocked
 * listTools result: that way the check runs through the same initialize +
 * tools/list handshake (including the "no tools capability" case, where
 * tools/list answers "Method not found") that a misconfigured deployment hits.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  McpMemoryMissingToolsError,
  McpMemoryProtocolError,
  McpMemoryServer,
  McpMemoryToolError,
  McpMemoryUnavailableError,
  serverMemoryConnection,
  type ConnectionChange,
  type MemoryLogger,
  type MemoryRecord,
  type McpMemoryServerOptions,
} from '../../src/memory/mcp-client.js';
import { McpConnection, isConnectionLoss, linkAbortSignal, reconnectDelay } from '../../src/memory/mcp-connection.js';
import { decodeObservation, encodeRecord, entityToRecord, isServerSearchable } from '../../src/memory/mcp-records.js';
import {
  buildStdioEnvironment,
  createDefaultTransport,
  describeConnection,
  resolveServerMemoryBin,
  transportPid,
  type McpConnectionOptions,
} from '../../src/memory/mcp-transport.js';
import { SerialWriteQueue } from '../../src/memory/mcp-write-queue.js';

const SUPPORT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support');
const HANGING_SERVER = path.join(SUPPORT_DIR, 'hanging-mcp-server.mjs');
const FAKE_SERVER = path.join(SUPPORT_DIR, 'fake-mcp-server.mjs');

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  // Reverse order: clients (and their child processes) go before their temp dirs.
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function memoryFile(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mcp-memory-test-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  return path.join(directory, 'memory.jsonl');
}

async function connectMemory(options: Partial<McpMemoryServerOptions> = {}): Promise<McpMemoryServer> {
  const memoryFilePath = options.memoryFilePath ?? (await memoryFile());
  const server = await McpMemoryServer.connect({ ...options, memoryFilePath });
  cleanups.push(() => server.close());
  return server;
}

function stdio(script: string, env: Record<string, string>): McpConnectionOptions {
  return { kind: 'stdio', command: process.execPath, args: [script], env };
}

function record(key: string, overrides: Partial<MemoryRecord> = {}): MemoryRecord {
  return { key, content: `content of ${key}`, tags: [], project_id: null, agent_id: null, ...overrides };
}

/** Logger that keeps every message, to assert on forwarded stderr lines. */
function recordingLogger(): MemoryLogger & { messages: string[] } {
  const messages: string[] = [];
  const log = (_bindings: Record<string, unknown>, message: string): void => {
    messages.push(message);
  };
  return { messages, debug: log, info: log, warn: log, error: log };
}

function nextChange(server: McpMemoryServer, connected: boolean, timeoutMs = 10_000): Promise<ConnectionChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connected=${connected} change in ${timeoutMs} ms`)), timeoutMs);
    const unsubscribe = server.onConnectionChange((change) => {
      if (change.connected === connected) {
        clearTimeout(timer);
        unsubscribe();
        resolve(change);
      }
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function timed<T>(promise: Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; ms: number }> {
  const startedAt = performance.now();
  const [outcome] = await Promise.allSettled([promise]);
  return { outcome: outcome as PromiseSettledResult<T>, ms: performance.now() - startedAt };
}

function rejection(result: { outcome: PromiseSettledResult<unknown> }): unknown {
  expect(result.outcome.status).toBe('rejected');
  return (result.outcome as PromiseRejectedResult).reason;
}

describe('McpMemoryServer with the real server-memory', () => {
  it('round-trips store, get and search (with a real pino logger)', async () => {
    const memory = await connectMemory({ logger: pino({ level: 'silent' }) });
    const alpha = record('alpha', { content: 'Deploy uses blue/green', tags: ['deploy', 'ops'], agent_id: 'agent-1' });
    const beta = record('beta', { content: 'Tests run in CI', tags: ['ci'], project_id: 'p1' });
    await memory.store(alpha);
    await memory.store(beta);

    expect(await memory.get('alpha')).toEqual(alpha);
    expect(await memory.get('beta')).toEqual(beta);
    expect(await memory.get('missing')).toBeNull();
    expect(await memory.search('BLUE/GREEN', { limit: 10 })).toEqual([alpha]);
    expect(await memory.search('ops', { limit: 10 })).toEqual([alpha]);
    expect(await memory.search('bet', { limit: 10 })).toEqual([beta]);
  });

  it('stores idempotently by key: one entity, one observation, latest content', async () => {
    const memoryFilePath = await memoryFile();
    const memory = await connectMemory({ memoryFilePath });
    await memory.store(record('k', { content: 'first', tags: ['a'] }));
    const latest = record('k', { content: 'second', tags: ['b'] });
    await memory.store(latest);
    await memory.store(latest);

    expect(await memory.get('k')).toEqual(latest);
    expect(await memory.search('k', { limit: 10 })).toEqual([latest]);
    const lines = (await readFile(memoryFilePath, 'utf8')).split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({ type: 'entity', name: 'k', entityType: 'memory', observations: [encodeRecord(latest)] });
  });

  it('filters search by project_id (undefined = all, null = unscoped only)', async () => {
    const memory = await connectMemory();
    const inP1 = record('note-1', { project_id: 'p1' });
    const inP2 = record('note-2', { project_id: 'p2' });
    const global = record('note-3');
    for (const entry of [inP1, inP2, global]) {
      await memory.store(entry);
    }

    expect(await memory.search('note', { limit: 10, project_id: 'p1' })).toEqual([inP1]);
    expect(await memory.search('note', { limit: 10, project_id: null })).toEqual([global]);
    expect(await memory.search('note', { limit: 10 })).toEqual([global, inP2, inP1]);
    expect(await memory.search('note', { limit: 0 })).toEqual([]);
  });

  it('caps results at limit, most recently created first', async () => {
    const memory = await connectMemory();
    for (const key of ['m1', 'm2', 'm3', 'm4']) {
      await memory.store(record(key));
    }
    const hits = await memory.search('content of', { limit: 2 });
    expect(hits.map((hit) => hit.key)).toEqual(['m4', 'm3']);
    expect(hits[0]).not.toHaveProperty('score');
  });

  it('does not let the JSON encoding leak into search results', async () => {
    const memory = await connectMemory();
    const quoted = record('quote', { content: 'she said "ship it" \\o/' });
    await memory.store(quoted);
    await memory.store(record('plain', { content: 'nothing special' }));

    // server-memory alone would return every entry: these strings are in each JSON observation.
    for (const query of ['content', 'tags', 'null', 'project_id', 'memory', '"v":1']) {
      expect(await memory.search(query, { limit: 10 })).toEqual([]);
    }
    // Escaped characters are answered from read_graph, which server-memory's search would miss.
    expect(await memory.search('"ship it" \\o/', { limit: 10 })).toEqual([quoted]);
  });

  it('serialises concurrent stores (server-memory loses concurrent writes)', async () => {
    const memory = await connectMemory();
    const keys = Array.from({ length: 25 }, (_, index) => `parallel-${index}`);
    await Promise.all(keys.map((key) => memory.store(record(key))));
    await Promise.all([memory.store(record('parallel-0', { content: 'v2' })), memory.store(record('parallel-0', { content: 'v3' }))]);

    expect(await memory.search('parallel-', { limit: 100 })).toHaveLength(25);
    expect((await memory.get('parallel-0'))?.content).toBe('v3');
  });

  it('creates the memory file directory and forwards server stderr to the logger', async () => {
    const nested = path.join(path.dirname(await memoryFile()), 'a', 'b', 'memory.jsonl');
    const logger = recordingLogger();
    const memory = await connectMemory({ memoryFilePath: nested, logger });
    await memory.store(record('deep'));

    expect(await readFile(nested, 'utf8')).toContain('"deep"');
    await waitUntil(() => logger.messages.some((message) => message.includes('Knowledge Graph MCP Server running on stdio')));
  });

  it('replaces a foreign entity that uses the same name', async () => {
    const memoryFilePath = await memoryFile();
    const memory = await connectMemory({ memoryFilePath });
    const raw = await McpConnection.open({ connection: serverMemoryConnection(memoryFilePath), requiredTools: [] });
    cleanups.push(() => raw.close());
    await raw.callTool('create_entities', { entities: [{ name: 'shared', entityType: 'person', observations: ['likes tea'] }] });
    expect(await memory.get('shared')).toBeNull();

    await memory.store(record('shared'));
    expect(await memory.get('shared')).toEqual(record('shared'));
  });
});

describe('crash handling', () => {
  it('respawns a SIGKILLed server by itself; data written before survives', async () => {
    const memory = await connectMemory({ reconnect: { initialDelayMs: 100 } });
    await memory.store(record('before-1', { project_id: 'p' }));
    await memory.store(record('before-2', { project_id: 'p' }));
    const firstPid = memory.serverPid() as number;
    const lost = nextChange(memory, false);
    const back = nextChange(memory, true);

    process.kill(firstPid, 'SIGKILL');
    expect((await lost).pid).toBe(firstPid);
    const duringOutage = await timed(memory.search('before', { limit: 10 }));
    expect(rejection(duringOutage)).toBeInstanceOf(McpMemoryUnavailableError);
    expect(duringOutage.ms).toBeLessThan(50);

    const reconnected = await back;
    expect(reconnected.pid).toBe(memory.serverPid());
    expect(reconnected.pid).not.toBe(firstPid);
    expect((await memory.search('before', { limit: 10, project_id: 'p' })).map((hit) => hit.key)).toEqual(['before-2', 'before-1']);
    await memory.store(record('after'));
    expect(await memory.get('after')).toEqual(record('after'));
  });

  it('fails a call that is in flight when the server dies', async () => {
    const memory = await connectMemory({
      connection: stdio(HANGING_SERVER, { MEMORY_FILE_PATH: await memoryFile(), STALL_ALL_TOOL_CALLS: '1' }),
    });
    const pending = memory.get('anything');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(memory.serverPid() as number, 'SIGKILL');
    const error = await pending.then(() => undefined, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(McpMemoryUnavailableError);
    expect((error as Error).message).toBe('MCP memory server connection lost during "open_nodes"');
    expect(String((error as Error).cause)).toMatch(/Connection closed/);
  });

  it('keeps retrying with backoff while respawning fails; a throwing listener is only logged', async () => {
    const memoryFilePath = await memoryFile();
    const logger = recordingLogger();
    let failuresLeft = 0;
    const memory = await connectMemory({
      memoryFilePath,
      logger,
      reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
      transportFactory: async (options) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('simulated spawn failure');
        }
        return createDefaultTransport(options);
      },
    });
    const back = nextChange(memory, true);
    memory.onConnectionChange(() => {
      throw new Error('listener bug');
    });
    failuresLeft = 3;
    process.kill(memory.serverPid() as number, 'SIGKILL');

    expect((await back).failedAttempts).toBe(3);
    expect(logger.messages.filter((message) => message === 'MCP memory server respawn failed')).toHaveLength(3);
    expect(logger.messages).toContain('MCP memory connection listener threw');
    expect(await memory.search('x', { limit: 1 })).toEqual([]);
  });

  it('close() while a respawn is starting disposes the new server', async () => {
    const transports: Transport[] = [];
    let delayFactory = false;
    const memory = await connectMemory({
      reconnect: { initialDelayMs: 10 },
      transportFactory: async (options) => {
        if (delayFactory) {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        transports.push(await createDefaultTransport(options));
        return transports.at(-1) as Transport;
      },
    });
    const connected = vi.fn();
    memory.onConnectionChange(connected);
    delayFactory = true;
    process.kill(memory.serverPid() as number, 'SIGKILL');
    await waitUntil(() => connected.mock.calls.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await memory.close();

    expect(transports).toHaveLength(2);
    expect(transportPid(transports[1] as Transport)).toBeUndefined();
    expect(connected.mock.calls.map(([change]) => (change as ConnectionChange).connected)).toEqual([false]);
  });

  it('close() during backoff stops respawning and leaves no process', async () => {
    let transportsCreated = 0;
    const memory = await connectMemory({
      reconnect: { initialDelayMs: 300 },
      transportFactory: (options) => {
        transportsCreated += 1;
        return createDefaultTransport(options);
      },
    });
    const lost = nextChange(memory, false);
    process.kill(memory.serverPid() as number, 'SIGKILL');
    await lost;
    await memory.close();
    await new Promise((resolve) => setTimeout(resolve, 600));

    expect(transportsCreated).toBe(1);
    expect(memory.isConnected()).toBe(false);
    await expect(memory.get('x')).rejects.toThrow(/closed/);
  });

  it('close() terminates the server process and is idempotent', async () => {
    const memory = await connectMemory();
    const pid = memory.serverPid() as number;
    expect(isAlive(pid)).toBe(true);

    await Promise.all([memory.close(), memory.close()]);
    expect(isAlive(pid)).toBe(false);
    expect(memory.serverPid()).toBeUndefined();
    await expect(memory.store(record('late'))).rejects.toBeInstanceOf(McpMemoryUnavailableError);
  });
});

describe('servers the client cannot use', () => {
  it('names every missing tool when the server has none', async () => {
    const connecting = McpMemoryServer.connect({ connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'no-tools' }) });
    const error = await connecting.then(() => undefined, (reason: unknown) => reason);

    expect(error).toBeInstanceOf(McpMemoryMissingToolsError);
    expect((error as McpMemoryMissingToolsError).missingTools).toHaveLength(7);
    expect((error as Error).message).toMatch(/missing required tools: create_entities, .*read_graph \(server offers: none\)/);
  });

  it('names only the missing tools when some are present', async () => {
    const connecting = McpMemoryServer.connect({ connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'some-tools' }) });

    await expect(connecting).rejects.toThrow(
      'missing required tools: create_entities, add_observations, delete_entities, delete_observations, read_graph (server offers: search_nodes, open_nodes)',
    );
  });

  it('throws isError tool results (fake server with failing writes)', async () => {
    const memory = await connectMemory({ connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'failing-tools' }) });

    const error = await memory.store(record('k')).then(() => undefined, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(McpMemoryToolError);
    expect(error).toMatchObject({ toolName: 'create_entities', serverMessage: expect.stringContaining('ENOSPC') });
    expect(await memory.search('k', { limit: 5 })).toEqual([]);
  });

  it('copes with unusual but valid answers: text-only JSON, skipped creates, non-JSON text', async () => {
    const memory = await connectMemory({ connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'quirky-tools' }) });

    expect(await memory.get('k')).toBeNull(); // entity list parsed from the text content
    await expect(memory.store(record('k'))).rejects.toThrow('create_entities skipped "k"');
    await expect(memory.search('k', { limit: 1 })).rejects.toBeInstanceOf(McpMemoryProtocolError);
    await expect(memory.search('"k"', { limit: 1 })).rejects.toThrow('"read_graph" failed: tool returned isError without a message');
  });

  it('throws isError tool results of the real server-memory', async () => {
    const connection = await McpConnection.open({ connection: serverMemoryConnection(await memoryFile()), requiredTools: [] });
    cleanups.push(() => connection.close());

    const observations = [{ entityName: 'ghost', contents: ['boo'] }];
    await expect(connection.callTool('add_observations', { observations })).rejects.toThrow(
      'MCP memory tool "add_observations" failed: Entity with name ghost not found',
    );
    await expect(connection.callTool('no_such_tool', {})).rejects.toBeInstanceOf(McpMemoryToolError);
  });

  it('fails clearly when the server command does not exist', async () => {
    const connection: McpConnectionOptions = { kind: 'stdio', command: '/nonexistent/mcp-server', args: [] };
    await expect(McpMemoryServer.connect({ connection })).rejects.toThrow(/ENOENT/);
    await expect(McpMemoryServer.connect({})).rejects.toThrow(/memoryFilePath/);
  });
});

describe('stalled server and AbortSignal', () => {
  async function connectHanging(logger?: MemoryLogger): Promise<McpMemoryServer> {
    const connection = stdio(HANGING_SERVER, { MEMORY_FILE_PATH: await memoryFile() });
    return connectMemory({ connection, ...(logger ? { logger } : {}) });
  }

  it('rejects an aborted call promptly, cancels it on the server, and stays usable', async () => {
    const logger = recordingLogger();
    const memory = await connectHanging(logger);
    await memory.store(record('usable'));
    const pid = memory.serverPid();

    const stalled = await timed(memory.search('__stall__', { limit: 5 }, AbortSignal.timeout(300)));
    expect(rejection(stalled)).toMatchObject({ name: 'TimeoutError' });
    expect(stalled.ms).toBeGreaterThanOrEqual(290);
    expect(stalled.ms).toBeLessThan(800);

    expect(memory.isConnected()).toBe(true);
    expect(memory.serverPid()).toBe(pid);
    expect(await memory.get('usable')).toEqual(record('usable'));
    await waitUntil(() => logger.messages.some((message) => message.includes('hanging-mcp-server: cancelled request')));
  });

  it('an aborted write releases the write queue; a queued write honours its own signal', async () => {
    const memory = await connectHanging();
    const head = memory.store(record('__stall__'), AbortSignal.timeout(1_000));
    const queued = await timed(memory.store(record('queued'), AbortSignal.timeout(200)));
    expect(rejection(queued)).toMatchObject({ name: 'TimeoutError' });
    expect(queued.ms).toBeLessThan(600);

    await expect(head).rejects.toMatchObject({ name: 'TimeoutError' });
    await memory.store(record('after-stall'), AbortSignal.timeout(2_000));
    expect(await memory.get('after-stall')).toEqual(record('after-stall'));
  });

  it('rejects at once with the reason of an already aborted signal', async () => {
    const memory = await connectHanging();
    const controller = new AbortController();
    controller.abort(new Error('breaker gave up'));

    await expect(memory.get('x', controller.signal)).rejects.toThrow('breaker gave up');
    await expect(memory.store(record('x'), controller.signal)).rejects.toThrow('breaker gave up');
  });

  it('applies requestTimeoutMs when the caller passes no signal', async () => {
    const memory = await connectMemory({
      connection: stdio(HANGING_SERVER, { MEMORY_FILE_PATH: await memoryFile(), STALL_ALL_TOOL_CALLS: '1' }),
      requestTimeoutMs: 200,
    });
    await expect(memory.get('x')).rejects.toThrow(/Request timed out/);
    expect(memory.isConnected()).toBe(true);
  });

  it('fails to connect within connectTimeoutMs when the server never answers, and kills it', async () => {
    const logger = recordingLogger();
    const script = "console.error('pid=' + process.pid); setInterval(() => {}, 1000)";
    const silent: McpConnectionOptions = { kind: 'stdio', command: process.execPath, args: ['-e', script] };
    const attempt = await timed(McpMemoryServer.connect({ connection: silent, connectTimeoutMs: 300, logger }));
    expect(String(rejection(attempt))).toMatch(/Request timed out/);
    expect(attempt.ms).toBeLessThan(1_000);

    const pidLine = logger.messages.find((message) => message.includes('pid='));
    const pid = Number(pidLine?.split('pid=')[1]);
    await waitUntil(() => !isAlive(pid));
  });
});

describe('HTTP transport', () => {
  /** Streamable HTTP front for a real server-memory, forwarding tools/list and tools/call. */
  async function startHttpBridge(port = 0): Promise<{ url: string; stop(): Promise<void> }> {
    const backend = new Client({ name: 'bridge', version: '0' });
    await backend.connect(await createDefaultTransport(serverMemoryConnection(await memoryFile())));
    const http = createServer((request, response) => void handleBridgeRequest(backend, request, response));
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    const address = http.address() as { port: number };
    const stop = async (): Promise<void> => {
      await closeHttp(http);
      await backend.close();
    };
    return { url: `http://127.0.0.1:${address.port}/mcp`, stop };
  }

  async function handleBridgeRequest(backend: Client, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const server = new Server({ name: 'bridge', version: '0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => backend.listTools());
    server.setRequestHandler(CallToolRequestSchema, (call) => backend.callTool(call.params));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    response.on('close', () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(request, response);
  }

  function closeHttp(http: HttpServer): Promise<void> {
    http.closeAllConnections();
    return new Promise((resolve) => http.close(() => resolve()));
  }

  it('round-trips over Streamable HTTP and reconnects after the endpoint restarts', async () => {
    const bridge = await startHttpBridge();
    cleanups.push(() => bridge.stop());
    const memory = await connectMemory({ connection: { kind: 'http', url: bridge.url }, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    await memory.store(record('over-http', { tags: ['net'] }));
    expect(await memory.search('net', { limit: 5 })).toEqual([record('over-http', { tags: ['net'] })]);
    expect(memory.serverPid()).toBeUndefined();

    await bridge.stop();
    cleanups.pop();
    const lost = nextChange(memory, false);
    await expect(memory.get('over-http')).rejects.toBeInstanceOf(McpMemoryUnavailableError);
    await lost;
    const port = Number(new URL(bridge.url).port);
    const restarted = await startHttpBridge(port);
    cleanups.push(() => restarted.stop());
    await nextChange(memory, true);
    await memory.store(record('after-restart'));
    expect(await memory.get('after-restart')).toEqual(record('after-restart'));
  });
});

describe('building blocks', () => {
  it('doubles the reconnect delay from 100 ms up to 5 s with ±20 % jitter', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 5_000, jitterRatio: 0.2 };
    const middle = (attempt: number): number => reconnectDelay(attempt, policy, () => 0.5);
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(middle)).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    expect(reconnectDelay(0, policy, () => 0)).toBe(80);
    expect(reconnectDelay(0, policy, () => 1)).toBe(120);
    expect(reconnectDelay(20, policy, () => 1)).toBe(5_000);
  });

  it('decodes only well-formed records and prefers the last one', () => {
    const older = encodeRecord(record('k', { content: 'old' }));
    const newer = encodeRecord(record('k', { content: 'new' }));
    expect(entityToRecord({ name: 'k', entityType: 'memory', observations: [older, 'free text', newer, '{"v":2}'] })?.content).toBe('new');
    expect(entityToRecord({ name: 'k', entityType: 'memory', observations: ['free text'] })).toBeUndefined();
    expect(entityToRecord({ name: 'k', entityType: 'person', observations: [newer] })).toBeUndefined();
    expect(decodeObservation('k', '{"v":1,"content":1}')).toBeUndefined();
    expect(isServerSearchable('plain text')).toBe(true);
    expect(isServerSearchable('a "quote"')).toBe(false);
  });

  it('builds the stdio environment and describes connections', () => {
    const env = buildStdioEnvironment({ MEMORY_FILE_PATH: 'data/mcp-memory.jsonl' });
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.MEMORY_FILE_PATH).toBe(path.resolve('data/mcp-memory.jsonl'));
    expect(resolveServerMemoryBin()).toMatch(/server-memory[/\\]dist[/\\]index\.js$/);
    expect(describeConnection(serverMemoryConnection('x.jsonl'))).toBe(`stdio ${path.basename(process.execPath)} index.js`);
    expect(describeConnection({ kind: 'http', url: 'http://h/mcp' })).toBe('http http://h/mcp');
  });

  it('classifies connection-loss errors', () => {
    expect(isConnectionLoss(new Error('Not connected'))).toBe(true);
    expect(isConnectionLoss(new TypeError('fetch failed'))).toBe(true);
    expect(isConnectionLoss(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'))).toBe(true);
    expect(isConnectionLoss(new McpError(ErrorCode.RequestTimeout, 'Request timed out'))).toBe(false);
    expect(isConnectionLoss(new StreamableHTTPError(404, 'Session not found'))).toBe(true);
    expect(isConnectionLoss(new StreamableHTTPError(500, 'Internal error'))).toBe(false);
    expect(isConnectionLoss(new Error('boom'))).toBe(false);
    expect(isConnectionLoss('boom')).toBe(false);
  });

  it('links abort signals without leaving listeners behind', () => {
    const parent = new AbortController();
    const link = linkAbortSignal(parent.signal);
    link.dispose();
    parent.abort('late');
    expect(link.signal?.aborted).toBe(false);
    const early = linkAbortSignal(AbortSignal.abort('early'));
    expect(early.signal?.reason).toBe('early');
    expect(linkAbortSignal(undefined).signal).toBeUndefined();
  });

  it('runs queued writes in order', async () => {
    const queue = new SerialWriteQueue();
    const order: number[] = [];
    const slow = queue.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      order.push(1);
    });
    const fast = queue.run(async () => {
      order.push(2);
    });
    await Promise.all([slow, fast]);
    expect(order).toEqual([1, 2]);
  });
});
