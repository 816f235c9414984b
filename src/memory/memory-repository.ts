import {
  type SQL,
  and,
  arrayContains,
  asc,
  count,
  desc,
  eq,
  inArray,
  isNull,
  notInArray,
  sql,
} from 'drizzle-orm';
import type { Page } from '../domain/common.js';
import type {
  MemoryEntry,
  MemoryListQuery,
  MemorySearchItem,
  MemorySearchQuery,
} from '../domain/memory.js';
import { type MemoryRecord, memoryEntityName } from './mcp-records.js';
import type { LockedReplayQueue, LockOutcome, QueuedWrite, ReplayQueue } from './replay-worker.js';
import type { DatabaseHandle, Executor } from '../store/database.js';
import { memoryEntries, memoryReplayQueue } from '../store/schema.js';

type EntryRow = typeof memoryEntries.$inferSelect;
type QueueRow = typeof memoryReplayQueue.$inferSelect;

/** Longest `last_error` kept on a queued write. */
const LAST_ERROR_MAX_LENGTH = 1_000;

function toEntry(row: EntryRow): MemoryEntry {
  return {
    key: row.key,
    content: row.content,
    tags: row.tags,
    project_id: row.projectId,
    agent_id: row.agentId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * Queue rows are written only by {@link MemoryRepository.enqueue}, so `record` has the record's
 * shape.
 */
function toQueuedWrite(row: QueueRow): QueuedWrite {
  return {
    id: row.id,
    key: row.key,
    record: row.record as unknown as MemoryRecord,
    attempts: row.attempts,
  };
}

function toColumns(record: MemoryRecord) {
  return {
    content: record.content,
    tags: record.tags,
    projectId: record.project_id,
    agentId: record.agent_id,
  };
}

/**
 * Rows matching `q` the way the MCP server does (a case-insensitive substring of the key, the
 * content or one tag) or by text search (every word of `q`, in any order, through the GIN index
 * on `search`). Both sides go through SQL `lower()`, so an exact-case match never depends on
 * the database locale.
 */
function matching(q: string): SQL {
  const needle = sql`lower(${q})`;
  return sql`(${memoryEntries.search} @@ plainto_tsquery('simple', ${q})
    or strpos(lower(${memoryEntries.key}), ${needle}) > 0
    or strpos(lower(${memoryEntries.content}), ${needle}) > 0
    or exists (select 1 from unnest(${memoryEntries.tags}) as tag
      where strpos(lower(tag), ${needle}) > 0))`;
}

/** The entry has a write in the replay queue, found by its entity name (see `memoryEntityName`). */
const hasQueuedWrite = sql`exists (select 1 from ${memoryReplayQueue}
  where ${memoryReplayQueue.key} = case
    when ${memoryEntries.projectId} is null then ${memoryEntries.key}
    else '@' || ${memoryEntries.projectId} || '/' || ${memoryEntries.key} end)`;

/** ORDER BY for a list, ending with project and key so pages never overlap or skip. */
function memoryOrder(sort: MemoryListQuery['sort']): SQL[] {
  const direction = sort.startsWith('-') ? desc : asc;
  // Stryker disable next-line Regex: a sort value has a '-' only in front
  const field = sort.replace(/^-/, '');
  const key = sql`${memoryEntries.key} collate "C"`;
  const column =
    field === 'key'
      ? key
      : field === 'created_at'
        ? memoryEntries.createdAt
        : memoryEntries.updatedAt;
  return [direction(column), direction(key), sql`${memoryEntries.projectId} nulls first`];
}

/** Text PostgreSQL can store, short enough for a log column. */
function storableMessage(message: string): string {
  return message.replaceAll('\u0000', '').toWellFormed().slice(0, LAST_ERROR_MAX_LENGTH);
}

/**
 * SQL access to `memory_entries` (the local copy of every entry written through the service) and
 * `memory_replay_queue` (writes the MCP server has not acknowledged yet). Every method runs on the
 * executor it is given, so the service chooses the transaction.
 */
export class MemoryRepository {
  /**
   * Inserts or replaces the entry of the record's project and key; `updated_at` always moves
   * forward, `created_at` stays. An entry of another project is never touched.
   */
  async save(executor: Executor, record: MemoryRecord): Promise<void> {
    await executor
      .insert(memoryEntries)
      .values({ key: record.key, ...toColumns(record) })
      .onConflictDoUpdate({
        target: [memoryEntries.projectId, memoryEntries.key],
        set: {
          ...toColumns(record),
          updatedAt: sql`greatest(now(), ${memoryEntries.updatedAt} + interval '1 millisecond')`,
        },
      });
  }

  /**
   * Appends the write to the replay queue under its entity name (the order that matters is per
   * entry); returns its id (the delivery order).
   */
  async enqueue(executor: Executor, record: MemoryRecord): Promise<number> {
    const [row] = await executor
      .insert(memoryReplayQueue)
      .values({ key: memoryEntityName(record), record: { ...record } })
      .returning({ id: memoryReplayQueue.id });
    return row!.id;
  }

  /** The entry `key` of the project (null: of no project), or null. */
  async findByKey(
    executor: Executor,
    key: string,
    projectId: string | null,
  ): Promise<MemoryEntry | null> {
    const project =
      projectId === null ? isNull(memoryEntries.projectId) : eq(memoryEntries.projectId, projectId);
    const [row] = await executor
      .select()
      .from(memoryEntries)
      .where(and(project, eq(memoryEntries.key, key)));
    return row === undefined ? null : toEntry(row);
  }

  /**
   * Best text-search rank first (substring-only matches rank 0), then the most recently updated.
   * With `onlyQueued`, only entries with a write still waiting for the MCP server.
   */
  async search(
    executor: Executor,
    query: MemorySearchQuery,
    onlyQueued = false,
  ): Promise<MemorySearchItem[]> {
    const tsQuery = sql`plainto_tsquery('simple', ${query.q})`;
    const score = sql<number>`ts_rank(${memoryEntries.search}, ${tsQuery})`;
    const project =
      query.project_id === undefined ? undefined : eq(memoryEntries.projectId, query.project_id);
    const rows = await executor
      .select({ entry: memoryEntries, score })
      .from(memoryEntries)
      .where(and(matching(query.q), project, onlyQueued ? hasQueuedWrite : undefined))
      .orderBy(desc(score), desc(memoryEntries.updatedAt), asc(memoryEntries.key))
      .limit(query.limit);
    return rows.map(({ entry, score: rank }) => {
      const { created_at: _created, updated_at: _updated, ...item } = toEntry(entry);
      return { ...item, score: Number(rank) };
    });
  }

  /** A page of entries matching the filters, among the projects of `scope` (null: every entry). */
  async list(
    executor: Executor,
    query: MemoryListQuery,
    scope: readonly string[] | null,
  ): Promise<Page<MemoryEntry>> {
    const where = and(
      scope === null ? undefined : inArray(memoryEntries.projectId, [...scope]),
      query.project_id === undefined ? undefined : eq(memoryEntries.projectId, query.project_id),
      query.agent_id === undefined ? undefined : eq(memoryEntries.agentId, query.agent_id),
      query.tag === undefined ? undefined : arrayContains(memoryEntries.tags, [query.tag]),
    );
    const rows = await executor
      .select()
      .from(memoryEntries)
      .where(where)
      .orderBy(...memoryOrder(query.sort))
      .limit(query.limit)
      .offset(query.offset);
    const [total] = await executor.select({ value: count() }).from(memoryEntries).where(where);
    return {
      items: rows.map(toEntry),
      total: total!.value,
      limit: query.limit,
      offset: query.offset,
    };
  }

  async queuedCount(executor: Executor): Promise<number> {
    const [row] = await executor.select({ value: count() }).from(memoryReplayQueue);
    return row!.value;
  }

  /** The oldest queued writes (at most `limit`) whose entity name is not in `skippedKeys`. */
  async oldest(
    executor: Executor,
    skippedKeys: readonly string[],
    limit: number,
  ): Promise<QueuedWrite[]> {
    const rows = await executor
      .select()
      .from(memoryReplayQueue)
      .where(
        // Stryker disable next-line ConditionalExpression: drizzle's notInArray([]) is `true`
        skippedKeys.length === 0 ? undefined : notInArray(memoryReplayQueue.key, [...skippedKeys]),
      )
      .orderBy(asc(memoryReplayQueue.id))
      .limit(limit);
    return rows.map(toQueuedWrite);
  }

  /** Removes writes the server acknowledged. */
  async acknowledge(executor: Executor, ids: readonly number[]): Promise<void> {
    await executor.delete(memoryReplayQueue).where(inArray(memoryReplayQueue.id, [...ids]));
  }

  /** Counts a failed delivery and keeps its reason, for operators reading the queue. */
  async recordFailure(executor: Executor, ids: readonly number[], message: string): Promise<void> {
    await executor
      .update(memoryReplayQueue)
      .set({
        attempts: sql`${memoryReplayQueue.attempts} + 1`,
        lastError: storableMessage(message),
      })
      .where(inArray(memoryReplayQueue.id, [...ids]));
  }

  /** Which of `ids` are still waiting in the queue. */
  async stillQueued(executor: Executor, ids: readonly number[]): Promise<Set<number>> {
    // Stryker disable next-line ConditionalExpression: inArray([]) is `false`; this saves a query
    if (ids.length === 0) return new Set();
    const rows = await executor
      .select({ id: memoryReplayQueue.id })
      .from(memoryReplayQueue)
      .where(inArray(memoryReplayQueue.id, [...ids]));
    return new Set(rows.map((row) => row.id));
  }
}

/**
 * Advisory lock id that serializes replay across instances (the migration lock is 7 311 042, events
 * 7 311 043).
 */
const REPLAY_LOCK_ID = 7_311_044;

/**
 * The replay queue on the service's database. On PostgreSQL each delivery runs inside one
 * transaction holding `pg_try_advisory_xact_lock`, from reading the head row to deleting it, so
 * instances sharing the database deliver one row at a time in strict id order; an instance that
 * finds the lock taken backs off. PGlite is embedded in one process (its directory cannot be
 * shared) and serializes every query behind an open transaction, so there the single replay
 * worker is the lock and no transaction is held across the call to the MCP server.
 */
export class DatabaseReplayQueue implements ReplayQueue {
  constructor(
    private readonly database: Pick<DatabaseHandle, 'db' | 'engine' | 'transaction'>,
    private readonly repository = new MemoryRepository(),
  ) {}

  async withLock<T>(work: (queue: LockedReplayQueue) => Promise<T>): Promise<LockOutcome<T>> {
    const { db, engine } = this.database;
    if (engine === 'pglite') return { acquired: true, value: await work(this.#lockedOn(db)) };
    return this.#inLockedTransaction(work);
  }

  stillQueued(ids: readonly number[]): Promise<Set<number>> {
    return this.repository.stillQueued(this.database.db, ids);
  }

  /**
   * Through the handle's runner, not drizzle's `transaction()`, which leaks a connection when BEGIN
   * fails.
   */
  #inLockedTransaction<T>(work: (queue: LockedReplayQueue) => Promise<T>): Promise<LockOutcome<T>> {
    return this.database.transaction(async (tx): Promise<LockOutcome<T>> => {
      const result = await tx.execute(
        sql`select pg_try_advisory_xact_lock(${REPLAY_LOCK_ID}) as locked`,
      );
      const [row] = (result as { rows: Array<{ locked: boolean }> }).rows;
      // Stryker disable next-line OptionalChaining: a select without FROM returns one row
      if (row?.locked !== true) return { acquired: false };
      return { acquired: true, value: await work(this.#lockedOn(tx)) };
    });
  }

  #lockedOn(executor: Executor): LockedReplayQueue {
    return {
      oldest: (skippedKeys, limit) => this.repository.oldest(executor, skippedKeys, limit),
      acknowledge: (ids) => this.repository.acknowledge(executor, ids),
      recordFailure: (ids, message) => this.repository.recordFailure(executor, ids, message),
    };
  }
}
