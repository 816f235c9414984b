import { rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { onEmergencyExit, runCommand, scratchDirectory } from './process.js';

/**
 * A migrated PGlite data directory (a tar file) that each PGlite test database loads (≈ 1 s of CPU)
 * instead of being created and migrated (≈ 3 s). The global setup makes it once per run, while
 * PostgreSQL starts; the process tests unpack it into their DATA_DIR.
 */
export interface PgliteSnapshot {
  path: string;
  /** Deletes it. */
  remove(): void;
}

/**
 * Creates and migrates an in-memory PGlite and saves its data directory as a tar file in the
 * scratch directory.
 */
export async function makePgliteSnapshot(): Promise<PgliteSnapshot> {
  const path = join(scratchDirectory(), `swarm-pglite-${process.pid}.tar`);
  const remove = () => rmSync(path, { force: true });
  const unregister = onEmergencyExit(remove);
  try {
    const database = await openDatabase({ engine: 'pglite', dataDir: null });
    try {
      await writeFile(path, Buffer.from(await (await database.snapshot!()).arrayBuffer()));
    } finally {
      await database.close();
    }
  } catch (error) {
    unregister();
    remove();
    throw error;
  }
  return { path, remove: () => (unregister(), remove()) };
}

/** The snapshot at `path` as PGlite's `loadDataDir` wants it. */
export async function readPgliteSnapshot(path: string): Promise<Blob> {
  return new Blob([await readFile(path)]);
}

/**
 * Unpacks the snapshot at `path` into `directory`, which becomes a migrated PGlite data directory
 * on disk, as a service on the embedded default leaves it: a service started on it skips
 * PGlite's initdb and the migrations (≈ 2 CPU-s instead of ≈ 6).
 */
export async function unpackPgliteSnapshot(path: string, directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  await runCommand('tar', ['-xf', path, '-C', directory], { cwd: directory });
}
