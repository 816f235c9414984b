/**
 * Circuit-breaker overhead micro-benchmark (its own process, so the JIT state of the
 * orchestrator does not leak in). Three loops over the same trivial async function:
 *
 * - direct:  `await operation()`
 * - closed:  `await breaker.execute(operation, { timeoutMs })` on a CLOSED breaker
 * - open:    the same on an OPEN breaker: rejected with BreakerOpenError, caught, fallback used
 *
 * and two reference loops that show the floor any breaker pays on this machine:
 *
 * - timeout floor: the bare per-call timeout every execute() needs (AbortController, a timer,
 *   Promise.race, clearTimeout) around the same function;
 * - rejection floor: an async function that throws a plain `new Error()`, caught, fallback used.
 *
 * After a warm-up, the loops run interleaved for several rounds; the median ns/op of the rounds
 * is reported. Prints `READY {json}` with the figures and exits.
 *
 * Args: --iterations N --rounds R --warmup N
 */
import { performance } from 'node:perf_hooks';
import { BreakerOpenError, CircuitBreaker } from '../src/memory/circuit-breaker.js';
import { announceReady } from './lib/ready.js';
import { median } from './lib/stats.js';

function numberArg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? Number.NaN : Number(process.argv[index + 1]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const iterations = numberArg('iterations', 200_000);
const rounds = numberArg('rounds', 7);
const warmup = numberArg('warmup', 50_000);
const options = { timeoutMs: 10_000 };
const FALLBACK = 7;

const operation = async (_signal?: AbortSignal): Promise<number> => 1;

const closed = new CircuitBreaker({ failureThreshold: 5, openMs: 60_000 });
const opened = new CircuitBreaker({ failureThreshold: 1, openMs: 1e12 });

let sink = 0;

async function direct(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) sink += await operation();
  return performance.now() - started;
}

async function viaClosed(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) sink += await closed.execute(operation, options);
  return performance.now() - started;
}

async function viaOpen(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    try {
      sink += await opened.execute(operation, options);
    } catch (error) {
      if (!(error instanceof BreakerOpenError)) throw error;
      sink += FALLBACK;
    }
  }
  return performance.now() - started;
}

async function timeoutFloor(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), options.timeoutMs);
    });
    try {
      sink += await Promise.race([operation(controller.signal), expiry]);
    } finally {
      clearTimeout(timer);
    }
  }
  return performance.now() - started;
}

const refuse = async (): Promise<number> => {
  throw new Error('refused');
};

async function rejectionFloor(n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    try {
      sink += await refuse();
    } catch {
      sink += FALLBACK;
    }
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  await opened
    .execute(async () => Promise.reject(new Error('backend down')), options)
    .catch(() => undefined);
  if (opened.currentState().name !== 'OPEN') throw new Error('the breaker did not open');
  const loops = { direct, closed: viaClosed, open: viaOpen, timeoutFloor, rejectionFloor };
  for (const loop of Object.values(loops)) await loop(warmup);
  const samples: Record<keyof typeof loops, number[]> = {
    direct: [],
    closed: [],
    open: [],
    timeoutFloor: [],
    rejectionFloor: [],
  };
  for (let round = 0; round < rounds; round++) {
    for (const [name, loop] of Object.entries(loops) as Array<
      [keyof typeof loops, (n: number) => Promise<number>]
    >) {
      samples[name].push(((await loop(iterations)) * 1e6) / iterations);
    }
  }
  if (closed.currentState().name !== 'CLOSED' || opened.currentState().name !== 'OPEN')
    throw new Error('breaker state changed during the run');
  announceReady({
    iterations,
    rounds,
    warmup,
    direct_ns: median(samples.direct),
    closed_ns: median(samples.closed),
    open_ns: median(samples.open),
    timeout_floor_ns: median(samples.timeoutFloor),
    rejection_floor_ns: median(samples.rejectionFloor),
    samples,
    rejected: opened.snapshot().rejected_count,
    sink,
  });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`breaker-micro failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
