/**
 * Health: `GET /health/live` of the service vs a raw `node:http` server answering the same JSON
 * (bench/baseline-health.ts). Ratio = service / baseline throughput; target ≥ 0.90×.
 */
import { baseUrl, type Suite, withChildren } from '../lib/context.js';
import { comparePair, pairLoad } from '../lib/http-load.js';
import { throughputCase } from './rest.js';

export const healthSuite: Suite = async (context) => {
  const load = pairLoad(context.quick);
  return withChildren(async (track) => {
    const service = track(await context.startService());
    const baseline = track(await context.startScript('baseline-health', 'baseline-health.ts'));
    context.log('health: GET /health/live');
    const pair = await comparePair({
      serviceUrl: baseUrl(service),
      baselineUrl: baseUrl(baseline),
      servicePid: service.pid,
      baselinePid: baseline.pid,
      request: { method: 'GET', path: '/health/live', headers: context.headers },
      ...load,
      log: context.log,
    });
    return {
      name: 'health',
      title: 'GET /health/live vs raw node:http',
      settings: { ...load, pipelining: 1, runs: pair.runs },
      cases: [
        throughputCase('live', 'GET /health/live', pair, {
          on: 'ratio',
          op: '>=',
          value: 0.9,
          text: '≥ 0.90× baseline',
        }),
      ],
    };
  });
};
