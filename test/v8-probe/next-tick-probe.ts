/**
 * Run by test/v8-probe/next-tick-shape.test.ts as `node --allow-natives-syntax --expose-gc <bundle>
 * [pin]`: (with `pin`, pins the shape first), fills the inline caches of `process.nextTick`, runs
 * full garbage collections while no tick is queued, queues ticks again, and prints V8's description
 * of `nextTick` to stdout, whose feedback slots name the state of each cache.
 */
import { pinNextTickShape } from '../../src/next-tick-shape.js';

const TICKS = 20_000;
/** V8 keeps an unreachable map for a few full collections before it lets it go. */
const FULL_COLLECTIONS = 6;

// eslint-disable-next-line @typescript-eslint/no-implied-eval -- V8 natives syntax parses only at run time
const describeFunction = new Function('f', '%DebugPrint(f)') as (f: unknown) => void;
const collect = (globalThis as { gc?: () => void }).gc;

function queueTicks(count: number, then: () => void): void {
  let left = count;
  const step = (): void => (--left > 0 ? process.nextTick(step) : then());
  step();
}

if (collect === undefined) throw new Error('run with --expose-gc');
if (process.argv.includes('pin')) pinNextTickShape();
queueTicks(TICKS, () =>
  setImmediate(() => {
    for (let round = 0; round < FULL_COLLECTIONS; round++) collect();
    setImmediate(() => queueTicks(TICKS, () => describeFunction(process.nextTick)));
  }),
);
