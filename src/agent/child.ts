import { spawn } from 'node:child_process';

/** Why the runner ended a command before it exited on its own. */
export type KillReason = 'timeout' | 'cancelled' | 'lost' | 'shutdown';

/** How a command ended, with the ends of what it printed. */
export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  killedFor: KillReason | null;
  stdoutTail: string;
  stderrTail: string;
  /** The last non-empty line of standard output, if any. */
  lastLine: string | null;
}

/** A command started by {@link startCommand}. */
export interface RunningCommand {
  readonly pid: number | undefined;
  /** Resolves once the command exited and its output streams closed. */
  readonly finished: Promise<CommandOutcome>;
  /** Ends the command's whole process group: SIGTERM, then SIGKILL after the grace period. */
  kill(reason: KillReason): void;
}

/** What {@link startCommand} needs. */
export interface CommandOptions {
  command: string;
  /** Written to the command's standard input, which is then closed. */
  stdin: string;
  env: NodeJS.ProcessEnv;
  /** Called with each complete line of standard output. */
  onLine?: (line: string) => void;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs?: number;
}

/** Most characters kept of each output stream (its end). */
export const TAIL_MAX_CHARACTERS = 64 * 1024;

function tail(text: string): string {
  return text.length <= TAIL_MAX_CHARACTERS ? text : text.slice(-TAIL_MAX_CHARACTERS);
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Splits a stream's text into lines as it comes, keeping its tail and its last line. */
class LineReader {
  text = '';
  lastLine: string | null = null;
  private pending = '';

  constructor(private readonly onLine?: (line: string) => void) {}

  push(chunk: string): void {
    this.text = tail(this.text + chunk);
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    this.lastLine = line;
    this.onLine?.(line);
  }
}

/**
 * Runs `command` through `/bin/sh -c` in a process group of its own, so that a timeout, a
 * cancel or a shutdown ends everything it started (a shell pipeline, `claude -p` and its tools),
 * not only the shell. Once the shell exits, what it left behind in its group is killed too: an
 * orphan holding the output pipes open would otherwise keep the task from ever finishing.
 */
export function startCommand(options: CommandOptions): RunningCommand {
  const child = spawn('/bin/sh', ['-c', options.command], {
    detached: true,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout = new LineReader(options.onLine);
  const stderr = new LineReader();
  let killedFor: KillReason | null = null;
  let forceTimer: NodeJS.Timeout | undefined;
  child.stdin.on('error', () => undefined); // a command that does not read its input
  child.stdin.end(options.stdin);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  child.once('exit', () => signalGroup(child.pid, 'SIGKILL'));
  const finished = new Promise<CommandOutcome>((resolve) => {
    child.once('error', (error) => stderr.push(`${error.message}\n`));
    child.once('close', (code, signal) => {
      clearTimeout(forceTimer);
      stdout.end();
      stderr.end();
      resolve({ code, signal, killedFor, ...outputs(stdout, stderr) });
    });
  });
  const kill = (reason: KillReason) => {
    if (killedFor !== null || child.exitCode !== null) return;
    killedFor = reason;
    signalGroup(child.pid, 'SIGTERM');
    forceTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 2_000);
  };
  return { pid: child.pid, finished, kill };
}

function outputs(stdout: LineReader, stderr: LineReader) {
  return { stdoutTail: stdout.text, stderrTail: stderr.text, lastLine: stdout.lastLine };
}
