/**
 * The hazard src/next-tick-shape.ts guards against, read from V8 itself: a probe process prints
 * V8's description of `process.nextTick` (`%DebugPrint`), whose feedback slots name the state of
 * each inline cache. What V8 prints depends on the Node version, so this is an opt-in check
 * (`npm run test:v8-probe`), not part of `npm test`: run it after a Node upgrade.
 *
 * The probe is bundled with esbuild into one plain script rather than run through tsx: V8 writes
 * its description through C's buffered stdout, and with tsx's loader thread in the process the
 * end of it was lost at exit now and then.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/process.js';
import { ROOT } from '../support/programs.js';

const run = promisify(execFile);
let directory: string;
let probe: string;

/**
 * The states V8 reports for the keyed-literal caches of `nextTick`, one per computed property.
 * Optimising compiles run on the probe's main thread: a background compile holds the maps it
 * reads, which would make the collections in the probe miss them now and then.
 */
async function literalCacheStates(...args: string[]): Promise<string[]> {
  const flags = ['--allow-natives-syntax', '--expose-gc', '--no-concurrent-recompilation'];
  const { stdout } = await run(process.execPath, [...flags, probe, ...args], {
    env: { PATH: process.env.PATH ?? '' },
  });
  return [...stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1]!);
}

describe('pinNextTickShape, as V8 sees it', () => {
  beforeAll(async () => {
    directory = makeTempDir('next-tick-probe-');
    probe = join(directory, 'probe.mjs');
    await build({
      absWorkingDir: ROOT,
      entryPoints: ['test/v8-probe/next-tick-probe.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: probe,
      logLevel: 'warning',
    });
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('keeps the caches of nextTick monomorphic across full collections, which without it turn them megamorphic', async () => {
    const [unpinned, pinned] = await Promise.all([literalCacheStates(), literalCacheStates('pin')]);
    expect(
      unpinned,
      'the hazard this guards against no longer shows on this Node: pinNextTickShape can go',
    ).toContain('MEGAMORPHIC');
    expect(pinned).toHaveLength(4);
    expect(new Set(pinned)).toEqual(new Set(['MONOMORPHIC']));
  });
});
