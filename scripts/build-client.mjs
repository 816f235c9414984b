#!/usr/bin/env node
// Builds the client package (packages/client/dist): the Node and browser entries bundled by
// esbuild from src/client/, and one bundled declaration file. `npm run build:client`.
// With --if-needed (the package test) it builds only when a source is newer than the build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'packages/client/dist');
/** Written last, so its time stamps the build as a whole. */
const stamp = join(out, 'index.d.ts');
const common = { bundle: true, format: 'esm', sourcemap: true, logLevel: 'warning' };

/** What the package is built from: the client, the domain types it imports, and its settings. */
const sources = [
  'src/client',
  'src/domain',
  'packages/client/package.json',
  'packages/client/tsconfig.json',
  'tsconfig.json',
  'package-lock.json',
  'scripts/build-client.mjs',
].map((path) => join(root, path));

function newestTime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce(
    (newest, name) => Math.max(newest, newestTime(join(path, name))),
    0,
  );
}

const current = () =>
  existsSync(stamp) && statSync(stamp).mtimeMs >= Math.max(...sources.map(newestTime));
if (process.argv.includes('--if-needed') && current()) process.exit(0);

rmSync(out, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [join(root, 'src/client/index.ts')],
  outfile: join(out, 'index.js'),
  platform: 'node',
  target: 'node20',
  external: ['ws'],
});
await build({
  ...common,
  entryPoints: [join(root, 'src/client/browser.ts')],
  outfile: join(out, 'browser.js'),
  platform: 'browser',
  target: 'es2022',
});
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/dts-bundle-generator/dist/bin/dts-bundle-generator.js'),
    '--silent',
    '--no-check',
    '--project',
    join(root, 'packages/client/tsconfig.json'),
    '-o',
    join(out, 'index.d.ts'),
    join(root, 'src/client/index.ts'),
  ],
  { stdio: 'inherit' },
);
