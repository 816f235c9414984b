/**
 * Tasks: the durable queue of docs/tasks.md under load, on the run's PostgreSQL.
 *
 * - *cycles*: claim → complete cycles per second through the HTTP API with 32 agents, against
 *   pg-boss 10 doing `fetch()` + `complete()` in its own process (bench/baseline-pgboss.ts) on a
 *   database of its own on the same server; both sides work off the same number of jobs made
 *   beforehand. Ratio = service ÷ pg-boss cycles/s; target ≥ 0.5×.
 * - *wake*: create → claim latency with an agent already waiting in a long poll; target p99 <
 *   50 ms.
 * - *depth*: claim latency with 100 000 queued tasks vs an empty queue (one task inserted before
 *   each claim); ratio = empty p99 ÷ deep p99; target ≥ 0.5× (within 2×). Reported beside it:
 *   the claims of another project's agent (100 000 finished tasks there) while the 100 000 wait.
 *   The run records `EXPLAIN (ANALYZE, BUFFERS)` of the claim statement on the deep queue
 *   (docs/tasks.md, "The claim query's plan").
 */
import { performance } from 'node:perf_hooks';
import type { Claimed } from '../../src/domain/task.js';
import { type Child, readCpuMs } from '../lib/child.js';
import { baseUrl, type BenchContext, type Suite, sleep, withChildren } from '../lib/context.js';
import { JsonHttp } from '../lib/json-http.js';
import { cpuBetween, postgresCpu } from '../lib/postgres-cpu.js';
import { type CaseResult, fmt, makeCase } from '../lib/results.js';
import { round, summarize } from '../lib/stats.js';
import {
  type TaskFixture,
  createFixture,
  createPgBossDatabase,
  explainClaim,
  insertFinishedTasks,
  insertQueuedTasks,
  queryAt,
} from '../lib/task-fixtures.js';

const AGENTS = 32;
const DEEP_QUEUE = 100_000;
const POOL_SIZE = '20';

/** How much each case does, by mode. */
function taskLoad(quick: boolean) {
  return {
    warmupJobs: 300,
    jobs: quick ? 1_000 : 2_000,
    rounds: quick ? 1 : 3,
    wakeSamples: quick ? 100 : 300,
    depthSamples: quick ? 100 : 300,
    /** The empty and the deep queue alternate this many times, sharing the samples out. */
    depthRounds: quick ? 1 : 3,
  };
}
type TaskLoad = ReturnType<typeof taskLoad>;

/** One round of one side: how fast the jobs went and what they cost each process. */
interface CycleRound {
  side: 'service' | 'pg-boss';
  round: number;
  jobs: number;
  cycles_per_s: number;
  cpu_us_per_cycle: number;
  pg_cpu_us_per_cycle: number;
  driver_cpu_us_per_cycle: number;
  /** The queue's whole CPU per cycle: its process, PostgreSQL, and the HTTP agents' process. */
  total_cpu_us_per_cycle: number;
}

/** What every step of the suite needs. */
interface Run {
  context: BenchContext;
  api: JsonHttp;
  service: Child;
  baseline: Child;
  pgbossUrl: string;
}

/** Sends a command to the pg-boss child and waits for its answer of type `reply`. */
function command<T>(child: Child, message: object, reply: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.process.off('message', listen);
      reject(new Error(`baseline-pgboss: no ${reply} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listen = (answer: { type: string; message?: string }) => {
      if (answer.type !== reply && answer.type !== 'error') return;
      clearTimeout(timer);
      child.process.off('message', listen);
      if (answer.type === 'error') reject(new Error(`baseline-pgboss: ${answer.message}`));
      else resolve(answer as T);
    };
    child.process.on('message', listen);
    child.process.send(message);
  });
}

/** Measures `work` (which does `jobs` cycles) by wall time and by the CPU of each process. */
async function measured(
  run: Run,
  pid: number,
  jobs: number,
  work: () => Promise<void>,
): Promise<Omit<CycleRound, 'side' | 'round'>> {
  const dataDir = run.context.db.server.dataDir;
  const [pgBefore, cpuBefore, driverBefore] = [
    postgresCpu(dataDir),
    readCpuMs(pid),
    process.cpuUsage(),
  ];
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const driver = process.cpuUsage(driverBefore);
  const perCycle = (ms: number) => (ms * 1000) / jobs;
  const figures = {
    cpu_us_per_cycle: perCycle(readCpuMs(pid) - cpuBefore),
    pg_cpu_us_per_cycle: perCycle(cpuBetween(pgBefore, postgresCpu(dataDir))),
    driver_cpu_us_per_cycle: (driver.user + driver.system) / jobs,
  };
  const total = Object.values(figures).reduce((a, b) => a + b, 0);
  return { jobs, cycles_per_s: jobs / seconds, ...figures, total_cpu_us_per_cycle: total };
}

/** One agent's loop: claim (with `wait_ms`), complete, until the round's jobs are handed out. */
async function agentLoop(api: JsonHttp, agentId: string, budget: { left: number }) {
  while (budget.left > 0) {
    budget.left -= 1;
    const claimed = await api.expect<Claimed>(200, 'POST', '/api/v1/tasks/claim', {
      agent_id: agentId,
      wait_ms: 1_000,
    });
    const path = `/api/v1/tasks/${claimed.task.id}/complete`;
    await api.expect(200, 'POST', path, { attempt: claimed.attempt.number });
  }
}

async function serviceRound(run: Run, fixture: TaskFixture, jobs: number) {
  await insertQueuedTasks(run.context.db, fixture.projectId, jobs);
  await run.context.db.query('vacuum analyze');
  return measured(run, run.service.pid, jobs, async () => {
    const budget = { left: jobs };
    await Promise.all(fixture.agentIds.map((id) => agentLoop(run.api, id, budget)));
  });
}

async function pgbossRound(run: Run, jobs: number) {
  await command(run.baseline, { type: 'prepare', jobs }, 'prepared', 120_000);
  await queryAt(run.pgbossUrl, 'vacuum analyze');
  return measured(run, run.baseline.pid, jobs, async () => {
    const result = await command<{ completed: number }>(
      run.baseline,
      { type: 'run', jobs, workers: AGENTS },
      'result',
      300_000,
    );
    if (result.completed !== jobs) throw new Error(`pg-boss completed ${result.completed}/${jobs}`);
  });
}

/** `74 cycles/s · CPU/cycle: service 6 170 µs, PostgreSQL 6 150 µs, HTTP agents 1 260 µs` */
function cycleDisplay(r: CycleRound): string {
  const agents = r.side === 'service' ? `, HTTP agents ${fmt(r.driver_cpu_us_per_cycle)} µs` : '';
  return (
    `${fmt(r.cycles_per_s)} cycles/s · CPU/cycle: ${r.side} ${fmt(r.cpu_us_per_cycle)} µs, ` +
    `PostgreSQL ${fmt(r.pg_cpu_us_per_cycle)} µs${agents}`
  );
}

const roundFigures = (r: CycleRound) =>
  Object.fromEntries(
    Object.entries(r).flatMap(([key, value]) =>
      typeof value === 'number' ? [[key, round(value)]] : [],
    ),
  );

/** Warm-up, then rounds alternating which side goes first; the best round of each side counts. */
async function cyclesCase(
  run: Run,
  load: TaskLoad,
): Promise<{ result: CaseResult; rounds: CycleRound[] }> {
  const fixture = await createFixture(run.api, 'bench-cycles', AGENTS);
  const sides = {
    service: (jobs: number) => serviceRound(run, fixture, jobs),
    'pg-boss': (jobs: number) => pgbossRound(run, jobs),
  } as const;
  for (const side of ['service', 'pg-boss'] as const) await sides[side](load.warmupJobs);
  const rounds: CycleRound[] = [];
  for (let index = 1; index <= load.rounds; index++) {
    const order =
      index % 2 === 1 ? (['service', 'pg-boss'] as const) : (['pg-boss', 'service'] as const);
    for (const side of order) {
      const measuredRound = { side, round: index, ...(await sides[side](load.jobs)) };
      run.context.log(`  ${side.padEnd(8)} round ${index}: ${cycleDisplay(measuredRound)}`);
      rounds.push(measuredRound);
    }
  }
  const best = (side: CycleRound['side']) =>
    rounds
      .filter((r) => r.side === side)
      .reduce((a, b) => (b.cycles_per_s > a.cycles_per_s ? b : a));
  const [service, baseline] = [best('service'), best('pg-boss')];
  const result = makeCase({
    id: 'cycles',
    title: `Claim → complete cycles, ${AGENTS} agents (HTTP) vs pg-boss fetch + complete`,
    service: {
      ...roundFigures(service),
      cpu_ratio: round(baseline.total_cpu_us_per_cycle / service.total_cpu_us_per_cycle),
    },
    baseline: roundFigures(baseline),
    ratio: service.cycles_per_s / baseline.cycles_per_s,
    ratioDefinition: 'service cycles/s ÷ pg-boss cycles/s (best round of each side)',
    target: { on: 'ratio', op: '>=', value: 0.5, text: '≥ 0.50× pg-boss' },
    display: { service: cycleDisplay(service), baseline: cycleDisplay(baseline) },
  });
  return { result, rounds };
}

/** A claim parked in its long poll, then a task created: times to the claim's answer. */
async function wakeSample(run: Run, fixture: TaskFixture, index: number) {
  const agentId = fixture.agentIds[0]!;
  const waiting = run.api.send<Claimed>('POST', '/api/v1/tasks/claim', {
    agent_id: agentId,
    wait_ms: 10_000,
  });
  await sleep(25); // the claim has looked, found nothing and waits
  const sent = performance.now();
  const create = await run.api.send<{ id: string }>('POST', '/api/v1/tasks', {
    project_id: fixture.projectId,
    title: `wake ${index}`,
  });
  const claim = await waiting;
  if (create.status !== 201 || claim.status !== 200 || claim.body.task.id !== create.body.id)
    throw new Error(`wake ${index}: create ${create.status}, claim ${claim.status}`);
  const path = `/api/v1/tasks/${claim.body.task.id}/complete`;
  await run.api.expect(200, 'POST', path, { attempt: claim.body.attempt.number });
  return { sentToClaim: claim.at - sent, createdToClaim: claim.at - create.at, create: create.ms };
}

const latencyDisplay = (s: { p50: number; p99: number }) =>
  `p50 ${s.p50.toFixed(1)} ms · p99 ${s.p99.toFixed(1)} ms`;

async function wakeCase(run: Run, load: TaskLoad): Promise<CaseResult> {
  const fixture = await createFixture(run.api, 'bench-wake', 1);
  for (let index = 0; index < 10; index++) await wakeSample(run, fixture, -index);
  const samples: Array<Awaited<ReturnType<typeof wakeSample>>> = [];
  for (let index = 0; index < load.wakeSamples; index++)
    samples.push(await wakeSample(run, fixture, index));
  const [sent, created, create] = (['sentToClaim', 'createdToClaim', 'create'] as const).map(
    (key) => summarize(samples.map((sample) => sample[key])),
  ) as [ReturnType<typeof summarize>, ReturnType<typeof summarize>, ReturnType<typeof summarize>];
  return makeCase({
    id: 'wake',
    title: `Create → claim with an agent waiting (long poll), ${load.wakeSamples} tasks`,
    service: {
      p50_ms: round(sent.p50),
      p99_ms: round(sent.p99),
      max_ms: round(sent.max),
      created_to_claim_p50_ms: round(created.p50),
      created_to_claim_p99_ms: round(created.p99),
    },
    baseline: { create_p50_ms: round(create.p50), create_p99_ms: round(create.p99) },
    ratio: null,
    ratioDefinition: 'none: the target is absolute; the baseline column is POST /tasks alone',
    target: { on: 'p99_ms', op: '<=', value: 50, text: 'p99 < 50 ms' },
    display: {
      service:
        `create sent → claim answered ${latencyDisplay(sent)} ` +
        `(create answered → claim answered ${latencyDisplay(created)})`,
      baseline: `POST /tasks alone ${latencyDisplay(create)}`,
    },
  });
}

/** One claim of one task, timed from send to answer; the task is then completed (untimed). */
async function timedClaim(run: Run, fixture: TaskFixture, refill: boolean): Promise<number> {
  if (refill) await insertQueuedTasks(run.context.db, fixture.projectId, 1);
  const claim = await run.api.send<Claimed>('POST', '/api/v1/tasks/claim', {
    agent_id: fixture.agentIds[0]!,
    wait_ms: 0,
  });
  if (claim.status !== 200) throw new Error(`claim in ${fixture.projectId}: ${claim.status}`);
  const path = `/api/v1/tasks/${claim.body.task.id}/complete`;
  await run.api.expect(200, 'POST', path, { attempt: claim.body.attempt.number });
  return claim.ms;
}

/**
 * Claims in turns, one per series each turn, so that whatever else the machine does hits every
 * series alike. A series is a fixture and whether a task is inserted before each of its claims.
 */
async function claimSeries(run: Run, series: Array<[TaskFixture, boolean]>, samples: number) {
  const times = series.map(() => [] as number[]);
  for (let index = 0; index < samples; index++)
    for (const [at, [fixture, refill]] of series.entries())
      times[at]!.push(await timedClaim(run, fixture, refill));
  return times;
}

/**
 * The deep queue in `own`'s project, and 100 000 finished tasks in `other`'s. VACUUM, not only
 * ANALYZE: 200 000 rows inserted at once would otherwise start autovacuum on `tasks` in the middle
 * of the measurement, a cost of the bulk insert that a queue grown over time does not pay.
 */
async function fillDeep(run: Run, own: TaskFixture, other: TaskFixture): Promise<void> {
  await insertQueuedTasks(run.context.db, own.projectId, DEEP_QUEUE);
  await insertFinishedTasks(run.context.db, other.projectId, DEEP_QUEUE);
  await run.context.db.query('vacuum analyze tasks');
}

/** Back to an empty queue: the rows go, and VACUUM takes their dead versions away too. */
async function emptyDeep(run: Run, own: TaskFixture, other: TaskFixture): Promise<void> {
  await run.context.db.query('delete from tasks where project_id = any($1::uuid[])', [
    [own.projectId, other.projectId],
  ]);
  await run.context.db.query('vacuum analyze tasks');
}

/** The plans of both agents' claims on the deep queue (one queued task given to `other`). */
async function explainDeep(run: Run, own: TaskFixture, other: TaskFixture) {
  const explained = await explainClaim(run.context.db.url, own.agentIds[0]!);
  await insertQueuedTasks(run.context.db, other.projectId, 1);
  const beside = await explainClaim(run.context.db.url, other.agentIds[0]!);
  return { explained, besidePlan: beside.plan };
}

/**
 * Claim latency on an empty queue (one task inserted before each claim), then with 100 000
 * queued tasks in the agent's project, measured in turns with the agent of another project, one
 * with a history of 100 000 finished tasks, whose queue holds one task: a deep queue must not
 * slow the claims of other projects either. Empty and deep alternate `depthRounds` times, so
 * that a busy spell of the machine does not fall on one side only.
 */
async function depthCase(run: Run, load: TaskLoad) {
  const own = await createFixture(run.api, 'bench-depth', 1);
  const other = await createFixture(run.api, 'bench-depth-other', 1);
  await claimSeries(run, [[own, true]], 20);
  const perRound = Math.ceil(load.depthSamples / load.depthRounds);
  const shallow: number[] = [];
  const deep: number[] = [];
  const beside: number[] = [];
  let plans: Awaited<ReturnType<typeof explainDeep>> | undefined;
  for (let round = 0; round < load.depthRounds; round++) {
    shallow.push(...(await claimSeries(run, [[own, true]], perRound))[0]!);
    await fillDeep(run, own, other);
    const both: Array<[TaskFixture, boolean]> = [
      [own, false],
      [other, true],
    ];
    await claimSeries(run, both, 5);
    const [ownTimes, otherTimes] = await claimSeries(run, both, perRound);
    deep.push(...ownTimes!);
    beside.push(...otherTimes!);
    plans ??= await explainDeep(run, own, other);
    await emptyDeep(run, own, other);
  }
  const [empty, full, history] = [shallow, deep, beside].map((times) => summarize(times));
  return { results: [depthResult(empty!, full!), besideResult(empty!, history!)], ...plans! };
}

type Latencies = ReturnType<typeof summarize>;
const latencyFigures = (s: Latencies) => ({
  p50_ms: round(s.p50),
  p99_ms: round(s.p99),
  max_ms: round(s.max),
});

function depthResult(shallow: Latencies, deep: Latencies): CaseResult {
  return makeCase({
    id: 'depth',
    title: `Claim latency, ${fmt(DEEP_QUEUE)} queued tasks vs an empty queue`,
    service: latencyFigures(deep),
    baseline: latencyFigures(shallow),
    ratio: shallow.p99 / deep.p99,
    ratioDefinition: 'p99 on an empty queue ÷ p99 with 100 000 queued (≥ 0.5: within 2×)',
    target: { on: 'ratio', op: '>=', value: 0.5, text: '≥ 0.50× (p99 ≤ 2× the empty queue)' },
    display: {
      service: `${fmt(DEEP_QUEUE)} queued: ${latencyDisplay(deep)}`,
      baseline: `empty queue: ${latencyDisplay(shallow)}`,
    },
  });
}

function besideResult(shallow: Latencies, beside: Latencies): CaseResult {
  return makeCase({
    id: 'depth-other-project',
    title: `Claim latency, ${fmt(DEEP_QUEUE)} finished tasks, ${fmt(DEEP_QUEUE)} queued elsewhere`,
    service: latencyFigures(beside),
    baseline: latencyFigures(shallow),
    ratio: shallow.p99 / beside.p99,
    ratioDefinition:
      'p99 on an empty queue ÷ p99 of the other project (history, deep queue beside)',
    target: null,
    display: {
      service: `history ${fmt(DEEP_QUEUE)}, queue elsewhere: ${latencyDisplay(beside)}`,
      baseline: `empty queue: ${latencyDisplay(shallow)}`,
    },
  });
}

export const tasksSuite: Suite = async (context) => {
  const load = taskLoad(context.quick);
  const pgbossUrl = await createPgBossDatabase(context.db);
  return withChildren(async (track) => {
    const service = track(await context.startService({ DATABASE_POOL_SIZE: POOL_SIZE }));
    const baseline = track(
      await context.startScript('baseline-pgboss', 'baseline-pgboss.ts', {
        ipc: true,
        env: { PGBOSS_URL: pgbossUrl, DATABASE_POOL_SIZE: POOL_SIZE },
      }),
    );
    const api = new JsonHttp(baseUrl(service), context.headers, AGENTS + 8);
    try {
      const run: Run = { context, api, service, baseline, pgbossUrl };
      context.log('tasks: claim → complete cycles, service vs pg-boss');
      const cycles = await cyclesCase(run, load);
      context.log('tasks: create → claim with an agent waiting');
      const wake = await wakeCase(run, load);
      context.log(`tasks: claim latency, ${fmt(DEEP_QUEUE)} queued vs 1`);
      const depth = await depthCase(run, load);
      context.log(`tasks: the claim statement, ${fmt(DEEP_QUEUE)} queued in the agent's project:`);
      context.log(depth.explained.plan.join('\n'));
      context.log(`tasks: the claim statement of another project's agent beside them:`);
      context.log(depth.besidePlan.join('\n'));
      return {
        name: 'tasks',
        title: 'Task queue: claims through the API vs pg-boss',
        settings: {
          ...load,
          agents: AGENTS,
          deepQueue: DEEP_QUEUE,
          poolSize: Number(POOL_SIZE),
          authenticated: 'authorization' in context.headers,
          cycleRounds: cycles.rounds.map((r) => ({ ...r, ...roundFigures(r) })),
          claimSql: depth.explained.sql,
          claimPlan: depth.explained.plan,
          claimPlanOtherProject: depth.besidePlan,
        },
        cases: [cycles.result, wake, ...depth.results],
      };
    } finally {
      api.close();
    }
  });
};
