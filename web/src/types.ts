/**
 * What the dashboard reads. Projects, agents, memory and events come from the service's own
 * domain types (type-only imports: nothing of zod reaches the bundle). Tasks and schedules are
 * written here after the tasks API's contract (docs/dashboard.md).
 */
import type { Agent, Project, SwarmEvent } from '../../src/client/browser.js';

export type { Agent, Project, SwarmEvent };
export type {
  MemoryCircuit,
  MemorySearchItem,
  MemorySearchResult,
  Role,
} from '../../src/client/browser.js';
export type { Caller } from '../../src/domain/auth.js';
export type { Stats } from '../../src/domain/stats.js';

/** The values of the service's enums, as the dashboard lists them (checked against the types). */
export const agentStatuses = [
  'active',
  'idle',
  'busy',
  'offline',
  'error',
] as const satisfies ReadonlyArray<Agent['status']>;
export const projectStatuses = ['active', 'completed', 'archived'] as const satisfies ReadonlyArray<
  Project['status']
>;
export const taskStatuses = [
  'blocked',
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof taskStatuses)[number];

export interface Task {
  id: string;
  project_id: string;
  title: string;
  kind: string;
  input: unknown;
  required_capabilities: string[];
  agent_type: string | null;
  agent_id: string | null;
  priority: number;
  run_at: string | null;
  depends_on: string[];
  max_attempts: number;
  backoff: { base_ms: number; max_ms: number };
  timeout_ms: number;
  lease_ms: number;
  status: TaskStatus;
  progress: { value: number; message: string | null } | null;
  result: unknown;
  error: unknown;
  attempts: number;
  cancel_requested: boolean;
  schedule_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'timed_out' | 'lost' | 'cancelled';

export interface Attempt {
  task_id: string;
  number: number;
  agent_id: string;
  claimed_at: string;
  heartbeat_at: string | null;
  lease_expires_at: string;
  ended_at: string | null;
  outcome: AttemptOutcome | null;
  output: unknown;
  error: unknown;
  duration_ms: number | null;
}

export interface Schedule {
  id: string;
  project_id: string;
  name: string;
  cron: string;
  timezone: string;
  task: Record<string, unknown>;
  enabled: boolean;
  overlap: 'skip' | 'allow';
  next_run_at: string | null;
  last_run_at: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** A page of a cursor-paged list (tasks). */
export interface CursorPage<T> {
  items: T[];
  next_cursor: string | null;
}

/** `TASK_EXECUTION`'s data, per the tasks contract. */
export interface TaskExecution {
  task: Task;
  attempt: { number: number; agent_id: string; outcome?: AttemptOutcome | null };
  phase: string;
}

/** An event as the dashboard handles it: the typed ones, and task events, typed loosely. */
export interface AnyEvent {
  id: number;
  type: string;
  topic: string;
  timestamp: string;
  data: Record<string, unknown>;
}
