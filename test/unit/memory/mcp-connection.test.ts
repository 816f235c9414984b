/**
 * The one (re)connect loop of McpConnection, with fake clocks: a first attempt that fails leaves
 * the connection "disconnected, retrying"; a server lacking tools is fatal only at the first
 * attempt; a handshake that hangs fails and is retried. Servers run in this process (the SDK's
 * in-memory transport); the real processes, their crashes and respawns are tested in
 * test/memory/mcp-client-crashes.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { PassThrough } from 'node:stream';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ConnectionChange,
  McpConnection,
  type McpConnectionSettings,
  isConnectionLoss,
  linkAbortSignal,
  toolResultText,
} from '../../../src/memory/mcp-connection.js';
import {
  McpMemoryMissingToolsError,
  McpMemoryToolError,
  McpMemoryUnavailableError,
} from '../../../src/memory/mcp-errors.js';
import { sharedSchemaValidators } from '../../../src/memory/mcp-schema-validators.js';

/** The client's end of an in-process server offering `tools`; `onClose` runs when it closes. */
async function serverWith(tools: readonly string[], onClose?: () => void): Promise<Transport> {
  const server = new Server({ name: 'in-process', version: '0' }, { capabilities: { tools: {} } });
  server.onclose = onClose;
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.map((name) => ({ name, inputSchema: { type: 'object' as const } })),
  }));
  const [client, end] = InMemoryTransport.createLinkedPair();
  await server.connect(end);
  return client;
}

/**
 * Like a stdio server SIGKILLed right after it answered `initialize`: the SDK's stdio transport
 * never settles the send of `notifications/initialized` that follows (its write fails with EPIPE
 * and it waits for a 'drain' that never comes), and the transport closes `closeAfterMs` later,
 * or never when undefined.
 */
async function diesAfterInitialize(
  tools: readonly string[],
  closeAfterMs?: number,
): Promise<Transport> {
  const transport = await serverWith(tools);
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if (!('method' in message) || message.method !== 'notifications/initialized') {
      return send(message, options);
    }
    if (closeAfterMs !== undefined) setTimeout(() => void transport.close(), closeAfterMs);
    return new Promise<void>(() => {});
  };
  return transport;
}

/** A transport factory that fails with `failures` in turn, then hands out servers with `tools`. */
function factory(tools: readonly string[], ...failures: Error[]) {
  return vi.fn(async () => {
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
    return serverWith(tools);
  });
}

const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
const reconnect = { initialMs: 100, maxMs: 1_000, jitter: 0 };

function settings(transportFactory: McpConnectionSettings['transportFactory']) {
  return {
    connection: { kind: 'http' as const, url: 'http://memory.invalid/mcp' },
    requiredTools: ['search_nodes'],
    logger,
    reconnect,
    transportFactory,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.clearAllMocks();
});

describe('McpConnection, one (re)connect loop', () => {
  it('starts disconnected when the first attempt fails, fails calls fast, and connects later', async () => {
    const transports = factory(['search_nodes'], new Error('ECONNREFUSED'), new Error('down'));
    const connection = await McpConnection.open(settings(transports));
    const changes: ConnectionChange[] = [];
    connection.onConnectionChange((change) => changes.push(change));
    expect(connection.isConnected()).toBe(false);
    await expect(connection.callTool('search_nodes', {})).rejects.toThrow(
      new McpMemoryUnavailableError(
        'MCP memory server (http http://memory.invalid/mcp) is not connected; reconnecting ' +
          '(failed attempts so far: 1, last: ECONNREFUSED); "search_nodes" was not sent',
      ),
    );
    expect(logger.warn).toHaveBeenCalledWith(
      { err: new Error('ECONNREFUSED'), failedAttempts: 1 },
      'MCP memory server unreachable; calls fail fast until it connects',
    );

    await vi.advanceTimersByTimeAsync(199);
    expect(transports).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(400);
    expect(changes).toEqual([{ connected: true, pid: undefined, failedAttempts: 2 }]);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('refuses to open when the first server lacks required tools, and only retries a later one', async () => {
    await expect(McpConnection.open(settings(factory(['open_nodes'])))).rejects.toThrow(
      McpMemoryMissingToolsError,
    );

    const attempts = vi
      .fn<() => Promise<Transport>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => serverWith(['open_nodes']))
      .mockImplementation(() => serverWith(['search_nodes']));
    const connection = await McpConnection.open(settings(attempts));
    await vi.advanceTimersByTimeAsync(200);
    expect(logger.warn).toHaveBeenLastCalledWith(
      { err: expect.any(McpMemoryMissingToolsError), failedAttempts: 2 },
      expect.any(String),
    );
    await vi.advanceTimersByTimeAsync(400);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('stops retrying on close, and closes a server that connects while closing', async () => {
    const idleFactory = factory(['search_nodes'], new Error('down'));
    const idle = await McpConnection.open(settings(idleFactory));
    await idle.close();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(idleFactory).toHaveBeenCalledOnce();

    let finish!: (transport: Transport) => void;
    const slow = vi
      .fn<() => Promise<Transport>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    const closing = await McpConnection.open(settings(slow));
    const changes: ConnectionChange[] = [];
    closing.onConnectionChange((change) => changes.push(change));
    await vi.advanceTimersByTimeAsync(200);
    const closed = closing.close();
    const lateClosed = vi.fn();
    finish(await serverWith(['search_nodes'], lateClosed));
    await closed;
    expect(lateClosed).toHaveBeenCalledOnce();
    expect(changes).toEqual([]);
    expect(closing.isConnected()).toBe(false);
    await expect(closing.callTool('search_nodes', {})).rejects.toThrow(/closed/);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tries again when the server dies between answering initialize and hearing back', async () => {
    const attempts = vi
      .fn<() => Promise<Transport>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => diesAfterInitialize(['search_nodes'], 10))
      .mockImplementation(() => serverWith(['search_nodes']));
    const connection = await McpConnection.open(settings(attempts));
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(logger.warn).toHaveBeenLastCalledWith(
      {
        err: new McpMemoryUnavailableError('MCP memory server exited while connecting'),
        failedAttempts: 2,
      },
      'MCP memory server unreachable; calls fail fast until it connects',
    );
    await vi.advanceTimersByTimeAsync(400);
    expect(attempts).toHaveBeenCalledTimes(3);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up a handshake that hangs without the transport closing, and tries again', async () => {
    const attempts = vi
      .fn<() => Promise<Transport>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => diesAfterInitialize(['search_nodes']))
      .mockImplementation(() => serverWith(['search_nodes']));
    const connection = await McpConnection.open({
      ...settings(attempts),
      connectTimeoutMs: 1_000,
    });
    await vi.advanceTimersByTimeAsync(200 + 1_999);
    expect(attempts).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(logger.warn).toHaveBeenLastCalledWith(
      {
        err: new McpMemoryUnavailableError(
          'MCP memory server did not finish connecting within 2000 ms',
        ),
        failedAttempts: 2,
      },
      'MCP memory server unreachable; calls fail fast until it connects',
    );
    await vi.advanceTimersByTimeAsync(400);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('schedules no retry when an attempt fails after close', async () => {
    let fail!: (error: Error) => void;
    const attempts = vi
      .fn<() => Promise<Transport>>()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => new Promise((_, reject) => (fail = reject)));
    const connection = await McpConnection.open(settings(attempts));
    await vi.advanceTimersByTimeAsync(200);
    const closed = connection.close();
    fail(new Error('still down'));
    await closed;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(attempts).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('tool results and lost connections', () => {
  it("reports a failed tool call in the server's words: its text parts, one per line", () => {
    const image = { type: 'image' as const, data: '', mimeType: 'image/png' };
    expect(
      toolResultText({
        content: [{ type: 'text', text: 'ENOSPC' }, image, { type: 'text', text: 'disk full' }],
      }),
    ).toBe('ENOSPC\ndisk full');
    expect(toolResultText({ content: [image] })).toBe('tool returned isError without a message');
  });

  it('tells a lost connection from a call that failed', () => {
    const lost = [
      new McpError(ErrorCode.ConnectionClosed, 'Connection closed'),
      new StreamableHTTPError(404, 'session not found'),
      new Error('Not connected'),
      new TypeError('fetch failed'),
    ];
    const failed = [
      new McpError(ErrorCode.InvalidParams, 'Not connected'),
      new StreamableHTTPError(500, 'Not connected'),
      new Error('fetch failed'),
      new TypeError('Not a function'),
      new Error('not connected'),
      'Not connected',
      undefined,
    ];
    for (const error of lost) expect(isConnectionLoss(error), String(error)).toBe(true);
    for (const error of failed) expect(isConnectionLoss(error), String(error)).toBe(false);
  });
});

describe('linkAbortSignal', () => {
  it('passes no signal on when the caller gave none', () => {
    const link = linkAbortSignal(undefined);
    expect(link.signal).toBeUndefined();
    expect(() => link.dispose()).not.toThrow();
  });

  it("aborts with the caller's reason, also when the caller had aborted already", () => {
    const caller = new AbortController();
    const link = linkAbortSignal(caller.signal);
    expect(link.signal?.aborted).toBe(false);
    caller.abort(new Error('caller gave up'));
    expect(link.signal?.reason).toEqual(new Error('caller gave up'));
    const early = linkAbortSignal(AbortSignal.abort('too late'));
    expect(early.signal?.aborted).toBe(true);
    expect(early.signal?.reason).toBe('too late');
  });

  it('stops following the caller once disposed', () => {
    const caller = new AbortController();
    const link = linkAbortSignal(caller.signal);
    link.dispose();
    caller.abort();
    expect(link.signal?.aborted).toBe(false);
  });
});

/** An in-process server offering `search_nodes`, answering each call with `answer`. */
async function toolServer(
  answer: (args: Record<string, unknown>) => Promise<CallToolResult>,
): Promise<Transport> {
  const server = new Server({ name: 'in-process', version: '0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [{ name: 'search_nodes', inputSchema: { type: 'object' as const } }],
  }));
  server.setRequestHandler(CallToolRequestSchema, (request) =>
    answer(request.params.arguments ?? {}),
  );
  const [client, end] = InMemoryTransport.createLinkedPair();
  await server.connect(end);
  return client;
}

describe('McpConnection.callTool', () => {
  it("returns a tool's result, and turns an isError result into the server's words", async () => {
    const answer = async (args: Record<string, unknown>): Promise<CallToolResult> =>
      args.query === 'bad'
        ? { isError: true, content: [{ type: 'text', text: 'no such node' }] }
        : { content: [{ type: 'text', text: `found ${String(args.query)}` }] };
    const connection = await McpConnection.open(settings(() => toolServer(answer)));
    await expect(connection.callTool('search_nodes', { query: 'x' })).resolves.toMatchObject({
      content: [{ type: 'text', text: 'found x' }],
    });
    const refused = connection.callTool('search_nodes', { query: 'bad' });
    await expect(refused).rejects.toThrow(new McpMemoryToolError('search_nodes', 'no such node'));
    await connection.close();
  });

  it("rejects with the caller's reason when the caller aborts, before or during the call", async () => {
    const stalls = () => new Promise<CallToolResult>(() => undefined);
    const connection = await McpConnection.open(settings(() => toolServer(stalls)));
    await expect(connection.callTool('search_nodes', {}, AbortSignal.abort('gone'))).rejects.toBe(
      'gone',
    );
    const caller = new AbortController();
    const call = connection.callTool('search_nodes', {}, caller.signal);
    await vi.advanceTimersByTimeAsync(0);
    caller.abort('changed my mind');
    await expect(call).rejects.toBe('changed my mind');
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it("leaves no listener on a caller's signal once its calls are done", async () => {
    const answers = async (): Promise<CallToolResult> => ({ content: [] });
    const connection = await McpConnection.open(settings(() => toolServer(answers)));
    const caller = new AbortController();
    await connection.callTool('search_nodes', {}, caller.signal);
    await connection.callTool('search_nodes', {}, caller.signal);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    await connection.close();
  });

  it('compiles a tool output schema once for all connections of the process', async () => {
    const outputSchema = { type: 'object' as const, properties: { [`n${randomUUID()}`]: {} } };
    const withSchema = async () => {
      const server = new Server({ name: 'typed', version: '0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [{ name: 'search_nodes', inputSchema: { type: 'object' as const }, outputSchema }],
      }));
      const [client, end] = InMemoryTransport.createLinkedPair();
      await server.connect(end);
      return client;
    };
    const before = sharedSchemaValidators.size;
    const first = await McpConnection.open(settings(withSchema));
    const second = await McpConnection.open(settings(withSchema));
    expect(sharedSchemaValidators.size).toBe(before + 1);
    await Promise.all([first.close(), second.close()]);
  });

  it('refuses calls once closed', async () => {
    const connection = await McpConnection.open(settings(factory(['search_nodes'])));
    await connection.close();
    await expect(connection.callTool('search_nodes', {})).rejects.toThrow(
      new McpMemoryUnavailableError('MCP memory client is closed; cannot call "search_nodes"'),
    );
  });
});

/** An in-process server and the client's end of it; `listTools` answers tools/list. */
async function linkedServer(
  listTools: (cursor: string | undefined) => {
    tools: Array<{ name: string }>;
    nextCursor?: string;
  },
  capabilities: { tools?: object } = { tools: {} },
) {
  const server = new Server({ name: 'in-process', version: '0' }, { capabilities });
  if (capabilities.tools !== undefined) {
    server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const page = listTools(request.params?.cursor);
      return {
        ...page,
        tools: page.tools.map(({ name }) => ({ name, inputSchema: { type: 'object' as const } })),
      };
    });
  }
  const [client, end] = InMemoryTransport.createLinkedPair();
  await server.connect(end);
  return { server, client };
}

describe('McpConnection: tools and lost connections', () => {
  it('reads every page of the tool list', async () => {
    const pages = (cursor: string | undefined) =>
      cursor === 'page-2'
        ? { tools: [{ name: 'search_nodes' }] }
        : { tools: [{ name: 'read_graph' }], nextCursor: 'page-2' };
    const connection = await McpConnection.open(
      settings(async () => (await linkedServer(pages)).client),
    );
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('finds no tools on a server without the tools capability', async () => {
    const bare = async () => (await linkedServer(() => ({ tools: [] }), {})).client;
    await expect(McpConnection.open(settings(bare))).rejects.toThrow(
      new McpMemoryMissingToolsError(['search_nodes'], []),
    );
  });

  it('tells listeners when the server goes away and when it is back, then reconnects', async () => {
    const servers: Server[] = [];
    const transports = vi.fn(async () => {
      const linked = await linkedServer(() => ({ tools: [{ name: 'search_nodes' }] }));
      servers.push(linked.server);
      return linked.client;
    });
    const connection = await McpConnection.open(settings(transports));
    const changes: ConnectionChange[] = [];
    connection.onConnectionChange(() => {
      throw new Error('listener failed');
    });
    connection.onConnectionChange((change) => changes.push(change));
    await servers[0]?.close();
    expect(connection.isConnected()).toBe(false);
    expect(changes).toEqual([
      {
        connected: false,
        pid: undefined,
        failedAttempts: 0,
        reason: new Error('MCP transport closed'),
      },
    ]);
    expect(logger.error).toHaveBeenCalledWith(
      { err: new Error('listener failed') },
      'MCP memory connection listener threw',
    );
    expect(logger.warn).toHaveBeenCalledWith(
      { mcpServerPid: undefined, err: new Error('MCP transport closed') },
      'MCP memory server connection lost; reconnecting',
    );
    await expect(connection.callTool('search_nodes', {})).rejects.toThrow(
      'MCP memory server (http http://memory.invalid/mcp) is not connected; reconnecting ' +
        '(failed attempts so far: 0); "search_nodes" was not sent',
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(transports).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transports).toHaveBeenCalledTimes(2);
    expect(changes.at(-1)).toEqual({ connected: true, pid: undefined, failedAttempts: 0 });
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('fails a call whose connection is lost as unavailable, and reconnects', async () => {
    const closeServer: Array<() => Promise<void>> = [];
    const transports = vi.fn(async () => {
      const server = new Server({ name: 'x', version: '0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({
        tools: [{ name: 'search_nodes', inputSchema: { type: 'object' as const } }],
      }));
      server.setRequestHandler(CallToolRequestSchema, () => new Promise<CallToolResult>(() => {}));
      const [client, end] = InMemoryTransport.createLinkedPair();
      await server.connect(end);
      closeServer.push(() => server.close());
      return client;
    });
    const connection = await McpConnection.open(settings(transports));
    const call = connection.callTool('search_nodes', {});
    const outcome = expect(call).rejects.toMatchObject({
      message: 'MCP memory server connection lost during "search_nodes"',
      cause: expect.objectContaining({ code: ErrorCode.ConnectionClosed }) as unknown,
    });
    await vi.advanceTimersByTimeAsync(0);
    await closeServer[0]?.();
    await outcome;
    await vi.advanceTimersByTimeAsync(100);
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });
});

describe('McpConnection: what it tells the operator and the server', () => {
  it('logs the connection with the server, its process id and how long it took', async () => {
    const transport = async () => Object.assign(await serverWith(['search_nodes']), { pid: 4242 });
    const connection = await McpConnection.open(settings(transport));
    expect(logger.info).toHaveBeenCalledWith(
      { mcpServerPid: 4242, connectMs: expect.any(Number) as number },
      'MCP memory server connected (http http://memory.invalid/mcp)',
    );
    await connection.close();
  });

  it("logs the server's stderr line by line, until the connection is closed", async () => {
    const stderr = new PassThrough();
    const transport = async () => Object.assign(await serverWith(['search_nodes']), { stderr });
    const connection = await McpConnection.open(settings(transport));
    stderr.write('Knowledge Graph MCP Server running\nsecond line\n');
    await vi.advanceTimersByTimeAsync(0);
    expect(logger.info).toHaveBeenCalledWith(
      { mcpServerPid: undefined },
      'mcp-memory server: Knowledge Graph MCP Server running',
    );
    expect(logger.info).toHaveBeenCalledWith(
      { mcpServerPid: undefined },
      'mcp-memory server: second line',
    );
    await connection.close();
    logger.info.mockClear();
    stderr.write('after close\n');
    await vi.advanceTimersByTimeAsync(0);
    expect(logger.info).not.toHaveBeenCalled();
  });

  it('logs a transport error without dropping the connection', async () => {
    let client!: Transport;
    const connection = await McpConnection.open(
      settings(async () => (client = await serverWith(['search_nodes']))),
    );
    client.onerror?.(new Error('bad frame'));
    expect(logger.warn).toHaveBeenCalledWith(
      { err: new Error('bad frame'), mcpServerPid: undefined },
      'MCP memory transport error',
    );
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('closes the server on close()', async () => {
    const serverClosed = vi.fn();
    const connection = await McpConnection.open(
      settings(() => serverWith(['search_nodes'], serverClosed)),
    );
    await connection.close();
    expect(serverClosed).toHaveBeenCalledOnce();
  });

  it('stops telling a listener that unsubscribed', async () => {
    const servers: Server[] = [];
    const connection = await McpConnection.open(
      settings(async () => {
        const linked = await linkedServer(() => ({ tools: [{ name: 'search_nodes' }] }));
        servers.push(linked.server);
        return linked.client;
      }),
    );
    const gone = vi.fn();
    const staying = vi.fn();
    connection.onConnectionChange(gone)();
    connection.onConnectionChange(staying);
    await servers[0]?.close();
    expect(staying).toHaveBeenCalledOnce();
    expect(gone).not.toHaveBeenCalled();
    await connection.close();
  });

  it('names the tools the server lacks and the ones it offers', async () => {
    await expect(McpConnection.open(settings(factory(['read_graph'])))).rejects.toThrow(
      new McpMemoryMissingToolsError(['search_nodes'], ['read_graph']),
    );
  });

  it('gives up on a server that does not answer the handshake within 10 s', async () => {
    const silent = vi.fn(async () => InMemoryTransport.createLinkedPair()[0]);
    let opened = false;
    const opening = McpConnection.open(settings(silent)).then((connection) => {
      opened = true;
      return connection;
    });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(opened).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const connection = await opening;
    expect(connection.isConnected()).toBe(false);
    expect(logger.warn).toHaveBeenCalledWith(
      {
        err: expect.objectContaining({ code: ErrorCode.RequestTimeout }) as unknown,
        failedAttempts: 1,
      },
      'MCP memory server unreachable; calls fail fast until it connects',
    );
    await connection.close();
  });

  it('gives up on a server that does not list its tools within the connect timeout', async () => {
    const server = new Server({ name: 'mute', version: '0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => new Promise<never>(() => undefined));
    const [client, end] = InMemoryTransport.createLinkedPair();
    await server.connect(end);
    let opened = false;
    const opening = McpConnection.open({
      ...settings(async () => client),
      connectTimeoutMs: 1_000,
    }).then((connection) => {
      opened = true;
      return connection;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(opened).toBe(true);
    const connection = await opening;
    expect(connection.isConnected()).toBe(false);
    await connection.close();
  });

  it('times a tool call out after 30 s unless told otherwise, keeping the connection', async () => {
    const stalls = () => new Promise<CallToolResult>(() => undefined);
    const connection = await McpConnection.open(settings(() => toolServer(stalls)));
    let failure: unknown;
    void connection.callTool('search_nodes', {}).catch((error: unknown) => (failure = error));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(failure).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(failure).toMatchObject({ code: ErrorCode.RequestTimeout });
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });

  it('passes a failed call on as it is, keeping the connection', async () => {
    const fails = async (): Promise<CallToolResult> => {
      throw new McpError(ErrorCode.InternalError, 'graph file unreadable');
    };
    const connection = await McpConnection.open(settings(() => toolServer(fails)));
    await expect(connection.callTool('search_nodes', {})).rejects.toMatchObject({
      code: ErrorCode.InternalError,
      message: expect.stringContaining('graph file unreadable') as string,
    });
    expect(connection.isConnected()).toBe(true);
    await connection.close();
  });
});
