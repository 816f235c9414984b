#!/usr/bin/env node
// Builds the client package (packages/client/dist): the Node and browser entries bundled by
// esbuild from src/client/, and one bundled declaration file. `npm run build:client`.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'packages/client/dist');
const common = { bundle: true, format: 'esm', sourcemap: true, logLevel: 'warning' };

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
