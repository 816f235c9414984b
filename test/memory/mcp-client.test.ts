/**
 * McpMemoryClient against real MCP server processes: the official
 * @modelcontextprotocol/server-memory, a stalling proxy in front of it
 * (test/support/hanging-mcp-server.mjs) and deliberately incomplete/failing
 * SDK servers (test/support/fake-mcp-server.mjs).
 *
 * Missing-tools and isError cases use a real fake server rather than a mocked
 * listTools result: that way the check runs through the same initialize +
 * tools/list handshake (including the "no tools capability" case, where
 * tools/list answers "Method not found") that a misconfigured deployment hits.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { describe, expect } from 'vitest';
import { serverMemoryConnection } from '../../src/memory/mcp-client.js';
import { isConnectionLoss, linkAbortSignal } from '../../src/memory/mcp-connection.js';
import {
  decodeObservation,
  encodeRecord,
  entityToRecord,
  isServerSearchable,
} from '../../src/memory/mcp-records.js';
import {
  buildStdioEnvironment,
  describeConnection,
  resolveServerMemoryBin,
} from '../../src/memory/mcp-transport.js';
import { sharedSchemaValidators } from '../../src/memory/mcp-schema-validators.js';
import { SerialWriteQueue } from '../../src/memory/mcp-write-queue.js';
import {
  HANGING_SERVER,
  it,
  record,
  recordingLogger,
  stdio,
  waitUntil,
} from '../support/mcp-client.js';

describe.concurrent('McpMemoryClient with the real server-memory', () => {
  it('round-trips store, get and search (with a real pino logger)', async ({ mcp }) => {
    const memory = await mcp.connect({ logger: pino({ level: 'silent' }) });
    const alpha = record('alpha', {
      content: 'Deploy uses blue/green',
      tags: ['deploy', 'ops'],
      agent_id: 'agent-1',
    });
    const beta = record('beta', { content: 'Tests run in CI', tags: ['ci'], project_id: 'p1' });
    await memory.store(alpha);
    await memory.store(beta);

    expect(await memory.get('alpha')).toEqual(alpha);
    expect(await memory.get('@p1/beta')).toEqual(beta);
    expect(await memory.get('missing')).toBeNull();
    expect(await memory.search('BLUE/GREEN', { limit: 10 })).toEqual([alpha]);
    expect(await memory.search('ops', { limit: 10 })).toEqual([alpha]);
    expect(await memory.search('bet', { limit: 10 })).toEqual([beta]);
  });

  it('stores idempotently by key: one entity, one observation, latest content', async ({ mcp }) => {
    const memoryFilePath = await mcp.memoryFile();
    const memory = await mcp.connect({ memoryFilePath });
    await memory.store(record('k', { content: 'first', tags: ['a'] }));
    const latest = record('k', { content: 'second', tags: ['b'] });
    await memory.store(latest);
    await memory.store(latest);

    expect(await memory.get('k')).toEqual(latest);
    expect(await memory.search('k', { limit: 10 })).toEqual([latest]);
    const lines = (await readFile(memoryFilePath, 'utf8')).split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      type: 'entity',
      name: 'k',
      entityType: 'memory',
      observations: [encodeRecord(latest)],
    });
  });

  it('filters search by project_id (undefined = all, null = unscoped only)', async ({ mcp }) => {
    const memory = await mcp.connect();
    const inP1 = record('note-1', { project_id: 'p1' });
    const inP2 = record('note-2', { project_id: 'p2' });
    const global = record('note-3');
    for (const entry of [inP1, inP2, global]) {
      await memory.store(entry);
    }

    expect(await memory.search('note', { limit: 10, project_id: 'p1' })).toEqual([inP1]);
    expect(await memory.search('note', { limit: 10, project_id: null })).toEqual([global]);
    expect(await memory.search('note', { limit: 10 })).toEqual([global, inP2, inP1]);
    expect(await memory.search('note', { limit: 0 })).toEqual([]);
  });

  it('caps results at limit, most recently created first', async ({ mcp }) => {
    const memory = await mcp.connect();
    for (const key of ['m1', 'm2', 'm3', 'm4']) {
      await memory.store(record(key));
    }
    const hits = await memory.search('content of', { limit: 2 });
    expect(hits.map((hit) => hit.key)).toEqual(['m4', 'm3']);
    expect(hits[0]).not.toHaveProperty('score');
  });

  it('does not let the JSON encoding leak into search results', async ({ mcp }) => {
    const memory = await mcp.connect();
    const quoted = record('quote', { content: 'she said "ship it" \\o/' });
    await memory.store(quoted);
    await memory.store(record('plain', { content: 'nothing special' }));

    // server-memory alone would return every entry: these strings are in each JSON observation.
    for (const query of ['content', 'tags', 'null', 'project_id', 'memory', '"v":1']) {
      expect(await memory.search(query, { limit: 10 })).toEqual([]);
    }
    // Escaped characters are answered from read_graph, which server-memory's search would miss.
    expect(await memory.search('"ship it" \\o/', { limit: 10 })).toEqual([quoted]);
  });

  it('serialises concurrent stores (server-memory loses concurrent writes)', async ({ mcp }) => {
    const memory = await mcp.connect();
    const keys = Array.from({ length: 25 }, (_, index) => `parallel-${index}`);
    await Promise.all(keys.map((key) => memory.store(record(key))));
    await Promise.all([
      memory.store(record('parallel-0', { content: 'v2' })),
      memory.store(record('parallel-0', { content: 'v3' })),
    ]);

    expect(await memory.search('parallel-', { limit: 100 })).toHaveLength(25);
    expect((await memory.get('parallel-0'))?.content).toBe('v3');
  });

  it('creates the memory file directory and forwards server stderr to the logger', async ({
    mcp,
  }) => {
    const nested = path.join(path.dirname(await mcp.memoryFile()), 'a', 'b', 'memory.jsonl');
    const logger = recordingLogger();
    const memory = await mcp.connect({ memoryFilePath: nested, logger });
    await memory.store(record('deep'));

    expect(await readFile(nested, 'utf8')).toContain('"deep"');
    await waitUntil(() =>
      logger.messages.some((message) =>
        message.includes('Knowledge Graph MCP Server running on stdio'),
      ),
    );
  });

  it("compiles the tools' output schemas on the first connect only, not again on the next", async ({
    mcp,
  }) => {
    await mcp.connect();
    const compiled = sharedSchemaValidators.size;
    expect(compiled).toBeGreaterThan(0);
    await mcp.connect();
    expect(sharedSchemaValidators.size).toBe(compiled);
  });

  it('replaces a foreign entity that uses the same name', async ({ mcp }) => {
    const memoryFilePath = await mcp.memoryFile();
    const memory = await mcp.connect({ memoryFilePath });
    const raw = await mcp.rawConnection(memoryFilePath);
    await raw.callTool('create_entities', {
      entities: [{ name: 'shared', entityType: 'person', observations: ['likes tea'] }],
    });
    expect(await memory.get('shared')).toBeNull();

    await memory.store(record('shared'));
    expect(await memory.get('shared')).toEqual(record('shared'));
  });

  it('sends only the calls a write needs: none for nothing to store or a limit of 0', async ({
    mcp,
  }) => {
    const logger = recordingLogger();
    const memory = await mcp.connect({
      connection: stdio(HANGING_SERVER, {
        MEMORY_FILE_PATH: await mcp.memoryFile(),
        REPORT_TOOL_CALLS: '1',
      }),
      logger,
    });
    const prefix = 'mcp-memory server: hanging-mcp-server: calling ';
    const calls = () =>
      logger.messages
        .filter((line) => line.startsWith(prefix))
        .map((line) => line.slice(prefix.length));

    await memory.store(record('k')); // new: read, create
    await memory.store(record('k')); // unchanged: read only
    await memory.storeMany([]);
    expect(await memory.search('k', { limit: 0 })).toEqual([]);
    await memory.store(record('k', { content: 'changed' })); // read, add, delete the old one
    await memory.get('k');
    const expected = [
      ...['open_nodes', 'create_entities'],
      'open_nodes',
      ...['open_nodes', 'add_observations', 'delete_observations'],
      'open_nodes',
    ];
    await waitUntil(() => calls().length >= expected.length);
    expect(calls()).toEqual(expected);
  });

  it('updates its own entity in place: a relation another writer made to it stays', async ({
    mcp,
  }) => {
    const memoryFilePath = await mcp.memoryFile();
    const memory = await mcp.connect({ memoryFilePath });
    const raw = await mcp.rawConnection(memoryFilePath);
    await memory.store(record('k', { content: 'first' }));
    await raw.callTool('create_entities', {
      entities: [{ name: 'alice', entityType: 'person', observations: [] }],
    });
    await raw.callTool('create_relations', {
      relations: [{ from: 'alice', to: 'k', relationType: 'wrote' }],
    });

    await memory.store(record('k', { content: 'second' }));
    expect(await memory.get('k')).toEqual(record('k', { content: 'second' }));
    const lines = (await readFile(memoryFilePath, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toContainEqual({
      type: 'relation',
      from: 'alice',
      to: 'k',
      relationType: 'wrote',
    });
  });

  it('stores a batch of new, changed, repeated and foreign-named entries in one round', async ({
    mcp,
  }) => {
    const memoryFilePath = await mcp.memoryFile();
    const memory = await mcp.connect({ memoryFilePath });
    const raw = await mcp.rawConnection(memoryFilePath);
    await raw.callTool('create_entities', {
      entities: [{ name: 'foreign', entityType: 'person', observations: ['x'] }],
    });
    await memory.store(record('changed', { content: 'before' }));

    const batch = [
      record('new', { content: 'n1' }),
      record('changed', { content: 'after' }),
      record('foreign', { content: 'mine' }),
      record('new', { content: 'n2' }),
      record('same', { project_id: 'p1' }),
      record('same', { project_id: 'p2' }),
    ];
    await memory.storeMany(batch);
    await memory.storeMany(batch);

    const stored = await memory.search('', { limit: 100 });
    const summary = stored
      .map((entry) => `${entry.project_id ?? '-'}/${entry.key}=${entry.content}`)
      .sort();
    expect(summary).toEqual([
      '-/changed=after',
      '-/foreign=mine',
      '-/new=n2',
      'p1/same=content of same',
      'p2/same=content of same',
    ]);
    const lines = (await readFile(memoryFilePath, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).observations.length)).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('building blocks', () => {
  it('decodes only well-formed records and prefers the last one', () => {
    const older = encodeRecord(record('k', { content: 'old' }));
    const newer = encodeRecord(record('k', { content: 'new' }));
    expect(
      entityToRecord({
        name: 'k',
        entityType: 'memory',
        observations: [older, 'free text', newer, '{"v":2}'],
      })?.content,
    ).toBe('new');
    expect(
      entityToRecord({ name: 'k', entityType: 'memory', observations: ['free text'] }),
    ).toBeUndefined();
    expect(
      entityToRecord({ name: 'k', entityType: 'person', observations: [newer] }),
    ).toBeUndefined();
    expect(decodeObservation('k', '{"v":1,"content":1}')).toBeUndefined();
    expect(isServerSearchable('plain text')).toBe(true);
    expect(isServerSearchable('a "quote"')).toBe(false);
  });

  it('builds the stdio environment and describes connections', () => {
    const env = buildStdioEnvironment({ MEMORY_FILE_PATH: 'data/mcp-memory.jsonl' });
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.MEMORY_FILE_PATH).toBe(path.resolve('data/mcp-memory.jsonl'));
    expect(resolveServerMemoryBin()).toMatch(/server-memory[/\\]dist[/\\]index\.js$/);
    expect(describeConnection(serverMemoryConnection('x.jsonl'))).toBe(
      `stdio ${path.basename(process.execPath)} index.js`,
    );
    expect(describeConnection({ kind: 'http', url: 'http://h/mcp' })).toBe('http http://h/mcp');
  });

  it('classifies connection-loss errors', () => {
    expect(isConnectionLoss(new Error('Not connected'))).toBe(true);
    expect(isConnectionLoss(new TypeError('fetch failed'))).toBe(true);
    expect(isConnectionLoss(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'))).toBe(
      true,
    );
    expect(isConnectionLoss(new McpError(ErrorCode.RequestTimeout, 'Request timed out'))).toBe(
      false,
    );
    expect(isConnectionLoss(new StreamableHTTPError(404, 'Session not found'))).toBe(true);
    expect(isConnectionLoss(new StreamableHTTPError(500, 'Internal error'))).toBe(false);
    expect(isConnectionLoss(new Error('boom'))).toBe(false);
    expect(isConnectionLoss('boom')).toBe(false);
  });

  it('links abort signals without leaving listeners behind', () => {
    const parent = new AbortController();
    const link = linkAbortSignal(parent.signal);
    link.dispose();
    parent.abort('late');
    expect(link.signal?.aborted).toBe(false);
    const early = linkAbortSignal(AbortSignal.abort('early'));
    expect(early.signal?.reason).toBe('early');
    expect(linkAbortSignal(undefined).signal).toBeUndefined();
  });

  it('runs queued writes in order', async () => {
    const queue = new SerialWriteQueue();
    const order: number[] = [];
    const slow = queue.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      order.push(1);
    });
    const fast = queue.run(async () => {
      order.push(2);
    });
    await Promise.all([slow, fast]);
    expect(order).toEqual([1, 2]);
  });
});
