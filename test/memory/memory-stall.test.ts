/**
 * A server that accepts calls but never answers them (test/support/hanging-mcp-server.mjs, a
 * stalling proxy in front of the real server-memory): the per-call timeouts must fail the
 * calls, count them, open the breaker and leave the API answering from its fallbacks.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAST_BREAKER,
  HANGING_SERVER,
  memoryApi,
  nodeCommand,
  useMemoryTestBed,
  waitFor,
} from '../support/memory.js';
import { fulfillment, timed } from '../support/timed.js';

const bed = useMemoryTestBed();
let app: FastifyInstance;
const api = memoryApi(() => app);
/**
 * A call to the stalled server takes this long and no less; an answer that comes without
 * calling it comes well within it, however loaded the machine.
 */
const TIMEOUT_MS = 400;
/**
 * For calls that must succeed on a loaded machine (the suite runs many files at once): a store
 * is several calls to server-memory, which rewrites its file on each change.
 */
const ANSWERED_SEARCH_TIMEOUT_MS = 2_000;
const ANSWERED_STORE_TIMEOUT_MS = 5_000;

afterEach(() => bed.closeApps());

function stallingApp(
  environment: Record<string, string>,
  timeoutMs = TIMEOUT_MS,
  settings: Record<string, string> = {},
): Promise<FastifyInstance> {
  return bed.app({
    MEMORY_MCP_COMMAND: nodeCommand(HANGING_SERVER, environment),
    ...FAST_BREAKER,
    MEMORY_STORE_TIMEOUT_MS: String(timeoutMs),
    MEMORY_SEARCH_TIMEOUT_MS: String(timeoutMs),
    ...settings,
  });
}

describe('a stalling MCP server', () => {
  it('times out every call: writes are queued after the store timeout, the breaker opens, and then answers come at once', async () => {
    // Open long enough to still be OPEN at the last check on a loaded machine.
    app = await stallingApp({ STALL_ALL_TOOL_CALLS: '1' }, TIMEOUT_MS, {
      MEMORY_BREAKER_OPEN_MS: '10000',
    });
    const first = await timed(async () =>
      (await api.store({ key: 'stalled-1', content: 'never acknowledged' })).json(),
    );
    expect(fulfillment(first)).toEqual({ key: 'stalled-1', project_id: null, stored_in: 'queued' });
    expect(first.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(first.ms).toBeLessThan(TIMEOUT_MS + 500);
    expect(
      (await api.store({ key: 'stalled-2', content: 'never acknowledged either' })).json()
        .stored_in,
    ).toBe('queued');

    // The second write waited for the first row's delivery, which times out a moment after the
    // write's own wait.
    const circuit = await waitFor(
      () => api.circuit(),
      (current) => current.state === 'OPEN',
      TIMEOUT_MS + 500,
    );
    expect(circuit).toMatchObject({ failure_count: 2, success_count: 0, queued_writes: 2 });
    const fast = await timed(async () => (await api.search('q=acknowledged')).json());
    expect(fulfillment(fast)).toMatchObject({ source: 'fallback_storage', items: [{}, {}] });
    expect(fast.ms).toBeLessThan(TIMEOUT_MS);
    const quick = await timed(
      async () => (await api.store({ key: 'stalled-3', content: 'x' })).json().stored_in,
    );
    expect(fulfillment(quick)).toBe('queued');
    expect(quick.ms).toBeLessThan(TIMEOUT_MS);

    const ready = await api.ready();
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.memory).toEqual({
      status: 'degraded',
      circuit: 'OPEN',
      mcp: 'connected',
    });
  });

  it('times out one stalled search, answers it from storage, and keeps serving the calls that do answer', async () => {
    app = await stallingApp({}, ANSWERED_SEARCH_TIMEOUT_MS, {
      MEMORY_STORE_TIMEOUT_MS: String(ANSWERED_STORE_TIMEOUT_MS),
    });
    expect(
      (await api.store({ key: 'marker', content: 'served while one call stalls' })).json()
        .stored_in,
    ).toBe('mcp');
    const stalled = await timed(async () => (await api.search('q=__stall__')).json());
    expect(fulfillment(stalled)).toEqual({ items: [], source: 'fallback_storage' });
    expect(stalled.ms).toBeGreaterThanOrEqual(ANSWERED_SEARCH_TIMEOUT_MS - 5);
    expect(await api.circuit()).toMatchObject({
      state: 'CLOSED',
      consecutive_failures: 1,
      last_failure_at: expect.any(String),
    });
    expect((await api.search('q=served')).json()).toMatchObject({
      source: 'mcp',
      items: [{ key: 'marker' }],
    });
    expect(await api.circuit()).toMatchObject({ state: 'CLOSED', consecutive_failures: 0 });
  });
});
