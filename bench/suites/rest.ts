/**
 * REST: the service vs bare Fastify + pg (bench/baseline-rest.ts) on the same PostgreSQL, schema
 * and data, for four requests. Throughput = 2xx responses per second with 50 connections and
 * pipelining 1; ratio = service / baseline throughput. Target: GET by id ≥ 0.85×.
 */
import { baseUrl, type Suite, withChildren } from '../lib/context.js';
import {
  type LoadRequest,
  type LoadResult,
  type PairResult,
  comparePair,
  pairLoad,
} from '../lib/http-load.js';
import { type CaseResult, type Target, fmt, makeCase } from '../lib/results.js';

interface RestCase {
  id: string;
  title: string;
  request: LoadRequest;
  target: Target | null;
}

/** `4 210 req/s · p50 11.2 ms · p99 25.1 ms · 310 µs CPU/req` */
export function httpDisplay(result: LoadResult): string {
  return `${fmt(result.rps)} req/s · p50 ${result.p50_ms.toFixed(1)} ms · p99 ${result.p99_ms.toFixed(1)} ms · ${fmt(result.cpu_us_per_req)} µs CPU/req`;
}

export function httpFigures(result: LoadResult): Record<string, number> {
  return {
    rps: result.rps,
    p50_ms: result.p50_ms,
    p99_ms: result.p99_ms,
    mean_ms: result.mean_ms,
    requests: result.requests,
    duration_s: result.durationSec,
    server_cpu_us_per_req: result.cpu_us_per_req,
    server_cpu_cores: result.cpu_cores,
  };
}

/** A case from a service/baseline pair: ratio = service / baseline throughput. */
export function throughputCase(
  id: string,
  title: string,
  pair: PairResult,
  target: Target | null,
): CaseResult {
  return makeCase({
    id,
    title,
    service: {
      ...httpFigures(pair.service),
      median_rps: pair.medianRps.service,
      median_ratio: pair.medianRps.service / pair.medianRps.baseline,
    },
    baseline: { ...httpFigures(pair.baseline), median_rps: pair.medianRps.baseline },
    ratio: pair.service.rps / pair.baseline.rps,
    ratioDefinition: 'service req/s ÷ baseline req/s (best run of each side)',
    target,
    display: { service: httpDisplay(pair.service), baseline: httpDisplay(pair.baseline) },
  });
}

export const restSuite: Suite = async (context) => {
  const load = pairLoad(context.quick);
  const ids = context.projectIds;
  const itemPaths = ids.map((id) => `/api/v1/projects/${id}`);
  const headers = context.headers;
  const cases: RestCase[] = [
    {
      id: 'get-by-id',
      title: 'GET /api/v1/projects/:id',
      request: { method: 'GET', path: itemPaths, headers },
      target: { on: 'ratio', op: '>=', value: 0.85, text: '≥ 0.85× baseline' },
    },
    {
      id: 'list',
      title: 'GET /api/v1/projects?status=active&limit=20',
      request: { method: 'GET', path: '/api/v1/projects?status=active&limit=20', headers },
      target: null,
    },
    {
      id: 'patch',
      title: 'PATCH /api/v1/projects/:id',
      request: {
        method: 'PATCH',
        path: itemPaths,
        headers,
        body: JSON.stringify({ description: 'patched by the benchmark' }),
      },
      target: null,
    },
    // Last: it adds rows (archived, so the active list above is unaffected anyway).
    {
      id: 'create',
      title: 'POST /api/v1/projects',
      request: {
        method: 'POST',
        path: '/api/v1/projects',
        headers,
        body: JSON.stringify({
          name: 'bench project',
          description: 'created by the benchmark',
          status: 'archived',
          sparc_mode: 'architecture',
        }),
      },
      target: null,
    },
  ];
  return withChildren(async (track) => {
    const service = track(await context.startService());
    const baseline = track(
      await context.startScript('baseline-rest', 'baseline-rest.ts', {
        env: { DATABASE_URL: context.db.url, DATABASE_POOL_SIZE: '20' },
      }),
    );
    const [serviceUrl, baselineUrl] = [baseUrl(service), baseUrl(baseline)];
    await checkSameAnswer(`${serviceUrl}${itemPaths[0]}`, `${baselineUrl}${itemPaths[0]}`, headers);
    const results: CaseResult[] = [];
    const runs: Record<string, PairResult['runs']> = {};
    for (const c of cases) {
      context.log(`rest: ${c.title}`);
      const pair = await comparePair({
        serviceUrl,
        baselineUrl,
        servicePid: service.pid,
        baselinePid: baseline.pid,
        request: c.request,
        ...load,
        log: context.log,
      });
      runs[c.id] = pair.runs;
      results.push(throughputCase(c.id, c.title, pair, c.target));
    }
    return {
      name: 'rest',
      title: 'REST API vs bare Fastify + pg',
      settings: {
        ...load,
        pipelining: 1,
        seededProjects: ids.length,
        servicePoolSize: 20,
        baselinePoolSize: 20,
        authenticated: 'authorization' in headers,
        runs,
      },
      cases: results,
    };
  });
};

/** Both servers must return the same project for the same id (same data, same shape). */
async function checkSameAnswer(
  serviceUrl: string,
  baselineUrl: string,
  headers: Record<string, string>,
): Promise<void> {
  const [fromService, fromBaseline] = await Promise.all(
    [serviceUrl, baselineUrl].map(async (url) => {
      const response = await fetch(url, { headers });
      if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
      return response.json() as Promise<Record<string, unknown>>;
    }),
  );
  const normalized = (value: Record<string, unknown>) =>
    JSON.stringify(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
  if (normalized(fromService!) !== normalized(fromBaseline!)) {
    throw new Error(
      `service and baseline disagree on ${serviceUrl}:\n${JSON.stringify(fromService)}\n${JSON.stringify(fromBaseline)}`,
    );
  }
}
