/**
 * Child processes of a benchmark run: every server and load generator runs in its own process,
 * started here, announced by a "ready" line on stdout, and always stopped at the end — also when
 * the run fails or is interrupted (Ctrl-C), so no orphan survives:
 *
 * - each child gets its own process group (`detached`), so a stop can signal the whole group;
 * - each child is started through `setpriv --pdeathsig KILL` (when present), so the kernel kills
 *   it even if this process dies by SIGKILL;
 * - a synchronous emergency hook (test/support/process.ts) kills every live child on exit,
 *   SIGINT, SIGTERM and SIGHUP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findExecutable, onEmergencyExit } from '../../test/support/process.js';
import { READY_MARKER, RUN_MARKER_VARIABLE } from './ready.js';

export { readCpuMs } from './proc.js';

/** The repository root (bench/lib/../..), the working directory of every child. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const SETPRIV = findExecutable('setpriv');
const MAX_LOG_LINES = 300;

/** What a ready line announced: the text after the marker, parsed as JSON when it is JSON. */
export type ReadyInfo = Record<string, unknown>;

export interface SpawnOptions {
  /** Shown in errors and logs, e.g. "service". */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Open an IPC channel (process.send in the child). */
  ipc?: boolean;
  /** How long to wait for the ready line (default 60 s). */
  readyTimeoutMs?: number;
  /** Raise the child's open-file soft limit to this (through `sh -c 'ulimit -n N && exec …'`). */
  fileLimit?: number;
}

/** A running child that printed its ready line. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly ready: ReadyInfo;
  readonly process: ChildProcess;
  isRunning(): boolean;
  logTail(lines?: number): string;
  /**
   * Resolves with the next output line starting with `prefix` (without it); rejects after
   * `timeoutMs`.
   */
  nextLine(prefix: string, timeoutMs: number): Promise<string>;
  /**
   * SIGTERM, then SIGKILL to the whole group after `graceMs`; resolves once the child has exited.
   */
  stop(graceMs?: number): Promise<void>;
}

/** `node --import tsx <script>` arguments for a TypeScript entry point under bench/. */
export function tsxScript(
  script: string,
  nodeFlags: string[] = [],
): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: [
      ...nodeFlags,
      '--import',
      'tsx',
      fileURLToPath(new URL(`../${script}`, import.meta.url)),
    ],
  };
}

const live = new Set<ChildProcess>();
const everSpawned: number[] = [];

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every child still running (synchronously: usable from exit hooks). */
export function killAllChildrenSync(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}
onEmergencyExit(killAllChildrenSync);

/**
 * Starts a child and resolves once it printed its ready line; rejects (and kills it) on exit or
 * timeout.
 */
export function spawnChild(options: SpawnOptions): Promise<Child> {
  const [command, args] =
    options.fileLimit === undefined
      ? [options.command, options.args]
      : [
          '/bin/sh',
          [
            '-c',
            `ulimit -n ${options.fileLimit} && exec "$@"`,
            'sh',
            options.command,
            ...options.args,
          ],
        ];
  const argv = SETPRIV ? ['--pdeathsig', 'KILL', '--', command, ...args] : args;
  const file = SETPRIV ?? command;
  const child = spawn(file, argv, {
    cwd: repoRoot,
    detached: true,
    env: {
      ...process.env,
      ...options.env,
      ...(runMarker === undefined ? {} : { [RUN_MARKER_VARIABLE]: runMarker }),
    },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  if (child.pid !== undefined) everSpawned.push(child.pid);
  const lines: string[] = [];
  let running = child.pid !== undefined;
  const exited = new Promise<void>((resolve) => {
    if (!running) return resolve();
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      lines.push(`[${options.name} exited: ${signal ?? `code ${code}`}]`);
      resolve();
    });
  });
  let onReady: ((info: ReadyInfo) => void) | undefined;
  const lineWaiters = new Set<(line: string) => boolean>();
  const capture = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith(READY_MARKER)) onReady?.(parseReady(line.slice(READY_MARKER.length)));
        else if (line.trim() !== '') lines.push(line);
        for (const waiter of lineWaiters) if (waiter(line)) lineWaiters.delete(waiter);
      }
      lines.splice(0, Math.max(0, lines.length - MAX_LOG_LINES));
    });
  };
  capture(child.stdout!);
  capture(child.stderr!);
  child.once('error', (error) => lines.push(`spawn error: ${error.message}`));

  const handle = (ready: ReadyInfo): Child => ({
    name: options.name,
    pid: child.pid ?? -1,
    ready,
    process: child,
    isRunning: () => running,
    logTail: (n = 40) => lines.slice(-n).join('\n'),
    nextLine: (prefix, timeoutMs) =>
      new Promise<string>((resolve, reject) => {
        const waiter = (line: string) => {
          if (!line.startsWith(prefix)) return false;
          clearTimeout(timer);
          resolve(line.slice(prefix.length));
          return true;
        };
        const timer = setTimeout(() => {
          lineWaiters.delete(waiter);
          reject(new Error(`${options.name}: no "${prefix.trim()}" line within ${timeoutMs} ms`));
        }, timeoutMs);
        lineWaiters.add(waiter);
      }),
    async stop(graceMs = 10_000) {
      if (!running) return;
      killGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
      if (running) killGroup(child, 'SIGKILL');
      await exited;
      killGroup(child, 'SIGKILL'); // stragglers of the group (none expected)
    },
  });

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  return new Promise<Child>((resolve, reject) => {
    const fail = (message: string) => {
      onReady = undefined;
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
      reject(
        new Error(`${options.name}: ${message}. Last output:\n${lines.slice(-30).join('\n')}`),
      );
    };
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    // 'close' comes after the last output, so a ready line printed just before exiting still
    // counts.
    child.once('close', () => {
      if (onReady !== undefined) fail('exited before it was ready');
    });
    onReady = (info) => {
      clearTimeout(timer);
      onReady = undefined;
      resolve(handle(info));
    };
  });
}

function parseReady(text: string): ReadyInfo {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as ReadyInfo)
      : { value: parsed };
  } catch {
    return { text };
  }
}

/** Pids of every child started in this run that still exists (the no-orphan check at the end). */
export function survivingChildPids(): number[] {
  return everSpawned.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^\d+ \(.*\) [ZX]/s.test(stat);
    } catch {
      return false;
    }
  });
}

/** The port a child announced in its ready line. */
export function readyPort(child: Child): number {
  const port = child.ready.port;
  if (typeof port !== 'number')
    throw new Error(`${child.name} announced no port: ${JSON.stringify(child.ready)}`);
  return port;
}

/** Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS). */
export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** The open-file limits of this process (children inherit them), from /proc/self/limits. */
export function openFileLimit(): { soft: number; hard: number } {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const parse = (value: string | undefined) =>
    value === undefined || value === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(value);
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

export { RUN_MARKER_VARIABLE };
let runMarker: string | undefined;

/** Marks every child started from now on with `runId` (see {@link processesOfRun}). */
export function setRunMarker(runId: string): void {
  runMarker = runId;
}

/**
 * Runs `start` with the run marker in process.env, for starters that take no environment
 * (the PostgreSQL helper spawns with process.env); the marker is removed again afterwards so
 * that helper processes of this process itself (tsx's esbuild service) do not carry it.
 */
export async function withRunMarkerInEnvironment<T>(start: () => Promise<T>): Promise<T> {
  if (runMarker === undefined) return start();
  process.env[RUN_MARKER_VARIABLE] = runMarker;
  try {
    return await start();
  } finally {
    delete process.env[RUN_MARKER_VARIABLE];
  }
}

/**
 * Pids of every live process (any depth, any user) whose environment carries this run's marker,
 * except this one.
 */
export function processesOfRun(runId: string): number[] {
  const needle = `${RUN_MARKER_VARIABLE}=${runId}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!/^\d+ \(.*\) [ZX]/s.test(stat)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return found;
}
