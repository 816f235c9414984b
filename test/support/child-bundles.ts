/**
 * The programs that tests start as child processes (the service itself, and the maker of the
 * PGlite snapshot), compiled once per run into plain JavaScript. Node loads such a bundle with
 * about half the CPU that tsx's loader needs for the same TypeScript sources (≈ 1.3 s against
 * ≈ 3.4 s for the app), and the suite starts several of them.
 *
 * Packages stay external, so the bundles live inside the project (`node_modules/.cache`) where
 * Node finds the installed packages; the SQL migrations are copied beside them because the store
 * finds its migrations next to its own module.
 */
import { cp, mkdir, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { onEmergencyExit } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Paths of the compiled entry points; `remove()` deletes them. */
export interface ChildBundles {
  /** The service (`src/main.ts`): run it as `node <service>` with the service's environment. */
  service: string;
  /** The PGlite snapshot maker (`test/support/pglite-snapshot-main.ts`). */
  pgliteSnapshot: string;
  remove(): Promise<void>;
}

/** Compiles the child programs into a directory of this run's own (≈ 0.1 s). */
export async function buildChildBundles(): Promise<ChildBundles> {
  const directory = join(ROOT, 'node_modules', '.cache', 'swarm-control-tests', String(process.pid));
  const unregister = onEmergencyExit(() => rmSync(directory, { recursive: true, force: true }));
  await mkdir(directory, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: { service: 'src/main.ts', 'pglite-snapshot': 'test/support/pglite-snapshot-main.ts' },
    outdir: directory,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  await cp(join(ROOT, 'src', 'store', 'migrations'), join(directory, 'migrations'), { recursive: true });
  return {
    service: join(directory, 'service.mjs'),
    pgliteSnapshot: join(directory, 'pglite-snapshot.mjs'),
    remove: async () => {
      unregister();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
