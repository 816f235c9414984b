import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DataDirectoryLockedError,
  type LockHolder,
  currentHolder,
  holderState,
  lockDataDirectory,
  parseHolder,
  takeoverRightPath,
} from '../../../src/store/data-directory-lock.js';
import { ROOT } from '../../support/programs.js';

/** The lock of an embedded data directory, on real files and real processes. */
let parent: string;
let directory: string;
let lockPath: string;
const children: ChildProcess[] = [];
/** The lock module as JavaScript, for the child processes of these tests (see runNode()). */
let compiled: { directory: string; module: string };

beforeAll(async () => {
  const source = readFileSync(join(ROOT, 'src', 'store', 'data-directory-lock.ts'), 'utf8');
  const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node20' });
  const directory = mkdtempSync(join(tmpdir(), 'swarm-lock-module-'));
  compiled = { directory, module: join(directory, 'data-directory-lock.mjs') };
  writeFileSync(compiled.module, code);
});
afterAll(() => rmSync(compiled.directory, { recursive: true, force: true }));

beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), 'swarm-lock-'));
  directory = join(parent, 'pglite');
  lockPath = `${directory}.lock`;
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
  rmSync(parent, { recursive: true, force: true });
});

/** How long the contenders of the stress case race (the whole case costs ≈ 3 × this of CPU). */
const HAMMER_MS = 600;

const plant = (holder: Partial<LockHolder>) =>
  writeFileSync(lockPath, JSON.stringify({ ...currentHolder(), ...holder }));

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

/**
 * A process that exited and that its parent never waits for: `sh` forks it, then execs `sleep`.
 * The child sleeps half a second first, so it ends after the exec: a child that ended before it
 * could be reaped by `sh` (seen once in a full run on a loaded machine), and then it is no zombie.
 */
async function zombiePid(): Promise<number> {
  const parentOfZombie = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(parentOfZombie);
  const [line] = (await once(parentOfZombie.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  await expect
    .poll(() => readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2], { timeout: 10_000 })
    .toBe('Z');
  return pid;
}

function sleeper(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

function lockedError(run: () => unknown): DataDirectoryLockedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DataDirectoryLockedError);
    return error as DataDirectoryLockedError;
  }
  throw new Error('expected the lock to be refused');
}

describe('lockDataDirectory', () => {
  it('writes who holds the lock, refuses a second opener and is free again once released', () => {
    const lock = lockDataDirectory(directory);
    expect(lock.path).toBe(lockPath);
    const holder = parseHolder(readFileSync(lockPath, 'utf8'))!;
    expect(holder).toMatchObject({ pid: process.pid, command: expect.stringMatching(/^\S+ \S/) });
    expect(holder.start_ticks).toMatch(/^\d+$/);
    expect(holderState(holder)).toBe('alive');
    const refused = lockedError(() => lockDataDirectory(directory));
    expect(refused.message).toMatch(
      new RegExp(`is in use by PID ${process.pid} .*\\(this very process\\)`),
    );
    expect(refused.holder).toEqual(holder);
    lock.release();
    lock.release();
    expect(existsSync(lockPath)).toBe(false);
    lockDataDirectory(directory).release();
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses while another live process holds it, naming its PID and command', () => {
    const child = sleeper();
    plant({ pid: child.pid!, command: 'node dist/main.js', start_ticks: null });
    const refused = lockedError(() => lockDataDirectory(directory));
    expect(refused.message).toMatch(
      new RegExp(
        `^The embedded database in ${directory} is in use by PID ${child.pid} ` +
          '\\(node dist/main\\.js\\)',
      ),
    );
    expect(refused.message).not.toContain('this very process');
    expect(existsSync(lockPath)).toBe(true);
  });

  it('takes over the lock of a process that is gone, and says so', () => {
    const pid = deadPid();
    plant({ pid, command: 'node dist/main.js' });
    const notices: string[] = [];
    const lock = lockDataDirectory(directory, {
      onStaleLock: (message, stale) => notices.push(`${message} [${stale.pid}]`),
    });
    expect(notices).toEqual([
      expect.stringMatching(
        new RegExp(
          `^took over the stale lock ${lockPath} of PID ${pid} ` +
            `\\(node dist/main\\.js\\).*gone \\[${pid}\\]$`,
        ),
      ),
    ]);
    expect(parseHolder(readFileSync(lockPath, 'utf8'))!.pid).toBe(process.pid);
    lock.release();
  });

  it('tells a reused PID, a lock from before a reboot and a zombie from the holder', async () => {
    const child = sleeper();
    expect(holderState({ ...currentHolder(), start_ticks: '1' })).toBe('gone');
    expect(holderState({ ...currentHolder(), boot_id: 'another boot' })).toBe('gone');
    expect(holderState({ ...currentHolder(), pid: child.pid!, start_ticks: null })).toBe('alive');
    plant({ start_ticks: '1' });
    lockDataDirectory(directory).release();
    const zombie = await zombiePid();
    expect(holderState({ ...currentHolder(), pid: zombie, start_ticks: null })).toBe('gone');
  });

  it('leaves a lock taken on another host alone, saying how to clear it', () => {
    plant({ hostname: 'elsewhere.example', pid: 1 });
    const refused = lockedError(() => lockDataDirectory(directory));
    const expected = 'locked by PID 1 .* on elsewhere\\.example \\(another host\\); .*delete ';
    expect(refused.message).toMatch(new RegExp(`${expected}${lockPath}`));
  });

  it('refuses a lock file it cannot read rather than guess', () => {
    writeFileSync(lockPath, 'not a lock');
    expect(lockedError(() => lockDataDirectory(directory)).message).toMatch(
      /has a lock file that is not one of ours/,
    );
    writeFileSync(lockPath, JSON.stringify({ pid: 'x' }));
    expect(lockedError(() => lockDataDirectory(directory)).holder).toBeNull();
  });

  it('clears a takeover right left by a process that crashed, and waits for a live one', () => {
    const stale = JSON.stringify({ ...currentHolder(), pid: deadPid(), start_ticks: null });
    writeFileSync(lockPath, stale);
    const right = takeoverRightPath(lockPath, stale);
    writeFileSync(right, JSON.stringify({ ...currentHolder(), pid: deadPid(), start_ticks: null }));
    const notices: string[] = [];
    lockDataDirectory(directory, { onStaleLock: (message) => notices.push(message) }).release();
    expect(notices).toHaveLength(1);
    expect(readdirSync(parent)).toEqual([]);

    writeFileSync(lockPath, stale);
    writeFileSync(
      right,
      JSON.stringify({ ...currentHolder(), pid: sleeper().pid!, start_ticks: null }),
    );
    const busy = lockedError(() => lockDataDirectory(directory));
    expect(busy.message).toBe(
      `Could not lock ${directory}: its lock file ${lockPath} kept changing hands`,
    );
    expect(readFileSync(lockPath, 'utf8')).toBe(stale);
  });

  it('reports a lock path it cannot read instead of taking it', () => {
    mkdirSync(lockPath);
    expect(() => lockDataDirectory(directory)).toThrow(/EISDIR/);
    expect(readdirSync(parent)).toEqual(['pglite.lock']);
  });

  it('releases the lock when the process exits without closing', async () => {
    const result = await runNode(
      `lockDataDirectory(${JSON.stringify(directory)}); process.exit(3);`,
    );
    expect(result).toEqual({ status: 3, output: '' });
    expect(existsSync(lockPath)).toBe(false);
  });

  it('never lets two hold it while several keep taking over stale locks', async () => {
    const stale = JSON.stringify({ ...currentHolder(), pid: deadPid(), start_ticks: null });
    writeFileSync(lockPath, stale);
    // Each contender that wins checks that it is alone (an exclusive marker file), then "crashes":
    // it leaves a stale lock behind for the others to race for, again and again.
    const contender = `
      import { closeSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
      const marker = ${JSON.stringify(`${directory}.inside`)};
      let wins = 0, overlaps = 0;
      for (const until = Date.now() + ${HAMMER_MS}; Date.now() < until; ) {
        let lock;
        try { lock = lockDataDirectory(${JSON.stringify(directory)}); } catch { continue; }
        wins += 1;
        let fd;
        try { fd = openSync(marker, 'wx'); } catch { overlaps += 1; }
        if (fd !== undefined) { closeSync(fd); unlinkSync(marker); }
        writeFileSync(lock.path, ${JSON.stringify(stale)});
        process.removeAllListeners('exit');
      }
      console.log(JSON.stringify({ wins, overlaps }));`;
    const results = await Promise.all(Array.from({ length: 3 }, () => runNode(contender)));
    const counts = results.map(
      (result) => JSON.parse(result.output) as { wins: number; overlaps: number },
    );
    expect(counts.reduce((sum, count) => sum + count.overlaps, 0)).toBe(0);
    expect(counts.reduce((sum, count) => sum + count.wins, 0)).toBeGreaterThan(20);
    expect(readdirSync(parent).sort()).toEqual(['pglite.lock']);
  });
});

/**
 * Runs `code` in a Node process of its own with `lockDataDirectory` in scope, from the module
 * compiled in `beforeAll`: it imports only Node's own modules, so that one file is all the child
 * needs, and a plain `node` starts in a tenth of the time it takes through tsx.
 */
async function runNode(code: string): Promise<{ status: number | null; output: string }> {
  const module = pathToFileURL(compiled.module).href;
  const script = `import { lockDataDirectory } from ${JSON.stringify(module)};\n${code}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, output };
}
