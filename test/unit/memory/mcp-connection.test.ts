/**
 * The one (re)connect loop of McpConnection, with fake clocks: a first attempt that fails leaves
 * the connection "disconnected, retrying"; a server lacking tools is fatal only at the first
 * attempt; a handshake that hangs fails and is retried. Servers run in this process (the SDK's
 * in-memory transport); the real processes, their crashes and respawns are tested in
 * test/memory/mcp-client-crashes.test.ts.
 */
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ConnectionChange,
  McpConnection,
  type McpConnectionSettings,
} from '../../../src/memory/mcp-connection.js';
import {
  McpMemoryMissingToolsError,
  McpMemoryUnavailableError,
} from '../../../src/memory/mcp-errors.js';

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
    await vi.advanceTimersByTimeAsync(200);
    const closed = closing.close();
    const lateClosed = vi.fn();
    finish(await serverWith(['search_nodes'], lateClosed));
    await closed;
    expect(lateClosed).toHaveBeenCalledOnce();
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
