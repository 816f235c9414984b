#!/usr/bin/env node
// Compiles src/ to dist/ and copies the SQL migrations beside the compiled store.
// With --if-needed it does nothing when dist/ is newer than every source file (used by `npm start`)
// and says what it does otherwise, so that a first `npm start` that takes a while explains itself.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', 'main.js');

function newestSourceTime(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs;
    return Math.max(newest, time);
  }, 0);
}

const upToDate =
  existsSync(stamp) && statSync(stamp).mtimeMs >= newestSourceTime(join(root, 'src'));
if (process.argv.includes('--if-needed') && upToDate) process.exit(0);
if (process.argv.includes('--if-needed')) {
  process.stderr.write('Compiling src/ to dist/ (first start or changed sources): some seconds.\n');
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);
cpSync(join(root, 'src/store/migrations'), join(root, 'dist/store/migrations'), {
  recursive: true,
});
