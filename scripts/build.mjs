#!/usr/bin/env node
// Compiles src/ to dist/ and copies the SQL migrations beside the compiled store, then builds the
// dashboard (web/) into dist/web with Vite (scripts/build-web.mjs).
// With --if-needed each part is rebuilt only when one of its sources is newer than its output
// (used by `npm start`), and says what it does, so that a first `npm start` that takes a while
// explains itself.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const stamp = join(dist, 'main.js');
const webOut = join(dist, 'web');
const ifNeeded = process.argv.includes('--if-needed');

function newestSourceTime(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs;
    return Math.max(newest, time);
  }, 0);
}

const serverCurrent =
  existsSync(stamp) && statSync(stamp).mtimeMs >= newestSourceTime(join(root, 'src'));
// A copy of the package without the dashboard's sources has no dashboard to build.
const web = existsSync(join(root, 'web')) ? await import('./build-web.mjs') : undefined;
const webCurrent = web === undefined || web.webBuildIsCurrent(webOut);
if (ifNeeded && serverCurrent && webCurrent) process.exit(0);

if (!ifNeeded || !serverCurrent) {
  if (ifNeeded) {
    process.stderr.write(
      'Compiling src/ to dist/ (first start or changed sources): some seconds.\n',
    );
  }
  // Everything but the dashboard's build, which has sources and a check of its own.
  mkdirSync(dist, { recursive: true });
  for (const entry of readdirSync(dist))
    if (entry !== 'web') rmSync(join(dist, entry), { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
  cpSync(join(root, 'src/store/migrations'), join(dist, 'store/migrations'), {
    recursive: true,
  });
  // The `swarm-agent` bin entry of package.json: runnable on its own (its first line is a shebang).
  chmodSync(join(dist, 'agent/main.js'), 0o755);
}

if (web !== undefined && (!ifNeeded || !webCurrent)) {
  if (ifNeeded)
    process.stderr.write('Building the dashboard (web/) into dist/web: a few seconds.\n');
  await web.buildWeb({ outDir: webOut });
}
