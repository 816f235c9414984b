/**
 * The ready line every child process prints once it serves (kept apart from child.ts so children do
 * not load its exit hooks).
 */

/**
 * Environment variable every process started by a run carries (and their descendants inherit;
 * a child that starts a process with an environment of its own passes it on, see
 * bench/baseline-memory.ts), so the end-of-run check finds any survivor.
 */
export const RUN_MARKER_VARIABLE = 'SWARM_BENCH_RUN';

import type { FastifyInstance } from 'fastify';

/** Prefix of the ready line: `READY {"port":1234}`. */
export const READY_MARKER = 'READY ';

/** Prints the ready line with `info` as JSON. */
export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`${READY_MARKER}${JSON.stringify(info)}\n`);
}

/**
 * Serves a baseline's Fastify `app` on a free loopback port and prints the ready line. SIGTERM or
 * SIGINT closes the app, then `release` (its database), and exits; after 5 s it exits anyway.
 */
export async function serveBaseline(
  app: FastifyInstance,
  release: () => Promise<void>,
): Promise<void> {
  const stop = async () => {
    setTimeout(() => process.exit(1), 5_000).unref();
    await app.close();
    await release();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop()).on('SIGINT', () => void stop());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  announceReady({
    port: typeof address === 'object' && address !== null ? address.port : 0,
    pid: process.pid,
  });
}

/** Prefix of the line a child prints after a SIGUSR2: `MEMORY {"rss":…,"heapUsed":…}` (bytes). */
export const MEMORY_MARKER = 'MEMORY ';

/**
 * On SIGUSR2: a full GC (under `--expose-gc`), then one `MEMORY {json}` line with
 * process.memoryUsage(), so the orchestrator can read the RSS of a collected heap and the heap
 * itself. Used by the WebSocket memory figures only; it touches nothing else.
 */
export function gcOnSignal(): void {
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
    process.stdout.write(
      `${MEMORY_MARKER}${JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers })}\n`,
    );
  });
}
