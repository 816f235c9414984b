/**
 * The memory feature put together: the breaker, the MCP client (MEMORY_MCP=on), the search
 * cache, the replay worker and the service. The Fastify plugin only decorates the app with it
 * and ties {@link MemoryModule.start} and {@link MemoryModule.close} to the app's life.
 */
import type { Config } from '../config.js';
import type { Logger } from '../domain/logger.js';
import type { DatabaseHandle } from '../store/database.js';
import type { WriteTransactions } from '../store/write-transaction.js';
import { isMemoryCallerError } from './caller-error.js';
import {
  type BreakerStateName,
  type BreakerTransition,
  CircuitBreaker,
  type TransitionListener,
} from './circuit-breaker.js';
import { mcpConnectionOptions } from './connection-settings.js';
import { McpMemoryClient, type McpMemoryClientOptions } from './mcp-client.js';
import { DatabaseReplayQueue } from './memory-repository.js';
import { MemoryService } from './memory-service.js';
import { ReplayWorker } from './replay-worker.js';
import { SearchCache } from './search-cache.js';

/** The settings the memory module reads (see docs/memory.md). */
export type MemoryConfig = Pick<
  Config,
  | 'DATA_DIR'
  | 'MEMORY_MCP'
  | 'MEMORY_MCP_COMMAND'
  | 'MEMORY_MCP_URL'
  | 'MEMORY_FILE_PATH'
  | 'MEMORY_BREAKER_FAILURE_THRESHOLD'
  | 'MEMORY_BREAKER_OPEN_MS'
  | 'MEMORY_BREAKER_HALF_OPEN_SUCCESSES'
  | 'MEMORY_STORE_TIMEOUT_MS'
  | 'MEMORY_SEARCH_TIMEOUT_MS'
  | 'MEMORY_CACHE_MAX_ENTRIES'
  | 'MEMORY_CACHE_MAX_BYTES'
>;

/**
 * The `checks.memory` entry of `/health/ready`: OPEN, HALF_OPEN or a lost server degrade, never
 * fail, readiness.
 */
export interface MemoryHealth {
  status: 'up' | 'degraded';
  circuit: BreakerStateName;
  mcp: 'connected' | 'disconnected';
}

/** What the rest of the service sees of memory (the app's `app.memory`). */
export interface MemoryModule {
  service: MemoryService;
  /**
   * Subscribes to every breaker transition (`{ from, to, at, reason }`); returns the unsubscribe
   * function.
   */
  onCircuitTransition(listener: TransitionListener): () => void;
  /**
   * null with MEMORY_MCP=off: memory then depends on the database only, which has its own check.
   */
  health(): MemoryHealth | null;
  /** Starts the replay worker; call it once every listener has subscribed to transitions. */
  start(): void;
  /** Stops the worker, then the MCP server (and its process). */
  close(): Promise<void>;
}

/** What the module is built on. */
export interface MemoryModuleOptions {
  config: MemoryConfig;
  database: DatabaseHandle;
  /** Runs each memory write with its audit record in one transaction. */
  writes: Pick<WriteTransactions, 'run'>;
  logger: Logger;
  /**
   * Opens the MCP server's client (MEMORY_MCP=on); by default {@link McpMemoryClient.connect}.
   * Another implementation, e.g. a stand-in of the server, can be handed in.
   */
  connectServer?: (options: McpMemoryClientOptions) => Promise<MemoryServer>;
}

/** What the module uses of an MCP memory client: the service's, the worker's and its own calls. */
export type MemoryServer = Pick<
  McpMemoryClient,
  'search' | 'get' | 'storeMany' | 'isConnected' | 'onConnectionChange' | 'close'
>;

/**
 * After a failure that did not open the breaker, the worker tries again after this long (or the
 * open time, if shorter).
 */
const REPLAY_RETRY_DELAY_MS = 1_000;

function createBreaker(config: MemoryConfig): CircuitBreaker {
  return new CircuitBreaker({
    failureThreshold: config.MEMORY_BREAKER_FAILURE_THRESHOLD,
    openMs: config.MEMORY_BREAKER_OPEN_MS,
    halfOpenSuccesses: config.MEMORY_BREAKER_HALF_OPEN_SUCCESSES,
    isCallerError: isMemoryCallerError,
  });
}

/**
 * One log line per transition: a warning when the breaker leaves CLOSED, information when it
 * returns.
 */
function logTransition(logger: Logger, transition: BreakerTransition): void {
  const { from, to, reason } = transition;
  const message = `memory circuit breaker ${from} -> ${to} (${reason})`;
  if (to === 'CLOSED') logger.info({ circuit: transition }, message);
  else logger.warn({ circuit: transition }, message);
}

/** The MCP side of the module, present with MEMORY_MCP=on. */
interface McpParts {
  server: MemoryServer;
  worker: ReplayWorker;
}

/**
 * Connects, or starts degraded and keeps trying; only a server lacking required tools stops the
 * start.
 */
async function connectMcp(
  options: MemoryModuleOptions,
  breaker: CircuitBreaker,
): Promise<McpParts | null> {
  const { config, database, logger } = options;
  if (config.MEMORY_MCP === 'off') return null;
  const connection = mcpConnectionOptions(config);
  const connect = options.connectServer ?? ((settings) => McpMemoryClient.connect(settings));
  const server = await connect({ connection, logger });
  const worker = new ReplayWorker({
    queue: new DatabaseReplayQueue(database),
    breaker,
    server,
    storeTimeoutMs: config.MEMORY_STORE_TIMEOUT_MS,
    probeTimeoutMs: config.MEMORY_SEARCH_TIMEOUT_MS,
    retryDelayMs: Math.min(REPLAY_RETRY_DELAY_MS, config.MEMORY_BREAKER_OPEN_MS),
    isCallerError: isMemoryCallerError,
    logger,
  });
  return { server, worker };
}

function healthOf(breaker: CircuitBreaker, mcp: McpParts | null): MemoryHealth | null {
  if (mcp === null) return null;
  const circuit = breaker.currentState().name;
  const connection = mcp.server.isConnected() ? 'connected' : 'disconnected';
  return {
    status: circuit === 'CLOSED' && connection === 'connected' ? 'up' : 'degraded',
    circuit,
    mcp: connection,
  };
}

/**
 * Builds the memory feature. With MEMORY_MCP=on it connects to the MCP server first (or starts
 * degraded and keeps trying).
 *
 * @throws McpMemoryMissingToolsError when the server lacks a required tool, and
 *   MemoryConfigurationError for contradictory settings: retrying cannot fix either.
 */
export async function openMemory(options: MemoryModuleOptions): Promise<MemoryModule> {
  const { config, logger } = options;
  const breaker = createBreaker(config);
  const cache = new SearchCache({
    maxEntries: config.MEMORY_CACHE_MAX_ENTRIES,
    maxBytes: config.MEMORY_CACHE_MAX_BYTES,
  });
  const unsubscribeLog = breaker.onTransition((transition) => logTransition(logger, transition));
  const mcp = await connectMcp(options, breaker);
  const service = new MemoryService({
    db: options.database.db,
    writes: options.writes,
    breaker,
    cache,
    logger,
    mcp: mcp && { server: mcp.server, delivery: mcp.worker },
    storeTimeoutMs: config.MEMORY_STORE_TIMEOUT_MS,
    searchTimeoutMs: config.MEMORY_SEARCH_TIMEOUT_MS,
  });
  return {
    service,
    onCircuitTransition: (listener) => breaker.onTransition(listener),
    health: () => healthOf(breaker, mcp),
    start: () => mcp?.worker.start(),
    close: async () => {
      await mcp?.worker.stop();
      await mcp?.server.close();
      unsubscribeLog();
    },
  };
}
