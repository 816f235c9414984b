/**
 * Small process toolkit shared by the throwaway Postgres and Redis servers used in tests:
 * binary lookup, running as an unprivileged user, readiness polling with log tails,
 * graceful stop with escalation, and synchronous emergency cleanup on exit/signals so a
 * crashed or interrupted test run never leaves orphan servers behind.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

/** Unix identity a server process is started as. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** A long-running server child process with its recent output kept for error messages. */
export interface ServiceProcess {
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<void>;
  isRunning(): boolean;
  /** Last lines of combined stdout/stderr, for diagnostics. */
  logTail(lines?: number): string;
  /** How the process ended: null while it runs. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /**
   * Sends each signal in turn, waiting `stepTimeoutMs` for exit before escalating; SIGKILL is the
   * final fallback.
   */
  stop(signals: NodeJS.Signals[], stepTimeoutMs?: number): Promise<void>;
  /**
   * Synchronous variant for `process.on('exit')`: signal, busy-wait briefly, then SIGKILL the
   * process group.
   */
  stopSync(signal: NodeJS.Signals, timeoutMs?: number): void;
}

const MAX_LOG_LINES = 200;
const SETPRIV = findExecutable('setpriv');

/** Returns `path` if it is an executable file, otherwise throws `new Error(missingMessage)`. */
export function requireExecutable(path: string, missingMessage: string): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(missingMessage);
  }
}

/** Looks `name` up on PATH (plus the usual sbin/bin dirs); undefined when absent. */
export function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/bin',
    '/usr/bin',
    '/usr/sbin',
    '/bin',
  ];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/**
 * When running as root, picks an unprivileged account (`postgres`, else `nobody`) because
 * initdb/postgres refuse to run as root. Returns undefined when already unprivileged.
 */
export function unprivilegedUser(candidates = ['postgres', 'nobody']): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of candidates) {
    try {
      const id = (flag: string) =>
        Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
      return { user, uid: id('-u'), gid: id('-g') };
    } catch {
      // user does not exist; try the next one
    }
  }
  throw new Error(
    `Running as root but none of the users ${candidates.join(', ')} exist to run test servers as`,
  );
}

/**
 * Where the suite keeps what must sit inside the project (the compiled service of a run, which
 * must find the installed packages) or outlive a run (the PGlite snapshot, see
 * pglite-snapshot.ts). npm's own cache folder: `npm ci` empties it with node_modules.
 */
export const CACHE_DIRECTORY = fileURLToPath(
  new URL('../../node_modules/.cache/swarm-control-tests', import.meta.url),
);

const RAM_DIRECTORY = '/dev/shm';
let scratch: string | undefined;

/**
 * Where the suite keeps its throwaway servers and files: `$TEST_TMPDIR` if set, else `/dev/shm`
 * (memory-backed on Linux) when it is a writable directory, else the system's temp directory.
 * PostgreSQL creates and deletes thousands of files in a run (a database per test file); on the
 * disk's ext4 each new file cost a search for a free inode, ≈ 5 CPU-s of a run in all.
 */
export function scratchDirectory(): string {
  scratch ??=
    process.env.TEST_TMPDIR || (isWritableDirectory(RAM_DIRECTORY) ? RAM_DIRECTORY : tmpdir());
  return scratch;
}

function isWritableDirectory(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Creates a fresh temp dir (owned by `owner` if given) for a server's data, sockets and logs. */
export function makeTempDir(prefix: string, owner?: RunAs): string {
  const dir = mkdtempSync(join(scratchDirectory(), prefix));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/**
 * Spawn arguments that run `command` as `runAs` and, when setpriv exists, die with this process
 * (PR_SET_PDEATHSIG).
 */
function launchSpec(command: string, args: string[], runAs?: RunAs) {
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  return SETPRIV
    ? { file: SETPRIV, argv: ['--pdeathsig', 'KILL', '--', command, ...args], ids }
    : { file: command, argv: args, ids };
}

/**
 * Runs a one-shot command (e.g. initdb) to completion; rejects with its output on failure or
 * timeout.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; runAs?: RunAs; timeoutMs?: number },
): Promise<string> {
  const { file, argv, ids } = launchSpec(command, args, options.runAs);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd,
      ...ids,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`,
          ),
        );
    });
  });
}

/** Options of {@link spawnService}. */
export interface SpawnServiceOptions {
  cwd: string;
  runAs?: RunAs;
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Sees every chunk of output, for tests that read what the process prints. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

/** Starts a long-running server in its own process group with output captured for diagnostics. */
export function spawnService(
  command: string,
  args: string[],
  options: SpawnServiceOptions,
): ServiceProcess {
  const { file, argv, ids } = launchSpec(command, args, options.runAs);
  const spawnOptions = { cwd: options.cwd, env: options.env, ...ids, detached: true };
  const child = spawn(file, argv, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const capture = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    options.onOutput?.(stream, chunk.toString());
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - MAX_LOG_LINES));
  };
  child.stdout?.on('data', capture('stdout'));
  child.stderr?.on('data', capture('stderr'));
  child.once('error', (err) => lines.push(`spawn error: ${err.message}`));
  return wrapChild(child, lines);
}

function wrapChild(child: ChildProcess, lines: string[]): ServiceProcess {
  let running = child.pid !== undefined;
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((resolve) => {
    if (!running) return resolve();
    child.once('exit', (code, signal) => {
      running = false;
      status = { code, signal };
      lines.push(`[process exited: ${signal ?? `code ${code}`}]`);
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    exited,
    isRunning: () => running,
    exitStatus: () => status,
    logTail: (n = 30) => lines.slice(-n).join('\n'),
    async stop(signals, stepTimeoutMs = 15_000) {
      for (const signal of [...signals, 'SIGKILL' as const]) {
        if (!running) return;
        signalProcess(signal === 'SIGKILL' ? -pid : pid, signal);
        await settleWithin(exited, stepTimeoutMs);
      }
      await exited;
    },
    stopSync(signal, timeoutMs = 5_000) {
      if (!running) return;
      signalProcess(pid, signal);
      if (!waitForExitSync(pid, timeoutMs)) signalProcess(-pid, 'SIGKILL');
      waitForExitSync(pid, 1_000);
    },
  };
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Busy-waits (no event loop needed) until `pid` is gone or a zombie; true if it exited in time. */
function waitForExitSync(pid: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    Atomics.wait(nap, 0, 0, 20);
  }
  return !processAlive(pid);
}

/** True while `pid` is a running process (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    try {
      process.kill(pid, 0); // no procfs (non-Linux): zombies count as alive, best effort
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The running children of this process whose environment holds `name=value`, read from /proc
 * (Linux): how tests find a server process the code under test started, without the code
 * telling them. A child that exits while it is read, or a zombie, is left out.
 */
export function childrenWithEnvironment(name: string, value: string): number[] {
  const wanted = `${name}=${value}`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(parent) !== process.pid || state === 'Z' || state === 'X') return false;
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(wanted);
      } catch {
        return false;
      }
    });
}

/**
 * Waits for `promise` or `ms`, whichever comes first, without leaving a timer that keeps the
 * process alive.
 */
function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns true. Fails fast if `service` exits, and on timeout; both
 * errors include the server's log tail so CI output shows why the server did not come up.
 */
export async function waitUntilReady(
  probe: () => Promise<boolean>,
  options: { what: string; service: ServiceProcess; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!options.service.isRunning())
      throw readinessError(`${options.what} exited during startup`, options.service);
    if (await probe().catch(() => false)) return;
    await sleep(50);
  }
  throw readinessError(
    `${options.what} did not become ready within ${timeoutMs} ms`,
    options.service,
  );
}

function readinessError(message: string, service: ServiceProcess): Error {
  return new Error(`${message}. Last server log lines:\n${service.logTail()}`);
}

/**
 * Runs `start(port)` on a fresh free port, retrying a couple of times if another process
 * grabbed the port between probing and binding ("Address already in use").
 */
async function withPortRetry<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

/** Lifecycle of a throwaway server on a fixed port, shared by the Postgres and Redis helpers. */
export interface ManagedServer {
  readonly port: number;
  /** Fault injection: stop the process (graceful signals first) but keep its directory. */
  pause(): Promise<void>;
  /** Start the paused process again on the same port and wait until it is ready. */
  resume(): Promise<void>;
  /** Stop the process and delete its directory. Idempotent. */
  stop(): Promise<void>;
  logTail(lines?: number): string;
}

/** How to run one kind of server; see startManagedServer. */
export interface ServerSpec {
  /** Used in error messages, e.g. "postgres". */
  name: string;
  /** Temp dir owned by the server; deleted on stop/failure/exit. */
  dir: string;
  /** One-off preparation before the first launch (e.g. initdb). */
  prepare?: () => Promise<void>;
  spawn: (port: number) => ServiceProcess;
  isReady: (port: number) => Promise<boolean>;
  /** Graceful stop sequence; SIGKILL is always the last resort. */
  stopSignals: NodeJS.Signals[];
  /** Signal sent from the synchronous exit hook (should make the server exit fast). */
  exitSignal: NodeJS.Signals;
  readyTimeoutMs?: number;
}

/**
 * Prepares and launches a server on a free port, waits until ready, and returns pause/resume/stop
 * controls. Registers an exit hook so interrupted runs still kill it and delete `spec.dir`.
 */
export async function startManagedServer(spec: ServerSpec): Promise<ManagedServer> {
  let service: ServiceProcess | undefined;
  let stopped = false;
  const unregister = onEmergencyExit(() => {
    service?.stopSync(spec.exitSignal);
    removeDir(spec.dir);
  });
  const shutdown = () => service?.stop(spec.stopSignals) ?? Promise.resolve();
  const launch = async (port: number) => {
    service = spec.spawn(port);
    const what = `${spec.name} on port ${port}`;
    await waitUntilReady(() => spec.isReady(port), {
      what,
      service,
      timeoutMs: spec.readyTimeoutMs,
    }).catch(async (err: unknown) => {
      await shutdown();
      throw err;
    });
    return port;
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await shutdown();
    unregister();
    removeDir(spec.dir);
  };
  try {
    await spec.prepare?.();
    const port = await withPortRetry(launch);
    return {
      port,
      pause: shutdown,
      async resume() {
        if (stopped) throw new Error(`${spec.name} server was stopped; start a new one`);
        if (!service?.isRunning()) await launch(port);
      },
      stop,
      logTail: (lines) => service?.logTail(lines) ?? '',
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

const emergencyCleanups = new Set<() => void>();
let hooksInstalled = false;

/**
 * Registers a synchronous cleanup run on process exit and on SIGINT/SIGTERM/SIGHUP (vitest exits
 * via process.exit() on those, so async teardown never runs). Returns an unregister function.
 */
export function onEmergencyExit(cleanup: () => void): () => void {
  installHooks();
  emergencyCleanups.add(cleanup);
  return () => emergencyCleanups.delete(cleanup);
}

function runEmergencyCleanups(): void {
  for (const cleanup of [...emergencyCleanups]) {
    emergencyCleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // best effort: never block exit
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', runEmergencyCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      runEmergencyCleanups();
      // Adding a listener disables Node's default "terminate"; restore it unless someone else exits
      // first.
      process.exitCode ??= 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1);
      setTimeout(() => process.exit(), 100).unref();
    });
  }
}

/** Removes a temp dir, ignoring errors (used from sync exit paths). */
function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
