/**
 * The in-process fallback for memory searches: the last answers the MCP server gave, kept in a
 * least-recently-used cache bounded by entry count and by bytes, and dropped as soon as a write
 * through this instance could make them wrong.
 */
import type { MemorySearchQuery } from '../domain/memory.js';
import {
  type MemoryRecord,
  type MemorySearchHit,
  recordMatchesProject,
  recordMatchesQuery,
  sameEntry,
} from './mcp-records.js';

/** Bounds of an {@link LruCache}; a bound of 0 disables the cache. */
export interface LruCacheOptions<Value> {
  /** Most entries kept; a non-negative integer. */
  maxEntries: number;
  /** Most bytes kept, as measured by `sizeOf`; a non-negative integer. */
  maxBytes: number;
  /** Size of one entry in bytes, key included. */
  sizeOf: (value: Value, key: string) => number;
}

interface Slot<Value> {
  value: Value;
  bytes: number;
}

/**
 * A least-recently-used cache bounded by both entry count and total size. A `Map` keeps
 * insertion order, so re-inserting on every read makes its first key the least recently used.
 */
export class LruCache<Value> {
  readonly #slots = new Map<string, Slot<Value>>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: (value: Value, key: string) => number;
  #bytes = 0;

  /** The bounds come from MEMORY_CACHE_MAX_ENTRIES / _BYTES, validated once in config.ts. */
  constructor(options: LruCacheOptions<Value>) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
    this.#sizeOf = options.sizeOf;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#slots.size;
  }

  /** Total size of the entries held, in bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The value under `key`, which becomes the most recently used; undefined when absent. */
  get(key: string): Value | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return slot.value;
  }

  /**
   * Stores `value` as the most recently used entry, evicting the least recently used ones until
   * both bounds hold. A value larger than `maxBytes` on its own is not stored (and replaces
   * nothing: the old value under `key` is dropped too, since it is stale); returns whether it was
   * stored.
   */
  set(key: string, value: Value): boolean {
    this.delete(key);
    const bytes = this.#sizeOf(value, key);
    if (this.#maxEntries === 0 || bytes > this.#maxBytes) return false;
    this.#slots.set(key, { value, bytes });
    this.#bytes += bytes;
    this.#evictBeyondBounds();
    return true;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
    return true;
  }

  /** Removes every entry `predicate` accepts; returns how many went. */
  deleteWhere(predicate: (value: Value, key: string) => boolean): number {
    const doomed = [...this.#slots].filter(([key, slot]) => predicate(slot.value, key));
    for (const [key] of doomed) this.delete(key);
    return doomed.length;
  }

  #evictBeyondBounds(): void {
    while (this.#slots.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#slots.keys().next().value as string;
      this.delete(oldest);
    }
  }
}

interface CachedAnswer {
  query: MemorySearchQuery;
  hits: MemorySearchHit[];
}

/**
 * Bytes of the key and of the hits as UTF-8 JSON: close to what the cache really holds, and cheap
 * to compute.
 */
function answerBytes(answer: CachedAnswer, key: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(answer.hits));
}

/**
 * The answers the MCP server gave to recent searches, served while the breaker keeps the server
 * away. An answer is dropped by {@link SearchCache.invalidate} when a write through this instance
 * could change it, so a cached answer never misses or misstates a local write.
 */
export class SearchCache {
  readonly #answers: LruCache<CachedAnswer>;

  /** Bounds as for {@link LruCache}: non-negative integers, as config.ts checks them. */
  constructor(bounds: { maxEntries: number; maxBytes: number }) {
    this.#answers = new LruCache<CachedAnswer>({ ...bounds, sizeOf: answerBytes });
  }

  /** Number of answers held. */
  get size(): number {
    return this.#answers.size;
  }

  /** The hits the server gave for this search, or undefined when none is cached. */
  get(query: MemorySearchQuery): MemorySearchHit[] | undefined {
    return this.#answers.get(cacheKey(query))?.hits;
  }

  /** Keeps the server's answer to `query`. */
  set(query: MemorySearchQuery, hits: MemorySearchHit[]): void {
    this.#answers.set(cacheKey(query), { query: { ...query }, hits });
  }

  /**
   * Drops every answer `record` could change: those it would now appear in, and those that list
   * its key with older content. Returns how many went.
   */
  invalidate(record: MemoryRecord): number {
    return this.#answers.deleteWhere(
      ({ query, hits }) => affects(record, query) || hits.some((hit) => sameEntry(hit, record)),
    );
  }
}

function cacheKey(query: MemorySearchQuery): string {
  return JSON.stringify([query.q.toLowerCase(), query.project_id ?? null, query.limit]);
}

function affects(record: MemoryRecord, query: MemorySearchQuery): boolean {
  return recordMatchesQuery(record, query.q) && recordMatchesProject(record, query.project_id);
}
