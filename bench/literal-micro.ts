/**
 * Micro-benchmark of the append statement's JSON literal (its own process, so the JIT state of the
 * orchestrator does not leak in). Two ways to quote the same event batch, and a floor:
 *
 * - baseline: `pg.escapeLiteral(JSON.stringify(batch))`, what the append did before;
 * - service:  `jsonLiteral(batch)` of src/store/event-append.ts;
 * - floor:    the JSON text between quotes without any escaping, what every way pays (the
 *   JSON.stringify and the flattening): not a valid literal of this text, only a reference.
 *
 * The batch has the shape of a task completion's events, as the append gets them: a
 * TASK_EXECUTION event whose task carries a result (strings rich in quotes and backslashes) that
 * brings the batch's JSON text to about `--bytes`, and the agent's AGENT_STATUS event. Each call
 * ends with `Buffer.byteLength` of the literal, which flattens it as pg's writer does before
 * sending. Before timing, the script checks that both give the same literal. After a warm-up, the
 * two loops run interleaved (which goes first alternates) for several rounds of `--calls` calls
 * each; the median ms per call of the rounds is reported, with the JSON text's size. Prints
 * `READY {json}` with the figures and exits.
 *
 * Args: --bytes N --calls N --rounds R --warmup N
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { jsonLiteral } from '../src/store/event-append.js';
import { announceReady } from './lib/ready.js';
import { median } from './lib/stats.js';

function numberArg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? Number.NaN : Number(process.argv[index + 1]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const bytes = numberArg('bytes', 256 * 1024);
const calls = numberArg('calls', 20);
const rounds = numberArg('rounds', 9);
const warmup = numberArg('warmup', 10);

const PROJECT = '6f1c0000-0000-4000-8000-000000000001';
const TASK = '6f1c0000-0000-4000-8000-000000000002';
const AGENT = '6f1c0000-0000-4000-8000-000000000003';
const NOW = '2026-12-04T12:00:00.000Z';

/** One entry of a task result: a build log line with a Windows path, quotes and escapes. */
function resultEntry(i: number) {
  return {
    file: `C:\\work\\repo\\src\\module-${i}\\index.ts`,
    message: `step ${i}: it's "done" — wrote 'out\\${i}.json' with\ttabs and\nnewlines`,
    ok: i % 7 !== 0,
    ms: (i * 37) % 1000,
  };
}

/** A task result of about `size` bytes of JSON text (at least one entry). */
function taskResult(size: number) {
  const entries = [];
  let length = 0;
  for (let i = 0; i === 0 || length < size; i++) {
    const entry = resultEntry(i);
    entries.push(entry);
    length += Buffer.byteLength(JSON.stringify(entry)) + 1;
  }
  return { summary: "All checks passed, 'mostly'", entries };
}

function task(size: number) {
  return {
    id: TASK,
    project_id: PROJECT,
    title: 'Build and test the "parser" module',
    kind: 'build',
    input: { repo: 'git@example.com:team/repo.git', ref: 'main', command: 'npm test' },
    required_capabilities: ['node', 'git'],
    agent_type: null,
    agent_id: AGENT,
    priority: 0,
    run_at: NOW,
    depends_on: [],
    max_attempts: 3,
    backoff: { base_ms: 1000, max_ms: 60_000 },
    timeout_ms: null,
    lease_ms: 30_000,
    status: 'completed',
    progress: null,
    result: taskResult(size),
    error: null,
    cancel_reason: null,
    attempts: 1,
    schedule_id: null,
    version: 4,
    created_at: NOW,
    updated_at: NOW,
    finished_at: NOW,
  };
}

/** The event rows of a completion (as `eventRow` of event-append.ts builds them). */
function completionBatch(size: number) {
  const agent = { id: AGENT, project_id: PROJECT, name: "builder's agent", status: 'idle' };
  return [
    {
      position: 1,
      type: 'TASK_EXECUTION',
      topic: `task:${TASK}`,
      topics: ['tasks', `task:${TASK}`, `project:${PROJECT}`],
      data: { task: task(size), attempt: { number: 1, agent_id: AGENT, outcome: 'completed' } },
    },
    {
      position: 2,
      type: 'AGENT_STATUS',
      topic: `agent:${AGENT}`,
      topics: ['agents', `agent:${AGENT}`, `project:${PROJECT}`],
      data: { agent, changed_fields: ['status'] },
    },
  ];
}

/** The batch whose JSON text is about `size` bytes long, the task's result making up the rest. */
function batchOf(size: number) {
  const rest = Buffer.byteLength(JSON.stringify(completionBatch(0))) - 300;
  return completionBatch(size - rest);
}

const batch = batchOf(bytes);
let sink = 0;

/**
 * ms per call of `quote`, up to the bytes pg's writer sends: `Buffer.byteLength` flattens the
 * string, as the writer's own call does before it copies the statement into its buffer.
 */
function timed(quote: (value: unknown) => string, n: number): number {
  const started = performance.now();
  for (let i = 0; i < n; i++) sink += Buffer.byteLength(quote(batch));
  return (performance.now() - started) / n;
}

const baseline = (value: unknown) => pg.escapeLiteral(JSON.stringify(value));
/** No escaping at all (not a valid literal of this text): what any way of quoting pays. */
const floor = (value: unknown) => ` E'${JSON.stringify(value)}'`;
const loops = { baseline, service: jsonLiteral, floor };
type Loop = keyof typeof loops;

/** One round: every loop once, in the given order. */
function round(order: Loop[], samples: Record<Loop, number[]>): void {
  for (const name of order) samples[name].push(timed(loops[name], calls));
}

function main(): void {
  const expected = baseline(batch);
  if (jsonLiteral(batch) !== expected) throw new Error('jsonLiteral differs from pg.escapeLiteral');
  if (!expected.startsWith(' E')) throw new Error('the batch has no backslash');
  for (const loop of Object.values(loops)) timed(loop, warmup);
  const samples: Record<Loop, number[]> = { baseline: [], service: [], floor: [] };
  const order: Loop[] = ['baseline', 'service', 'floor'];
  // the order alternates, so that a slow spell of the machine does not fall on one side only
  for (let r = 0; r < rounds; r++) round(r % 2 === 0 ? order : [...order].reverse(), samples);
  announceReady({
    json_bytes: Buffer.byteLength(JSON.stringify(batch)),
    literal_chars: expected.length,
    calls,
    rounds,
    warmup,
    baseline_ms: median(samples.baseline),
    service_ms: median(samples.service),
    floor_ms: median(samples.floor),
    samples,
    sink,
  });
}

try {
  main();
  process.exit(0);
} catch (error) {
  process.stderr.write(`literal-micro failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
}
