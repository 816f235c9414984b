/**
 * This project's programs as child processes of a test, run from their TypeScript sources through
 * tsx, as `npm run dev` does: no build step, nothing compiled that could differ from the sources.
 * `spawn(process.execPath, [...SERVICE])` starts the service, `[...CLI, 'keys', 'list']` runs the
 * CLI. The paths are absolute, so a child may run in any directory (a test's DATA_DIR, say).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project's root directory. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** tsx's loader, what `node --import tsx` loads, as a URL (a bare `tsx` is resolved from the child's working directory). */
export const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** `node` arguments that run `entry` (a path from the project root) from its source. */
export function fromSource(entry: string): string[] {
  return ['--import', TSX_LOADER, join(ROOT, entry)];
}

/** The service (`src/main.ts`), configured by its environment like the real one. */
export const SERVICE = fromSource('src/main.ts');

/** The CLI (`src/cli-main.ts`); append its arguments. */
export const CLI = fromSource('src/cli-main.ts');
