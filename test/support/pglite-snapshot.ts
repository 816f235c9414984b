import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';

/**
 * Creates and migrates one in-memory PGlite and saves its data directory, so that each PGlite
 * test database loads it (≈0.7 s) instead of being created and migrated (≈2.5 s).
 */
export async function writePgliteSnapshot(): Promise<string> {
  const database = await openDatabase({ engine: 'pglite', dataDir: null });
  try {
    const path = join(tmpdir(), `swarm-pglite-${process.pid}.tar`);
    await writeFile(path, Buffer.from(await (await database.snapshot!()).arrayBuffer()));
    return path;
  } finally {
    await database.close();
  }
}

/** The saved snapshot as PGlite's `loadDataDir` wants it, or undefined when there is none. */
export async function readPgliteSnapshot(path: string | undefined): Promise<Blob | undefined> {
  return path === undefined ? undefined : new Blob([await readFile(path)]);
}
