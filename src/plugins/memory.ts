import type { FastifyBaseLogger } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { Config } from '../config.js';
import { MemoryService } from '../services/memory-service.js';
import type { DatabaseHandle } from '../store/database.js';
import { DatabaseReplayQueue } from '../memory/memory-repository.js';
import { isMemoryCallerError } from '../memory/caller-error.js';
import {
  type BreakerStateName,
  type BreakerTransition,
  CircuitBreaker,
  type TransitionListener,
} from '../memory/circuit-breaker.js';
import { mcpConnectionOptions } from '../memory/connection-settings.js';
import { SearchCache } from '../memory/search-cache.js';
import { McpMemoryClient } from '../memory/mcp-client.js';
import { ReplayWorker } from '../memory/replay-worker.js';
import { ResilientMemoryClient } from '../memory/resilient-client.js';

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

/** Options of {@link memoryPlugin}. */
export interface MemoryPluginOptions {
  config: MemoryConfig;
}

/** The `checks.memory` entry of `/health/ready`: OPEN, HALF_OPEN or a lost server degrade, never fail, readiness. */
export interface MemoryHealth {
  status: 'up' | 'degraded';
  circuit: BreakerStateName;
  mcp: 'connected' | 'disconnected';
}

/** What the memory plugin adds to the app as `app.memory`. */
export interface Memory {
  service: MemoryService;
  /** Subscribes to every breaker transition (`{ from, to, at, reason }`); returns the unsubscribe function. */
  onCircuitTransition(listener: TransitionListener): () => void;
  /** null with MEMORY_MCP=off: memory then depends on the database only, which has its own check. */
  health(): MemoryHealth | null;
  /** Pid of the stdio MCP server; undefined over HTTP, while it respawns, or with MEMORY_MCP=off. */
  serverPid(): number | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    memory: Memory;
  }
}

/** After a failure that did not open the breaker, the worker tries again after this long (or the open time, if shorter). */
const REPLAY_RETRY_DELAY_MS = 1_000;

function createBreaker(config: MemoryConfig): CircuitBreaker {
  return new CircuitBreaker({
    failureThreshold: config.MEMORY_BREAKER_FAILURE_THRESHOLD,
    openMs: config.MEMORY_BREAKER_OPEN_MS,
    halfOpenSuccesses: config.MEMORY_BREAKER_HALF_OPEN_SUCCESSES,
    isCallerError: isMemoryCallerError,
  });
}

/** One log line per transition: a warning when the breaker leaves CLOSED, information when it returns. */
function logTransition(logger: FastifyBaseLogger, transition: BreakerTransition): void {
  const message = `memory circuit breaker ${transition.from} -> ${transition.to} (${transition.reason})`;
  if (transition.to === 'CLOSED') logger.info({ circuit: transition }, message);
  else logger.warn({ circuit: transition }, message);
}

/** Connects, or starts degraded and keeps trying; only a server lacking required tools stops the start. */
function connectServer(
  config: MemoryConfig,
  logger: FastifyBaseLogger,
): Promise<ResilientMemoryClient> {
  const connection = mcpConnectionOptions(config);
  return ResilientMemoryClient.connect({
    connect: () => McpMemoryClient.connect({ connection, logger }),
    logger,
  });
}

/** The MCP side of the module, present with MEMORY_MCP=on. */
interface McpParts {
  server: ResilientMemoryClient;
  worker: ReplayWorker;
}

async function connectMcp(
  config: MemoryConfig,
  database: DatabaseHandle,
  breaker: CircuitBreaker,
  logger: FastifyBaseLogger,
): Promise<McpParts | null> {
  if (config.MEMORY_MCP === 'off') return null;
  const server = await connectServer(config, logger);
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
 * The shared memory: the breaker, the MCP client (MEMORY_MCP=on), the search cache, the replay
 * worker and the service. The worker starts once the app is ready (so every plugin has
 * subscribed to transitions first); on close it stops, then the MCP server process goes.
 */
export const memoryPlugin = fastifyPlugin<MemoryPluginOptions>(
  async (app, { config }) => {
    const logger = app.log.child({ module: 'memory' });
    const breaker = createBreaker(config);
    const cache = new SearchCache({
      maxEntries: config.MEMORY_CACHE_MAX_ENTRIES,
      maxBytes: config.MEMORY_CACHE_MAX_BYTES,
    });
    const unsubscribeLog = breaker.onTransition((transition) => logTransition(logger, transition));
    const mcp = await connectMcp(config, app.database, breaker, logger);
    const service = new MemoryService({
      db: app.database.db,
      writes: app.services.writes,
      breaker,
      cache,
      logger,
      mcp: mcp && { server: mcp.server, delivery: mcp.worker },
      storeTimeoutMs: config.MEMORY_STORE_TIMEOUT_MS,
      searchTimeoutMs: config.MEMORY_SEARCH_TIMEOUT_MS,
    });
    app.decorate('memory', {
      service,
      onCircuitTransition: (listener: TransitionListener) => breaker.onTransition(listener),
      health: () => healthOf(breaker, mcp),
      serverPid: () => mcp?.server.serverPid(),
    });
    app.addHook('onReady', async () => mcp?.worker.start());
    app.addHook('onClose', async () => {
      await mcp?.worker.stop();
      await mcp?.server.close();
      unsubscribeLog();
    });
  },
  { name: 'memory', dependencies: ['database', 'services'] },
);
