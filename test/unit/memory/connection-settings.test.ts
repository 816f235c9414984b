import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import {
  MemoryConfigurationError,
  mcpConnectionOptions,
  memoryFilePath,
  splitCommandLine,
} from '../../../src/memory/connection-settings.js';
import { resolveServerMemoryBin } from '../../../src/memory/mcp-transport.js';

const settings = (environment: Record<string, string> = {}) =>
  loadConfig({ DATA_DIR: '/srv/swarm', ...environment });

describe('splitCommandLine', () => {
  it.each([
    [
      'npx -y @modelcontextprotocol/server-memory',
      ['npx', '-y', '@modelcontextprotocol/server-memory'],
    ],
    ['  node\t  server.js  ', ['node', 'server.js']],
    ["node '/opt/my server/index.js'", ['node', '/opt/my server/index.js']],
    [
      'node "/opt/my server/index.js" --name "say \\"hi\\" \\\\ \\n"',
      ['node', '/opt/my server/index.js', '--name', 'say "hi" \\ \\n'],
    ],
    ['node /opt/my\\ server/index.js', ['node', '/opt/my server/index.js']],
    ['node --file="my notes.jsonl" \'\' x', ['node', '--file=my notes.jsonl', '', 'x']],
    ['env A=$HOME node *.js', ['env', 'A=$HOME', 'node', '*.js']],
    ['', []],
  ])('splits %j', (line, words) => {
    expect(splitCommandLine(line)).toEqual(words);
  });

  it.each([
    [
      "node 'open",
      'MEMORY_MCP_COMMAND has an unterminated quote or a trailing backslash at character 6',
    ],
    [
      'node "open',
      'MEMORY_MCP_COMMAND has an unterminated quote or a trailing backslash at character 6',
    ],
    [
      'node x\\',
      'MEMORY_MCP_COMMAND has an unterminated quote or a trailing backslash at character 7',
    ],
  ])('refuses %j', (line, message) => {
    expect(() => splitCommandLine(line)).toThrow(new MemoryConfigurationError(message));
  });

  it('names the configuration error on the line a failed start prints (its stack)', () => {
    expect(() => splitCommandLine("node 'open")).toThrow(
      expect.objectContaining({ stack: expect.stringMatching(/^MemoryConfigurationError: /) }),
    );
  });
});

describe('mcpConnectionOptions', () => {
  it('runs the bundled server-memory with the file in DATA_DIR by default, or MEMORY_FILE_PATH', () => {
    expect(memoryFilePath(settings())).toBe(path.join('/srv/swarm', 'mcp-memory.jsonl'));
    expect(mcpConnectionOptions(settings())).toEqual({
      kind: 'stdio',
      command: process.execPath,
      args: [resolveServerMemoryBin()],
      env: { MEMORY_FILE_PATH: '/srv/swarm/mcp-memory.jsonl' },
    });
    expect(
      mcpConnectionOptions(settings({ MEMORY_FILE_PATH: 'memory/graph.jsonl' })),
    ).toMatchObject({ env: { MEMORY_FILE_PATH: 'memory/graph.jsonl' } });
  });

  it('connects over Streamable HTTP to MEMORY_MCP_URL', () => {
    expect(mcpConnectionOptions(settings({ MEMORY_MCP_URL: 'http://memory:8080/mcp' }))).toEqual({
      kind: 'http',
      url: 'http://memory:8080/mcp',
    });
  });

  it('runs MEMORY_MCP_COMMAND with the safe environment and MEMORY_FILE_PATH only', () => {
    const options = mcpConnectionOptions(
      settings({ MEMORY_MCP_COMMAND: "npx -y '@modelcontextprotocol/server-memory'" }),
    );
    expect(options).toMatchObject({
      kind: 'stdio',
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-memory'],
    });
    const env = (options as { env: Record<string, string> }).env;
    expect(env).toMatchObject({
      PATH: process.env.PATH,
      MEMORY_FILE_PATH: '/srv/swarm/mcp-memory.jsonl',
    });
    expect(
      Object.keys(env).every((name) =>
        ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'MEMORY_FILE_PATH'].includes(name),
      ),
    ).toBe(true);
  });

  it('refuses contradictory or empty settings', () => {
    const both = settings({ MEMORY_MCP_URL: 'http://memory/mcp', MEMORY_MCP_COMMAND: 'node x.js' });
    expect(() => mcpConnectionOptions(both)).toThrow(
      new MemoryConfigurationError('Set either MEMORY_MCP_URL or MEMORY_MCP_COMMAND, not both'),
    );
    expect(() => mcpConnectionOptions(settings({ MEMORY_MCP_COMMAND: "''" }))).toThrow(
      'MEMORY_MCP_COMMAND names no command',
    );
    expect(() => mcpConnectionOptions(settings({ MEMORY_MCP_COMMAND: '   ' }))).toThrow(
      'MEMORY_MCP_COMMAND names no command',
    );
  });
});
