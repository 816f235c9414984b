import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/store/database.js';
import { CACHE_DIRECTORY, runCommand } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What a snapshot is made from: the migrations, the code that opens and migrates the store, and
 * the PGlite release that runs them. A change to any of them makes a new snapshot.
 */
function snapshotKey(): string {
  const hash = createHash('sha256');
  const migrations = join(ROOT, 'src', 'store', 'migrations');
  const files = readdirSync(migrations, { recursive: true, encoding: 'utf8' }).sort();
  for (const name of files) {
    const file = join(migrations, name);
    if (statSync(file).isFile()) hash.update(name).update(readFileSync(file));
  }
  const pglite = join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json');
  for (const file of [join(ROOT, 'src', 'store', 'database.ts'), pglite]) {
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The path of a migrated PGlite data directory (a tar file) that each PGlite test database loads
 * (≈ 1 s of CPU) instead of being created and migrated (≈ 3 s), and that the process tests unpack
 * into their DATA_DIR. The global setup makes it when the cache has none for the current
 * migrations (≈ 4.5 s of CPU, on the setup's critical path), from an in-memory PGlite; older
 * snapshots are deleted then.
 */
export async function pgliteSnapshot(): Promise<string> {
  const path = join(CACHE_DIRECTORY, `pglite-${snapshotKey()}.tar`);
  if (!existsSync(path)) await makePgliteSnapshot(path);
  return path;
}

async function makePgliteSnapshot(path: string): Promise<void> {
  mkdirSync(CACHE_DIRECTORY, { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  const database = await openDatabase({ engine: 'pglite', dataDir: null });
  try {
    await writeFile(partial, Buffer.from(await (await database.snapshot!()).arrayBuffer()));
    // A rename is atomic: a run beside this one never reads half a file.
    renameSync(partial, path);
  } finally {
    rmSync(partial, { force: true });
    await database.close();
  }
  for (const name of readdirSync(CACHE_DIRECTORY)) {
    const older = name.startsWith('pglite-') && join(CACHE_DIRECTORY, name) !== path;
    if (older && !name.endsWith('.partial')) rmSync(join(CACHE_DIRECTORY, name), { force: true });
  }
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
