import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinNextTickShape } from '../../src/next-tick-shape.js';
import { makeTempDir } from '../support/process.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let directory: string;
let probe: string;

/**
 * The states V8 reports for the keyed-literal caches of `nextTick`, one per computed property.
 * Optimising compiles run on the probe's main thread: a background compile holds the maps it
 * reads, which would make the collections in the probe miss them now and then.
 */
async function literalCacheStates(...args: string[]): Promise<string[]> {
  const flags = ['--allow-natives-syntax', '--expose-gc', '--no-concurrent-recompilation'];
  const { stdout } = await run(process.execPath, [...flags, probe, ...args], { env: { PATH: process.env.PATH ?? '' } });
  return [...stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1]!);
}

describe('pinNextTickShape', () => {
  beforeAll(async () => {
    directory = makeTempDir('next-tick-probe-');
    probe = join(directory, 'probe.mjs');
    await build({ absWorkingDir: ROOT, entryPoints: ['test/support/next-tick-probe.ts'], bundle: true, platform: 'node', format: 'esm', outfile: probe, logLevel: 'warning' });
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('keeps a real queue entry, the same one on every call', () => {
    const entry = pinNextTickShape() as Record<string | symbol, unknown>;
    // A third symbol (the AsyncLocalStorage store) joins them once anything in the process uses one.
    const symbols = Object.getOwnPropertySymbols(entry).map(String);
    expect(symbols).toEqual(expect.arrayContaining(['Symbol(async_id_symbol)', 'Symbol(trigger_async_id_symbol)']));
    expect(typeof entry.callback).toBe('function');
    expect(pinNextTickShape()).toBe(entry);
  });

  it('keeps the caches of nextTick monomorphic across full collections, which without it turn them megamorphic', async () => {
    const [unpinned, pinned] = await Promise.all([literalCacheStates(), literalCacheStates('pin')]);
    expect(unpinned, 'the hazard this guards against no longer shows on this Node: pinNextTickShape can go').toContain('MEGAMORPHIC');
    expect(pinned).toHaveLength(4);
    expect(new Set(pinned)).toEqual(new Set(['MONOMORPHIC']));
  });
});
