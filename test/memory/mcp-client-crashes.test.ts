/**
 * McpMemoryClient when its real server-memory process dies, fails to respawn, or is closed
 * mid-respawn.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { describe, expect, vi } from 'vitest';
import { McpMemoryUnavailableError, type ConnectionChange } from '../../src/memory/mcp-client.js';
import { createDefaultTransport, transportPid } from '../../src/memory/mcp-transport.js';
import {
  HANGING_SERVER,
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

describe.concurrent('crash handling', () => {
  it('respawns a SIGKILLed server by itself; data written before survives', async ({ mcp }) => {
    // The respawn waits a second: a call during the outage must fail at once, not wait for it.
    const memory = await mcp.connect({ reconnect: { initialMs: 1_000 } });
    await memory.store(record('before-1', { project_id: 'p' }));
    await memory.store(record('before-2', { project_id: 'p' }));
    const firstPid = mcp.serverPid(memory) as number;
    const lost = nextChange(memory, false);
    const back = nextChange(memory, true);

    process.kill(firstPid, 'SIGKILL');
    expect((await lost).pid).toBe(firstPid);
    const duringOutage = await timed(() => memory.search('before', { limit: 10 }));
    expect(rejection(duringOutage)).toBeInstanceOf(McpMemoryUnavailableError);
    expect(duringOutage.ms).toBeLessThan(500);

    const reconnected = await back;
    expect(reconnected.pid).toBe(mcp.serverPid(memory));
    expect(reconnected.pid).not.toBe(firstPid);
    expect(
      (await memory.search('before', { limit: 10, project_id: 'p' })).map((hit) => hit.key),
    ).toEqual(['before-2', 'before-1']);
    await memory.store(record('after'));
    expect(await memory.get('after')).toEqual(record('after'));
  });

  it('fails a call that is in flight when the server dies', async ({ mcp }) => {
    const memory = await mcp.connect({
      connection: stdio(HANGING_SERVER, {
        MEMORY_FILE_PATH: await mcp.memoryFile(),
        STALL_ALL_TOOL_CALLS: '1',
      }),
    });
    const pending = memory.get('anything');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(mcp.serverPid(memory) as number, 'SIGKILL');
    const error = await pending.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(McpMemoryUnavailableError);
    expect((error as Error).message).toBe('MCP memory server connection lost during "open_nodes"');
    expect(String((error as Error).cause)).toMatch(/Connection closed/);
  });

  it('keeps retrying with backoff while respawning fails; a throwing listener is only logged', async ({
    mcp,
  }) => {
    const memoryFilePath = await mcp.memoryFile();
    const logger = recordingLogger();
    let failuresLeft = 0;
    const memory = await mcp.connect({
      memoryFilePath,
      logger,
      reconnect: { initialMs: 10, maxMs: 40 },
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
    process.kill(mcp.serverPid(memory) as number, 'SIGKILL');

    expect((await back).failedAttempts).toBe(3);
    expect(
      logger.messages.filter((message) => message.startsWith('MCP memory server unreachable')),
    ).toHaveLength(3);
    expect(logger.messages).toContain('MCP memory connection listener threw');
    expect(await memory.search('x', { limit: 1 })).toEqual([]);
  });

  it('close() while a respawn is starting disposes the new server', async ({ mcp }) => {
    const transports: Transport[] = [];
    let delayFactory = false;
    const memory = await mcp.connect({
      reconnect: { initialMs: 10 },
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
    process.kill(mcp.serverPid(memory) as number, 'SIGKILL');
    await waitUntil(() => connected.mock.calls.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await memory.close();

    expect(transports).toHaveLength(2);
    expect(transportPid(transports[1] as Transport)).toBeUndefined();
    expect(connected.mock.calls.map(([change]) => (change as ConnectionChange).connected)).toEqual([
      false,
    ]);
  });

  it('close() during backoff stops respawning and leaves no process', async ({ mcp }) => {
    let transportsCreated = 0;
    const memory = await mcp.connect({
      reconnect: { initialMs: 300 },
      transportFactory: (options) => {
        transportsCreated += 1;
        return createDefaultTransport(options);
      },
    });
    const lost = nextChange(memory, false);
    process.kill(mcp.serverPid(memory) as number, 'SIGKILL');
    await lost;
    await memory.close();
    await new Promise((resolve) => setTimeout(resolve, 600));

    expect(transportsCreated).toBe(1);
    expect(memory.isConnected()).toBe(false);
    await expect(memory.get('x')).rejects.toThrow(/closed/);
  });

  it('close() terminates the server process and is idempotent', async ({ mcp }) => {
    const memory = await mcp.connect();
    const pid = mcp.serverPid(memory) as number;
    expect(isAlive(pid)).toBe(true);

    await Promise.all([memory.close(), memory.close()]);
    expect(isAlive(pid)).toBe(false);
    expect(mcp.serverPid(memory)).toBeUndefined();
    await expect(memory.store(record('late'))).rejects.toBeInstanceOf(McpMemoryUnavailableError);
  });
});
