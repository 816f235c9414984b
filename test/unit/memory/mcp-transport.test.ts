import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  buildStdioEnvironment,
  createDefaultTransport,
  describeConnection,
  resolveServerMemoryBin,
  serverMemoryConnection,
  transportPid,
  transportStderr,
} from '../../../src/memory/mcp-transport.js';

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temporary directory, removed after the test. */
async function temporaryDirectory(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mcp-transport-'));
  directories.push(dir);
  return dir;
}

describe('serverMemoryConnection', () => {
  it('runs the bundled server-memory with this Node, writing to the given file', () => {
    expect(serverMemoryConnection('/srv/memory.jsonl', { DEBUG: '1' })).toEqual({
      kind: 'stdio',
      command: process.execPath,
      args: [resolveServerMemoryBin()],
      env: { DEBUG: '1', MEMORY_FILE_PATH: '/srv/memory.jsonl' },
    });
    expect(existsSync(resolveServerMemoryBin())).toBe(true);
  });

  it('keeps the given file even when the extra environment names another', () => {
    const options = serverMemoryConnection('/srv/a.jsonl', { MEMORY_FILE_PATH: '/srv/b.jsonl' });
    expect(options.env).toEqual({ MEMORY_FILE_PATH: '/srv/a.jsonl' });
  });
});

describe('buildStdioEnvironment', () => {
  it("gives the child this process's PATH unless the settings name one", () => {
    expect(buildStdioEnvironment()).toEqual({ PATH: process.env.PATH ?? '' });
    expect(buildStdioEnvironment({ PATH: '/opt/bin', A: 'b' })).toEqual({
      PATH: '/opt/bin',
      A: 'b',
    });
  });

  it('gives the child an empty PATH when this process has none', () => {
    vi.stubEnv('PATH', undefined);
    try {
      expect(buildStdioEnvironment()).toEqual({ PATH: '' });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('makes a relative memory file absolute against this working directory', () => {
    const env = buildStdioEnvironment({ MEMORY_FILE_PATH: 'data/memory.jsonl' });
    expect(env.MEMORY_FILE_PATH).toBe(path.join(process.cwd(), 'data/memory.jsonl'));
    const absolute = buildStdioEnvironment({ MEMORY_FILE_PATH: '/srv/memory.jsonl' });
    expect(absolute.MEMORY_FILE_PATH).toBe('/srv/memory.jsonl');
  });
});

describe('createDefaultTransport', () => {
  it('creates the memory file’s directory, which server-memory needs to write', async () => {
    const dir = path.join(await temporaryDirectory(), 'nested', 'data');
    const transport = await createDefaultTransport({
      kind: 'stdio',
      command: process.execPath,
      args: ['server.js'],
      env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') },
    });
    expect(transport).toBeInstanceOf(StdioClientTransport);
    expect(existsSync(dir)).toBe(true);
  });

  it("pipes a stdio server's stderr, so the service can log it", async () => {
    const transport = await createDefaultTransport({
      kind: 'stdio',
      command: process.execPath,
      args: ['server.js'],
    });
    expect(transportStderr(transport)).toBeDefined();
    expect(transportPid(transport)).toBeUndefined();
  });

  it('reaches an HTTP server over Streamable HTTP', async () => {
    const transport = await createDefaultTransport({ kind: 'http', url: 'http://memory.test/mcp' });
    expect(transport).toBeInstanceOf(StreamableHTTPClientTransport);
  });
});

describe('transport details', () => {
  const bare = (fields: object) => fields as Transport;

  it('reads a child process id only when the transport has one', () => {
    expect(transportPid(bare({ pid: 4242 }))).toBe(4242);
    expect(transportPid(bare({ pid: null }))).toBeUndefined();
    expect(transportPid(bare({}))).toBeUndefined();
  });

  it('reads a stderr stream only when it is one', () => {
    const stderr = new PassThrough();
    expect(transportStderr(bare({ stderr }))).toBe(stderr);
    expect(transportStderr(bare({ stderr: 'text' }))).toBeUndefined();
    expect(transportStderr(bare({ stderr: null }))).toBeUndefined();
  });

  it('describes a connection by its URL, or by the base names of its command', () => {
    expect(describeConnection({ kind: 'http', url: 'http://memory.test/mcp' })).toBe(
      'http http://memory.test/mcp',
    );
    expect(
      describeConnection({
        kind: 'stdio',
        command: '/usr/bin/node',
        args: ['/opt/m/dist/index.js', '--x'],
      }),
    ).toBe('stdio node index.js --x');
  });
});
