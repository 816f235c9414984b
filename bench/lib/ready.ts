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

/** Prefix of the ready line: `READY {"port":1234}`. */
export const READY_MARKER = 'READY ';

/** Prints the ready line with `info` as JSON. */
export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`${READY_MARKER}${JSON.stringify(info)}\n`);
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
