/**
 * This project's programs as child processes of a test.
 *
 * The service and the CLI run as `npm start` runs them, from a `dist/` laid out as the project's
 * build lays it out (scripts/build.mjs: every module of src/ compiled to JavaScript beside the
 * others, the migrations copied beside the store), made once per run by the global setup into a
 * directory of the run's own. esbuild compiles it, file by file with nothing bundled: it only
 * strips the types (tsconfig's `isolatedModules` and `verbatimModuleSyntax` keep that equal to
 * tsc's output), in well under a second where tsc took ≈ 5 s of CPU and 3 s of the setup; the
 * type-check is `npm run typecheck`'s job. The directory sits in node_modules/.cache so that the
 * compiled modules find the installed packages.
 */
import { readdirSync, rmSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { inject } from 'vitest';
import { CACHE_DIRECTORY, onEmergencyExit } from './process.js';

/** The project's root directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The compiled service, a `dist/` of this run; `remove()` deletes it. */
export interface BuiltService {
  directory: string;
  remove(): void;
}

/**
 * Compiles src/ into a `dist/` of this run, as `npm run build` lays it out, without the type-check
 * (global setup).
 */
export async function buildService(): Promise<BuiltService> {
  const directory = join(CACHE_DIRECTORY, `dist-${process.pid}`);
  const remove = () => rmSync(directory, { recursive: true, force: true });
  const unregister = onEmergencyExit(remove);
  try {
    const sources = join(ROOT, 'src');
    const modules = readdirSync(sources, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .map((file) => join(sources, file));
    await build({
      entryPoints: modules,
      outbase: sources,
      outdir: directory,
      tsconfig: join(ROOT, 'tsconfig.build.json'),
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
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
