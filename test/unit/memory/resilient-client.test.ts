import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  ConnectionChange,
  ConnectionChangeListener,
} from '../../../src/memory/mcp-connection.js';
import {
  McpMemoryMissingToolsError,
  McpMemoryUnavailableError,
} from '../../../src/memory/mcp-errors.js';
import type { MemoryRecord } from '../../../src/memory/mcp-records.js';
import {
  type ConnectedMemoryClient,
  ResilientMemoryClient,
} from '../../../src/memory/resilient-client.js';

const entry: MemoryRecord = { key: 'k', content: 'c', tags: [], project_id: null, agent_id: null };

function fakeServer(pid = 7) {
  const listeners = new Set<ConnectionChangeListener>();
  const server = {
    storeMany: vi.fn(async () => undefined),
    search: vi.fn(async () => [entry]),
    get: vi.fn(async () => entry),
    close: vi.fn(async () => undefined),
    isConnected: vi.fn(() => true),
    serverPid: vi.fn(() => pid),
    onConnectionChange: vi.fn((listener: ConnectionChangeListener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    }),
    emit: (change: ConnectionChange) => listeners.forEach((listener) => listener(change)),
  };
  return server satisfies ConnectedMemoryClient;
}

const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
const policy = { initialDelayMs: 100, maxDelayMs: 1_000, jitterRatio: 0 };

/** A connect function that fails with `failures` in turn, then hands out `server`. */
function connecting(server: ConnectedMemoryClient, ...failures: Error[]) {
  return vi.fn(async () => {
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
    return server;
  });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.clearAllMocks();
});

describe('ResilientMemoryClient', () => {
  it('delegates to the server connected at once and forwards its connection changes', async () => {
    const inner = fakeServer();
    const server = await ResilientMemoryClient.connect({ connect: connecting(inner), logger });
    const changes: ConnectionChange[] = [];
    server.onConnectionChange((change) => changes.push(change));
    const signal = new AbortController().signal;
    await server.storeMany([entry], signal);
    expect(await server.search('c', { limit: 5 }, signal)).toEqual([entry]);
    expect(await server.get('k', signal)).toEqual(entry);
    expect(inner.storeMany).toHaveBeenCalledWith([entry], signal);
    expect(inner.search).toHaveBeenCalledWith('c', { limit: 5 }, signal);
    expect([server.isConnected(), server.serverPid()]).toEqual([true, 7]);
    inner.emit({ connected: false, pid: 7, failedAttempts: 0 });
    expect(changes).toEqual([{ connected: false, pid: 7, failedAttempts: 0 }]);
    await server.close();
    expect(inner.close).toHaveBeenCalledOnce();
  });

  it('starts without a server, fails calls fast, retries with backoff and announces the late connection', async () => {
    const inner = fakeServer(9);
    const connect = connecting(inner, new Error('spawn ENOENT'), new Error('spawn ENOENT'));
    const server = await ResilientMemoryClient.connect({ connect, logger, reconnect: policy });
    const changes: ConnectionChange[] = [];
    server.onConnectionChange((change) => changes.push(change));
    expect([server.isConnected(), server.serverPid()]).toEqual([false, undefined]);
    await expect(server.search('x', { limit: 1 })).rejects.toThrow(McpMemoryUnavailableError);
    await expect(server.storeMany([entry])).rejects.toThrow(
      'MCP memory server has not connected yet (failed attempts so far: 1); "storeMany" was not sent',
    );
    await expect(server.get('k')).rejects.toThrow(McpMemoryUnavailableError);
    expect(logger.error).toHaveBeenCalledWith(
      { err: new Error('spawn ENOENT'), failedAttempts: 1 },
      expect.stringContaining('served from local storage'),
    );

    await vi.advanceTimersByTimeAsync(100);
    expect(connect).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(connect).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(changes).toEqual([{ connected: true, pid: 9, failedAttempts: 2 }]);
    expect(server.isConnected()).toBe(true);
    await server.storeMany([entry]);
    expect(inner.storeMany).toHaveBeenCalledOnce();
    await server.close();
  });

  it('refuses to start when the first server lacks required tools, but only retries when a later one does', async () => {
    const missing = new McpMemoryMissingToolsError(['read_graph'], ['search_nodes']);
    await expect(
      ResilientMemoryClient.connect({ connect: connecting(fakeServer(), missing), logger }),
    ).rejects.toBe(missing);

    const connect = connecting(fakeServer(), new Error('down'), missing);
    const server = await ResilientMemoryClient.connect({ connect, logger, reconnect: policy });
    await vi.advanceTimersByTimeAsync(100);
    expect(logger.error).toHaveBeenLastCalledWith(
      { err: missing, failedAttempts: 2 },
      expect.any(String),
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(server.isConnected()).toBe(true);
    await server.close();
  });

  it('stops retrying on close, and closes a server that connects while closing', async () => {
    const connect = connecting(fakeServer(), new Error('down'));
    const idle = await ResilientMemoryClient.connect({ connect, logger, reconnect: policy });
    await idle.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(connect).toHaveBeenCalledOnce();

    const late = fakeServer();
    let finish!: (server: ConnectedMemoryClient) => void;
    const slow = vi
      .fn()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    const closing = await ResilientMemoryClient.connect({
      connect: slow,
      logger,
      reconnect: policy,
    });
    await vi.advanceTimersByTimeAsync(100);
    const closed = closing.close();
    finish(late);
    await closed;
    expect(late.close).toHaveBeenCalledOnce();
    expect(closing.isConnected()).toBe(false);
  });

  it('schedules no retry when an attempt fails after close', async () => {
    let fail!: (error: Error) => void;
    const connect = vi
      .fn()
      .mockRejectedValueOnce(new Error('down'))
      .mockImplementationOnce(() => new Promise((_, reject) => (fail = reject)));
    const server = await ResilientMemoryClient.connect({ connect, logger, reconnect: policy });
    await vi.advanceTimersByTimeAsync(100);
    const closed = server.close();
    fail(new Error('still down'));
    await closed;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(connect).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('logs a listener that throws and still tells the others', async () => {
    const inner = fakeServer();
    const server = await ResilientMemoryClient.connect({ connect: connecting(inner), logger });
    const calm = vi.fn();
    server.onConnectionChange(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = server.onConnectionChange(calm);
    inner.emit({ connected: true, pid: 7, failedAttempts: 0 });
    expect(calm).toHaveBeenCalledOnce();
    expect(logger.error).toHaveBeenCalledWith(
      { err: new Error('listener bug') },
      'MCP memory connection listener threw',
    );
    unsubscribe();
    inner.emit({ connected: true, pid: 7, failedAttempts: 0 });
    expect(calm).toHaveBeenCalledOnce();
    await server.close();
  });
});
