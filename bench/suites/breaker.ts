/**
 * Circuit-breaker overhead: `CircuitBreaker.execute()` around a trivial async function, CLOSED
 * (the call runs) and OPEN (refused with BreakerOpenError, caught, fallback value used), vs
 * awaiting the same function directly — all in one separate process (bench/breaker-micro.ts),
 * interleaved, median of the rounds. Overhead = breaker ns/op − direct ns/op; the target is on it.
 *
 * The ratio compares the breaker with the floor any implementation pays on this machine, measured
 * in the same process: a bare per-call timeout (AbortController + timer + Promise.race) for
 * CLOSED, throwing and catching a plain Error for OPEN. 1.00× = no cost beyond that floor.
 */
import { type Suite, withChildren } from '../lib/context.js';
import { type Target, fmt, makeCase } from '../lib/results.js';

/**
 * Per-call budget for each state. A sound breaker costs its floor plus ~1–2 µs: about 5 µs here
 * (a 2-core VM where a timer pair costs ~1 µs and `new Error()` ~3 µs, measured with other
 * workloads running) and ~1 µs on a typical laptop. 20 µs leaves ample headroom for a busy
 * machine, yet is 50× below the ~1 ms MCP round trip the breaker guards.
 */
export const OVERHEAD_BUDGET_NS = 20_000;

interface MicroFigures {
  direct_ns: number;
  closed_ns: number;
  open_ns: number;
  timeout_floor_ns: number;
  rejection_floor_ns: number;
  samples: Record<string, number[]>;
}

export const breakerSuite: Suite = async (context) => {
  const iterations = context.quick ? 50_000 : 200_000;
  const rounds = context.quick ? 5 : 9;
  const warmup = context.quick ? 30_000 : 100_000;
  return withChildren(async (track) => {
    context.log(`breaker: ${rounds} rounds × ${fmt(iterations)} calls per variant`);
    const child = track(
      await context.startScript('breaker-micro', 'breaker-micro.ts', {
        args: [
          '--iterations',
          String(iterations),
          '--rounds',
          String(rounds),
          '--warmup',
          String(warmup),
        ],
        readyTimeoutMs: 300_000, // it prints its figures when done
      }),
    );
    const figures = child.ready as unknown as MicroFigures;
    const variant = (
      id: 'closed' | 'open',
      title: string,
      ns: number,
      floorName: string,
      floorNs: number,
    ) => {
      const target: Target = {
        on: 'overhead_ns',
        op: '<=',
        value: OVERHEAD_BUDGET_NS,
        text: `overhead ≤ ${fmt(OVERHEAD_BUDGET_NS / 1000)} µs/call`,
      };
      const overhead = ns - figures.direct_ns;
      context.log(
        `  ${id}: ${ns.toFixed(0)} ns/op (direct ${figures.direct_ns.toFixed(0)}, ${floorName} ${floorNs.toFixed(0)}; overhead ${overhead.toFixed(0)} ns)`,
      );
      return makeCase({
        id,
        title,
        service: { ns_per_op: ns, overhead_ns: overhead },
        baseline: { direct_ns_per_op: figures.direct_ns, floor_ns_per_op: floorNs },
        ratio: floorNs / ns,
        ratioDefinition: `${floorName} ns/op ÷ breaker ns/op (1.00× = nothing beyond the floor); the target is on the overhead over the direct call`,
        target,
        display: {
          service: `${fmt(ns)} ns/op (overhead ${fmt(overhead)} ns)`,
          baseline: `direct ${fmt(figures.direct_ns)} ns/op; ${floorName} ${fmt(floorNs)} ns/op`,
        },
      });
    };
    return {
      name: 'breaker',
      title: 'Circuit breaker overhead per call',
      settings: { iterations, rounds, warmup, timeoutMs: 10_000, samples: figures.samples },
      cases: [
        variant(
          'closed',
          'execute() while CLOSED',
          figures.closed_ns,
          'bare timeout',
          figures.timeout_floor_ns,
        ),
        variant(
          'open',
          'execute() while OPEN → BreakerOpenError → fallback',
          figures.open_ns,
          'plain Error thrown',
          figures.rejection_floor_ns,
        ),
      ],
    };
  });
};
