#!/usr/bin/env node
/**
 * A stalling MCP server for timeout/abort tests.
 *
 * It is a stdio proxy in front of the real @modelcontextprotocol/server-memory:
 * `initialize`, `tools/list` and ordinary tool calls are forwarded, so a client
 * connects and works normally; but every `tools/call` whose arguments contain
 * STALL_MARKER (default "__stall__") is swallowed and never answered. With
 * STALL_ALL_TOOL_CALLS=1 every tool call stalls.
 *
 * It reports on stderr (one line each) which requests it stalls and which
 * `notifications/cancelled` it receives, so tests can check the client really
 * cancelled the request instead of just forgetting it. With REPORT_TOOL_CALLS=1
 * it also names each tool call it forwards, so tests can count the calls
 * (server-memory rewrites its whole file on each write).
 *
 * It starts server-memory as the service does by default: the `bin` script of
 * the installed package, with this Node binary.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const marker = process.env.STALL_MARKER ?? '__stall__';
const stallAll = process.env.STALL_ALL_TOOL_CALLS === '1';
const reportCalls = process.env.REPORT_TOOL_CALLS === '1';

/**
 * What resolveServerMemoryBin() in src/memory/mcp-transport.ts finds; a script cannot import the
 * TypeScript.
 */
function serverMemoryScript() {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@modelcontextprotocol/server-memory/package.json');
  const { bin } = require(packageJson);
  return resolve(dirname(packageJson), typeof bin === 'string' ? bin : Object.values(bin)[0]);
}

const server = spawn(process.execPath, [serverMemoryScript()], {
  env: process.env,
  stdio: ['pipe', 'pipe', 'inherit'],
});
server.stdout.pipe(process.stdout);
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
process.on('SIGTERM', () => server.kill('SIGTERM'));

function shouldStall(message) {
  if (message.method !== 'tools/call') {
    return false;
  }
  return stallAll || JSON.stringify(message.params ?? {}).includes(marker);
}

function handleLine(line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    server.stdin.write(`${line}\n`);
    return;
  }
  if (message.method === 'notifications/cancelled') {
    process.stderr.write(`hanging-mcp-server: cancelled request ${message.params?.requestId}\n`);
  }
  if (shouldStall(message)) {
    process.stderr.write(
      `hanging-mcp-server: stalling request ${message.id} (${message.params?.name})\n`,
    );
    return;
  }
  if (reportCalls && message.method === 'tools/call') {
    process.stderr.write(`hanging-mcp-server: calling ${message.params?.name}\n`);
  }
  server.stdin.write(`${line}\n`);
}

const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', handleLine);
// Client closed our stdin: let the real server see EOF and exit; we follow it.
input.on('close', () => server.stdin.end());
