import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventStream } from '../../src/client/index.js';
import { readWholeLog } from '../support/event-log.js';
import {
  FAST_BREAKER,
  mcpServerPid,
  readGraphDirectly,
  useMemoryTestBed,
  waitFor,
} from '../support/memory.js';

/**
 * The MCP memory server SIGKILLed again and again while REST writes and WebSocket clients keep
 * the service busy: no memory write is lost, no REST write fails, and the WebSocket stream stays
 * complete and ordered.
 */
const bed = useMemoryTestBed();
let app: FastifyInstance;

beforeAll(async () => {
  app = await bed.app({ ...FAST_BREAKER, MEMORY_BREAKER_OPEN_MS: '300', WS_HEARTBEAT_MS: '10000' });
});

describe('MCP server killed repeatedly under REST and WebSocket load', () => {
  it('loses no memory write, fails no REST write and keeps the event stream whole', async () => {
    const wsUrl = `${(await app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws')}/ws`;
    const stream = new EventStream({
      url: wsUrl,
      lastEventId: 0,
      backoff: { initialMs: 5, maxMs: 50 },
    }).start();
    const seen: number[] = [];
    stream.onEvent((event) => seen.push(event.id));
    try {
      await killServerUnderLoad(seen);
    } finally {
      stream.close(); // even on a failure: a reconnecting client would hold the app's close
    }
  }, 90_000);
});

/** Kills the server four times under load, then checks every write and every event. */
async function killServerUnderLoad(seen: number[]): Promise<void> {
  let stop = false;
  const restStatuses: number[] = [];
  const memoryKeys: string[] = [];
  const rest = (async () => {
    for (let i = 0; !stop; i += 1)
      restStatuses.push(
        (
          await app.inject({
            method: 'POST',
            url: '/api/v1/projects',
            payload: { name: `load-${i}` },
          })
        ).statusCode,
      );
  })();
  const memory = (async () => {
    for (let i = 0; !stop; i += 1) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/memory',
        payload: { key: `load-${i}`, content: `written under load ${i}` },
      });
      expect(response.statusCode).toBe(201);
      memoryKeys.push(`load-${i}`);
    }
  })();
  const killed: number[] = [];
  let loads: PromiseSettledResult<void>[] = [];
  try {
    while (killed.length < 4) {
      const pid = await waitFor(
        () => mcpServerPid(bed.graphPath),
        (found) => found !== undefined && !killed.includes(found),
        // The connection restarts the server after a backoff of up to 5 s (mcp-connection.ts).
        20_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      if (mcpServerPid(bed.graphPath) !== pid) continue;
      process.kill(pid!, 'SIGKILL');
      killed.push(pid!);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    stop = true;
    loads = await Promise.allSettled([rest, memory]);
  }
  expect(
    loads.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'ok')),
  ).toEqual(['ok', 'ok']);

  expect(new Set(restStatuses)).toEqual(new Set([201]));
  await waitFor(
    () => app.inject({ url: '/api/v1/memory/circuit' }).then((response) => response.json()),
    (circuit) => circuit.state === 'CLOSED' && circuit.queued_writes === 0,
    20_000,
  );
  const onServer = await readGraphDirectly(bed.graphPath, (server) =>
    Promise.all(memoryKeys.map((key) => server.get(key))),
  );
  expect(onServer.filter((entry) => entry === null)).toEqual([]);
  const logged = await readWholeLog((request) => app.inject(request));
  const projectEvents = logged.filter((event) => event.type === 'PROJECT_CREATED').length;
  expect(projectEvents).toBe(restStatuses.length);
  await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(logged.length);
  expect(seen).toEqual(logged.map((event) => event.id));
}
