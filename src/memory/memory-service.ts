import { type Actor, type Principal, assertAssignable, inScope } from '../domain/auth.js';
import type { Page } from '../domain/common.js';
import { NotFoundError, UnprocessableError } from '../domain/errors.js';
import {
  type MemoryCircuit,
  type MemoryEntry,
  type MemoryInput,
  type MemoryListQuery,
  type MemorySearchItem,
  type MemorySearchQuery,
  type MemorySearchResult,
  type MemoryStoreResult,
  memoryEntityName,
} from '../domain/memory.js';
import { BreakerOpenError, type CircuitBreaker } from './circuit-breaker.js';
import type { SearchCache } from './search-cache.js';
import type { MemoryBackend } from './mcp-client.js';
import type { MemoryLogger } from './mcp-connection.js';
import { type MemoryRecord, type MemorySearchHit, sameEntry } from './mcp-records.js';
import type { Database, Executor } from '../store/database.js';
import { MemoryRepository } from './memory-repository.js';
import { ProjectRepository } from '../store/project-repository.js';
import type { WriteTransactions } from '../store/write-transaction.js';

/** Waits for a queued row to reach the MCP server; the replay worker is one. */
export interface DeliveryTracker {
  awaitDelivery(id: number, timeoutMs: number): Promise<boolean>;
}

/** The MCP side of the service; absent with MEMORY_MCP=off. */
export interface McpLink {
  server: Pick<MemoryBackend, 'search'>;
  delivery: DeliveryTracker;
}

/** Collaborators and time limits of a {@link MemoryService}. */
export interface MemoryServiceOptions {
  db: Database;
  /** Runs each write with its audit record in one transaction. */
  writes: Pick<WriteTransactions, 'run'>;
  breaker: Pick<CircuitBreaker, 'execute' | 'currentState' | 'snapshot' | 'reset'>;
  /** null when MEMORY_MCP=off: every answer then comes from local data. */
  mcp: McpLink | null;
  cache: Pick<SearchCache, 'get' | 'set' | 'invalidate'>;
  storeTimeoutMs: number;
  searchTimeoutMs: number;
  logger: MemoryLogger;
  repository?: MemoryRepository;
  projects?: Pick<ProjectRepository, 'findById'>;
}

/**
 * The record as stored and sent; ids in the lower case PostgreSQL prints, so entity names agree.
 */
function toRecord(input: MemoryInput): MemoryRecord {
  const { key, content, tags } = input;
  return {
    key,
    content,
    tags,
    project_id: lowerOrNull(input.project_id),
    agent_id: lowerOrNull(input.agent_id),
  };
}

function lowerOrNull(id: string | null): string | null {
  return id === null ? null : id.toLowerCase();
}

/**
 * The server's hits with the entries still on their way to it: those first (they are the newest
 * writes, and the server may hold an older version), then the server's others, up to `limit`.
 */
function withQueued(
  queued: MemorySearchItem[],
  server: MemorySearchHit[],
  limit: number,
): MemorySearchHit[] {
  const pending = queued.map(({ score: _score, ...hit }) => hit);
  const rest = server.filter((hit) => !pending.some((entry) => sameEntry(entry, hit)));
  return [...pending, ...rest].slice(0, limit);
}

/**
 * Use cases of the shared memory. Local storage comes first: a write is saved, and queued for
 * the MCP server, in one transaction before anything else happens, so it survives any outage
 * or crash. The MCP server is asked only while the breaker is CLOSED; otherwise searches are
 * answered from the cache of earlier server answers, then from local storage.
 */
export class MemoryService {
  readonly #options: MemoryServiceOptions;
  readonly #repository: MemoryRepository;
  readonly #projects: Pick<ProjectRepository, 'findById'>;
  #fallbacks = 0;

  constructor(options: MemoryServiceOptions) {
    this.#options = options;
    this.#repository = options.repository ?? new MemoryRepository();
    this.#projects = options.projects ?? new ProjectRepository();
  }

  /**
   * Saves the entry of the input's project and key (another project's entry of the same key is
   * never touched); `mcp` when the server acknowledged the write within the store timeout,
   * `queued` otherwise.
   */
  async store(input: MemoryInput, actor: Actor): Promise<MemoryStoreResult> {
    assertAssignable(actor.principal, input.project_id);
    const record = toRecord(input);
    const id = await this.#options.writes.run(actor, async (tx, _emit, audit) => {
      await this.#assertProjectExists(tx, record.project_id);
      await this.#repository.save(tx, record);
      audit({
        action: 'store',
        resource: 'memory',
        resourceId: memoryEntityName(record),
        changedFields: ['content', 'tags', 'project_id', 'agent_id'],
      });
      return this.#repository.enqueue(tx, record);
    });
    this.#options.cache.invalidate(record);
    const delivered = await this.#awaitDelivery(id);
    if (!delivered) this.#fallbacks += 1;
    return {
      key: record.key,
      project_id: record.project_id,
      stored_in: delivered ? 'mcp' : 'queued',
    };
  }

  /**
   * From the server when it answers (with the entries whose writes have not reached it yet, so
   * an acknowledged write is always found), else from the cache of its earlier answers, else
   * from local storage. A key limited to projects must name one of them in `project_id`.
   */
  async search(query: MemorySearchQuery, principal: Principal): Promise<MemorySearchResult> {
    assertAssignable(principal, query.project_id ?? null);
    const mcp = this.#availableMcp();
    const items = mcp ? await this.#searchServer(mcp, query) : null;
    if (items !== null) return { items, source: 'mcp' };
    this.#fallbacks += 1;
    const cached = this.#options.cache.get(query);
    if (cached !== undefined) return { items: cached, source: 'fallback_cache' };
    return {
      items: await this.#repository.search(this.#options.db, query),
      source: 'fallback_storage',
    };
  }

  /**
   * A page of entries from local storage, which holds every entry; a scoped key sees its projects'
   * only.
   */
  list(query: MemoryListQuery, principal: Principal): Promise<Page<MemoryEntry>> {
    return this.#repository.list(this.#options.db, query, principal.projectIds);
  }

  /**
   * The entry `key` of the project (null: of no project), read from local storage, which holds
   * every entry.
   */
  async get(key: string, projectId: string | null, principal: Principal): Promise<MemoryEntry> {
    const entry = inScope(principal, projectId)
      ? await this.#repository.findByKey(this.#options.db, key, projectId)
      : null;
    if (entry === null) throw new NotFoundError('Memory entry', key);
    return entry;
  }

  /** The breaker's counters, with this instance's fallbacks and the shared queue length. */
  async circuit(): Promise<MemoryCircuit> {
    const snapshot = this.#options.breaker.snapshot();
    const queuedWrites = await this.#repository.queuedCount(this.#options.db);
    return { ...snapshot, fallback_count: this.#fallbacks, queued_writes: queuedWrites };
  }

  /**
   * Operator override: forces the breaker CLOSED and zeroes its counters and the fallback count;
   * audited.
   */
  async resetCircuit(actor: Actor): Promise<MemoryCircuit> {
    await this.#options.writes.run(actor, async (_tx, _emit, audit) =>
      audit({ action: 'reset', resource: 'memory_circuit', resourceId: null }),
    );
    this.#options.breaker.reset();
    this.#fallbacks = 0;
    return this.circuit();
  }

  /** An entry may only name a project that exists, as for agents (422 otherwise). */
  async #assertProjectExists(tx: Executor, projectId: string | null): Promise<void> {
    if (projectId === null || (await this.#projects.findById(tx, projectId)) !== null) return;
    const message = `Project ${projectId} does not exist`;
    throw new UnprocessableError(message, [{ path: '/project_id', message }]);
  }

  #awaitDelivery(id: number): Promise<boolean> {
    const mcp = this.#availableMcp();
    if (mcp === null) return Promise.resolve(false);
    return mcp.delivery.awaitDelivery(id, this.#options.storeTimeoutMs);
  }

  /** The MCP link while the server may be asked (MCP on, breaker CLOSED), else null. */
  #availableMcp(): McpLink | null {
    return this.#options.breaker.currentState().name === 'CLOSED' ? this.#options.mcp : null;
  }

  /**
   * The server's hits, kept in the cache, with the queued entries first; null when the server
   * fails. The queue is read before the server is asked, so a write delivered in between is in
   * one answer.
   */
  async #searchServer(mcp: McpLink, query: MemorySearchQuery): Promise<MemorySearchHit[] | null> {
    const queued = await this.#repository.search(this.#options.db, query, true);
    const answer = await this.#askServer(mcp, query);
    if (answer === null) return null;
    this.#options.cache.set(query, answer);
    return withQueued(queued, answer, query.limit);
  }

  /** The server's hits, or null when the call fails (the breaker may have opened meanwhile). */
  async #askServer(mcp: McpLink, query: MemorySearchQuery): Promise<MemorySearchHit[] | null> {
    const { breaker, searchTimeoutMs: timeoutMs } = this.#options;
    const options = { limit: query.limit, project_id: query.project_id };
    try {
      return await breaker.execute((signal) => mcp.server.search(query.q, options, signal), {
        timeoutMs,
      });
    } catch (error) {
      const level = error instanceof BreakerOpenError ? 'debug' : 'warn';
      this.#options.logger[level](
        { err: error },
        // Stryker disable next-line StringLiteral: log text, not a contract
        'memory search answered from local data: the MCP server did not',
      );
      return null;
    }
  }
}
