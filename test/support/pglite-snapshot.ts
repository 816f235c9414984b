import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { onEmergencyExit, runCommand, scratchDirectory } from './process.js';
import { fromSource } from './programs.js';

/**
 * A migrated PGlite data directory that each PGlite test database loads (≈ 1 s) instead of being
 * created and migrated (≈ 3 s). Creating it blocks its process for several seconds of WebAssembly,
 * so the global setup makes it in a child process while the first test files already run; PGlite
 * test files wait for it in {@link readPgliteSnapshot}.
 */
export interface PgliteSnapshotJob {
  /** Where the snapshot appears (renamed into place once complete). */
  path: string;
  /** Ends the child if it still runs and deletes the snapshot. */
  stop(): Promise<void>;
}

const errorPath = (path: string) => `${path}.error`;

/** Starts making the snapshot in a child process (pglite-snapshot-main.ts); returns at once. */
export function startPgliteSnapshot(): PgliteSnapshotJob {
  const path = join(scratchDirectory(), `swarm-pglite-${process.pid}.tar`);
  const child: ChildProcess = spawn(process.execPath, [...fromSource('test/support/pglite-snapshot-main.ts'), path], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => void writeFile(errorPath(path), error.message));
  const files = [path, `${path}.partial`, errorPath(path)];
  const unregister = onEmergencyExit(() => {
    child.kill('SIGKILL');
    for (const file of files) rmSync(file, { force: true });
  });
  return {
    path,
    stop: async () => {
      unregister();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await Promise.all(files.map((file) => rm(file, { force: true })));
    },
  };
}

/** Creates and migrates an in-memory PGlite and saves its data directory at `path` (atomically). */
export async function writePgliteSnapshot(path: string): Promise<void> {
  try {
    const database = await openDatabase({ engine: 'pglite', dataDir: null });
    try {
      await writeFile(`${path}.partial`, Buffer.from(await (await database.snapshot!()).arrayBuffer()));
      await rename(`${path}.partial`, path);
    } finally {
      await database.close();
    }
  } catch (error) {
    await writeFile(errorPath(path), error instanceof Error ? (error.stack ?? error.message) : String(error));
    throw error;
  }
}

/** Waits until the snapshot at `path` is complete; throws when it failed or took too long. */
async function snapshotReady(path: string, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !existsSync(path); ) {
    if (existsSync(errorPath(path))) throw new Error(`The PGlite snapshot could not be made:\n${await readFile(errorPath(path), 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`The PGlite snapshot did not appear at ${path} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for the snapshot at `path` and returns it as PGlite's `loadDataDir` wants it (undefined: no path). */
export async function readPgliteSnapshot(path: string | undefined, timeoutMs = 120_000): Promise<Blob | undefined> {
  if (path === undefined) return undefined;
  await snapshotReady(path, timeoutMs);
  return new Blob([await readFile(path)]);
}

/**
 * Unpacks the snapshot at `path` (a tar file) into `directory`, which becomes a migrated PGlite
 * data directory on disk, as a service on the embedded default leaves it: a service started on
 * it skips PGlite's initdb and the migrations (≈ 2 CPU-s instead of ≈ 6).
 */
export async function unpackPgliteSnapshot(
  path: string,
  directory: string,
  timeoutMs = 120_000,
): Promise<void> {
  await snapshotReady(path, timeoutMs);
  await mkdir(directory, { recursive: true });
  await runCommand('tar', ['-xf', path, '-C', directory], { cwd: directory });
}
