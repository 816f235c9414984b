import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { unpackPgliteSnapshot } from '../support/pglite-snapshot.js';
import { findExecutable, makeTempDir, processAlive } from '../support/process.js';
import { ROOT, distDirectory, serviceArgs } from '../support/programs.js';
import {
  type Program,
  childEnvironment,
  exitOf,
  killProgram,
  serviceReady,
  startProgram,
} from '../support/service-process.js';

/**
 * `npm start` as an operator runs it, and stopped the ways an operator stops it: `kill -TERM` of
 * the npm process (a process manager, a container runtime) and Ctrl-C in a terminal (SIGINT to
 * the whole process group). The service must get the signal, stop gracefully and release the
 * embedded database; npm runs the script through `sh -c`, which does not pass signals on. npm's
 * forwarded copy of a Ctrl-C may reach the service late, as it ends: it must still exit 0, or npm
 * reports a crash.
 *
 * The package is a throwaway copy of this one: the same package.json and build script, an empty
 * `src/`, so the build finds nothing to compile, and as `dist/` the service this run compiled
 * with the project's build (programs.ts).
 */
let packageDir: string;
/** What the test started, npm or the service itself: killed after each test. */
let running: Program | undefined;

function makePackage(): string {
  const directory = makeTempDir('swarm-npm-start-');
  for (const file of ['package.json', 'scripts/build.mjs']) {
    mkdirSync(join(directory, file, '..'), { recursive: true });
    copyFileSync(join(ROOT, file), join(directory, file));
  }
  mkdirSync(join(directory, 'src'));
  symlinkSync(distDirectory(), join(directory, 'dist'));
  return directory;
}

const serviceEnvironment = () =>
  childEnvironment({
    DATA_DIR: join(packageDir, 'data'),
    PORT: '0',
    HOST: '127.0.0.1',
    MEMORY_MCP: 'off',
    LOG_LEVEL: 'info',
  });

function startNpm(): Program {
  const env = serviceEnvironment();
  running = startProgram(findExecutable('npm') ?? 'npm', ['start'], { cwd: packageDir, env });
  return running;
}

/** Sends `signal` to `program` every millisecond from its `stopped` line until it has exited. */
function signalWhileEnding(program: Program, signal: NodeJS.Signals): void {
  const timer = setInterval(() => {
    if (!messages(program).includes('stopped')) return;
    try {
      process.kill(program.process.pid, signal);
    } catch {
      clearInterval(timer); // it has exited
    }
  }, 1);
  void program.process.exited.finally(() => clearInterval(timer));
}

const messages = (program: Program) => program.logLines().map((line) => line.msg);

beforeAll(async () => {
  packageDir = makePackage();
  await unpackPgliteSnapshot(inject('pgliteSnapshotPath'), join(packageDir, 'data', 'pglite'));
});
afterEach(async () => {
  await killProgram(running);
  running = undefined;
});
afterAll(() => rmSync(packageDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('passes SIGTERM on to the service, which stops gracefully, releasing the lock', async () => {
    const npm = startNpm();
    const { pid } = await serviceReady(npm);
    expect(pid).not.toBe(npm.process.pid);
    process.kill(npm.process.pid, 'SIGTERM');
    expect(await exitOf(npm)).toEqual({ code: 0, signal: null });
    await expect.poll(() => processAlive(pid), { timeout: 10_000, interval: 50 }).toBe(false);
    expect(messages(npm)).toEqual(
      expect.arrayContaining([
        'shutting down: no new connections, finishing in-flight requests',
        'stopped',
      ]),
    );
    expect(existsSync(join(packageDir, 'data', 'pglite.lock'))).toBe(false);
  });

  it('stops gracefully on Ctrl-C, which reaches the service twice (tty, npm)', async () => {
    const npm = startNpm();
    const { pid } = await serviceReady(npm);
    process.kill(-npm.process.pid, 'SIGINT');
    expect(await exitOf(npm)).toEqual({ code: 0, signal: null });
    await expect.poll(() => processAlive(pid), { timeout: 10_000, interval: 50 }).toBe(false);
    expect(messages(npm).filter((message) => message === 'stopped')).toHaveLength(1);
    expect(existsSync(join(packageDir, 'data', 'pglite.lock'))).toBe(false);
  });

  it('exits 0 however late the repeat of Ctrl-C arrives, even as the process ends', async () => {
    running = startProgram(process.execPath, serviceArgs(), {
      cwd: packageDir,
      env: serviceEnvironment(),
    });
    await serviceReady(running);
    signalWhileEnding(running, 'SIGINT');
    process.kill(running.process.pid, 'SIGINT');
    expect(await exitOf(running)).toEqual({ code: 0, signal: null });
  });
});
