/**
 * The service, `npm start` and the CLI as child processes of a test, run the way an operator runs
 * them: real files, real signals, output kept per stream. The service is taken as ready when it
 * logs `swarm-control ready`, whose line names the address it listens on (so PORT=0 works) and
 * its PID (which, under npm, is not the PID of the process the test started).
 */
import { spawn } from 'node:child_process';
import { type ServiceProcess, spawnService, waitUntilReady } from './process.js';

/** A program started by a test, with everything it printed so far. */
export interface Program {
  readonly process: ServiceProcess;
  stdout(): string;
  stderr(): string;
  /** Its stdout read as pino's JSON lines (other lines are skipped). */
  logLines(): Array<Record<string, unknown>>;
}

/** What the service's ready line says. */
export interface Ready {
  url: string;
  pid: number;
}

/**
 * This process's environment without what would point a child elsewhere: `DATABASE_URL`, and
 * npm's `npm_*` variables (set when the suite runs under `npm test`; npm would take them as its
 * own configuration and run the scripts of this project instead of a test's package).
 */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const kept = Object.entries(process.env).filter(
    ([name]) => !/^npm_/i.test(name) && name !== 'DATABASE_URL',
  );
  return { ...Object.fromEntries(kept), ...overrides };
}

/** Starts `command args` in a process group of its own (see spawnService) and keeps its output. */
export function startProgram(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Program {
  const output = { stdout: '', stderr: '' };
  const onOutput = (stream: 'stdout' | 'stderr', text: string) => void (output[stream] += text);
  const child = spawnService(command, args, { ...options, onOutput });
  return {
    process: child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    logLines: () => parseLogLines(output.stdout),
  };
}

function parseLogLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      return isRecord(parsed) ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Waits for the service's ready line; fails at once, with its output, if it exits first. */
export async function serviceReady(program: Program, timeoutMs = 30_000): Promise<Ready> {
  const readyLine = () => program.logLines().find((line) => line.msg === 'swarm-control ready');
  await waitUntilReady(async () => readyLine() !== undefined, {
    what: 'the service',
    service: program.process,
    timeoutMs,
  });
  const line = readyLine()!;
  return { url: String(line.url), pid: Number(line.pid) };
}

/** Waits until `program` has exited (at most `timeoutMs`) and returns how. */
export async function exitOf(
  program: Program,
  timeoutMs = 20_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running after ${timeoutMs} ms:\n${program.process.logTail()}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([program.process.exited, timeout]);
    return program.process.exitStatus()!;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills `program`'s whole process group (orphans included), then waits for the program itself. */
export async function killProgram(program: Program | undefined): Promise<void> {
  if (program === undefined) return;
  try {
    process.kill(-program.process.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
  await program.process.exited;
}

/** Runs a short-lived program to its end: its exit code and both streams, whatever the code. */
export function runProgram(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    // Decoded as a stream, so that a character split between two chunks stays whole.
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ...output });
    });
  });
}
