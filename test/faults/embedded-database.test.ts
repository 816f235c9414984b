import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { unpackPgliteSnapshot } from '../support/pglite-snapshot.js';
import { makeTempDir } from '../support/process.js';
import { cliArgs, serviceArgs } from '../support/programs.js';
import {
  type Program,
  type Ready,
  childEnvironment,
  exitOf,
  killProgram,
  runProgram,
  serviceReady,
  startProgram,
} from '../support/service-process.js';

/**
 * The embedded default (no DATABASE_URL, PGlite under DATA_DIR) as a new user meets it: the
 * service, a second service and the CLI on one data directory, all real processes. One process at
 * a time may open it; the others refuse at once, saying who holds it, and nothing a process
 * acknowledged is lost (issue "What a new user hits first").
 */
let dataDir: string;
let service: Program | undefined;
let ready: Ready;
let adminKey: string;
const programs: Program[] = [];

const environment = () =>
  childEnvironment({
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    MEMORY_MCP: 'off',
    LOG_LEVEL: 'info',
  });
const startService = () => {
  const program = startProgram(process.execPath, serviceArgs(), {
    cwd: dataDir,
    env: environment(),
  });
  programs.push(program);
  return program;
};
const cli = (args: string[], extra: Record<string, string> = {}) =>
  runProgram(process.execPath, [...cliArgs(), ...args], {
    cwd: dataDir,
    env: { ...environment(), ...extra },
  });
const lockFile = () => join(dataDir, 'pglite.lock');
const get = (path: string, key: string) =>
  fetch(`${ready.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

/** The keys printed between `====` lines at a first start: one block, one key. */
function firstStartKeys(stderr: string): string[] {
  return [...stderr.matchAll(/^={20,}\n[^=]*?^ {4}(sc_\S+)$[^=]*?^={20,}$/gm)].map(
    (match) => match[1]!,
  );
}

beforeAll(async () => {
  dataDir = makeTempDir('swarm-embedded-');
  await unpackPgliteSnapshot(inject('pgliteSnapshotPath'), join(dataDir, 'pglite'));
  service = startService();
  ready = await serviceReady(service);
});

afterAll(async () => {
  await Promise.all(programs.map((program) => killProgram(program)));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('one process per embedded database', () => {
  it('prints the first-start admin key once, in a block of its own, in no log line', async () => {
    const keys = firstStartKeys(service!.stderr());
    expect(keys).toHaveLength(1);
    adminKey = keys[0]!;
    const [, keyId, secret] = /^sc_([0-9a-f]{32})_(.+)$/.exec(adminKey)!;
    expect(service!.stdout()).not.toContain(secret);
    const noted = service!
      .logLines()
      .filter((line) => /first start: created an admin API key/.test(String(line.msg)));
    expect(noted).toHaveLength(1);
    expect(String(noted[0]!.key_id).replaceAll('-', '')).toBe(keyId);
    expect((await get('/api/v1/keys', adminKey)).status).toBe(200);
  });

  it('refuses a second service on the DATA_DIR at once, naming the holder', async () => {
    const holder = JSON.parse(readFileSync(lockFile(), 'utf8'));
    expect(holder).toMatchObject({
      pid: ready.pid,
      command: expect.stringContaining(serviceArgs()[0]!),
    });
    const second = startService();
    expect(await exitOf(second)).toEqual({ code: 1, signal: null });
    expect(second.stderr()).toMatch(
      new RegExp(`is in use by PID ${ready.pid} \\(.*main\\.js.*\\).*stop that process first`),
    );
    expect(second.stdout()).not.toContain('swarm-control ready');
    expect((await fetch(`${ready.url}/health/ready`)).status).toBe(200);
  });

  it('has the CLI refuse while the service holds it, saying how to use the API', async () => {
    const refused = await cli(['keys', 'create', '--role', 'reader']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(
      new RegExp(
        `held by PID ${ready.pid} .*--url http://127\\.0\\.0\\.1:3000.*SWARM_API_KEY.*curl -XPOST`,
      ),
    );
  });

  it('creates, lists and revokes keys through the running service with --url', async () => {
    const viaApi = { SWARM_API_KEY: adminKey };
    const created = await cli(
      ['keys', 'create', '--role', 'writer', '--name', 'through the API', '--url', ready.url],
      viaApi,
    );
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    expect((await get('/api/v1/projects', key.key)).status).toBe(200);
    const listed = await cli(['keys', 'list', '--url', ready.url], viaApi);
    expect(JSON.parse(listed.stdout).map((item: { id: string }) => item.id)).toContain(key.id);
    const wrongKey = await cli(['keys', 'list', '--url', ready.url], { SWARM_API_KEY: key.key });
    expect(wrongKey).toMatchObject({ code: 1, stdout: '' });
    expect(wrongKey.stderr).toMatch(/^The service answered 403 Forbidden: /);
    const revoked = await cli(['keys', 'revoke', key.id, '--url', ready.url], viaApi);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked ${key.id}\n` });
    expect((await get('/api/v1/projects', key.key)).status).toBe(401);
  });

  it('answers a bad --role with one line and the usage, exit code 2', async () => {
    const bad = await cli(['keys', 'create', '--role', 'boss']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    const [first, blank, usage] = bad.stderr.split('\n');
    expect(first).toBe('Invalid --role: expected one of "admin"|"writer"|"reader"');
    expect([blank, usage]).toEqual(['', 'Usage:']);
    expect(bad.stderr).not.toContain('"code"');
  });

  it('takes over the lock of a killed service; every key it acknowledged is there', async () => {
    const created = await cli(['keys', 'create', '--role', 'reader', '--url', ready.url], {
      SWARM_API_KEY: adminKey,
    });
    const key = JSON.parse(created.stdout) as { id: string };
    process.kill(ready.pid, 'SIGKILL');
    await exitOf(service!);
    expect(existsSync(lockFile())).toBe(true);

    const listed = await cli(['keys', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toMatch(
      new RegExp(
        `^warning: took over the stale lock .*pglite\\.lock of PID ${ready.pid} ` +
          '.*that process is gone\\n$',
      ),
    );
    const names = JSON.parse(listed.stdout).map((item: { id: string; name: string }) => item.id);
    expect(names).toEqual(expect.arrayContaining([key.id]));
    expect(names).toHaveLength(3);
    expect(existsSync(lockFile())).toBe(false);
  });
});
