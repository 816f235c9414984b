import { parseArgs } from 'node:util';
import { type AgentInput, agentTypes } from '../domain/agent.js';
import { CLAIM_WAIT_MAX_MS } from '../domain/task.js';

/** What `swarm-agent` was told on its command line. */
export interface RunnerOptions {
  url: string;
  key: string | undefined;
  name: string;
  type: AgentInput['agent_type'];
  capabilities: string[];
  command: string;
  project: string | null;
  concurrency: number;
  /** After SIGTERM, how long running tasks may take before they are killed and failed. */
  graceMs: number;
  /** How long one claim waits for work (the long poll). */
  waitMs: number;
  progressIntervalMs: number;
}

/** A wrong command line: `main.ts` prints it with the usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const usage = `Usage: swarm-agent --url URL --name NAME --type TYPE --command "…" [options]

Registers an agent (or reuses the one of that name), claims the tasks it can do and runs the
command for each: the task's input on stdin and in $SWARM_TASK_INPUT_FILE, with SWARM_TASK_ID
and SWARM_ATTEMPT set. Exit 0 completes the task (result: the last stdout line if it is JSON,
else the end of stdout); any other exit fails it with the end of stderr.

  --url URL             the service, e.g. http://127.0.0.1:3000
  --key KEY             API key (default: $SWARM_API_KEY; --key shows in the process list)
  --name NAME           agent name, unique in its project
  --type TYPE           agent type: ${agentTypes.join(', ')}
  --capabilities a,b    what it can do; it claims only tasks whose required capabilities it has
  --command "…"         run by /bin/sh -c for each task, in a process group of its own
  --project ID          the agent's project (default: none; then the key's projects)
  --concurrency N       tasks at once (default 1)
  --grace-ms MS         after SIGTERM, time for running tasks to finish (default 30000)
  --wait-ms MS          how long each claim waits for work (default 20000, at most 30000)
  --progress-ms MS      at most one progress message per MS per task (default 1000)`;

const flags = {
  url: { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string' },
  type: { type: 'string' },
  capabilities: { type: 'string' },
  command: { type: 'string' },
  project: { type: 'string' },
  concurrency: { type: 'string' },
  'grace-ms': { type: 'string' },
  'wait-ms': { type: 'string' },
  'progress-ms': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function integer(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > max) throw new UsageError(`--${name} must be 0…${max}`);
  return value;
}

function required(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

function agentType(text: string): AgentInput['agent_type'] {
  const type = agentTypes.find((known) => known === text);
  if (type === undefined) throw new UsageError(`--type must be one of ${agentTypes.join(', ')}`);
  return type;
}

/** Reads the command line (and `SWARM_API_KEY`); a {@link UsageError} says what is wrong. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): RunnerOptions {
  try {
    return readOptions(argv, env);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function readOptions(argv: string[], env: NodeJS.ProcessEnv): RunnerOptions {
  const { values } = parseArgs({ args: argv, options: flags, strict: true });
  if (values.help === true) throw new UsageError('');
  const concurrency = integer('concurrency', values.concurrency, 1, 256);
  if (concurrency < 1) throw new UsageError('--concurrency must be 1…256');
  return {
    url: new URL(required('url', values.url)).origin,
    key: values.key ?? env.SWARM_API_KEY,
    name: required('name', values.name),
    type: agentType(required('type', values.type)),
    capabilities: (values.capabilities ?? '').split(',').filter((item) => item.trim() !== ''),
    command: required('command', values.command),
    project: values.project ?? null,
    concurrency,
    graceMs: integer('grace-ms', values['grace-ms'], 30_000, 86_400_000),
    waitMs: integer('wait-ms', values['wait-ms'], 20_000, CLAIM_WAIT_MAX_MS),
    progressIntervalMs: integer('progress-ms', values['progress-ms'], 1_000, 3_600_000),
  };
}
