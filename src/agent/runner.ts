import type { Agent } from '../domain/agent.js';
import { DEFAULT_RETRY, type RetryPolicy, retrying, sleep } from './backoff.js';
import type { RunnerOptions } from './options.js';
import { RunnerService } from './service.js';
import { type Log, TaskRun } from './task-run.js';

/** How often the agent itself says it is alive (the service marks it offline after 90 s). */
export const AGENT_HEARTBEAT_MS = 15_000;

/** What a {@link Runner} is made of, besides its options; tests hand in shorter times. */
export interface RunnerParts {
  log: Log;
  env?: NodeJS.ProcessEnv;
  retry?: RetryPolicy;
  agentHeartbeatMs?: number;
  killGraceMs?: number;
}

/**
 * `swarm-agent`: registers the agent (or reuses it by name), keeps it alive, and runs
 * `concurrency` claim loops, each running one task at a time through {@link TaskRun}. `stop()`
 * (SIGTERM) stops claiming at once, lets running tasks finish within the grace period, then
 * kills their commands and reports them failed as retryable; `run()` resolves when all is done.
 * A refused claim stops the runner the same way, without the grace period, and `run()` rejects
 * with it once every slot has ended: nothing is left running when the process exits.
 */
export class Runner {
  private readonly service: RunnerService;
  private readonly claims = new AbortController();
  private readonly shutdown = new AbortController();
  private readonly stopped = new AbortController();
  private running = 0;
  private agent: Agent | undefined;

  constructor(
    private readonly options: RunnerOptions,
    private readonly parts: RunnerParts,
  ) {
    this.service = new RunnerService({ baseUrl: options.url, apiKey: options.key });
  }

  /** The registered agent, once `run()` registered it. */
  get agentId(): string | undefined {
    return this.agent?.id;
  }

  async run(): Promise<void> {
    const agent = await this.register();
    if (agent === null) return;
    this.agent = agent;
    this.parts.log(`registered as agent ${agent.name} (${agent.id})`);
    const heartbeat = this.keepAgentAlive(agent.id);
    const slots = Array.from({ length: this.options.concurrency }, () => this.slot(agent.id));
    const ended = await Promise.allSettled(slots);
    this.stopped.abort();
    await heartbeat;
    await this.service.agentHeartbeat(agent.id, 'offline').catch(() => undefined);
    const failed = ended.find((slot): slot is PromiseRejectedResult => slot.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    this.parts.log('stopped');
  }

  /** Stops claiming; running tasks get `graceMs` to finish, then are killed and failed. */
  stop(graceMs = this.options.graceMs): void {
    if (!this.claims.signal.aborted) this.parts.log(`stopping: ${this.running} task(s) running`);
    this.claims.abort();
    setTimeout(() => this.shutdown.abort(), graceMs).unref();
  }

  private register(): Promise<Agent | null> {
    const wanted = {
      name: this.options.name,
      agent_type: this.options.type,
      capabilities: this.options.capabilities,
      project_id: this.options.project,
    };
    return retrying(() => this.service.register(wanted), this.retryOptions()).catch(
      (error: unknown) => {
        if (this.claims.signal.aborted) return null;
        throw error;
      },
    );
  }

  private retryOptions() {
    return {
      policy: this.parts.retry ?? DEFAULT_RETRY,
      signal: this.claims.signal,
      onRetry: (error: unknown, delay: number) =>
        this.parts.log(`service unreachable (${String(error)}); retry in ${delay} ms`),
    };
  }

  private async keepAgentAlive(agentId: string): Promise<void> {
    const every = this.parts.agentHeartbeatMs ?? AGENT_HEARTBEAT_MS;
    while (!this.stopped.signal.aborted) {
      await sleep(every, this.stopped.signal);
      if (this.stopped.signal.aborted) return;
      const status = this.running > 0 ? 'busy' : 'idle';
      await this.service.agentHeartbeat(agentId, status).catch(() => undefined);
    }
  }

  private async slot(agentId: string): Promise<void> {
    while (!this.claims.signal.aborted) {
      const claimed = await retrying(
        () => this.service.claim(agentId, this.options.waitMs, this.claims.signal),
        this.retryOptions(),
      ).catch((error: unknown) => {
        if (this.claims.signal.aborted) return null;
        this.parts.log(`claim refused (${String(error)}); stopping`);
        this.stop(0);
        throw error;
      });
      if (claimed === null) continue;
      this.parts.log(`claimed task ${claimed.task.id} (attempt ${claimed.attempt.number})`);
      this.running += 1;
      try {
        await new TaskRun(claimed, this.taskContext(agentId)).run();
      } finally {
        this.running -= 1;
      }
    }
  }

  private taskContext(agentId: string) {
    return {
      service: this.service,
      command: this.options.command,
      agentId,
      env: this.parts.env ?? process.env,
      progressIntervalMs: this.options.progressIntervalMs,
      retry: this.parts.retry ?? DEFAULT_RETRY,
      shutdown: this.shutdown.signal,
      log: this.parts.log,
      killGraceMs: this.parts.killGraceMs,
    };
  }
}
