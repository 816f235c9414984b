/**
 * Writes (issue #17): the service's PATCH and POST of a project against bench/baseline-writes.ts,
 * bare Fastify + pg in two variants measured in the same run — *guaranteed* (the service's
 * guarantees in one autocommitted statement) and *minimal* (one `update`/`insert … returning`) —
 * plus PATCH at light load, 50 writers on 50 projects vs on one project with the time a write
 * holds the event-log counter row, 10 000 agents heartbeating, and the same write figures on the
 * embedded PGlite. bench/README.md, "writes", says what each case measures.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { onEmergencyExit } from '../../test/support/process.js';
import { type Child, readyPort } from '../lib/child.js';
import {
  type BenchContext,
  type Suite,
  baseUrl,
  bootstrapKeyIn,
  sleep,
  withChildren,
} from '../lib/context.js';
import {
  type LoadRequest,
  type LoadResult,
  type PairLoad,
  type Side,
  type SideRun,
  type SidesResult,
  compareSides,
  pairLoad,
  runLoad,
  assertClean,
} from '../lib/http-load.js';
import { cpuBetween, postgresCpu } from '../lib/postgres-cpu.js';
import { SEED_PROJECTS_SQL } from '../lib/postgres.js';
import { type CaseResult, type Target, fmt, makeCase } from '../lib/results.js';
import { SampleBuffer, summarize } from '../lib/stats.js';
import { httpDisplay, httpFigures } from './rest.js';

const TITLE = 'Writes: PATCH and POST vs the same guarantees in one statement';
const PATCH_BODY = JSON.stringify({ description: 'patched by the benchmark' });
const POST_BODY = JSON.stringify({
  name: 'bench project',
  description: 'created by the benchmark',
  status: 'archived',
  sparc_mode: 'architecture',
});
const HEARTBEAT_AGENTS = 10_000;
const HEARTBEAT_RATE = 1_000;
const WRITERS = 50;
/** Client connections on PGlite, which has one database connection (statements queue there). */
const PGLITE_CONNECTIONS = 10;
/**
 * Pause after each run: autocannon stops with up to 50 requests in flight, which a slow server
 * still works off (at 200 writes/s, 250 ms) and which must not fall into the next side's run.
 */
const SETTLE_MS = 500;

/** How long and how wide each part of the suite loads its servers. */
function settingsFor(quick: boolean) {
  return {
    throughput: pairLoad(quick),
    light: { connections: 1, durationSec: quick ? 2 : 3, warmupSec: 1, rounds: quick ? 1 : 3 },
    concurrency: { durationSec: quick ? 2 : 5, rounds: quick ? 1 : 2 },
    heartbeat: {
      openLoopSec: quick ? 15 : 60,
      baselineOpenLoopSec: quick ? 5 : 15,
      capacity: {
        connections: 50,
        durationSec: quick ? 3 : 5,
        warmupSec: 1,
        rounds: quick ? 1 : 2,
      },
    },
    pglite: {
      throughput: {
        connections: PGLITE_CONNECTIONS,
        durationSec: quick ? 2 : 4,
        warmupSec: 2,
        rounds: quick ? 1 : 2,
      },
      light: { connections: 1, durationSec: 2, warmupSec: 1, rounds: quick ? 1 : 2 },
    },
  } satisfies Record<string, unknown>;
}

const ratioTarget = (value: number, what: string): Target => ({
  on: 'ratio',
  op: '>=',
  value,
  text: `≥ ${value.toFixed(2)}× ${what}`,
});

/** `LoadResult` figures plus PostgreSQL's CPU per request when it was measured. */
function figures(run: SideRun): Record<string, number> {
  const pgCpuMs = run.extra.postgres_cpu_ms;
  return {
    ...httpFigures(run.result),
    ...(pgCpuMs === undefined
      ? {}
      : { postgres_cpu_us_per_req: (pgCpuMs * 1000) / run.result.requests }),
  };
}

function display(run: SideRun): string {
  const pgCpu = figures(run).postgres_cpu_us_per_req;
  return `${httpDisplay(run.result)}${pgCpu === undefined ? '' : ` · PostgreSQL ${fmt(pgCpu)} µs CPU/write`}`;
}

/** Service vs one baseline side of a comparison: throughput ratio. */
function throughputCase(
  id: string,
  title: string,
  result: SidesResult,
  baselineSide: string,
  target: Target | null,
): CaseResult {
  const service = result.best.service!;
  const baseline = result.best[baselineSide]!;
  return makeCase({
    id,
    title,
    service: {
      ...figures(service),
      median_rps: result.medianRps.service!,
      median_ratio: result.medianRps.service! / result.medianRps[baselineSide]!,
    },
    baseline: { ...figures(baseline), median_rps: result.medianRps[baselineSide]! },
    ratio: service.result.rps / baseline.result.rps,
    ratioDefinition: `service req/s ÷ ${baselineSide} baseline req/s (best run of each side)`,
    target,
    display: { service: display(service), baseline: display(baseline) },
  });
}

/** One connection, sequential: p50 of the service against the baseline's. */
function lightCase(
  id: string,
  title: string,
  result: SidesResult,
  baselineSide: string,
  target: Target | null,
): CaseResult {
  // The lowest-p50 run of each side (the least disturbed one).
  const best = (side: string) =>
    result.runs
      .filter((run) => run.side === side)
      .reduce((a, b) => (b.result.p50_ms < a.result.p50_ms ? b : a)).result;
  const [service, baseline] = [best('service'), best(baselineSide)];
  const text = (r: LoadResult) =>
    `p50 ${r.p50_ms.toFixed(2)} ms · p99 ${r.p99_ms.toFixed(2)} ms · ${fmt(r.rps)} req/s · ${fmt(r.cpu_us_per_req)} µs CPU/req`;
  return makeCase({
    id,
    title,
    service: httpFigures(service),
    baseline: httpFigures(baseline),
    ratio: baseline.p50_ms / service.p50_ms,
    ratioDefinition: `${baselineSide} baseline p50 ÷ service p50 (lowest-p50 run of each side)`,
    target,
    display: { service: text(service), baseline: text(baseline) },
  });
}

/**
 * Samples, from a connection of its own, whether a transaction holds the event-log counter row:
 * the row's visible version carries the holder's xid in `xmax` while the holder is in progress
 * (an updater's, or a `for update` locker's), and `pg_stat_activity.backend_xid` is that xid
 * (both `xid`, compared by equality: no ordering, so wraparound does not matter; a rolled-back
 * holder's xmax stays on the row but no backend has it any more). Checked on PostgreSQL 15: held
 * by a transaction idle between statements → one row `idle in transaction`/`Client`; inside a
 * running statement → `active`; after commit or rollback → no row.
 */
class CounterLockSampler {
  private client: pg.Client | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private samples = 0;
  private held = 0;
  private readonly holders = new Map<string, number>();
  private startedAt = 0;
  private firstId = 0;

  constructor(private readonly url: string) {}

  async start(): Promise<void> {
    this.client = new pg.Client({ connectionString: this.url });
    this.client.on('error', () => undefined);
    await this.client.connect();
    this.firstId = await this.lastId();
    this.startedAt = performance.now();
    this.running = this.loop();
  }

  private async lastId(): Promise<number> {
    const { rows } = await this.client!.query<{ last_id: string }>(
      'select last_id from event_log_state',
    );
    return Number(rows[0]!.last_id);
  }

  private async loop(): Promise<void> {
    const probe = {
      name: 'counter-holder',
      text:
        'select a.state, a.wait_event_type, a.wait_event, left(a.query, 40) as query ' +
        'from event_log_state s ' +
        'join pg_stat_activity a on a.backend_xid = s.xmax',
    };
    while (!this.stopped) {
      const { rows } = await this.client!.query<{
        state: string;
        wait_event_type: string | null;
        wait_event: string | null;
        query: string;
      }>(probe);
      this.samples++;
      const holder = rows[0];
      if (holder !== undefined) {
        this.held++;
        const wait =
          holder.wait_event_type === null
            ? 'running'
            : `${holder.wait_event_type}:${holder.wait_event ?? ''}`;
        const key = `${holder.state} / ${wait} / ${holder.query.replace(/\s+/g, ' ').trim()}`;
        this.holders.set(key, (this.holders.get(key) ?? 0) + 1);
      }
      await sleep(2);
    }
  }

  /** Stops sampling; figures per Little's law (one event, one counter lock per write). */
  async stop(): Promise<LockFigures> {
    this.stopped = true;
    await this.running;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const events = (await this.lastId()) - this.firstId;
    await this.client!.end();
    const heldShare = this.held / this.samples;
    const idle = [...this.holders]
      .filter(([key]) => key.startsWith('idle in transaction'))
      .reduce((sum, [, count]) => sum + count, 0);
    const commitsPerSec = events / seconds;
    return {
      samples: this.samples,
      held_samples: this.held,
      held_share: heldShare,
      event_commits_per_s: commitsPerSec,
      mean_hold_ms: (heldShare / commitsPerSec) * 1000,
      holder_idle_in_transaction_share: this.held === 0 ? 0 : idle / this.held,
      holder_active_share: this.held === 0 ? 0 : (this.held - idle) / this.held,
      holders: Object.fromEntries(this.holders),
    };
  }
}

interface LockFigures {
  samples: number;
  held_samples: number;
  held_share: number;
  event_commits_per_s: number;
  mean_hold_ms: number;
  holder_idle_in_transaction_share: number;
  holder_active_share: number;
  holders: Record<string, number>;
}

const lockDisplay = (lock: LockFigures) =>
  `mean hold ${lock.mean_hold_ms.toFixed(2)} ms (held in ${(lock.held_share * 100).toFixed(0)} % of ${fmt(lock.samples)} samples at ${fmt(lock.event_commits_per_s)} writes/s); holder idle in transaction ${(lock.holder_idle_in_transaction_share * 100).toFixed(0)} %, active ${(lock.holder_active_share * 100).toFixed(0)} %`;

const lockNumbers = ({ holders: _holders, ...numbers }: LockFigures) => numbers;

/** Result of an open-loop load: requests sent on a fixed schedule, whatever the answers do. */
interface OpenLoopResult {
  /** Requests due by the schedule: sent, plus dropped. */
  due: number;
  sent: number;
  /** Not sent: a second's worth of requests was still unanswered (the server fell behind). */
  dropped: number;
  ok: number;
  non2xx: number;
  errors: number;
  rate_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  /** How late the generator sent its requests behind their schedule (its own lag), p99. */
  send_lag_p99_ms: number;
  cpu_us_per_req: number;
  /** Per second of the schedule: answered, p50, p99 and max latency (ms) of its requests. */
  timeline: Array<{ second: number; ok: number; p50_ms: number; p99_ms: number; max_ms: number }>;
}

/**
 * Sends `rate` requests per second for `durationSec`, each at its scheduled time (open loop: a
 * slow answer delays no later request), over keep-alive connections (64 opened beforehand, more
 * as needed). Latency =
 * the answer's last byte − the moment the request was handed to `http.request`. A server that
 * falls behind by a second's worth of requests gets no more until it catches up: the requests
 * due meanwhile are dropped (counted as errors), so an overloaded server fails the run in
 * bounded time instead of queueing minutes of work.
 */
async function openLoop(options: {
  url: string;
  paths: readonly string[];
  headers: Record<string, string>;
  body: string;
  rate: number;
  durationSec: number;
  serverPid: number;
}): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 512 });
  const headers = { ...options.headers, 'content-type': 'application/json' };
  const latencies = new SampleBuffer(1 << 16);
  const lags = new SampleBuffer(1 << 16);
  const perSecond = Array.from(
    { length: Math.ceil(options.durationSec) },
    () => new SampleBuffer(1 << 11),
  );
  const total = Math.round(options.rate * options.durationSec);
  let [due, sent, dropped, ok, non2xx, errors, outstanding] = [0, 0, 0, 0, 0, 0, 0];
  let drained: (() => void) | undefined;
  const fire = (scheduled: number, second: number) => {
    const started = performance.now();
    lags.push(started - scheduled);
    const path = options.paths[sent % options.paths.length]!;
    sent++;
    outstanding++;
    const done = (status: number) => {
      if (status >= 200 && status < 300) {
        ok++;
        const ms = performance.now() - started;
        latencies.push(ms);
        perSecond[second]?.push(ms);
      } else if (status === 0) errors++;
      else non2xx++;
      if (--outstanding === 0 && due === total) drained?.();
    };
    const outgoing = httpRequest(
      `${options.url}${path}`,
      { method: 'POST', headers, agent, timeout: 10_000 },
      (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode ?? 0));
        response.on('error', () => done(0));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('timeout')));
    outgoing.on('error', () => done(0));
    outgoing.end(options.body);
  };
  // Open the connections the load starts with before the clock runs (64, answered, not counted),
  // so the first second does not measure TCP and HTTP connection set-up.
  await Promise.all(
    Array.from(
      { length: 64 },
      (_, index) =>
        new Promise<void>((resolve) => {
          const path = options.paths[options.paths.length - 1 - index]!;
          const outgoing = httpRequest(
            `${options.url}${path}`,
            { method: 'POST', headers, agent, timeout: 10_000 },
            (response) => response.resume().on('end', resolve).on('error', resolve),
          );
          outgoing.on('error', () => resolve());
          outgoing.end(options.body);
        }),
    ),
  );
  const { readCpuMs } = await import('../lib/proc.js');
  const cpuBefore = readCpuMs(options.serverPid);
  const start = performance.now();
  const interval = 1000 / options.rate;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; due < now; due++) {
        if (outstanding >= options.rate) dropped++;
        else fire(start + due * interval, Math.floor(due / options.rate));
      }
      if (due < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  if (outstanding > 0) {
    await Promise.race([
      new Promise<void>((resolve) => (drained = resolve)),
      sleep(15_000), // every request has its own 10 s timeout
    ]);
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpuMs = readCpuMs(options.serverPid) - cpuBefore;
  agent.destroy();
  const summary = summarize(latencies.values());
  return {
    due,
    sent,
    dropped,
    ok,
    non2xx,
    errors: errors + dropped + outstanding,
    rate_per_s: ok / elapsed,
    p50_ms: summary.p50,
    p99_ms: summary.p99,
    max_ms: summary.max,
    mean_ms: summary.mean,
    send_lag_p99_ms: summarize(lags.values()).p99,
    cpu_us_per_req: (cpuMs * 1000) / ok,
    timeline: perSecond.map((buffer, second) => {
      const s = summarize(buffer.values());
      return { second, ok: s.count, p50_ms: s.p50, p99_ms: s.p99, max_ms: s.max };
    }),
  };
}

function logOpenLoop(
  context: BenchContext,
  side: string,
  result: Omit<OpenLoopResult, 'timeline'>,
  timeline: OpenLoopResult['timeline'],
): void {
  const worst = timeline.reduce((a, b) => (b.p99_ms > a.p99_ms ? b : a));
  context.log(
    `  ${side.padEnd(10)} ${result.ok}/${result.due} ok, p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, ` +
      `generator lag p99 ${result.send_lag_p99_ms.toFixed(1)} ms; worst second ${worst.second}: p99 ${worst.p99_ms.toFixed(1)} ms`,
  );
}

/** Runs one statement on the run's database and returns its single row. */
async function row<T extends pg.QueryResultRow>(
  context: BenchContext,
  text: string,
  values: unknown[] = [],
): Promise<T> {
  return (await context.db.query<T>(text, values)).rows[0]!;
}

/** Rows written to the audit log and events logged so far. */
const durableCounts = (context: BenchContext) =>
  row<{ audit: string; events: string }>(
    context,
    'select (select count(*) from audit_log) as audit, (select last_id from event_log_state) as events',
  ).then((counts) => ({ audit: Number(counts.audit), events: Number(counts.events) }));

/**
 * The guaranteed baseline must write what the service writes: the same answer (keys, version
 * bump), the same audit row and an event of the same type, topics and data (the project as
 * answered, and `changed_fields`). Checked once per engine before measuring, with PATCH on two
 * different projects and one POST each, and a 404 that writes nothing.
 */
async function checkSameWrites(options: {
  serviceUrl: string;
  baselineUrl: string;
  headers: Record<string, string>;
  projectIds: readonly [string, string];
  lastWrite: () => Promise<{ event: Record<string, unknown>; audit: Record<string, unknown> }>;
}): Promise<void> {
  const { headers } = options;
  const send = async (url: string, method: string, body: string) => {
    const response = await fetch(url, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    return {
      status: response.status,
      etag: response.headers.get('etag'),
      body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
    };
  };
  const shape = (write: {
    status: number;
    etag: string | null;
    body: Record<string, unknown>;
    event: Record<string, unknown>;
    audit: Record<string, unknown>;
  }) => {
    const id = String(write.body.id);
    const data = write.event.data as Record<string, unknown>;
    return {
      status: write.status,
      etagIsVersion: write.etag === `"${String(write.body.version)}"`,
      keys: Object.keys(write.body).sort(),
      eventType: write.event.type,
      eventTopic: write.event.topic === `project:${id}`,
      eventTopics: isDeepStrictEqual(write.event.topics, ['projects', `project:${id}`]),
      eventProjectIsAnswer: isDeepStrictEqual(data.project, write.body),
      changedFields: data.changed_fields,
      eventDataKeys: Object.keys(data).sort(),
      audit: { ...write.audit, resource_id: write.audit.resource_id === id },
    };
  };
  for (const [method, body] of [
    ['PATCH', PATCH_BODY],
    ['POST', POST_BODY],
  ] as const) {
    const sides = [];
    // PATCH: a project of its own for each side, so each changes `description` and bumps a version.
    for (const [index, url] of [
      options.serviceUrl,
      `${options.baselineUrl}/guaranteed`,
    ].entries()) {
      const path =
        method === 'PATCH' ? `/api/v1/projects/${options.projectIds[index]!}` : '/api/v1/projects';
      const answer = await send(`${url}${path}`, method, body);
      sides.push(shape({ ...answer, ...(await options.lastWrite()) }));
    }
    if (!isDeepStrictEqual(sides[0], sides[1]))
      throw new Error(
        `the guaranteed baseline does not write what the service writes on ${method}:\n` +
          `service  ${JSON.stringify(sides[0])}\nbaseline ${JSON.stringify(sides[1])}`,
      );
  }
  const before = await options.lastWrite();
  const missing = await send(
    `${options.baselineUrl}/guaranteed/api/v1/projects/00000000-0000-4000-8000-000000000000`,
    'PATCH',
    PATCH_BODY,
  );
  if (missing.status !== 404 || !isDeepStrictEqual(before, await options.lastWrite()))
    throw new Error(`guaranteed baseline: PATCH of a missing project answered ${missing.status}`);
}

/** The last event and audit row of a database, as the write check compares them. */
async function lastWriteOf(
  query: (text: string) => Promise<Array<Record<string, unknown>>>,
): Promise<{ event: Record<string, unknown>; audit: Record<string, unknown> }> {
  const [event] = await query(
    'select type, topic, topics, data from events order by id desc limit 1',
  );
  const [audit] = await query(
    'select key_id, action, resource, resource_id, changed_fields from audit_log order by id desc limit 1',
  );
  return { event: event ?? {}, audit: audit ?? {} };
}

/** PATCH and POST requests against the service and the two baseline variants. */
function writeSides(
  service: Child,
  baseline: Child,
  headers: Record<string, string>,
  paths: readonly string[],
  variants: readonly ('guaranteed' | 'minimal')[],
): { patch: Side[]; post: Side[] } {
  const make = (request: (prefix: string) => LoadRequest) => [
    { name: 'service', url: baseUrl(service), pid: service.pid, request: request('') },
    ...variants.map((variant) => ({
      name: variant,
      url: baseUrl(baseline),
      pid: baseline.pid,
      request: request(`/${variant}`),
    })),
  ];
  return {
    patch: make((prefix) => ({
      method: 'PATCH',
      path: paths.map((path) => `${prefix}${path}`),
      headers,
      body: PATCH_BODY,
    })),
    post: make((prefix) => ({
      method: 'POST',
      path: `${prefix}/api/v1/projects`,
      headers,
      body: POST_BODY,
    })),
  };
}

export const writesSuite: Suite = async (context) => {
  const settings = settingsFor(context.quick);
  const cases: CaseResult[] = [];
  const runs: Record<string, SideRun[]> = {};
  const extra: Record<string, unknown> = {};
  const pgDir = context.db.server.dataDir;
  const measurePostgres = () => {
    const before = postgresCpu(pgDir);
    return () => ({ postgres_cpu_ms: cpuBetween(before, postgresCpu(pgDir)) });
  };
  const ids = context.projectIds;
  const headers = context.headers;
  const itemPaths = ids.map((id) => `/api/v1/projects/${id}`);

  await withChildren(async (track) => {
    const service = track(await context.startService());
    const baseline = track(
      await context.startScript('baseline-writes', 'baseline-writes.ts', {
        env: { DATABASE_URL: context.db.url, DATABASE_POOL_SIZE: '20' },
      }),
    );
    await checkSameWrites({
      serviceUrl: baseUrl(service),
      baselineUrl: baseUrl(baseline),
      headers,
      projectIds: [ids[0]!, ids[1]!],
      lastWrite: () => lastWriteOf(async (text) => (await context.db.query(text)).rows),
    });
    const sides = writeSides(service, baseline, headers, itemPaths, ['guaranteed', 'minimal']);
    const compare = async (id: string, load: PairLoad, compared: Side[], withPostgres = true) => {
      const result = await compareSides({
        ...load,
        settleMs: SETTLE_MS,
        sides: compared,
        ...(withPostgres ? { measure: measurePostgres } : {}),
        log: context.log,
      });
      runs[id] = result.runs;
      return result;
    };

    context.log('writes: PATCH /api/v1/projects/:id, service vs guaranteed vs minimal');
    const patch = await compare('patch', settings.throughput, sides.patch);
    cases.push(
      throughputCase(
        'patch-guaranteed',
        'PATCH /api/v1/projects/:id vs the same guarantees in one statement',
        patch,
        'guaranteed',
        ratioTarget(0.8, 'guaranteed baseline'),
      ),
      throughputCase(
        'patch-minimal',
        'PATCH /api/v1/projects/:id vs one UPDATE',
        patch,
        'minimal',
        ratioTarget(0.5, 'minimal baseline'),
      ),
    );

    context.log('writes: PATCH at light load (one connection)');
    const light = await compare('patch-light', settings.light, sides.patch.slice(0, 2), false);
    cases.push(
      lightCase(
        'patch-light',
        'PATCH at light load (1 connection, sequential): p50',
        light,
        'guaranteed',
        {
          on: 'p50_ms',
          op: '<=',
          value: 2,
          text: 'service p50 ≤ 2 ms',
        },
      ),
    );

    context.log(`writes: ${WRITERS} writers on ${WRITERS} projects vs on one project`);
    await concurrency(context, settings.concurrency, sides.patch.slice(0, 2), ids, cases, extra);

    // Last on PostgreSQL among the project writes: it adds rows.
    context.log('writes: POST /api/v1/projects, service vs guaranteed vs minimal');
    const post = await compare('post', settings.throughput, sides.post);
    cases.push(
      throughputCase(
        'post-guaranteed',
        'POST /api/v1/projects vs the same guarantees in one statement',
        post,
        'guaranteed',
        ratioTarget(0.8, 'guaranteed baseline'),
      ),
      throughputCase(
        'post-minimal',
        'POST /api/v1/projects vs one INSERT',
        post,
        'minimal',
        ratioTarget(0.5, 'minimal baseline'),
      ),
    );

    await heartbeats(context, settings.heartbeat, service, baseline, cases, runs, extra);

    const gapless = await row<{ gapless: boolean; events: string }>(
      context,
      'select count(*) = coalesce(max(id) - min(id) + 1, 0) as gapless, count(*) as events from events',
    );
    extra.eventLogGapless = gapless.gapless;
    if (!gapless.gapless) throw new Error('the event log has gaps after the PostgreSQL cases');
  });

  await pgliteCases(context, settings.pglite, cases, runs, extra);

  return {
    name: 'writes',
    title: TITLE,
    settings: {
      ...settings,
      pipelining: 1,
      seededProjects: ids.length,
      servicePoolSize: 20,
      baselinePoolSize: 20,
      authenticated: 'authorization' in headers,
      ...extra,
      runs,
    },
    cases,
  };
};

/**
 * 50 writers, each on a project of its own (one connection per project), vs 50 writers on one
 * project, for the service and the guaranteed baseline, with the counter row sampled throughout.
 * Also checks that no update was lost on the shared project: its version grew by at least the
 * number of answered PATCHes.
 */
async function concurrency(
  context: BenchContext,
  load: { durationSec: number; rounds: number },
  sides: Side[],
  ids: string[],
  cases: CaseResult[],
  extra: Record<string, unknown>,
): Promise<void> {
  type Measured = { run: LoadResult; lock: LockFigures };
  const measured: Record<string, { spread: Measured[]; one: Measured[] }> = {};
  const hot = ids[ids.length - 1]!;
  const lost: Record<string, number> = {};
  for (let round = 1; round <= load.rounds; round++) {
    const order = round % 2 === 1 ? sides : [...sides].reverse();
    for (const side of order) {
      const prefix = side.name === 'service' ? '' : `/${side.name}`;
      for (const spread of [true, false]) {
        const paths = spread
          ? ids.slice(0, WRITERS).map((id) => `${prefix}/api/v1/projects/${id}`)
          : [`${prefix}/api/v1/projects/${hot}`];
        const versionBefore = spread
          ? 0
          : (
              await row<{ version: number }>(
                context,
                'select version from projects where id = $1',
                [hot],
              )
            ).version;
        const sampler = new CounterLockSampler(context.db.url);
        await sampler.start();
        const run = await runLoad({
          baseUrl: side.url,
          request: { ...side.request, path: paths, pathPerConnection: true },
          connections: WRITERS,
          durationSec: load.durationSec,
          serverPid: side.pid!,
        });
        const lock = await sampler.stop();
        await sleep(SETTLE_MS);
        assertClean(`${side.name} ${spread ? WRITERS : 1} project(s)`, run);
        if (!spread) {
          const after = await row<{ version: number }>(
            context,
            'select version from projects where id = $1',
            [hot],
          );
          lost[side.name] = Math.max(
            lost[side.name] ?? 0,
            run.requests - (after.version - versionBefore),
          );
        }
        context.log(
          `  ${side.name.padEnd(10)} ${spread ? `${WRITERS} projects` : '1 project  '}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50_ms.toFixed(2)} ms, p99 ${run.p99_ms.toFixed(2)} ms; counter ${lockDisplay(lock)}`,
        );
        const entry = (measured[side.name] ??= { spread: [], one: [] });
        (spread ? entry.spread : entry.one).push({ run, lock });
      }
    }
  }
  extra.lostUpdates = lost;
  if (Object.values(lost).some((count) => count > 0))
    throw new Error(`updates lost on the shared project: ${JSON.stringify(lost)}`);
  const best = (list: Measured[]) => list.reduce((a, b) => (b.run.rps > a.run.rps ? b : a));
  const [service, baseline] = [measured.service!, measured.guaranteed!];
  const both = (m: { spread: Measured[]; one: Measured[] }) => ({
    spread: best(m.spread),
    one: best(m.one),
  });
  const [s, b] = [both(service), both(baseline)];
  const pairText = (m: { spread: Measured; one: Measured }) =>
    `${WRITERS} projects ${fmt(m.spread.run.rps)} req/s (p99 ${m.spread.run.p99_ms.toFixed(1)} ms) · 1 project ${fmt(m.one.run.rps)} req/s (p99 ${m.one.run.p99_ms.toFixed(1)} ms) · ${(m.one.run.rps / m.spread.run.rps).toFixed(2)}× on one project`;
  const pairFigures = (m: { spread: Measured; one: Measured }) => ({
    spread_rps: m.spread.run.rps,
    spread_p50_ms: m.spread.run.p50_ms,
    spread_p99_ms: m.spread.run.p99_ms,
    spread_cpu_us_per_req: m.spread.run.cpu_us_per_req,
    one_project_rps: m.one.run.rps,
    one_project_p50_ms: m.one.run.p50_ms,
    one_project_p99_ms: m.one.run.p99_ms,
    one_project_cpu_us_per_req: m.one.run.cpu_us_per_req,
    one_vs_spread: m.one.run.rps / m.spread.run.rps,
  });
  cases.push(
    makeCase({
      id: 'writers-50-vs-1-project',
      title: `PATCH, ${WRITERS} writers on ${WRITERS} projects vs on one project`,
      service: pairFigures(s),
      baseline: pairFigures(b),
      ratio: s.spread.run.rps / b.spread.run.rps,
      ratioDefinition: `service ÷ guaranteed baseline req/s, ${WRITERS} writers on ${WRITERS} projects`,
      target: null,
      display: { service: pairText(s), baseline: pairText(b) },
    }),
    makeCase({
      id: 'counter-lock-hold',
      title: `Event-log counter lock hold time, ${WRITERS} writers on ${WRITERS} projects`,
      service: lockNumbers(s.spread.lock),
      baseline: lockNumbers(b.spread.lock),
      ratio: b.spread.lock.mean_hold_ms / s.spread.lock.mean_hold_ms,
      ratioDefinition: 'guaranteed baseline mean hold ÷ service mean hold (Little’s law)',
      target: null,
      display: { service: lockDisplay(s.spread.lock), baseline: lockDisplay(b.spread.lock) },
    }),
  );
  extra.counterLock = {
    service: { spread: s.spread.lock, oneProject: s.one.lock },
    guaranteed: { spread: b.spread.lock, oneProject: b.one.lock },
  };
}

/**
 * 10 000 agents (their own project) heartbeating 1 000 times a second, open loop, on the service
 * and (shorter) on the minimal baseline; the audit rows and events the service wrote meanwhile;
 * then the capacity of each with 50 connections, closed loop.
 */
async function heartbeats(
  context: BenchContext,
  load: ReturnType<typeof settingsFor>['heartbeat'],
  service: Child,
  baseline: Child,
  cases: CaseResult[],
  runs: Record<string, SideRun[]>,
  extra: Record<string, unknown>,
): Promise<void> {
  context.log(`writes: seeding ${fmt(HEARTBEAT_AGENTS)} agents`);
  const project = await row<{ id: string }>(
    context,
    `insert into projects (name, description) values ('heartbeat agents', 'agents of the heartbeat benchmark') returning id`,
  );
  // Seen 5 s ago, as agents that heartbeat every 10 s: none goes silent (offline) during the run.
  const agentRows = await context.db.query<{ id: string }>(
    `insert into agents (name, agent_type, status, project_id, last_active_at)
     select 'heartbeat-agent-' || g, 'coder', 'idle', $1, now() - interval '5 seconds'
     from generate_series(1, $2::int) as g returning id`,
    [project.id, HEARTBEAT_AGENTS],
  );
  await context.db.query('analyze agents');
  const paths = agentRows.rows.map((agent) => `/api/v1/agents/${agent.id}/heartbeat`);
  const { headers } = context;
  // Each side's heartbeat route is warmed up first (compiles, statements prepared on its pool):
  // 2 s closed loop, 10 connections.
  const warm = async (child: Child, prefix: string) => {
    const run = await runLoad({
      baseUrl: baseUrl(child),
      request: {
        method: 'POST',
        path: paths.map((path) => `${prefix}${path}`),
        headers,
        body: '{}',
      },
      connections: 10,
      durationSec: 2,
    });
    assertClean(`heartbeat warm-up of ${child.name}`, run);
    await sleep(SETTLE_MS);
  };
  const open = (child: Child, prefix: string, durationSec: number) =>
    openLoop({
      url: baseUrl(child),
      paths: paths.map((path) => `${prefix}${path}`),
      headers,
      body: '{}',
      rate: HEARTBEAT_RATE,
      durationSec,
      serverPid: child.pid,
    });
  context.log(`writes: heartbeats, ${fmt(HEARTBEAT_RATE)}/s for ${load.openLoopSec} s (service)`);
  await warm(service, '');
  const before = await durableCounts(context);
  const { timeline: servedTimeline, ...served } = await open(service, '', load.openLoopSec);
  const after = await durableCounts(context);
  logOpenLoop(context, 'service', served, servedTimeline);
  context.log(
    `writes: heartbeats, ${fmt(HEARTBEAT_RATE)}/s for ${load.baselineOpenLoopSec} s (minimal baseline)`,
  );
  await warm(baseline, '/minimal');
  const { timeline: bareTimeline, ...bare } = await open(
    baseline,
    '/minimal',
    load.baselineOpenLoopSec,
  );
  logOpenLoop(context, 'minimal', bare, bareTimeline);
  extra.heartbeatTimeline = { service: servedTimeline, minimal: bareTimeline };
  const openText = (r: Omit<OpenLoopResult, 'timeline'>) =>
    `${fmt(r.ok)} of ${fmt(r.due)} ok (${fmt(r.rate_per_s)}/s${r.dropped > 0 ? `; ${fmt(r.dropped)} not sent, the server fell behind` : ''}) · p50 ${r.p50_ms.toFixed(2)} ms · p99 ${r.p99_ms.toFixed(2)} ms · max ${r.max_ms.toFixed(1)} ms · ${r.errors + r.non2xx} errors · ${fmt(r.cpu_us_per_req)} µs CPU/req`;
  const clean = (r: Omit<OpenLoopResult, 'timeline'>) => ({
    ...r,
    // The target's figure: p99 when every request succeeded, else infinite (fails).
    p99_ms_no_errors:
      r.errors + r.non2xx === 0 && r.ok === r.due ? r.p99_ms : Number.POSITIVE_INFINITY,
  });
  const audit = after.audit - before.audit;
  const events = after.events - before.events;
  cases.push(
    makeCase({
      id: 'heartbeat-open-loop',
      title: `Heartbeats: ${fmt(HEARTBEAT_AGENTS)} agents, ${fmt(HEARTBEAT_RATE)}/s, open loop (service ${load.openLoopSec} s, baseline ${load.baselineOpenLoopSec} s)`,
      service: clean(served),
      baseline: clean(bare),
      ratio: bare.p99_ms / served.p99_ms,
      ratioDefinition: 'minimal baseline p99 ÷ service p99',
      target: {
        on: 'p99_ms_no_errors',
        op: '<=',
        value: 50,
        text: 'service p99 < 50 ms, no error',
      },
      display: { service: openText(served), baseline: openText(bare) },
    }),
    makeCase({
      id: 'heartbeat-durable-writes',
      title: 'Heartbeats that change only last_active_at: audit rows and events written',
      service: {
        heartbeats: served.ok,
        audit_rows: audit,
        events,
        audit_rows_per_heartbeat: audit / served.ok,
        events_per_heartbeat: events / served.ok,
      },
      baseline: { audit_rows: 0, events: 0 },
      ratio: null,
      ratioDefinition: '—',
      target: null,
      display: {
        service: `${fmt(audit)} audit rows, ${fmt(events)} events for ${fmt(served.ok)} heartbeats (${(audit / served.ok).toFixed(2)} and ${(events / served.ok).toFixed(2)} per heartbeat)`,
        baseline: 'none (one UPDATE)',
      },
    }),
  );
  context.log('writes: heartbeat capacity, 50 connections, service vs minimal');
  const capacity = await compareSides({
    ...load.capacity,
    settleMs: SETTLE_MS,
    sides: [
      {
        name: 'service',
        url: baseUrl(service),
        pid: service.pid,
        request: { method: 'POST', path: paths, headers, body: '{}' },
      },
      {
        name: 'minimal',
        url: baseUrl(baseline),
        pid: baseline.pid,
        request: {
          method: 'POST',
          path: paths.map((path) => `/minimal${path}`),
          headers,
          body: '{}',
        },
      },
    ],
    measure: () => {
      const pgDir = context.db.server.dataDir;
      const before = postgresCpu(pgDir);
      return () => ({ postgres_cpu_ms: cpuBetween(before, postgresCpu(pgDir)) });
    },
    log: context.log,
  });
  runs['heartbeat-capacity'] = capacity.runs;
  cases.push(
    throughputCase(
      'heartbeat-capacity',
      'Heartbeat capacity: POST /api/v1/agents/:id/heartbeat, 50 connections',
      capacity,
      'minimal',
      null,
    ),
  );
  extra.heartbeatAgents = HEARTBEAT_AGENTS;
  extra.heartbeatRate = HEARTBEAT_RATE;
}

/**
 * The service on its default engine, an embedded PGlite in DATA_DIR, against the baseline on a
 * copy of the same directory (PGlite allows one process per directory): PATCH and POST of the
 * guaranteed variant and PATCH at light load. The service migrates the directory and creates its
 * admin key on a first start; the projects are seeded with SQL in this process in between.
 */
async function pgliteCases(
  context: BenchContext,
  load: ReturnType<typeof settingsFor>['pglite'],
  cases: CaseResult[],
  runs: Record<string, SideRun[]>,
  extra: Record<string, unknown>,
): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'swarm-bench-pglite-'));
  const remove = () => rmSync(root, { recursive: true, force: true });
  const unregister = onEmergencyExit(remove);
  const serviceData = join(root, 'service');
  const baselineDir = join(root, 'baseline', 'pglite');
  const startService = () =>
    context.startScript('service-pglite', 'serve-app.ts', {
      env: {
        LOG_LEVEL: 'warn',
        MEMORY_MCP: 'off',
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: serviceData,
        WS_HEARTBEAT_MS: '600000',
        RATE_LIMIT_MAX: '10000000',
      },
      readyTimeoutMs: 180_000,
    });
  try {
    context.log('writes: PGlite: first start of the service (migrations, admin key), seeding');
    const first = await startService();
    readyPort(first);
    const key = bootstrapKeyIn(first.logTail(300));
    await first.stop();
    const headers: Record<string, string> =
      key === undefined ? {} : { authorization: `Bearer ${key}` };
    const ids = await seedPglite(join(serviceData, 'pglite'), context.projectIds.length);
    cpSync(join(serviceData, 'pglite'), baselineDir, { recursive: true });
    await withChildren(async (track) => {
      // Both open their PGlite at once (a start costs seconds of WASM work); both are tracked
      // before a failure of either is thrown, so neither outlives the suite.
      const started = await Promise.allSettled([
        startService(),
        context.startScript('baseline-writes-pglite', 'baseline-writes.ts', {
          env: { PGLITE_DIR: baselineDir },
          readyTimeoutMs: 180_000,
        }),
      ]);
      for (const result of started) if (result.status === 'fulfilled') track(result.value);
      const failed = started.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const [service, baseline] = started.map(
        (result) => (result as PromiseFulfilledResult<Child>).value,
      ) as [Child, Child];
      const paths = ids.map((id) => `/api/v1/projects/${id}`);
      const sides = writeSides(service, baseline, headers, paths, ['guaranteed']);
      const compare = async (id: string, settings: PairLoad, compared: Side[]) => {
        const result = await compareSides({
          ...settings,
          settleMs: SETTLE_MS,
          sides: compared,
          log: context.log,
        });
        runs[id] = result.runs;
        return result;
      };
      context.log(`writes: PGlite PATCH, ${PGLITE_CONNECTIONS} connections`);
      const patch = await compare('pglite-patch', load.throughput, sides.patch);
      context.log('writes: PGlite PATCH at light load');
      const light = await compare('pglite-patch-light', load.light, sides.patch);
      context.log(`writes: PGlite POST, ${PGLITE_CONNECTIONS} connections`);
      const post = await compare('pglite-post', load.throughput, sides.post);
      cases.push(
        throughputCase(
          'pglite-patch',
          `PGlite: PATCH /api/v1/projects/:id, ${PGLITE_CONNECTIONS} connections, vs guaranteed`,
          patch,
          'guaranteed',
          null,
        ),
        throughputCase(
          'pglite-post',
          `PGlite: POST /api/v1/projects, ${PGLITE_CONNECTIONS} connections, vs guaranteed`,
          post,
          'guaranteed',
          null,
        ),
        lightCase(
          'pglite-patch-light',
          'PGlite: PATCH at light load (1 connection): p50',
          light,
          'guaranteed',
          null,
        ),
      );
    });
    extra.pglite = {
      connections: PGLITE_CONNECTIONS,
      lightConnections: 1,
      seededProjects: ids.length,
    };
  } finally {
    unregister();
    remove();
  }
}

/** Seeds a PGlite directory the service migrated (the service is stopped); returns the ids. */
async function seedPglite(dir: string, projects: number): Promise<string[]> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { lockDataDirectory } = await import('../../src/store/data-directory-lock.js');
  const lock = lockDataDirectory(dir);
  const client = new PGlite(dir);
  try {
    await client.query(SEED_PROJECTS_SQL, [projects]);
    await client.query('analyze');
    const { rows } = await client.query<{ id: string }>(
      'select id from projects order by created_at desc, id desc',
    );
    return rows.map((r) => r.id);
  } finally {
    await client.close();
    lock.release();
  }
}
