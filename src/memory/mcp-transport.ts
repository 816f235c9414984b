/**
 * How the memory client reaches its MCP server: a child process over stdio
 * (the default, server-memory from node_modules) or a Streamable HTTP endpoint.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

/** Spawn an MCP server as a child process and talk to it over stdin/stdout. */
export interface StdioConnectionOptions {
  kind: 'stdio';
  command: string;
  args: string[];
  /** Child environment; PATH is added from this process when missing. */
  env?: Record<string, string>;
  cwd?: string;
}

/** Talk to an already running MCP server over Streamable HTTP. */
export interface HttpConnectionOptions {
  kind: 'http';
  url: string;
}

export type McpConnectionOptions = StdioConnectionOptions | HttpConnectionOptions;

/**
 * Creates a fresh, unstarted transport for one connection attempt.
 *
 * Injectable so tests can hand the client an in-memory transport; a new
 * transport is requested for every (re)connect because SDK transports cannot
 * be restarted.
 */
export type McpTransportFactory = (options: McpConnectionOptions) => Promise<Transport>;

const SERVER_MEMORY_PACKAGE = '@modelcontextprotocol/server-memory';

/**
 * Absolute path of server-memory's executable script.
 *
 * Resolved through the package's `bin` field rather than node_modules/.bin so
 * it works with hoisting, workspaces and on Windows (where .bin holds shims).
 */
export function resolveServerMemoryBin(): string {
  const require = createRequire(import.meta.url);
  const packageJsonPath = require.resolve(`${SERVER_MEMORY_PACKAGE}/package.json`);
  const packageJson = require(packageJsonPath) as { bin?: string | Record<string, string> };
  const bin =
    // Stryker disable next-line ConditionalExpression,StringLiteral: server-memory's bin is a map
    typeof packageJson.bin === 'string' ? packageJson.bin : Object.values(packageJson.bin ?? {})[0];
  // Stryker disable next-line ConditionalExpression,BlockStatement: the pinned package has a bin
  if (!bin) {
    // Stryker disable next-line StringLiteral: the pinned package has a bin
    throw new Error(`${SERVER_MEMORY_PACKAGE} declares no bin entry in ${packageJsonPath}`);
  }
  return path.resolve(path.dirname(packageJsonPath), bin);
}

/**
 * Stdio options that run the bundled server-memory with the current Node
 * binary, persisting its graph to `memoryFilePath` (e.g. `./data/mcp-memory.jsonl`).
 */
export function serverMemoryConnection(
  memoryFilePath: string,
  extraEnv: Record<string, string> = {},
): StdioConnectionOptions {
  return {
    kind: 'stdio',
    command: process.execPath,
    args: [resolveServerMemoryBin()],
    env: { ...extraEnv, MEMORY_FILE_PATH: memoryFilePath },
  };
}

/**
 * Environment for the child process: PATH is always present, and a relative
 * MEMORY_FILE_PATH is made absolute against *our* working directory, because
 * server-memory resolves relative paths against its own install directory
 * (node_modules/@modelcontextprotocol/server-memory/dist).
 */
export function buildStdioEnvironment(env: Record<string, string> = {}): Record<string, string> {
  const result: Record<string, string> = { PATH: process.env.PATH ?? '', ...env };
  if (result.MEMORY_FILE_PATH) {
    result.MEMORY_FILE_PATH = path.resolve(result.MEMORY_FILE_PATH);
  }
  return result;
}

/**
 * Default {@link McpTransportFactory}. For stdio it also creates the memory
 * file's directory, since server-memory writes a temp file next to it and
 * fails every write with ENOENT when the directory is missing.
 */
export async function createDefaultTransport(options: McpConnectionOptions): Promise<Transport> {
  if (options.kind === 'http') {
    return new StreamableHTTPClientTransport(new URL(options.url));
  }
  const env = buildStdioEnvironment(options.env);
  if (env.MEMORY_FILE_PATH) {
    await mkdir(path.dirname(env.MEMORY_FILE_PATH), { recursive: true });
  }
  return new StdioClientTransport({
    command: options.command,
    args: options.args,
    env,
    cwd: options.cwd,
    stderr: 'pipe',
  });
}

/** Child process id of a stdio transport, undefined for other transports or before start. */
export function transportPid(transport: Transport): number | undefined {
  const pid = (transport as { pid?: unknown }).pid;
  return typeof pid === 'number' ? pid : undefined;
}

/** Piped stderr of a stdio transport, if any. */
export function transportStderr(transport: Transport): Readable | undefined {
  const stderr = (transport as { stderr?: unknown }).stderr;
  return stderr && typeof (stderr as Readable).on === 'function' ? (stderr as Readable) : undefined;
}

/** Short human-readable description for logs and error messages. */
export function describeConnection(options: McpConnectionOptions): string {
  if (options.kind === 'http') {
    return `http ${options.url}`;
  }
  return `stdio ${[options.command, ...options.args].map((part) => path.basename(part)).join(' ')}`;
}
