// Builds the dashboard (web/) with Vite into a folder the service serves at `/`, and writes a
// gzip and a brotli copy beside every text file, which @fastify/static sends to clients that
// accept them (docs/dashboard.md). `npm run build` and `npm start` build into dist/web; the
// browser tests build into a folder of their own.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;

/** What the dashboard is built from: its own sources, and the client and domain types it imports. */
export const webSources = ['web', 'src/client', 'src/domain', 'package-lock.json'].map((path) =>
  join(root, path),
);

function newestTime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce(
    (newest, name) => Math.max(newest, newestTime(join(path, name))),
    0,
  );
}

/** True when `outDir` holds a build newer than every source of it. */
export function webBuildIsCurrent(outDir) {
  const stamp = join(outDir, 'index.html');
  return existsSync(stamp) && statSync(stamp).mtimeMs >= Math.max(...webSources.map(newestTime));
}

function compressAll(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) compressAll(path);
    else if (/\.(html|js|css|svg|json)$/.test(entry.name)) {
      const content = readFileSync(path);
      writeFileSync(`${path}.gz`, gzipSync(content, { level: 9 }));
      writeFileSync(
        `${path}.br`,
        brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      );
    }
  }
}

/** Builds the dashboard into `outDir` (emptied first); with `ifNeeded`, only when a source is newer. */
export async function buildWeb({ outDir, ifNeeded = false }) {
  if (ifNeeded && webBuildIsCurrent(outDir)) return false;
  const { build } = await import('vite');
  // Vite builds for the NODE_ENV it finds, and vitest sets it to `test` (a larger bundle with
  // development code): the dashboard is always built for production.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(root, 'web/vite.config.ts'),
      mode: 'production',
      build: { outDir, emptyOutDir: true },
      logLevel: 'warn',
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  compressAll(outDir);
  // index.html is written last of all, so that its time stamps the build as a whole.
  const index = join(outDir, 'index.html');
  writeFileSync(index, readFileSync(index));
  return true;
}
