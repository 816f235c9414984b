/**
 * The memory breaker end to end, with real timers and the real server-memory process behind the
 * HTTP API: the server is SIGKILLed mid-run, the breaker opens, the fallbacks answer, writes are
 * queued, the client respawns the server, the worker probes and replays, and a second client on
 * the same graph file (no fallback involved) finds every write made during the outage.
 */
import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventSchema } from '../../src/domain/event.js';
import type { BreakerTransition } from '../../src/memory/circuit-breaker.js';
import {
  FAST_BREAKER,
  mcpServerPid,
  memoryApi,
  readGraphDirectly,
  useMemoryTestBed,
  waitFor,
} from '../support/memory.js';

const bed = useMemoryTestBed();
let app: FastifyInstance;
const api = memoryApi(() => app);
const transitions: string[] = [];
let projectId: string;

beforeAll(async () => {
  // Open for 1 s: long enough to look at every fallback before the first probe.
  app = await bed.app({ ...FAST_BREAKER, MEMORY_BREAKER_OPEN_MS: '1000' });
  app.memory.onCircuitTransition((transition: BreakerTransition) =>
    transitions.push(`${transition.from}>${transition.to}:${transition.reason}`),
  );
  projectId = (
    await app.inject({ method: 'POST', url: '/api/v1/projects', payload: { name: 'outage' } })
  ).json().id;
});

const storedIn = async (payload: object) => (await api.store(payload)).json().stored_in;
const search = async (query: string) => (await api.search(query)).json();

describe('the memory circuit breaker against a real server-memory', () => {
  it('round-trips through the server while it is up', async () => {
    expect(
      await storedIn({
        key: 'runbook',
        content: 'Restart the alpha cluster with care',
        tags: ['ops'],
      }),
    ).toBe('mcp');
    expect(await search('q=alpha')).toMatchObject({
      source: 'mcp',
      items: [{ key: 'runbook', tags: ['ops'] }],
    });
    expect((await api.ready()).json().checks.memory).toEqual({
      status: 'up',
      circuit: 'CLOSED',
      mcp: 'connected',
    });
    const logged = (await app.inject({ url: '/api/v1/events?topic=system&limit=1000' })).json()
      .items as Array<{ type: string; data: Record<string, string> }>;
    expect(logged.every((event) => event.type === 'MEMORY_CIRCUIT')).toBe(true);
    for (const event of logged) expect(eventSchema.safeParse(event).error).toBeUndefined();
    expect(logged.map(({ data }) => `${data.from}>${data.to}:${data.reason}`)).toEqual(transitions);
  });

  it('opens when the server dies; writes are queued and searches answer from the cache, then storage', async () => {
    process.kill(mcpServerPid(bed.graphPath)!, 'SIGKILL');
    await waitFor(
      () => app.memory.health()?.mcp,
      (mcp) => mcp === 'disconnected',
    );

    expect(await storedIn({ key: 'during-1', content: 'outage write, first version' })).toBe(
      'queued',
    );
    expect(
      await storedIn({ key: 'during-2', content: 'outage write two', project_id: projectId }),
    ).toBe('queued');
    expect(await storedIn({ key: 'during-1', content: 'outage write, second version' })).toBe(
      'queued',
    );
    expect(transitions).toEqual(['CLOSED>OPEN:failure-threshold']);

    expect(await search('q=alpha')).toMatchObject({
      source: 'fallback_cache',
      items: [{ key: 'runbook' }],
    });
    const fromStorage = await search('q=outage');
    expect(fromStorage.source).toBe('fallback_storage');
    expect(fromStorage.items.map((item: { key: string }) => item.key).sort()).toEqual([
      'during-1',
      'during-2',
    ]);
    expect((await api.get('during-1')).json().content).toBe('outage write, second version');

    const circuit = await api.circuit();
    expect(circuit).toMatchObject({
      state: 'OPEN',
      failure_count: 2,
      queued_writes: 3,
      fallback_count: 5,
    });
    expect(Date.parse(circuit.next_attempt_at) - Date.parse(circuit.opened_at)).toBe(1_000);
    const ready = await api.ready();
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.memory).toMatchObject({ status: 'degraded', circuit: 'OPEN' });
  });

  it('closes again without user traffic once the server is back, and replays the queue in order', async () => {
    await waitFor(
      () => api.circuit(),
      (circuit) => circuit.state === 'CLOSED' && circuit.queued_writes === 0,
      10_000,
    );
    expect(transitions.slice(0, 2)).toEqual([
      'CLOSED>OPEN:failure-threshold',
      'OPEN>HALF_OPEN:open-elapsed',
    ]);
    expect(transitions.at(-1)).toBe('HALF_OPEN>CLOSED:probe-succeeded');
    expect([app.memory.health()?.mcp, mcpServerPid(bed.graphPath)]).toEqual([
      'connected',
      expect.any(Number),
    ]);

    const onServer = await readGraphDirectly(bed.graphPath, (server) =>
      server.search('outage', { limit: 10 }),
    );
    expect(onServer.map((hit) => [hit.key, hit.content, hit.project_id]).sort()).toEqual([
      ['during-1', 'outage write, second version', null],
      ['during-2', 'outage write two', projectId],
    ]);
    expect(await search('q=outage')).toMatchObject({ source: 'mcp', items: [{}, {}] });
    expect((await api.ready()).json().checks.memory).toEqual({
      status: 'up',
      circuit: 'CLOSED',
      mcp: 'connected',
    });
  });

  it('forces CLOSED on a manual reset and zeroes the counters', async () => {
    const reset = (await api.reset()).json();
    expect(reset).toMatchObject({
      state: 'CLOSED',
      failure_count: 0,
      success_count: 0,
      rejected_count: 0,
      fallback_count: 0,
      queued_writes: 0,
    });
  });
});
