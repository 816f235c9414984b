/**
 * Memory storage backed by an MCP knowledge-graph server
 * (@modelcontextprotocol/server-memory by default).
 *
 * The service talks to {@link MemoryBackend}; the circuit breaker wraps every
 * call with a timeout and passes an AbortSignal. This module maps memory
 * records onto server-memory entities and keeps writes safe despite the
 * server's lack of locking. Connection handling lives in ./mcp-connection.ts.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  McpConnection,
  toolResultText,
  type ConnectionChangeListener,
  type McpConnectionSettings,
} from './mcp-connection.js';
import { McpMemoryProtocolError } from './mcp-errors.js';
import {
  EntityListSchema,
  MEMORY_ENTITY_TYPE,
  encodeRecord,
  entityToRecord,
  isServerSearchable,
  memoryEntityName,
  selectSearchHits,
  type GraphEntity,
  type MemoryRecord,
  type MemorySearchHit,
  type MemorySearchOptions,
} from './mcp-records.js';
import { serverMemoryConnection, type McpConnectionOptions } from './mcp-transport.js';
import { SerialWriteQueue } from './mcp-write-queue.js';

export type { MemoryRecord, MemorySearchHit, MemorySearchOptions } from './mcp-records.js';
export type { ConnectionChange, ConnectionChangeListener, MemoryLogger } from './mcp-connection.js';
export type {
  HttpConnectionOptions,
  McpConnectionOptions,
  McpTransportFactory,
  StdioConnectionOptions,
} from './mcp-transport.js';
export { serverMemoryConnection } from './mcp-transport.js';
export {
  McpMemoryMissingToolsError,
  McpMemoryProtocolError,
  McpMemoryToolError,
  McpMemoryUnavailableError,
} from './mcp-errors.js';

/** What the service needs from a memory backend. */
export interface MemoryBackend {
  /**
   * Stores entries in one round of calls (the last record of an entry wins). Idempotent per
   * project and key: storing an entry again replaces it, never duplicates, so a failed batch
   * can simply be sent again.
   */
  storeMany(records: readonly MemoryRecord[], signal?: AbortSignal): Promise<void>;
  search(
    query: string,
    options: MemorySearchOptions,
    signal?: AbortSignal,
  ): Promise<MemorySearchHit[]>;
  /** The entry stored as entity `name` ({@link memoryEntityName}), or null. */
  get(name: string, signal?: AbortSignal): Promise<MemoryRecord | null>;
  close(): Promise<void>;
}

/** server-memory tools this client calls; connecting fails if any is missing. */
export const REQUIRED_MEMORY_TOOLS = [
  'create_entities',
  'add_observations',
  'delete_entities',
  'delete_observations',
  'search_nodes',
  'open_nodes',
  'read_graph',
] as const;

export interface McpMemoryClientOptions extends Omit<
  McpConnectionSettings,
  'connection' | 'requiredTools'
> {
  /** Where the server runs; defaults to server-memory over stdio persisting to `memoryFilePath`. */
  connection?: McpConnectionOptions;
  /**
   * Graph file for the default server (e.g. `./data/mcp-memory.jsonl`); required without
   * `connection`.
   */
  memoryFilePath?: string;
}

/**
 * {@link MemoryBackend} on top of an MCP knowledge-graph server.
 *
 * Create it with {@link McpMemoryClient.connect}. It keeps (re)connecting by
 * itself, whether the server was unreachable from the start or a stdio server
 * crashed; subscribe with {@link McpMemoryClient.onConnectionChange} to replay
 * queued writes once the server is back.
 */
export class McpMemoryClient implements MemoryBackend {
  private readonly writes = new SerialWriteQueue();

  private constructor(private readonly connection: McpConnection) {}

  /**
   * Starts (or reaches) the server, verifies its tools, and returns the client: connected, or
   * disconnected and retrying when the server could not be reached (its calls fail fast).
   *
   * @throws McpMemoryMissingToolsError when the server lacks a tool this client calls.
   */
  static async connect(options: McpMemoryClientOptions): Promise<McpMemoryClient> {
    const { connection, memoryFilePath, ...settings } = options;
    const target = connection ?? defaultConnection(memoryFilePath);
    const mcpConnection = await McpConnection.open({
      ...settings,
      connection: target,
      requiredTools: REQUIRED_MEMORY_TOOLS,
    });
    return new McpMemoryClient(mcpConnection);
  }

  /** One entry; see {@link storeMany}. */
  store(record: MemoryRecord, signal?: AbortSignal): Promise<void> {
    return this.storeMany([record], signal);
  }

  /**
   * server-memory rewrites its whole file on every change, so a batch costs the same few calls
   * as one entry: open_nodes, then create_entities, add_observations and delete_observations,
   * each for every entry that needs it.
   */
  async storeMany(records: readonly MemoryRecord[], signal?: AbortSignal): Promise<void> {
    const byName = new Map(
      records.map((record) => [memoryEntityName(record), encodeRecord(record)]),
    );
    if (byName.size === 0) return;
    await this.writes.run(() => this.writeRecords(byName, signal), signal);
  }

  async search(
    query: string,
    options: MemorySearchOptions,
    signal?: AbortSignal,
  ): Promise<MemorySearchHit[]> {
    if (options.limit < 1) {
      return [];
    }
    const entities = isServerSearchable(query)
      ? await this.callForEntities('search_nodes', { query }, signal)
      : await this.callForEntities('read_graph', {}, signal);
    return selectSearchHits(entities, query, options);
  }

  async get(name: string, signal?: AbortSignal): Promise<MemoryRecord | null> {
    const entity = await this.openEntity(name, signal);
    return (entity && entityToRecord(entity)) ?? null;
  }

  /** Stops reconnecting and terminates the server process. */
  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * True while calls can be sent; false before the first connection, during a respawn and after
   * close.
   */
  isConnected(): boolean {
    return this.connection.isConnected();
  }

  /**
   * Notifies on connection loss and recovery (e.g. to trigger replay); returns the unsubscribe
   * function.
   */
  onConnectionChange(listener: ConnectionChangeListener): () => void {
    return this.connection.onConnectionChange(listener);
  }

  /**
   * One batch, run inside the write queue. Updates go add-then-delete so every entity always
   * holds a valid record, even if the server dies in between.
   */
  private async writeRecords(
    byName: Map<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const existing = await this.openEntities([...byName.keys()], signal);
    const foreign = [...existing.values()].filter(
      (entity) => entity.entityType !== MEMORY_ENTITY_TYPE,
    );
    if (foreign.length > 0) {
      await this.callTool(
        'delete_entities',
        { entityNames: foreign.map((entity) => entity.name) },
        signal,
      );
      foreign.forEach((entity) => existing.delete(entity.name));
    }
    const missing = [...byName].filter(([name]) => !existing.has(name));
    await this.createEntities(missing, signal);
    await this.replaceObservations([...existing.values()], byName, signal);
  }

  /**
   * create_entities silently skips existing names, so a short result means someone else created
   * one.
   */
  private async createEntities(
    entries: Array<[string, string]>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (entries.length === 0) return;
    const entities = entries.map(([name, encoded]) => ({
      name,
      entityType: MEMORY_ENTITY_TYPE,
      observations: [encoded],
    }));
    const created = new Set(
      (await this.callForEntities('create_entities', { entities }, signal)).map(
        (entity) => entity.name,
      ),
    );
    const skipped = entries.filter(([name]) => !created.has(name)).map(([name]) => `"${name}"`);
    if (skipped.length > 0) {
      throw new McpMemoryProtocolError(
        `create_entities skipped ${skipped.join(', ')}: ` +
          'it appeared concurrently (another writer on the same file?)',
      );
    }
  }

  private async replaceObservations(
    entities: GraphEntity[],
    byName: Map<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const observations = entities
      .filter((entity) => !entity.observations.includes(byName.get(entity.name)!))
      .map((entity) => ({ entityName: entity.name, contents: [byName.get(entity.name)!] }));
    if (observations.length > 0) await this.callTool('add_observations', { observations }, signal);
    const deletions = entities
      .map((entity) => ({
        entityName: entity.name,
        observations: entity.observations.filter((item) => item !== byName.get(entity.name)),
      }))
      .filter((deletion) => deletion.observations.length > 0);
    if (deletions.length > 0) await this.callTool('delete_observations', { deletions }, signal);
  }

  private async openEntities(
    names: string[],
    signal: AbortSignal | undefined,
  ): Promise<Map<string, GraphEntity>> {
    const entities = await this.callForEntities('open_nodes', { names }, signal);
    const wanted = new Set(names);
    return new Map(
      // Stryker disable next-line MethodExpression: server-memory answers only the names asked for
      entities.filter((entity) => wanted.has(entity.name)).map((entity) => [entity.name, entity]),
    );
  }

  private async openEntity(
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<GraphEntity | undefined> {
    return (await this.openEntities([name], signal)).get(name);
  }

  private async callForEntities(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<GraphEntity[]> {
    const result = await this.callTool(tool, args, signal);
    const parsed = EntityListSchema.safeParse(result.structuredContent ?? parseTextResult(result));
    if (!parsed.success) {
      throw new McpMemoryProtocolError(
        `"${tool}" returned no entity list: ${parsed.error.message}`,
      );
    }
    return parsed.data.entities;
  }

  private callTool(
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<CallToolResult> {
    return this.connection.callTool(tool, args, signal);
  }
}

function defaultConnection(memoryFilePath: string | undefined): McpConnectionOptions {
  if (!memoryFilePath) {
    throw new Error('McpMemoryClient.connect needs either `connection` or `memoryFilePath`');
  }
  return serverMemoryConnection(memoryFilePath);
}

/** Older servers put the JSON only in the text content; accept that too. */
function parseTextResult(result: CallToolResult): unknown {
  try {
    return JSON.parse(toolResultText(result)) as unknown;
  } /* Stryker disable next-line BlockStatement: an emptied catch returns undefined too */ catch {
    return undefined;
  }
}
