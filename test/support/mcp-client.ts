/** Helpers of the McpMemoryServer tests (test/circuit-breaker/mcp-client*.test.ts) against real MCP server processes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import {
  McpMemoryServer,
  type ConnectionChange,
  type MemoryLogger,
  type MemoryRecord,
  type McpMemoryServerOptions,
} from '../../src/memory/mcp-client.js';
import { type McpConnectionOptions } from '../../src/memory/mcp-transport.js';
import { bundledServerMemory } from './memory.js';

export { FAKE_SERVER, HANGING_SERVER } from './memory.js';

/** What the current test opened, released by {@link runCleanups} in reverse order. */
export const cleanups: Array<() => Promise<void>> = [];

/** Register as `afterEach(runCleanups)`: releases what the test's helpers opened, clients before their temp dirs. */
export async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
}

export async function memoryFile(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mcp-memory-test-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  return path.join(directory, 'memory.jsonl');
}

export async function connectMemory(options: Partial<McpMemoryServerOptions> = {}): Promise<McpMemoryServer> {
  const memoryFilePath = options.memoryFilePath ?? (await memoryFile());
  const server = await McpMemoryServer.connect({ connection: bundledServerMemory(memoryFilePath), ...options, memoryFilePath });
  cleanups.push(() => server.close());
  return server;
}

export function stdio(script: string, env: Record<string, string>): McpConnectionOptions {
  return { kind: 'stdio', command: process.execPath, args: [script], env };
}

export function record(key: string, overrides: Partial<MemoryRecord> = {}): MemoryRecord {
  return { key, content: `content of ${key}`, tags: [], project_id: null, agent_id: null, ...overrides };
}

/** Logger that keeps every message, to assert on forwarded stderr lines. */
export function recordingLogger(): MemoryLogger & { messages: string[] } {
  const messages: string[] = [];
  const log = (_bindings: Record<string, unknown>, message: string): void => {
    messages.push(message);
  };
  return { messages, debug: log, info: log, warn: log, error: log };
}

export function nextChange(server: McpMemoryServer, connected: boolean, timeoutMs = 10_000): Promise<ConnectionChange> {
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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function timed<T>(promise: Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; ms: number }> {
  const startedAt = performance.now();
  const [outcome] = await Promise.allSettled([promise]);
  return { outcome: outcome as PromiseSettledResult<T>, ms: performance.now() - startedAt };
}

export function rejection(result: { outcome: PromiseSettledResult<unknown> }): unknown {
  expect(result.outcome.status).toBe('rejected');
  return (result.outcome as PromiseRejectedResult).reason;
}

