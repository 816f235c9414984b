/**
 * Turns the MEMORY_MCP_* settings into the connection the MCP client opens: the bundled
 * server-memory by default, a command line of the operator's choosing, or a Streamable HTTP URL.
 */
import path from 'node:path';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Config } from '../config.js';
import { type McpConnectionOptions, serverMemoryConnection } from './mcp-transport.js';

/** The settings that choose the MCP server. */
export type MemoryConnectionSettings = Pick<
  Config,
  'DATA_DIR' | 'MEMORY_MCP_COMMAND' | 'MEMORY_MCP_URL' | 'MEMORY_FILE_PATH'
>;

/** The memory settings contradict each other or cannot be parsed; the service must not start. */
export class MemoryConfigurationError extends Error {
  override readonly name = 'MemoryConfigurationError';
}

/** The graph file of a stdio server: MEMORY_FILE_PATH, or `mcp-memory.jsonl` in DATA_DIR. */
export function memoryFilePath(settings: Pick<Config, 'DATA_DIR' | 'MEMORY_FILE_PATH'>): string {
  return settings.MEMORY_FILE_PATH ?? path.join(settings.DATA_DIR, 'mcp-memory.jsonl');
}

/**
 * The connection to open. MEMORY_MCP_URL: Streamable HTTP (the remote server keeps its own
 * file). MEMORY_MCP_COMMAND: that command line over stdio, with MEMORY_FILE_PATH set in its
 * environment. Neither: the bundled server-memory run by this Node binary.
 *
 * @throws MemoryConfigurationError when both are set or the command line does not parse.
 */
export function mcpConnectionOptions(settings: MemoryConnectionSettings): McpConnectionOptions {
  if (settings.MEMORY_MCP_URL !== undefined && settings.MEMORY_MCP_COMMAND !== undefined) {
    throw new MemoryConfigurationError('Set either MEMORY_MCP_URL or MEMORY_MCP_COMMAND, not both');
  }
  if (settings.MEMORY_MCP_URL !== undefined) return { kind: 'http', url: settings.MEMORY_MCP_URL };
  if (settings.MEMORY_MCP_COMMAND === undefined)
    return serverMemoryConnection(memoryFilePath(settings));
  return commandConnection(settings.MEMORY_MCP_COMMAND, memoryFilePath(settings));
}

/**
 * A custom command inherits only the SDK's safe environment (HOME, LOGNAME, PATH, SHELL, TERM,
 * USER) plus MEMORY_FILE_PATH, so the service's secrets (DATABASE_URL, …) never reach it; more
 * variables can be set with `env NAME=value command …`.
 */
function commandConnection(commandLine: string, filePath: string): McpConnectionOptions {
  const [command, ...args] = splitCommandLine(commandLine);
  if (command === undefined || command === '')
    throw new MemoryConfigurationError('MEMORY_MCP_COMMAND names no command');
  return {
    kind: 'stdio',
    command,
    args,
    env: { ...getDefaultEnvironment(), MEMORY_FILE_PATH: filePath },
  };
}

/** Whitespace, a single-quoted part, a double-quoted part, a backslash escape, or plain text. */
const TOKEN_SOURCE = String.raw`(\s+)|'([^']*)'|"((?:[^"\\]|\\[\s\S])*)"|\\([\s\S])|([^\s'"\\]+)`;

/**
 * Splits a command line into words the way a POSIX shell does, without expanding anything:
 * words are separated by whitespace; `'…'` keeps its text as is; `"…"` does too, except that
 * `\"` and `\\` stand for `"` and `\`; outside quotes a backslash keeps the next character as
 * is; adjacent parts join into one word (`--file="my notes.jsonl"`). No variables, globs or
 * operators: `$HOME` stays `$HOME`.
 *
 * @throws MemoryConfigurationError on an unterminated quote or a trailing backslash.
 */
export function splitCommandLine(line: string): string[] {
  const token = new RegExp(TOKEN_SOURCE, 'y');
  const words: string[] = [];
  let word: string | null = null;
  while (token.lastIndex < line.length) {
    const position = token.lastIndex;
    const match = token.exec(line);
    if (match === null) {
      throw new MemoryConfigurationError(
        'MEMORY_MCP_COMMAND has an unterminated quote or a trailing backslash ' +
          `at character ${position + 1}`,
      );
    }
    if (match[1] === undefined) {
      word = (word ?? '') + wordPart(match);
    } else if (word !== null) {
      words.push(word);
      word = null;
    }
  }
  return word === null ? words : [...words, word];
}

function wordPart(match: RegExpExecArray): string {
  if (match[3] !== undefined) return match[3].replace(/\\(["\\])/g, '$1');
  // Exactly one group matched: single-quoted text, an escaped character or plain text.
  return (match[2] ?? match[4] ?? match[5]) as string;
}
