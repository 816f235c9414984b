/**
 * This project's programs as child processes of a test.
 *
 * The service and the CLI run as `npm start` runs them: compiled by the project's own build
 * (tsc with tsconfig.build.json, the migrations copied beside the store, as scripts/build.mjs
 * does), once per run by the global setup, into a directory of the run's own. The one difference
 * is `--noCheck`: the type-check is `npm run typecheck`'s job, and without it tsc takes a few
 * seconds instead of fifteen. The directory sits in node_modules/.cache so that the compiled
 * modules find the installed packages.
 *
 * A child of a unit test (no global setup, so no build) runs from source through tsx, as
 * `npm run dev` does: `node --import <TSX_LOADER> …`.
 */
import { rmSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inject } from 'vitest';
import { onEmergencyExit, runCommand } from './process.js';

/** The project's root directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** tsx's loader, what `node --import tsx` loads, as a URL (a bare `tsx` is resolved from the child's working directory). */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The compiled service, a `dist/` of this run; `remove()` deletes it. */
export interface BuiltService {
  directory: string;
  remove(): void;
}

/** Compiles src/ as `npm run build` does, without the type-check, into a directory of this run (global setup). */
export async function buildService(): Promise<BuiltService> {
  const directory = join(
    ROOT,
    'node_modules',
    '.cache',
    'swarm-control-tests',
    `dist-${process.pid}`,
  );
  const remove = () => rmSync(directory, { recursive: true, force: true });
  const unregister = onEmergencyExit(remove);
  try {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = [
      '--noCheck',
      '--declaration',
      'false',
      '--sourceMap',
      'false',
      '--outDir',
      directory,
    ];
    await runCommand(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), ...options], {
      cwd: ROOT,
    });
    await cp(join(ROOT, 'src', 'store', 'migrations'), join(directory, 'store', 'migrations'), {
      recursive: true,
    });
  } catch (error) {
    unregister();
    remove();
    throw error;
  }
  return { directory, remove: () => (unregister(), remove()) };
}

/** The compiled `dist/` of this run (a test's view of what buildService() made). */
export function distDirectory(): string {
  return inject('distDirectory');
}

/** `node` arguments that start the service, configured by its environment like the real one. */
export function serviceArgs(): string[] {
  return [join(distDirectory(), 'main.js')];
}

/** `node` arguments that run the CLI; append its own arguments. */
export function cliArgs(): string[] {
  return [join(distDirectory(), 'cli-main.js')];
}
