/**
 * A self-healing connection to one MCP server.
 *
 * Owns the SDK `Client`, verifies the server's tools at every (re)connect,
 * forwards the child's stderr to the logger, and (re)connects with exponential
 * backoff in one loop: after the transport closes unexpectedly, and from the
 * start when the first attempt fails, so the service can start before its
 * server is reachable. Calls made while disconnected fail immediately; queuing
 * is the replay queue's job.
 */
import type { Logger } from '../domain/logger.js';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  backoffDelay,
  withTimeout,
} from '../domain/timing.js';
import { createInterface, type Interface as LineReader } from 'node:readline';
import { inspect } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { sharedSchemaValidators } from './mcp-schema-validators.js';
import {
  McpMemoryMissingToolsError,
  McpMemoryToolError,
  McpMemoryUnavailableError,
} from './mcp-errors.js';
import {
  createDefaultTransport,
  describeConnection,
  transportPid,
  transportStderr,
  type McpConnectionOptions,
  type McpTransportFactory,
} from './mcp-transport.js';

/** The memory module logs at every level. */
export type MemoryLogger = Logger;

/**
 * Backoff between (re)connect attempts: 100 ms doubling to 5 s, each delay between 80 % and all
 * of its nominal value (the shared model of `backoffDelay`).
 */
export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = {
  ...DEFAULT_BACKOFF,
  maxMs: 5_000,
  jitter: 0.2,
};

/** Emitted when the server goes away and when a (re)connected server is ready. */
export interface ConnectionChange {
  connected: boolean;
  /** Child pid of the new server when connected, of the lost server when disconnected. */
  pid: number | undefined;
  /** Failed attempts before this change (0 when the first attempt worked). */
  failedAttempts: number;
  /** Why the connection was lost (only when `connected` is false). */
  reason?: unknown;
}

export type ConnectionChangeListener = (change: ConnectionChange) => void;

export interface McpConnectionSettings {
  connection: McpConnectionOptions;
  /**
   * Tools the server must offer; connecting fails with {@link McpMemoryMissingToolsError}
   * otherwise.
   */
  requiredTools: readonly string[];
  logger?: MemoryLogger;
  reconnect?: Partial<BackoffOptions>;
  /**
   * Limit for each of `initialize` and `tools/list` on every (re)connect, and half the limit for
   * the whole handshake. Default 10 s.
   */
  connectTimeoutMs?: number;
  /** Safety-net timeout per tool call when the caller passes no AbortSignal. Default 30 s. */
  requestTimeoutMs?: number;
  /** Replaces transport creation, e.g. with an in-memory transport in unit tests. */
  transportFactory?: McpTransportFactory;
  /** Random source for backoff jitter, injectable for deterministic tests. */
  random?: () => number;
}

interface Session {
  client: Client;
  transport: Transport;
  pid: number | undefined;
  stderrLines: LineReader | undefined;
  /** Set once the transport has closed, even before the session is installed. */
  closed: boolean;
  /** Resolves when `closed` is set. */
  whenClosed: Promise<void>;
}

const SILENT_LOGGER: MemoryLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
const CLIENT_INFO = { name: 'swarm-control-memory', version: '0.1.0' };

/**
 * One logical connection to an MCP server that survives server crashes.
 *
 * Use {@link McpConnection.open}; call {@link McpConnection.close} when done,
 * because a pending respawn keeps the process alive. `McpMemoryClient`
 * builds on it; use it directly only for tools outside the memory mapping.
 */
export class McpConnection {
  private session: Session | undefined;
  private readonly listeners = new Set<ConnectionChangeListener>();
  private readonly logger: MemoryLogger;
  private readonly backoff: BackoffOptions;
  private failedAttempts = 0;
  private lastFailure: unknown;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pendingReconnect: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly settings: McpConnectionSettings) {
    this.logger = settings.logger ?? SILENT_LOGGER;
    this.backoff = { ...DEFAULT_RECONNECT_BACKOFF, ...settings.reconnect };
  }

  /**
   * Makes the first attempt and returns the connection, connected or not: a
   * failed attempt is logged and retried with backoff, while calls fail fast.
   *
   * @throws McpMemoryMissingToolsError when the first server reached lacks a
   *   required tool: a configuration error that retrying cannot fix, so the
   *   caller should not start. A later server lacking tools is only retried.
   */
  static async open(settings: McpConnectionSettings): Promise<McpConnection> {
    const connection = new McpConnection(settings);
    try {
      connection.session = await connection.openSession();
    } catch (error) {
      if (error instanceof McpMemoryMissingToolsError) throw error;
      connection.attemptFailed(error);
    }
    return connection;
  }

  /** True while a verified server is attached. */
  isConnected(): boolean {
    return this.session !== undefined;
  }

  /** Subscribes to connection loss / recovery; returns the unsubscribe function. */
  onConnectionChange(listener: ConnectionChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls a tool and returns its (successful) result.
   *
   * Fails fast with {@link McpMemoryUnavailableError} while disconnected,
   * throws {@link McpMemoryToolError} for `isError` results, and rejects with
   * `signal.reason` when the caller aborts.
   */
  async callTool(
    name: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<CallToolResult> {
    signal?.throwIfAborted();
    const session = this.requireSession(name);
    const result = await this.sendToolCall(session, name, args, signal);
    if (result.isError) {
      throw new McpMemoryToolError(name, toolResultText(result));
    }
    return result;
  }

  /** Stops reconnecting, closes the client and terminates the child process. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    await this.pendingReconnect;
    const session = this.session;
    this.session = undefined;
    if (session) {
      await this.disposeSession(session);
    }
    this.listeners.clear();
  }

  private requireSession(toolName: string): Session {
    if (this.closing) {
      throw new McpMemoryUnavailableError(`MCP memory client is closed; cannot call "${toolName}"`);
    }
    if (!this.session) {
      const target = describeConnection(this.settings.connection);
      throw new McpMemoryUnavailableError(
        `MCP memory server (${target}) is not connected; reconnecting (failed attempts so far: ` +
          `${this.failedAttempts}${lastFailureText(this.lastFailure)}); "${toolName}" was not sent`,
      );
    }
    return this.session;
  }

  private async sendToolCall(
    session: Session,
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<CallToolResult> {
    const link = linkAbortSignal(signal);
    try {
      const options = { signal: link.signal, timeout: this.settings.requestTimeoutMs ?? 30_000 };
      // Without a custom result schema the SDK returns a plain CallToolResult.
      return (await session.client.callTool(
        { name, arguments: args },
        undefined,
        options,
      )) as CallToolResult;
    } catch (error) {
      throw this.translateCallError(session, name, error, signal);
    } finally {
      link.dispose();
    }
  }

  private translateCallError(
    session: Session,
    name: string,
    error: unknown,
    signal: AbortSignal | undefined,
  ): unknown {
    if (signal?.aborted) {
      return signal.reason;
    }
    if (!isConnectionLoss(error)) {
      return error;
    }
    this.dropSession(session, error);
    return new McpMemoryUnavailableError(`MCP memory server connection lost during "${name}"`, {
      cause: error,
    });
  }

  private async openSession(): Promise<Session> {
    const transport = await (this.settings.transportFactory ?? createDefaultTransport)(
      this.settings.connection,
    );
    const session = this.createSession(transport);
    const startedAt = performance.now();
    try {
      await this.handshake(session);
      assertStillOpen(session);
    } catch (error) {
      await this.disposeSession(session);
      killLeftoverProcess(session.pid);
      throw error;
    }
    this.logConnected(session, startedAt);
    return session;
  }

  /**
   * `initialize` and `tools/list`, failing as soon as the transport closes and after twice
   * connectTimeoutMs in all. The SDK's request timeouts do not cover the
   * `notifications/initialized` it sends in between, and its stdio transport never settles a send
   * to a server that has died (the write fails with EPIPE and it waits for a 'drain' that never
   * comes): a server killed just after answering `initialize` would leave the attempt pending
   * for good, and with it the whole respawn loop.
   */
  private async handshake(session: Session): Promise<void> {
    const timeoutMs = this.connectTimeoutMs();
    const handshakeMs = 2 * timeoutMs;
    // Stryker disable next-line BlockStatement: assertStillOpen() then throws this same error
    const exited = session.whenClosed.then(() => {
      throw new McpMemoryUnavailableError('MCP memory server exited while connecting');
    });
    const verified = (async () => {
      await session.client.connect(session.transport, { timeout: timeoutMs });
      await this.verifyTools(session.client);
    })();
    const stalled = () =>
      new McpMemoryUnavailableError(
        `MCP memory server did not finish connecting within ${handshakeMs} ms`,
      );
    // The losers' later rejections are handled: race() subscribed to them.
    await withTimeout(() => Promise.race([verified, exited]), handshakeMs, stalled);
  }

  private createSession(transport: Transport): Session {
    const client = new Client(CLIENT_INFO, { jsonSchemaValidator: sharedSchemaValidators });
    let markClosed!: () => void;
    const session: Session = {
      client,
      transport,
      pid: undefined,
      stderrLines: undefined,
      closed: false,
      whenClosed: new Promise((resolve) => (markClosed = resolve)),
    };
    session.stderrLines = this.forwardStderr(session);
    capturePidOnStart(session);
    client.onclose = () => {
      // Stryker disable next-line BooleanLiteral: read only by assertStillOpen() (below)
      session.closed = true;
      markClosed();
      this.dropSession(session, new Error('MCP transport closed'));
    };
    client.onerror = (error) =>
      this.logger.warn({ err: error, mcpServerPid: session.pid }, 'MCP memory transport error');
    return session;
  }

  private forwardStderr(session: Session): LineReader | undefined {
    const stderr = transportStderr(session.transport);
    if (!stderr) {
      return undefined;
    }
    const lines = createInterface({ input: stderr, crlfDelay: Infinity });
    lines.on('line', (line) =>
      // Stryker disable next-line ObjectLiteral: log fields, not a contract
      this.logger.info({ mcpServerPid: session.pid }, `mcp-memory server: ${line}`),
    );
    return lines;
  }

  private async verifyTools(client: Client): Promise<void> {
    const available = await listToolNames(client, this.connectTimeoutMs());
    const missing = this.settings.requiredTools.filter((tool) => !available.includes(tool));
    if (missing.length > 0) {
      throw new McpMemoryMissingToolsError(missing, available);
    }
  }

  private connectTimeoutMs(): number {
    return this.settings.connectTimeoutMs ?? 10_000;
  }

  private logConnected(session: Session, startedAt: number): void {
    // Stryker disable next-line ArithmeticOperator: a log field, not a contract
    const connectMs = Math.round(performance.now() - startedAt);
    const target = describeConnection(this.settings.connection);
    this.logger.info(
      { mcpServerPid: session.pid, connectMs },
      `MCP memory server connected (${target})`,
    );
  }

  /**
   * Forgets a broken session and starts the respawn loop; ignores stale or already dropped
   * sessions.
   */
  private dropSession(session: Session, reason: unknown): void {
    if (this.session !== session || this.closing) {
      return;
    }
    this.session = undefined;
    void this.disposeSession(session);
    this.logger.warn(
      { mcpServerPid: session.pid, err: reason },
      'MCP memory server connection lost; reconnecting',
    );
    this.emit({ connected: false, pid: session.pid, failedAttempts: 0, reason });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delayMs = backoffDelay(this.failedAttempts, this.backoff, this.settings.random);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // Stryker disable next-line BlockStatement: awaiting a settled attempt returns at once
      this.pendingReconnect = this.reconnect().finally(() => {
        this.pendingReconnect = undefined;
      });
    }, delayMs);
    // Deliberately not unref'd: like the live child's pipes, a pending respawn keeps
    // the process alive until close(), otherwise a worker with nothing else to do
    // would exit mid-outage instead of recovering.
  }

  private async reconnect(): Promise<void> {
    let session: Session;
    try {
      session = await this.openSession();
    } catch (error) {
      this.attemptFailed(error);
      return;
    }
    if (this.closing) {
      // close() is awaiting this attempt; it must not leave a child process behind.
      await this.disposeSession(session);
      return;
    }
    this.installReconnectedSession(session);
  }

  /** Counts and logs a failed (re)connect and schedules the next attempt, unless closing. */
  private attemptFailed(error: unknown): void {
    this.failedAttempts += 1;
    this.lastFailure = error;
    this.logger.warn(
      { err: error, failedAttempts: this.failedAttempts },
      'MCP memory server unreachable; calls fail fast until it connects',
    );
    if (!this.closing) {
      this.scheduleReconnect();
    }
  }

  private installReconnectedSession(session: Session): void {
    this.session = session;
    const failedAttempts = this.failedAttempts;
    this.failedAttempts = 0;
    this.lastFailure = undefined;
    this.emit({ connected: true, pid: session.pid, failedAttempts });
  }

  private async disposeSession(session: Session): Promise<void> {
    try {
      await session.client.close();
    } /* Stryker disable next-line BlockStatement: only a debug log */ catch (error) {
      // Stryker disable next-line ObjectLiteral,StringLiteral: log, not a contract
      this.logger.debug({ err: error }, 'closing MCP memory client failed');
    } finally {
      session.stderrLines?.close();
    }
  }

  private emit(change: ConnectionChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error({ err: error }, 'MCP memory connection listener threw');
      }
    }
  }
}

/** Names of all tools the server offers; servers without the tools capability offer none. */
async function listToolNames(client: Client, timeoutMs: number): Promise<string[]> {
  // Stryker disable next-line OptionalChaining: a connected client has the server's capabilities
  if (!client.getServerCapabilities()?.tools) {
    return []; // such servers answer tools/list with "Method not found"
  }
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}

/**
 * Records the child pid as soon as the process spawns. The SDK forgets the pid
 * when a failed handshake makes it close the transport, and its own shutdown
 * escalation runs on unref'd timers, so a server that never answers could
 * outlive us unless we can still kill it by pid.
 */
function capturePidOnStart(session: Session): void {
  const start = session.transport.start.bind(session.transport);
  session.transport.start = async () => {
    await start();
    session.pid = transportPid(session.transport);
  };
}

// A backstop: in the failed handshakes the tests build (a server that never answers), the SDK's
// own close() (stdin end, then SIGTERM and SIGKILL 2 s apart) ends the child too; this is for a
// child whose reference the SDK dropped, which no test could produce.
// Stryker disable all: only that case tells it apart (docs/notes/2026-12-mutation-testing.md)
/** SIGKILLs a server that failed its handshake and is still running. */
function killLeftoverProcess(pid: number | undefined): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone (ESRCH): nothing to clean up
  }
}
// Stryker restore all

/** `, last: <message>` for the error message of a call made while disconnected. */
function lastFailureText(failure: unknown): string {
  if (failure === undefined) return '';
  return `, last: ${failure instanceof Error ? failure.message : inspect(failure)}`;
}

// A server that exits between tools/list and this check: a window of one microtask, which no test
// can hit; one that exits earlier makes handshake() throw the same error.
// Stryker disable all: see above
function assertStillOpen(session: Session): void {
  if (session.closed) {
    throw new McpMemoryUnavailableError('MCP memory server exited while connecting');
  }
}
// Stryker restore all

/** Text parts of a tool result, joined; used as the error message of `isError` results. */
export function toolResultText(result: CallToolResult): string {
  const texts = result.content.flatMap((part) => (part.type === 'text' ? [part.text] : []));
  return texts.join('\n') || 'tool returned isError without a message';
}

/**
 * True for errors meaning the transport is gone rather than the call failing:
 * closed stdio pipes, "Not connected", or an HTTP server that lost our session
 * (404) or is unreachable.
 */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof McpError) {
    return error.code === Number(ErrorCode.ConnectionClosed);
  }
  if (error instanceof StreamableHTTPError) {
    return error.code === 404;
  }
  if (!(error instanceof Error)) {
    return false;
  }
  return (
    error.message === 'Not connected' ||
    (error instanceof TypeError && error.message === 'fetch failed')
  );
}

/**
 * Gives the SDK a private signal that follows the caller's.
 *
 * The SDK adds an 'abort' listener to the signal of every request and never
 * removes it; passing a long-lived caller signal straight through would leak
 * one listener per call. `dispose()` detaches our single listener.
 */
export function linkAbortSignal(parent: AbortSignal | undefined): {
  signal: AbortSignal | undefined;
  dispose(): void;
} {
  if (!parent) {
    return { signal: undefined, dispose: () => {} };
  }
  const controller = new AbortController();
  const forward = (): void => controller.abort(parent.reason);
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: dispose() removes it in any case
  parent.addEventListener('abort', forward, { once: true });
  if (parent.aborted) {
    forward();
  }
  return { signal: controller.signal, dispose: () => parent.removeEventListener('abort', forward) };
}
