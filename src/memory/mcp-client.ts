/**
 * Memory storage backed by an MCP knowledge-graph server
 * (@modelcontextprotocol/server-memory by default).
 *
 * The service talks to {@link MemoryServer}; the circuit breaker wraps every
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
} from './mcp-records.js';
import { serverMemoryConnection, type McpConnectionOptions } from './mcp-transport.js';
import { SerialWriteQueue } from './mcp-write-queue.js';

export type { MemoryRecord, MemorySearchHit } from './mcp-records.js';
export type { ConnectionChange, ConnectionChangeListener, MemoryLogger, ReconnectPolicy } from './mcp-connection.js';
export type { HttpConnectionOptions, McpConnectionOptions, McpTransportFactory, StdioConnectionOptions } from './mcp-transport.js';
export { serverMemoryConnection } from './mcp-transport.js';
export {
  McpMemoryMissingToolsError,
  McpMemoryProtocolError,
  McpMemoryToolError,
  McpMemoryUnavailableError,
} from './mcp-errors.js';

/** Search options: `project_id` undefined = all projects, null = only entries without a project. */
export interface MemorySearchOptions {
  limit: number;
  project_id?: string | null;
}

/** What the service needs from a memory backend. */
export interface MemoryServer {
  /** Idempotent per project and key: storing an entry again replaces it, never duplicates. */
  store(record: MemoryRecord, signal?: AbortSignal): Promise<void>;
  search(query: string, options: MemorySearchOptions, signal?: AbortSignal): Promise<MemorySearchHit[]>;
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

export interface McpMemoryServerOptions extends Omit<McpConnectionSettings, 'connection' | 'requiredTools'> {
  /** Where the server runs; defaults to server-memory over stdio persisting to `memoryFilePath`. */
  connection?: McpConnectionOptions;
  /** Graph file for the default server (e.g. `./data/mcp-memory.jsonl`); required without `connection`. */
  memoryFilePath?: string;
}

/**
 * {@link MemoryServer} on top of an MCP knowledge-graph server.
 *
 * Create it with {@link McpMemoryServer.connect}. It respawns a crashed stdio
 * server by itself; subscribe with {@link McpMemoryServer.onConnectionChange}
 * to replay queued writes once the server is back.
 */
export class McpMemoryServer implements MemoryServer {
  private readonly writes = new SerialWriteQueue();

  private constructor(private readonly connection: McpConnection) {}

  /** Starts (or reaches) the server, verifies its tools, and returns a ready client. */
  static async connect(options: McpMemoryServerOptions): Promise<McpMemoryServer> {
    const { connection, memoryFilePath, ...settings } = options;
    const target = connection ?? defaultConnection(memoryFilePath);
    const mcpConnection = await McpConnection.open({ ...settings, connection: target, requiredTools: REQUIRED_MEMORY_TOOLS });
    return new McpMemoryServer(mcpConnection);
  }

  async store(record: MemoryRecord, signal?: AbortSignal): Promise<void> {
    const encoded = encodeRecord(record);
    const name = memoryEntityName(record);
    await this.writes.run(() => this.writeRecord(name, encoded, signal), signal);
  }

  async search(query: string, options: MemorySearchOptions, signal?: AbortSignal): Promise<MemorySearchHit[]> {
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

  /** Pid of the stdio server process (undefined while respawning, after close, or over HTTP). */
  serverPid(): number | undefined {
    return this.connection.serverPid();
  }

  /** True while calls can be sent; false during a respawn and after close. */
  isConnected(): boolean {
    return this.connection.isConnected();
  }

  /** Notifies on connection loss and recovery (e.g. to trigger replay); returns the unsubscribe function. */
  onConnectionChange(listener: ConnectionChangeListener): () => void {
    return this.connection.onConnectionChange(listener);
  }

  /**
   * One store, run inside the write queue. Updates go add-then-delete so the
   * entity always holds a valid record, even if the server dies in between.
   */
  private async writeRecord(name: string, encoded: string, signal: AbortSignal | undefined): Promise<void> {
    const existing = await this.openEntity(name, signal);
    if (!existing) {
      await this.createEntity(name, encoded, signal);
    } else if (existing.entityType !== MEMORY_ENTITY_TYPE) {
      await this.callTool('delete_entities', { entityNames: [name] }, signal);
      await this.createEntity(name, encoded, signal);
    } else {
      await this.replaceObservations(existing, encoded, signal);
    }
  }

  /** create_entities silently skips existing names, so an empty result means someone else created it. */
  private async createEntity(name: string, encoded: string, signal: AbortSignal | undefined): Promise<void> {
    const entity = { name, entityType: MEMORY_ENTITY_TYPE, observations: [encoded] };
    const created = await this.callForEntities('create_entities', { entities: [entity] }, signal);
    if (created.length === 0) {
      throw new McpMemoryProtocolError(`create_entities skipped "${name}": it appeared concurrently (another writer on the same file?)`);
    }
  }

  private async replaceObservations(entity: GraphEntity, encoded: string, signal: AbortSignal | undefined): Promise<void> {
    if (!entity.observations.includes(encoded)) {
      const observations = [{ entityName: entity.name, contents: [encoded] }];
      await this.callTool('add_observations', { observations }, signal);
    }
    const stale = entity.observations.filter((observation) => observation !== encoded);
    if (stale.length > 0) {
      const deletions = [{ entityName: entity.name, observations: stale }];
      await this.callTool('delete_observations', { deletions }, signal);
    }
  }

  private async openEntity(name: string, signal: AbortSignal | undefined): Promise<GraphEntity | undefined> {
    const entities = await this.callForEntities('open_nodes', { names: [name] }, signal);
    return entities.find((entity) => entity.name === name);
  }

  private async callForEntities(tool: string, args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<GraphEntity[]> {
    const result = await this.callTool(tool, args, signal);
    const parsed = EntityListSchema.safeParse(result.structuredContent ?? parseTextResult(result));
    if (!parsed.success) {
      throw new McpMemoryProtocolError(`"${tool}" returned no entity list: ${parsed.error.message}`);
    }
    return parsed.data.entities;
  }

  private callTool(tool: string, args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<CallToolResult> {
    return this.connection.callTool(tool, args, signal);
  }
}

function defaultConnection(memoryFilePath: string | undefined): McpConnectionOptions {
  if (!memoryFilePath) {
    throw new Error('McpMemoryServer.connect needs either `connection` or `memoryFilePath`');
  }
  return serverMemoryConnection(memoryFilePath);
}

/** Older servers put the JSON only in the text content; accept that too. */
function parseTextResult(result: CallToolResult): unknown {
  try {
    return JSON.parse(toolResultText(result)) as unknown;
  } catch {
    return undefined;
  }
}
