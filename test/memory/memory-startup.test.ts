/**
 * What happens around a start: a queue left by an earlier run is replayed; a server that cannot
 * be reached lets the service start degraded; a server lacking the required tools, or
 * contradictory settings, stop the start with a clear message.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { databasePlugin } from '../../src/plugins/database.js';
import { eventsPlugin } from '../../src/plugins/events.js';
import { memoryPlugin } from '../../src/plugins/memory.js';
import { servicesPlugin } from '../../src/plugins/services.js';
import { MemoryRepository } from '../../src/memory/memory-repository.js';
import { testConfig } from '../support/app.js';
import {
  FAKE_SERVER,
  FAST_BREAKER,
  HANGING_SERVER,
  memoryApi,
  nodeCommand,
  readGraphDirectly,
  useMemoryTestBed,
  waitFor,
} from '../support/memory.js';

const bed = useMemoryTestBed();
let app: FastifyInstance;
const api = memoryApi(() => app);

afterEach(() => bed.closeApps());

/**
 * Only the plugins memory needs, so that a failed start leaves nothing else running; the caller
 * closes it.
 */
async function startMemoryOnly(
  settings: Record<string, string>,
): Promise<{ instance: FastifyInstance; started: Promise<unknown> }> {
  const instance = Fastify({ logger: false });
  const config = testConfig(settings);
  await instance.register(databasePlugin, { handle: bed.database });
  await instance.register(eventsPlugin, { config });
  await instance.register(servicesPlugin);
  void instance.register(memoryPlugin, { config });
  return { instance, started: Promise.resolve(instance.ready()) };
}

describe('the replay queue across a restart', () => {
  it('keeps writes nobody acknowledged, and a new app on the same database delivers them on start', async () => {
    const stalling = nodeCommand(HANGING_SERVER, { STALL_ALL_TOOL_CALLS: '1' });
    const common = { ...FAST_BREAKER, MEMORY_STORE_TIMEOUT_MS: '200' };
    app = await bed.app({ ...common, MEMORY_MCP_COMMAND: stalling });
    for (const [key, content] of [
      ['restart-1', 'first v1'],
      ['restart-2', 'second'],
      ['restart-1', 'first v2'],
    ]) {
      expect((await api.store({ key, content })).json().stored_in).toBe('queued');
    }
    await bed.closeApps();
    expect(await new MemoryRepository().queuedCount(bed.database.db)).toBe(3);

    app = await bed.app(common);
    await waitFor(
      () => api.circuit(),
      (circuit) => circuit.queued_writes === 0,
    );
    const delivered = await readGraphDirectly(bed.graphPath, (server) =>
      Promise.all([server.get('restart-1'), server.get('restart-2')]),
    );
    expect(delivered.map((entry) => entry?.content)).toEqual(['first v2', 'second']);
  });
});

describe('starting without a usable server', () => {
  it('starts degraded when the server cannot be spawned: writes are queued, reads and readiness still work', async () => {
    app = await bed.app({
      MEMORY_MCP_COMMAND: '/nonexistent/mcp-memory-server',
      ...FAST_BREAKER,
    });
    const transitions: string[] = [];
    app.memory.onCircuitTransition((transition) =>
      transitions.push(`${transition.from}>${transition.to}`),
    );
    const ready = await api.ready();
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.memory).toEqual({
      status: 'degraded',
      circuit: 'CLOSED',
      mcp: 'disconnected',
    });

    expect((await api.store({ key: 'offline-1', content: 'kept locally' })).json().stored_in).toBe(
      'queued',
    );
    expect(
      (await api.store({ key: 'offline-2', content: 'kept locally too' })).json().stored_in,
    ).toBe('queued');
    expect(transitions).toEqual(['CLOSED>OPEN']);
    expect((await api.search('q=kept')).json()).toMatchObject({
      source: 'fallback_storage',
      items: [{}, {}],
    });
    expect((await api.get('offline-1')).json().content).toBe('kept locally');
  });

  it('refuses to start when the server lacks required tools, naming them', async () => {
    const { instance, started } = await startMemoryOnly({
      MEMORY_MCP: 'on',
      MEMORY_MCP_COMMAND: nodeCommand(FAKE_SERVER, { FAKE_MCP_MODE: 'some-tools' }),
    });
    await expect(started).rejects.toThrow(
      'MCP memory server is missing required tools: create_entities, add_observations, delete_entities, delete_observations, read_graph (server offers: search_nodes, open_nodes)',
    );
    await instance.close();
  });

  it('refuses contradictory settings', async () => {
    const { instance, started } = await startMemoryOnly({
      MEMORY_MCP: 'on',
      MEMORY_MCP_URL: 'http://127.0.0.1:9/mcp',
      MEMORY_MCP_COMMAND: 'node x.js',
    });
    await expect(started).rejects.toThrow(
      'Set either MEMORY_MCP_URL or MEMORY_MCP_COMMAND, not both',
    );
    await instance.close();
  });
});
