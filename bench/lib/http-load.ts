/**
 * HTTP load with autocannon's programmatic API (in the orchestrator process; the servers under
 * test are separate processes). Latencies are taken from autocannon's per-response event (float
 * milliseconds, process.hrtime) rather than its integer-millisecond histogram.
 */
import autocannon from 'autocannon';
import { readCpuMs } from './child.js';
import { SampleBuffer, median, summarize } from './stats.js';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Fixed path, or a list rotated through request by request (shared across connections). */
  path: string | readonly string[];
  /**
   * With a list of paths: connection i sends every request to path i (mod the list's length)
   * instead of rotating, so N connections on N paths are N writers on N rows.
   */
  pathPerConnection?: boolean;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  request: LoadRequest;
  connections: number;
  durationSec: number;
  /** Server process whose CPU time per request is recorded. */
  serverPid?: number;
}

export interface LoadResult {
  /** 2xx responses per second over the run. */
  rps: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSec: number;
  /**
   * CPU time (user + system) the server process used per 2xx response, µs; NaN when not measured.
   */
  cpu_us_per_req: number;
  /** Share of one core the server process used during the run. */
  cpu_cores: number;
}

/** Runs one load test; bounded by its duration (plus a hard stop 30 s later). */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { request } = options;
  const headers: Record<string, string> = {
    ...request.headers,
    ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
  };
  const paths = typeof request.path === 'string' ? [request.path] : request.path;
  if (paths.length === 0) throw new Error('runLoad: no path');
  let next = 0;
  const base = {
    method: request.method,
    headers,
    ...(request.body === undefined ? {} : { body: request.body }),
  };
  const perConnection = request.pathPerConnection === true && paths.length > 1;
  const instance = autocannon({
    url: options.baseUrl,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSec,
    timeout: 10,
    renderProgressBar: false,
    renderResultsTable: false,
    ...(perConnection
      ? {
          setupClient: (client) => {
            client.setRequests([{ ...base, path: paths[next]! }]);
            next = (next + 1) % paths.length;
          },
        }
      : {}),
    requests: [
      {
        ...base,
        path: paths[0]!,
        ...(paths.length > 1 && !perConnection
          ? {
              setupRequest: (built) => {
                built.path = paths[next]!;
                next = (next + 1) % paths.length;
                return built;
              },
            }
          : {}),
      },
    ],
  });
  const latencies = new SampleBuffer(1 << 17);
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const hardStop = setTimeout(() => instance.stop(), (options.durationSec + 30) * 1000);
  const cpuBefore = options.serverPid === undefined ? Number.NaN : readCpuMs(options.serverPid);
  try {
    const result = await instance;
    const cpuMs =
      options.serverPid === undefined ? Number.NaN : readCpuMs(options.serverPid) - cpuBefore;
    const summary = summarize(latencies.values());
    return {
      rps: result['2xx'] / result.duration,
      p50_ms: summary.p50,
      p99_ms: summary.p99,
      mean_ms: summary.mean,
      requests: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      durationSec: result.duration,
      cpu_us_per_req: (cpuMs * 1000) / result['2xx'],
      cpu_cores: cpuMs / 1000 / result.duration,
    };
  } finally {
    clearTimeout(hardStop);
  }
}

/** Throws when a run saw errors or non-2xx answers: its throughput would not mean anything. */
export function assertClean(what: string, result: LoadResult): void {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0 || result.requests === 0) {
    throw new Error(
      `${what}: ${result.requests} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts — the measurement is invalid`,
    );
  }
}

/** How long, how often and how wide a service-vs-baseline HTTP comparison loads each side. */
export interface PairLoad {
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** Rounds; odd rounds run the service first, even rounds the baseline first. */
  rounds: number;
}

/**
 * The load of every HTTP comparison (rest and health). The warm-up is 2 s in quick runs too: a
 * service just started spends its first seconds under load on start-up garbage collection and
 * optimising compiles. After a 1-second warm-up, its first 2-second round of `GET /health/live`
 * cost 29–31 µs of CPU per request and its second 24–27 µs (baseline: 21–25 both times), which
 * failed the quick health target in half the runs.
 */
export function pairLoad(quick: boolean): PairLoad {
  return { connections: 50, durationSec: quick ? 2 : 5, warmupSec: 2, rounds: quick ? 2 : 4 };
}

/** Settings of a service-vs-baseline HTTP comparison. */
export interface PairOptions extends PairLoad {
  serviceUrl: string;
  baselineUrl: string;
  /** Server processes, for CPU time per request. */
  servicePid?: number;
  baselinePid?: number;
  request: LoadRequest;
  log?: (message: string) => void;
}

export interface PairResult {
  /** The best (highest-throughput) run of each side, the figures reported. */
  service: LoadResult;
  baseline: LoadResult;
  /** Median throughput of each side's runs (a second view on the noise). */
  medianRps: { service: number; baseline: number };
  /** Every measured run, for the JSON file. */
  runs: Array<{ round: number; side: 'service' | 'baseline'; result: LoadResult }>;
}

/**
 * Measures the same request against the service and its baseline back to back: a warm-up of
 * each (not recorded), then `rounds` rounds alternating which side goes first, keeping the best
 * run of each side (on a 2-core machine the best of a few runs is the least disturbed one).
 */
export async function comparePair(options: PairOptions): Promise<PairResult> {
  const sides = { service: options.serviceUrl, baseline: options.baselineUrl } as const;
  const pids = { service: options.servicePid, baseline: options.baselinePid };
  const load = (side: keyof typeof sides, durationSec: number) =>
    runLoad({
      baseUrl: sides[side],
      request: options.request,
      connections: options.connections,
      durationSec,
      ...(pids[side] === undefined ? {} : { serverPid: pids[side] }),
    });
  for (const side of ['service', 'baseline'] as const)
    assertClean(`${side} warm-up`, await load(side, options.warmupSec));
  const runs: PairResult['runs'] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order =
      round % 2 === 1 ? (['service', 'baseline'] as const) : (['baseline', 'service'] as const);
    for (const side of order) {
      const result = await load(side, options.durationSec);
      assertClean(`${side} round ${round}`, result);
      options.log?.(
        `  ${side.padEnd(8)} round ${round}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, ` +
          `server CPU ${result.cpu_us_per_req.toFixed(0)} µs/req (${result.cpu_cores.toFixed(2)} cores)`,
      );
      runs.push({ round, side, result });
    }
  }
  const best = (side: 'service' | 'baseline') =>
    runs.filter((run) => run.side === side).reduce((a, b) => (b.result.rps > a.result.rps ? b : a))
      .result;
  const medianOf = (side: 'service' | 'baseline') =>
    median(runs.filter((run) => run.side === side).map((run) => run.result.rps));
  return {
    service: best('service'),
    baseline: best('baseline'),
    medianRps: { service: medianOf('service'), baseline: medianOf('baseline') },
    runs,
  };
}

/** One side of a comparison of several servers: its own URL, process and request. */
export interface Side {
  name: string;
  url: string;
  /** Server process, for CPU time per request. */
  pid?: number;
  request: LoadRequest;
}

/** A measured run of one side; `extra` holds what the `measure` hook returned for it. */
export interface SideRun {
  round: number;
  side: string;
  result: LoadResult;
  extra: Record<string, number>;
}

export interface SidesOptions extends PairLoad {
  sides: readonly Side[];
  /**
   * Called just before each measured run; the function it returns is called just after it and
   * gives extra figures of that run (e.g. the CPU time of PostgreSQL).
   */
  measure?: () => () => Record<string, number>;
  /** Pause after every run (warm-ups too), so a slow side's last answers stay out of the next. */
  settleMs?: number;
  log?: (message: string) => void;
}

export interface SidesResult {
  /** The best (highest-throughput) run of each side, by side name. */
  best: Record<string, SideRun>;
  /** Median throughput of each side's runs. */
  medianRps: Record<string, number>;
  runs: SideRun[];
}

/**
 * {@link comparePair} for any number of sides: a warm-up of each (not recorded; none when
 * `warmupSec` is 0), then `rounds` rounds, the odd ones in the order given and the even ones in
 * reverse, keeping the best run of each side.
 */
export async function compareSides(options: SidesOptions): Promise<SidesResult> {
  const load = async (side: Side, durationSec: number) => {
    const result = await runLoad({
      baseUrl: side.url,
      request: side.request,
      connections: options.connections,
      durationSec,
      ...(side.pid === undefined ? {} : { serverPid: side.pid }),
    });
    if (options.settleMs) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    return result;
  };
  if (options.warmupSec > 0)
    for (const side of options.sides)
      assertClean(`${side.name} warm-up`, await load(side, options.warmupSec));
  const runs: SideRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? [...options.sides] : [...options.sides].reverse();
    for (const side of order) {
      const finish = options.measure?.();
      const result = await load(side, options.durationSec);
      const extra = finish?.() ?? {};
      assertClean(`${side.name} round ${round}`, result);
      options.log?.(
        `  ${side.name.padEnd(10)} round ${round}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, ` +
          `server CPU ${result.cpu_us_per_req.toFixed(0)} µs/req (${result.cpu_cores.toFixed(2)} cores)`,
      );
      runs.push({ round, side: side.name, result, extra });
    }
  }
  const best: Record<string, SideRun> = {};
  const medianRps: Record<string, number> = {};
  for (const side of options.sides) {
    const mine = runs.filter((run) => run.side === side.name);
    best[side.name] = mine.reduce((a, b) => (b.result.rps > a.result.rps ? b : a));
    medianRps[side.name] = median(mine.map((run) => run.result.rps));
  }
  return { best, medianRps, runs };
}
