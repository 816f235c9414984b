/**
 * Memory baseline: the same MCP server the service runs (the bundled server-memory over stdio, on
 * its own graph file grown to the same size) driven directly by the service's client,
 * `McpMemoryClient`, one entry per call: `store(record)`, sequentially, as the replay worker
 * delivered the queue before it sent batches. What the server sustains without batching, with no
 * database, no HTTP and no queue in front of it.
 *
 * After a warm-up (not recorded) it stores new keys `<prefix>-000000`, … for `--duration-ms` or
 * `--max-writes`, whichever comes first; then searches `--searches` of them (spread evenly) with
 * the same client, as the service's searches reach the server; prints `READY {json}` with the
 * figures, closes the client (which stops the server) and exits.
 *
 * Args: --file PATH --duration-ms N --max-writes N --warmup-ms N --content-bytes N --key-prefix P
 * --searches N
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { McpMemoryClient } from '../src/memory/mcp-client.js';
import { serverMemoryConnection } from '../src/memory/mcp-transport.js';
import { childrenWithEnvironment } from '../test/support/process.js';
import { benchRecord } from './lib/memory-graph.js';
import { readCpuMs } from './lib/proc.js';
import { RUN_MARKER_VARIABLE, announceReady } from './lib/ready.js';
import { summarize } from './lib/stats.js';

function arg(name: string): string {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? undefined : process.argv[index + 1];
  if (value === undefined) throw new Error(`baseline-memory: --${name} is required`);
  return value;
}

function numberArg(name: string): number {
  const value = Number(arg(name));
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`baseline-memory: --${name} must be a non-negative integer`);
  return value;
}

const file = arg('file');
const durationMs = numberArg('duration-ms');
const maxWrites = numberArg('max-writes');
const warmupMs = numberArg('warmup-ms');
const contentBytes = numberArg('content-bytes');
const prefix = arg('key-prefix');
const searches = numberArg('searches');
const TAGS = ['bench', 'baseline'];

const keyOf = (index: number) => `${prefix}-${String(index).padStart(6, '0')}`;

async function main(): Promise<void> {
  // server-memory gets only the environment given here, so the run marker is passed on explicitly.
  const marker = process.env[RUN_MARKER_VARIABLE];
  const connection = serverMemoryConnection(
    file,
    marker === undefined ? {} : { [RUN_MARKER_VARIABLE]: marker },
  );
  const fileBytesBefore = statSync(file).size;
  const client = await McpMemoryClient.connect({ connection });
  try {
    if (!client.isConnected()) throw new Error('server-memory did not start');
    const [serverPid] = childrenWithEnvironment('MEMORY_FILE_PATH', resolve(file));
    if (serverPid === undefined) throw new Error('no server-memory process');
    // The grown graph must read back as the service's entries, or the server would not be doing
    // what it does for the service.
    const seed = await client.get('seed-000000');
    if (seed === null)
      throw new Error(
        `${file}: the grown graph does not hold the entry seed-000000 in the service's format`,
      );

    let index = 0;
    const warmupEnd = performance.now() + warmupMs;
    while (performance.now() < warmupEnd)
      await client.store(benchRecord(`${prefix}-warm-${index++}`, contentBytes, TAGS));

    const latencies: number[] = [];
    const cpuBefore = readCpuMs(serverPid);
    const started = performance.now();
    const deadline = started + durationMs;
    for (let written = 0; written < maxWrites && performance.now() < deadline; written++) {
      const sent = performance.now();
      await client.store(benchRecord(keyOf(written), contentBytes, TAGS));
      latencies.push(performance.now() - sent);
    }
    const elapsedMs = performance.now() - started;
    const serverCpuMs = readCpuMs(serverPid) - cpuBefore;

    const searchLatencies: number[] = [];
    let missing = 0;
    const step = Math.max(1, Math.floor(latencies.length / Math.max(1, searches)));
    for (
      let written = 0;
      written < latencies.length && searchLatencies.length < searches;
      written += step
    ) {
      const record = benchRecord(keyOf(written), contentBytes, TAGS);
      const sent = performance.now();
      const hits = await client.search(record.key, { limit: 20 });
      searchLatencies.push(performance.now() - sent);
      if (!hits.some((hit) => hit.key === record.key && hit.content === record.content))
        missing += 1;
    }

    const store = summarize(latencies);
    const search = summarize(searchLatencies);
    announceReady({
      writes: latencies.length,
      elapsed_ms: elapsedMs,
      writes_per_s: (latencies.length * 1000) / elapsedMs,
      p50_ms: store.p50,
      p99_ms: store.p99,
      server_cpu_ms: serverCpuMs,
      server_cpu_ms_per_write: serverCpuMs / latencies.length,
      warmup_writes: index,
      file_bytes_before: fileBytesBefore,
      file_bytes_after: statSync(file).size,
      searches: searchLatencies.length,
      search_missing: missing,
      search_p50_ms: search.p50,
      search_p99_ms: search.p99,
    });
  } finally {
    await client.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`baseline-memory failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
