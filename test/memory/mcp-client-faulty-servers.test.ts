/**
 * McpMemoryClient against servers it cannot fully use: missing tools and isError results (real
 * fake servers, so the check runs through the real handshake), a stalling proxy (timeouts and
 * AbortSignal), a missing command, and the Streamable HTTP transport.
 */
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect } from 'vitest';
import {
  McpMemoryMissingToolsError,
  McpMemoryProtocolError,
  McpMemoryClient,
  McpMemoryToolError,
  McpMemoryUnavailableError,
  serverMemoryConnection,
  type MemoryLogger,
} from '../../src/memory/mcp-client.js';
import {
  createDefaultTransport,
  type McpConnectionOptions,
} from '../../src/memory/mcp-transport.js';
import {
  FAKE_SERVER,
  HANGING_SERVER,
  type McpTestScope,
  fulfillment,
  isAlive,
  it,
  nextChange,
  record,
  recordingLogger,
  rejection,
  stdio,
  timed,
  waitUntil,
} from '../support/mcp-client.js';

describe.concurrent('servers the client cannot use', () => {
  it('names every missing tool when the server has none', async () => {
    const connecting = McpMemoryClient.connect({
      connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'no-tools' }),
    });
    const error = await connecting.then(
      () => undefined,
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(McpMemoryMissingToolsError);
    expect((error as McpMemoryMissingToolsError).missingTools).toHaveLength(7);
    expect((error as Error).message).toMatch(
      /missing required tools: create_entities, .*read_graph \(server offers: none\)/,
    );
  });

  it('names only the missing tools when some are present', async () => {
    const connecting = McpMemoryClient.connect({
      connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'some-tools' }),
    });

    await expect(connecting).rejects.toThrow(
      'missing required tools: create_entities, add_observations, delete_entities, delete_observations, read_graph (server offers: search_nodes, open_nodes)',
    );
  });

  it('throws isError tool results (fake server with failing writes)', async ({ mcp }) => {
    const memory = await mcp.connect({
      connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'failing-tools' }),
    });

    const error = await memory.store(record('k')).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(McpMemoryToolError);
    expect(error).toMatchObject({
      toolName: 'create_entities',
      serverMessage: expect.stringContaining('ENOSPC'),
    });
    expect(await memory.search('k', { limit: 5 })).toEqual([]);
  });

  it('copes with unusual but valid answers: text-only JSON, skipped creates, non-JSON text', async ({
    mcp,
  }) => {
    const memory = await mcp.connect({
      connection: stdio(FAKE_SERVER, { FAKE_MCP_MODE: 'quirky-tools' }),
    });

    expect(await memory.get('k')).toBeNull(); // entity list parsed from the text content
    await expect(memory.store(record('k'))).rejects.toThrow(
      'create_entities skipped "k": it appeared concurrently (another writer on the same file?)',
    );
    await expect(memory.storeMany([record('k'), record('j')])).rejects.toThrow(
      'create_entities skipped "k", "j": it appeared concurrently',
    );
    const notJson = memory.search('k', { limit: 1 });
    await expect(notJson).rejects.toBeInstanceOf(McpMemoryProtocolError);
    await expect(notJson).rejects.toThrow(/^"search_nodes" returned no entity list: /);
    await expect(memory.search('"k"', { limit: 1 })).rejects.toThrow(
      '"read_graph" failed: tool returned isError without a message',
    );
  });

  it('throws isError tool results of the real server-memory', async ({ mcp }) => {
    const connection = await mcp.rawConnection();

    const observations = [{ entityName: 'ghost', contents: ['boo'] }];
    await expect(connection.callTool('add_observations', { observations })).rejects.toThrow(
      'MCP memory tool "add_observations" failed: Entity with name ghost not found',
    );
    await expect(connection.callTool('no_such_tool', {})).rejects.toBeInstanceOf(
      McpMemoryToolError,
    );
  });

  it('starts disconnected and retrying when the server command does not exist, saying why', async ({
    mcp,
  }) => {
    const logger = recordingLogger();
    const connection: McpConnectionOptions = {
      kind: 'stdio',
      command: '/nonexistent/mcp-server',
      args: [],
    };
    const memory = await mcp.connect({
      connection,
      logger,
      reconnect: { initialMs: 10, maxMs: 20 },
    });
    expect(memory.isConnected()).toBe(false);
    await expect(memory.get('x')).rejects.toThrow(
      /not connected; reconnecting \(failed attempts so far: \d+, last: .*ENOENT/,
    );
    await waitUntil(
      () => logger.messages.filter((line) => line.includes('unreachable')).length > 2,
    );
    await expect(McpMemoryClient.connect({})).rejects.toThrow(/memoryFilePath/);
  });
});

describe.concurrent('stalled server and AbortSignal', () => {
  async function connectHanging(
    mcp: McpTestScope,
    logger?: MemoryLogger,
  ): Promise<McpMemoryClient> {
    const connection = stdio(HANGING_SERVER, { MEMORY_FILE_PATH: await mcp.memoryFile() });
    return mcp.connect({ connection, ...(logger ? { logger } : {}) });
  }

  it('rejects an aborted call promptly, cancels it on the server, and stays usable', async ({
    mcp,
  }) => {
    const logger = recordingLogger();
    const memory = await connectHanging(mcp, logger);
    await memory.store(record('usable'));
    const pid = mcp.serverPid(memory);
    expect(pid).toEqual(expect.any(Number));

    const stalled = await timed(() =>
      memory.search('__stall__', { limit: 5 }, AbortSignal.timeout(300)),
    );
    expect(rejection(stalled)).toMatchObject({ name: 'TimeoutError' });
    expect(stalled.ms).toBeGreaterThanOrEqual(290);
    expect(stalled.ms).toBeLessThan(2_000); // without the signal it would stall for good

    expect(memory.isConnected()).toBe(true);
    expect(mcp.serverPid(memory)).toBe(pid);
    expect(await memory.get('usable')).toEqual(record('usable'));
    await waitUntil(() =>
      logger.messages.some((message) => message.includes('hanging-mcp-server: cancelled request')),
    );
  });

  it('an aborted write releases the write queue; a queued write honours its own signal', async ({
    mcp,
  }) => {
    const memory = await connectHanging(mcp);
    const head = memory.store(record('__stall__'), AbortSignal.timeout(1_000));
    const queued = await timed(() => memory.store(record('queued'), AbortSignal.timeout(200)));
    expect(rejection(queued)).toMatchObject({ name: 'TimeoutError' });
    expect(queued.ms).toBeLessThan(600);

    await expect(head).rejects.toMatchObject({ name: 'TimeoutError' });
    await memory.store(record('after-stall'), AbortSignal.timeout(2_000));
    expect(await memory.get('after-stall')).toEqual(record('after-stall'));
  });

  it('rejects at once with the reason of an already aborted signal', async ({ mcp }) => {
    const memory = await connectHanging(mcp);
    const controller = new AbortController();
    controller.abort(new Error('breaker gave up'));

    await expect(memory.get('x', controller.signal)).rejects.toThrow('breaker gave up');
    await expect(memory.store(record('x'), controller.signal)).rejects.toThrow('breaker gave up');
  });

  it('applies requestTimeoutMs when the caller passes no signal', async ({ mcp }) => {
    const memory = await mcp.connect({
      connection: stdio(HANGING_SERVER, {
        MEMORY_FILE_PATH: await mcp.memoryFile(),
        STALL_ALL_TOOL_CALLS: '1',
      }),
      requestTimeoutMs: 200,
    });
    await expect(memory.get('x')).rejects.toThrow(/Request timed out/);
    expect(memory.isConnected()).toBe(true);
  });

  it('gives up an attempt after connectTimeoutMs when the server never answers, and kills it', async ({
    mcp,
  }) => {
    const logger = recordingLogger();
    const script = "console.error('pid=' + process.pid); setInterval(() => {}, 1000)";
    const silent: McpConnectionOptions = {
      kind: 'stdio',
      command: process.execPath,
      args: ['-e', script],
    };
    const attempt = await timed(() =>
      mcp.connect({
        connection: silent,
        connectTimeoutMs: 300,
        logger,
        reconnect: { initialMs: 10_000 },
      }),
    );
    const memory = fulfillment(attempt);
    expect(attempt.ms).toBeLessThan(1_000);
    expect(memory.isConnected()).toBe(false);
    await expect(memory.get('x')).rejects.toThrow(/last: MCP error -32001: Request timed out\)/);

    const pidLine = logger.messages.find((message) => message.includes('pid='));
    const pid = Number(pidLine?.split('pid=')[1]);
    await waitUntil(() => !isAlive(pid));
  });
});

describe.concurrent('HTTP transport', () => {
  /**
   * Streamable HTTP front for a real server-memory, forwarding tools/list and tools/call; stopped
   * by the test's end at the latest.
   */
  async function startHttpBridge(
    mcp: McpTestScope,
    port = 0,
  ): Promise<{ url: string; stop(): Promise<void> }> {
    const backend = new Client({ name: 'bridge', version: '0' });
    await backend.connect(
      await createDefaultTransport(serverMemoryConnection(await mcp.memoryFile())),
    );
    const http = createServer(
      (request, response) => void handleBridgeRequest(backend, request, response),
    );
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    const address = http.address() as { port: number };
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopped ??= closeHttp(http).then(() => backend.close()));
    mcp.defer(stop);
    return { url: `http://127.0.0.1:${address.port}/mcp`, stop };
  }

  async function handleBridgeRequest(
    backend: Client,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
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

  it('round-trips over Streamable HTTP and reconnects after the endpoint restarts', async ({
    mcp,
  }) => {
    const bridge = await startHttpBridge(mcp);
    const memory = await mcp.connect({
      connection: { kind: 'http', url: bridge.url },
      reconnect: { initialMs: 50, maxMs: 200 },
    });
    await memory.store(record('over-http', { tags: ['net'] }));
    expect(await memory.search('net', { limit: 5 })).toEqual([
      record('over-http', { tags: ['net'] }),
    ]);

    await bridge.stop();
    const lost = nextChange(memory, false);
    await expect(memory.get('over-http')).rejects.toBeInstanceOf(McpMemoryUnavailableError);
    await lost;
    const port = Number(new URL(bridge.url).port);
    await startHttpBridge(mcp, port);
    await nextChange(memory, true);
    await memory.store(record('after-restart'));
    expect(await memory.get('after-restart')).toEqual(record('after-restart'));
  });
});
