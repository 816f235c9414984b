/**
 * Keeps the service up when its MCP server is not: the first connection may fail (server not
 * installed yet, HTTP endpoint down), and then this wrapper keeps trying in the background while
 * every call fails fast, so the circuit breaker opens and the fallbacks answer.
 */
import {
  type ConnectionChange,
  type ConnectionChangeListener,
  DEFAULT_RECONNECT_POLICY,
  type MemoryLogger,
  type ReconnectPolicy,
  reconnectDelay,
} from './mcp-connection.js';
import type {
  MemoryRecord,
  MemorySearchHit,
  MemorySearchOptions,
  MemoryBackend,
} from './mcp-client.js';
import { McpMemoryMissingToolsError, McpMemoryUnavailableError } from './mcp-errors.js';

/** A memory server that reports its connection, as `McpMemoryClient` does. */
export interface ConnectedMemoryClient extends MemoryBackend {
  isConnected(): boolean;
  /** Pid of the stdio server process; undefined while disconnected or over HTTP. */
  serverPid(): number | undefined;
  onConnectionChange(listener: ConnectionChangeListener): () => void;
}

/** How {@link ResilientMemoryClient} reaches its server. */
export interface ResilientMemoryClientOptions {
  /** One connection attempt, e.g. `() => McpMemoryClient.connect(options)`. */
  connect: () => Promise<ConnectedMemoryClient>;
  logger: MemoryLogger;
  /** Backoff between attempts after the first one failed; defaults as for respawns. */
  reconnect?: Partial<ReconnectPolicy>;
  /** Random source for the jitter, injectable for tests. */
  random?: () => number;
}

/**
 * {@link ConnectedMemoryClient} that exists even before its server does. Create it with
 * {@link ResilientMemoryClient.connect}; once connected it forwards the inner client's
 * connection changes, and announces the late first connection as one too.
 */
export class ResilientMemoryClient implements ConnectedMemoryClient {
  readonly #options: ResilientMemoryClientOptions;
  readonly #policy: ReconnectPolicy;
  readonly #listeners = new Set<ConnectionChangeListener>();
  #inner: ConnectedMemoryClient | undefined;
  #failedAttempts = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #pendingAttempt: Promise<void> | undefined;
  #closed = false;

  private constructor(options: ResilientMemoryClientOptions) {
    this.#options = options;
    this.#policy = { ...DEFAULT_RECONNECT_POLICY, ...options.reconnect };
  }

  /**
   * Makes the first attempt and returns whether or not it worked; a failed attempt is logged
   * and retried with backoff.
   *
   * @throws McpMemoryMissingToolsError when the first server reached lacks a required tool: a
   *   configuration error that retrying cannot fix, so the service should not start.
   */
  static async connect(options: ResilientMemoryClientOptions): Promise<ResilientMemoryClient> {
    const server = new ResilientMemoryClient(options);
    await server.#attempt(true);
    return server;
  }

  async storeMany(records: readonly MemoryRecord[], signal?: AbortSignal): Promise<void> {
    return this.#require('storeMany').storeMany(records, signal);
  }

  async search(
    query: string,
    options: MemorySearchOptions,
    signal?: AbortSignal,
  ): Promise<MemorySearchHit[]> {
    return this.#require('search').search(query, options, signal);
  }

  async get(key: string, signal?: AbortSignal): Promise<MemoryRecord | null> {
    return this.#require('get').get(key, signal);
  }

  isConnected(): boolean {
    return this.#inner?.isConnected() ?? false;
  }

  serverPid(): number | undefined {
    return this.#inner?.serverPid();
  }

  onConnectionChange(listener: ConnectionChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops retrying and closes the server (and its process). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#pendingAttempt;
    this.#listeners.clear();
    await this.#inner?.close();
  }

  /** The inner server, or a fast {@link McpMemoryUnavailableError} the breaker counts. */
  #require(operation: string): ConnectedMemoryClient {
    if (this.#inner !== undefined) return this.#inner;
    throw new McpMemoryUnavailableError(
      `MCP memory server has not connected yet (failed attempts so far: ${this.#failedAttempts}); "${operation}" was not sent`,
    );
  }

  async #attempt(first: boolean): Promise<void> {
    let inner: ConnectedMemoryClient;
    try {
      inner = await this.#options.connect();
    } catch (error) {
      this.#recordFailure(error, first);
      return;
    }
    if (this.#closed) return inner.close();
    this.#install(inner, first);
  }

  #recordFailure(error: unknown, first: boolean): void {
    if (first && error instanceof McpMemoryMissingToolsError) throw error;
    this.#failedAttempts += 1;
    const message =
      'MCP memory server unreachable; memory is served from local storage until it connects';
    this.#options.logger.error({ err: error, failedAttempts: this.#failedAttempts }, message);
    this.#scheduleRetry();
  }

  #install(inner: ConnectedMemoryClient, first: boolean): void {
    this.#inner = inner;
    inner.onConnectionChange((change) => this.#emit(change));
    if (!first)
      this.#emit({ connected: true, pid: inner.serverPid(), failedAttempts: this.#failedAttempts });
    this.#failedAttempts = 0;
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    const delayMs = reconnectDelay(this.#failedAttempts - 1, this.#policy, this.#options.random);
    this.#retryTimer = setTimeout(() => {
      this.#pendingAttempt = this.#attempt(false).finally(() => {
        this.#pendingAttempt = undefined;
      });
    }, delayMs);
  }

  #emit(change: ConnectionChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.#options.logger.error({ err: error }, 'MCP memory connection listener threw');
      }
    }
  }
}
