import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../client/rest-client.js';
import type { Claimed, Failure } from '../domain/task.js';
import { type RetryPolicy, isTransient, retrying } from './backoff.js';
import { type CommandOutcome, type RunningCommand, startCommand } from './child.js';
import type { RunnerService } from './service.js';

/** Where the runner's messages go (standard error in `main.ts`). */
export type Log = (message: string) => void;

/** What running one claimed task needs from the runner. */
export interface TaskRunContext {
  service: RunnerService;
  command: string;
  agentId: string;
  /** The runner's own environment, which the command inherits. */
  env: NodeJS.ProcessEnv;
  /** Shortest time between two progress messages sent for output lines. */
  progressIntervalMs: number;
  retry: RetryPolicy;
  /** Aborts when the runner's grace period after SIGTERM is over: the command is killed. */
  shutdown: AbortSignal;
  log: Log;
  killGraceMs?: number;
}

/** Longest progress message the API stores. */
const MESSAGE_MAX_CHARACTERS = 1_024;
/** Longest error text the API stores, and the most of a result that is a stdout tail. */
const ERROR_MAX_CHARACTERS = 16_000;

/** Text given to the command: a string task input as is, anything else as JSON. */
export function inputText(input: unknown): string {
  return typeof input === 'string' ? input : JSON.stringify(input ?? null);
}

/** The task's result: the JSON of the last stdout line if it is JSON, else the end of stdout. */
export function resultOf(outcome: CommandOutcome): unknown {
  if (outcome.lastLine !== null) {
    try {
      return JSON.parse(outcome.lastLine) as unknown;
    } catch {
      // not JSON: the tail below
    }
  }
  return outcome.stdoutTail.slice(-ERROR_MAX_CHARACTERS);
}

/** A progress report from an output line: `{"progress":0.4,"message":"…"}` or plain text. */
export function progressOf(line: string): { progress?: number; message: string } {
  try {
    const parsed = JSON.parse(line) as { progress?: unknown; message?: unknown };
    const value = parsed.progress;
    if (typeof value === 'number' && value >= 0 && value <= 1) {
      const message = typeof parsed.message === 'string' ? parsed.message : line;
      return { progress: value, message: message.slice(0, MESSAGE_MAX_CHARACTERS) };
    }
  } catch {
    // plain text
  }
  return { message: line.slice(0, MESSAGE_MAX_CHARACTERS) };
}

const killErrors = {
  timeout: (timeoutMs: number | null) =>
    `timed out after ${timeoutMs} ms: the runner killed the command's process group`,
  shutdown: () => 'the runner shut down before the command finished',
};

/** The failure to report for a command that did not succeed. */
export function failureOf(outcome: CommandOutcome, attempt: number, timeoutMs: number | null) {
  const output = outcome.stdoutTail;
  if (outcome.killedFor === 'timeout' || outcome.killedFor === 'shutdown')
    return { attempt, output, retryable: true, error: killErrors[outcome.killedFor](timeoutMs) };
  const status =
    outcome.signal === null ? `exit code ${outcome.code}` : `killed by ${outcome.signal}`;
  const stderr = outcome.stderrTail.trim().slice(-ERROR_MAX_CHARACTERS);
  return { attempt, output, retryable: true, error: stderr === '' ? status : stderr };
}

/**
 * One claimed task from start to report: the command with the task's input on stdin and in a
 * file, the lease kept by heartbeats (which carry the latest output line as progress, at most
 * every `progressIntervalMs`, and bring news of a cancel), the timeout, and the report, retried
 * while the service is unreachable and dropped once the lease is gone (404/409).
 */
export class TaskRun {
  private command: RunningCommand | undefined;
  private pendingProgress: { progress?: number; message: string } | null = null;
  private lastProgressAt = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  private heartbeat: Promise<void> = Promise.resolve();
  private readonly stopLease = new AbortController();

  constructor(
    private readonly claimed: Claimed,
    private readonly context: TaskRunContext,
  ) {}

  private get task() {
    return this.claimed.task;
  }

  private get attempt(): number {
    return this.claimed.attempt.number;
  }

  /** Runs the task to its report; never throws (a failure to report is logged). */
  async run(): Promise<void> {
    const directory = await mkdtemp(join(tmpdir(), 'swarm-agent-'));
    try {
      const outcome = await this.execute(directory);
      await this.heartbeat; // its progress lands before the result, not after (409)
      await this.report(outcome);
    } catch (error) {
      this.context.log(`task ${this.task.id}: not reported: ${String(error)}`);
    } finally {
      this.stopLease.abort();
      clearTimeout(this.leaseTimer);
      await rm(directory, { recursive: true, force: true });
    }
  }

  private async execute(directory: string): Promise<CommandOutcome> {
    const stdin = inputText(this.task.input);
    const inputFile = join(directory, 'input.json');
    await writeFile(inputFile, stdin);
    const env = {
      ...this.context.env,
      SWARM_TASK_ID: this.task.id,
      SWARM_TASK_INPUT_FILE: inputFile,
      SWARM_ATTEMPT: String(this.attempt),
      SWARM_PROJECT_ID: this.task.project_id,
      SWARM_AGENT_ID: this.context.agentId,
    };
    this.command = startCommand({
      command: this.context.command,
      stdin,
      env,
      onLine: (line) => this.onLine(line),
      killGraceMs: this.context.killGraceMs,
    });
    const kill = () => this.command?.kill('shutdown');
    this.context.shutdown.addEventListener('abort', kill, { once: true });
    const timeout = this.startTimeout();
    this.scheduleHeartbeat();
    try {
      return await this.command.finished;
    } finally {
      clearTimeout(timeout);
      this.context.shutdown.removeEventListener('abort', kill);
    }
  }

  private startTimeout(): NodeJS.Timeout | undefined {
    const timeoutMs = this.task.timeout_ms;
    if (timeoutMs === null) return undefined;
    return setTimeout(() => this.command?.kill('timeout'), timeoutMs);
  }

  private onLine(line: string): void {
    this.pendingProgress = progressOf(line);
    if (Date.now() - this.lastProgressAt >= this.context.progressIntervalMs) {
      clearTimeout(this.leaseTimer);
      this.heartbeat = this.beat();
    }
  }

  /** The next heartbeat: a third of the lease, so two can fail before it runs out. */
  private scheduleHeartbeat(): void {
    if (this.stopLease.signal.aborted) return;
    const every = Math.max(50, Math.floor(this.task.lease_ms / 3));
    clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(() => {
      this.heartbeat = this.beat();
    }, every);
  }

  private async beat(): Promise<void> {
    const progress = this.pendingProgress;
    this.pendingProgress = null;
    if (progress !== null) this.lastProgressAt = Date.now();
    try {
      const body = { attempt: this.attempt, ...(progress ?? {}) };
      const lease = await this.context.service.heartbeat(this.task.id, body);
      if (lease.cancel_requested) this.command?.kill('cancelled');
    } catch (error) {
      if (!isTransient(error)) this.command?.kill('lost');
      else if (progress !== null) this.pendingProgress ??= progress;
    }
    this.scheduleHeartbeat();
  }

  private async report(outcome: CommandOutcome): Promise<void> {
    const { id, title } = this.task;
    if (outcome.killedFor === 'cancelled' || outcome.killedFor === 'lost') {
      this.context.log(
        `task ${id}: ${outcome.killedFor}; the command was killed, nothing to report`,
      );
      return;
    }
    const succeeded = outcome.code === 0 && outcome.killedFor === null;
    const send = succeeded
      ? () => this.context.service.complete(id, this.completion(outcome))
      : () => this.context.service.fail(id, this.failure(outcome));
    try {
      await retrying(send, {
        policy: this.context.retry,
        onRetry: (error, delay) =>
          this.context.log(`task ${id}: report failed (${String(error)}); retry in ${delay} ms`),
      });
      this.context.log(`task ${id} "${title}": reported ${succeeded ? 'success' : 'failure'}`);
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 409))
        throw error;
      this.context.log(`task ${id}: the lease is gone (${error.status}); result dropped`);
    }
  }

  private completion(outcome: CommandOutcome) {
    return { attempt: this.attempt, result: resultOf(outcome), output: outcome.stdoutTail };
  }

  private failure(outcome: CommandOutcome): Failure {
    return failureOf(outcome, this.attempt, this.task.timeout_ms);
  }
}
