/**
 * `npm run bench` / `npm run bench:quick`: runs every benchmark, each against a baseline measured
 * in the same run, prints a table, writes bench/results/<name>.json, rewrites the results section
 * of bench/README.md, and exits non-zero if a target is missed or a benchmark fails.
 *
 *   tsx bench/run.ts [--quick] [--record]
 *                    [--only=rest,health,websocket,breaker,literal,memory,tasks,mcp,writes]
 *
 * Everything runs in child processes this script starts and always stops: a throwaway
 * PostgreSQL 15, the service (bench/serve-app.ts), the baselines, the WebSocket clients and the
 * MCP memory servers (started by the service and by bench/baseline-memory.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  killAllChildrenSync,
  processesOfRun,
  setRunMarker,
  survivingChildPids,
} from './lib/child.js';
import { type Suite, bootstrapKeyIn, createContext } from './lib/context.js';
import { SEED_PROJECTS_SQL, type BenchDatabase, startBenchDatabase } from './lib/postgres.js';
import {
  type BenchmarkResult,
  latestDir,
  machineInfo,
  readAllResults,
  referenceDir,
  renderText,
  updateReadme,
  writeResult,
} from './lib/results.js';
import { breakerSuite } from './suites/breaker.js';
import { healthSuite } from './suites/health.js';
import { literalSuite } from './suites/literal.js';
import { mcpSuite } from './suites/mcp.js';
import { memorySuite } from './suites/memory.js';
import { restSuite } from './suites/rest.js';
import { tasksSuite } from './suites/tasks.js';
import { websocketSuite } from './suites/websocket.js';
import { writesSuite } from './suites/writes.js';

const SUITES: Record<string, { title: string; run: Suite }> = {
  rest: { title: 'REST API vs bare Fastify + pg', run: restSuite },
  health: { title: 'GET /health/live vs raw node:http', run: healthSuite },
  websocket: { title: 'WebSocket /ws vs raw ws fan-out', run: websocketSuite },
  breaker: { title: 'Circuit breaker overhead per call', run: breakerSuite },
  literal: { title: 'JSON literal of the append statement', run: literalSuite },
  memory: { title: 'Memory writes to server-memory vs one entry per call', run: memorySuite },
  tasks: { title: 'Task queue: claims through the API vs pg-boss', run: tasksSuite },
  mcp: { title: 'Claim → complete through MCP tool calls vs REST', run: mcpSuite },
  writes: {
    title: 'Writes: PATCH and POST vs the same guarantees in one statement',
    run: writesSuite,
  },
};
const SEEDED_PROJECTS = 1_000;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const record = args.includes('--record');
const resultsDir = record ? referenceDir : latestDir;
const onlyArg = args.find((arg) => arg.startsWith('--only='));
const selected = onlyArg
  ? onlyArg.slice('--only='.length).split(',').filter(Boolean)
  : Object.keys(SUITES);
const unknown = selected.filter((name) => !(name in SUITES));
const known = (arg: string) => arg === '--quick' || arg === '--record' || arg.startsWith('--only=');
if (unknown.length > 0 || !args.every(known)) {
  process.stderr.write(
    `usage: tsx bench/run.ts [--quick] [--record] [--only=${Object.keys(SUITES).join(',')}]\n`,
  );
  process.exit(2);
}

const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000).toFixed(1).padStart(6);
const log = (message: string) => process.stdout.write(`[${elapsed()} s] ${message}\n`);

// Every process the run starts carries this marker (and their descendants inherit it), so the
// end-of-run check finds any survivor, whoever its parent is.
const runId = `${process.pid}-${randomBytes(4).toString('hex')}`;
setRunMarker(runId);

// Hard bound on the whole run: kill everything and fail rather than hang.
const WATCHDOG_MS = (quick ? 10 : 25) * 60_000;
const watchdog = setTimeout(() => {
  process.stderr.write(
    `\nbench: still running after ${WATCHDOG_MS / 60_000} min; stopping everything\n`,
  );
  killAllChildrenSync();
  // the exit hook of test/support/process.ts stops PostgreSQL and removes its files
  process.exit(3);
}, WATCHDOG_MS);

async function runSuites(db: BenchDatabase): Promise<BenchmarkResult[]> {
  const context = createContext({ quick, db, log });
  try {
    log('applying migrations (starting the service once) and seeding');
    const first = await context.startService();
    const key = bootstrapKeyIn(first.logTail(300));
    await first.stop();
    if (key !== undefined) {
      context.headers = { authorization: `Bearer ${key}` };
      log('the service authenticates: requests carry the admin key its first start created');
    }
    await db.query(SEED_PROJECTS_SQL, [SEEDED_PROJECTS]);
    await db.query('analyze');
    const { rows } = await db.query<{ id: string }>(
      'select id from projects order by created_at desc, id desc',
    );
    context.projectIds = rows.map((row) => row.id);
    const results: BenchmarkResult[] = [];
    for (const name of selected) {
      const suite = SUITES[name]!;
      const suiteStarted = performance.now();
      const loadAverageAtStart = roundedLoad();
      const machine = machineInfo();
      const mode = quick ? 'quick' : 'full';
      let result: BenchmarkResult;
      try {
        const measured = await suite.run(context);
        const pass = measured.cases.every((c) => c.pass !== false);
        result = {
          ...measured,
          mode,
          machine,
          durationSec: (performance.now() - suiteStarted) / 1000,
          pass,
        };
      } catch (error) {
        log(`${name} FAILED: ${(error as Error)?.stack ?? String(error)}`);
        result = {
          name,
          title: suite.title,
          mode,
          machine,
          durationSec: (performance.now() - suiteStarted) / 1000,
          settings: {},
          cases: [],
          pass: false,
          error: String((error as Error)?.message ?? error),
        };
      }
      result.settings = {
        ...result.settings,
        loadAverage: { start: loadAverageAtStart, end: roundedLoad() },
      };
      result.source = source;
      log(`${name}: wrote ${writeResult(result, resultsDir)}`);
      results.push(result);
    }
    return results;
  } finally {
    context.dispose();
  }
}

const roundedLoad = () => loadavg().map((value) => Math.round(value * 100) / 100);

/**
 * The code measured: the commit and how many files differ from it (others may be editing src/
 * meanwhile).
 */
function sourceInfo(): { commit: string; modifiedFiles: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      encoding: 'utf8',
    });
    return { commit, modifiedFiles: status.split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown', modifiedFiles: -1 };
  }
}
const source = sourceInfo();

/** tsx's esbuild service of this very process (it transpiles this script and exits with it). */
function isTsxEsbuildService(pid: number): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const parent = Number(
      /^\d+ \(.*\) \S+ (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1],
    );
    return (
      parent === process.pid &&
      commandLine.includes('/@esbuild/') &&
      commandLine.includes('--service')
    );
  } catch {
    return true; // gone
  }
}

function pgrep(args: string[]): number[] {
  try {
    return execFileSync('pgrep', args, { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/**
 * Lists any process of this run still alive (there should be none): children by the run marker
 * in their environment (any depth) and by pid, direct children (`pgrep -P`), and PostgreSQL by
 * its data directory (postmaster) and database name (backends) — PostgreSQL rewrites its
 * environment area for its process titles, so the marker cannot find it.
 */
function orphans(postgresPatterns: string[]): string[] {
  const found = new Set<number>([
    ...processesOfRun(runId),
    ...survivingChildPids(),
    ...pgrep(['-P', String(process.pid)]),
  ]);
  for (const pattern of postgresPatterns) for (const pid of pgrep(['-f', pattern])) found.add(pid);
  return [...found]
    .filter((pid) => !isTsxEsbuildService(pid))
    .map((pid) => {
      try {
        return `${pid} ${execFileSync('ps', ['-o', 'ppid=,pgid=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim()}`;
      } catch {
        return String(pid);
      }
    });
}

async function main(): Promise<number> {
  const machine = machineInfo();
  log(`swarm-control benchmarks (${quick ? 'quick' : 'full'}): ${selected.join(', ')}`);
  log(
    `Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  let results: BenchmarkResult[] = [];
  let db: BenchDatabase | undefined;
  const postgresPatterns: string[] = [];
  try {
    log('starting PostgreSQL 15');
    db = await startBenchDatabase();
    postgresPatterns.push(db.server.dataDir, new URL(db.url).pathname.slice(1));
    results = await runSuites(db);
  } finally {
    killAllChildrenSync();
    await db?.close();
  }
  const left = orphans(postgresPatterns);
  if (left.length > 0) {
    process.stderr.write(`bench: processes of this run still alive:\n${left.join('\n')}\n`);
    return 1;
  }
  log('all servers and clients stopped (no process of this run is left)');
  process.stdout.write(`\n${renderText(results)}\n\n`);
  if (record) updateReadme(readAllResults(referenceDir));
  const failed = results.filter((result) => !result.pass);
  log(
    `${record ? 'reference results and bench/README.md updated' : `results in ${latestDir}`}; ${failed.length === 0 ? 'every target met' : `FAILED: ${failed.map((result) => result.name).join(', ')}`}`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
    setTimeout(() => process.exit(), 2_000).unref(); // should something still hold the event loop
  },
  (error: unknown) => {
    clearTimeout(watchdog);
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
