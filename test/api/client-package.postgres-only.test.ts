import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { makeTempDir } from '../support/process.js';

/**
 * The client as a user installs it: `npm pack` of packages/client after `npm run build:client`,
 * installed alone (with `ws`, its optional peer) into an empty project, then used from Node
 * against the real service. Offline: its dependency (zod) and `ws` are linked from this
 * project's own node_modules (npm installs a folder as a link), so the install asks no registry
 * and unpacks no copy of them; a dependency the package should not have would fail the install.
 */
let t: TestApp;
let project: string;
const run = promisify(execFile);

async function npm(args: string[], cwd: string): Promise<string> {
  return (await run('npm', args, { cwd, encoding: 'utf8' })).stdout;
}

function sizeOf(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.size;
  return readdirSync(path).reduce((total, name) => total + sizeOf(join(path, name)), 0);
}

/**
 * Builds the client (unless a build newer than its sources is there: the declaration bundle alone
 * takes seconds of CPU), packs it and installs it into `project`, with zod and ws as links.
 */
async function installClient(): Promise<void> {
  await run(process.execPath, ['scripts/build-client.mjs', '--if-needed']);
  const packed = await npm(
    ['pack', '--silent', '--pack-destination', project, './packages/client'],
    process.cwd(),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const linked = ['zod', 'ws'].map((name) => join(process.cwd(), 'node_modules', name));
  const tarball = join(project, packed.trim());
  await npm(['install', '--offline', '--no-audit', '--no-fund', tarball, ...linked], project);
}

beforeAll(async () => {
  project = makeTempDir('swarm-client-');
  [t] = await Promise.all([createTestApp({ AUTH: 'on' }), installClient()]);
}, 120_000);
afterAll(async () => {
  await t?.close();
  rmSync(project, { recursive: true, force: true });
});

describe('the published client package', () => {
  it('installs alone, small, with no server code', () => {
    const modules = readdirSync(join(project, 'node_modules')).sort();
    expect(modules).toEqual(['.package-lock.json', '@swarm-control', 'ws', 'zod']);
    expect(sizeOf(join(project, 'node_modules/@swarm-control/client'))).toBeLessThan(200 * 1024);
  });

  it('works from Node: REST calls, typed events over ws, and a refused key is final', async () => {
    const baseUrl = await t.listen();
    const key = (await keyHeader(t.app, { role: 'writer' })).authorization!.slice('Bearer '.length);
    const script = `
      import { EventStream, SwarmClient } from '@swarm-control/client';
      const [baseUrl, key] = process.argv.slice(2);
      const wsUrl = baseUrl.replace('http', 'ws') + '/ws';
      const stream = new EventStream({ url: wsUrl, apiKey: key, topics: ['projects'] }).start();
      await new Promise((resolve) => stream.onNotice((notice) => notice.kind === 'connected' && resolve()));
      const seen = new Promise((resolve) => stream.onEvent(resolve));
      const created = await new SwarmClient({ baseUrl, apiKey: key }).projects.create({ name: 'from the package' });
      const event = await seen;
      stream.close();
      const refused = new EventStream({ url: wsUrl, apiKey: 'sc_nope', backoff: { initialMs: 5, maxMs: 20 } }).start();
      const fatal = await new Promise((resolve) => refused.onNotice((notice) => notice.kind === 'fatal' && resolve(notice.error.status)));
      console.log(JSON.stringify({ type: event.type, same: event.data.project.id === created.id, fatal }));
    `;
    writeFileSync(join(project, 'use.mjs'), script);
    // Asynchronously: the service answering it runs in this process.
    const { stdout } = await promisify(execFile)(process.execPath, ['use.mjs', baseUrl, key], {
      cwd: project,
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toEqual({ type: 'PROJECT_CREATED', same: true, fatal: 401 });
  });
});
