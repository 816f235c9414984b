/**
 * What the dashboard reads: the service's own domain types, imported as types only, so nothing
 * of zod reaches the bundle; the lists of enum values are written out here for the same reason
 * and checked against those types.
 */
import type { Agent, EventDataMap, Project, SwarmEvent } from '../../src/client/browser.js';
import type { Attempt, Task } from '../../src/domain/task.js';

export type { Agent, Attempt, Project, SwarmEvent, Task };
export type { Schedule } from '../../src/domain/schedule.js';
export type { AgentFigures } from '../../src/domain/stats.js';
export type { Page } from '../../src/domain/common.js';
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
] as const satisfies ReadonlyArray<Task['status']>;
export type TaskStatus = Task['status'];
export const attemptOutcomes = [
  'succeeded',
  'failed',
  'timed_out',
  'lost',
  'cancelled',
] as const satisfies ReadonlyArray<NonNullable<Attempt['outcome']>>;

/** `TASK_EXECUTION`'s data. */
export type TaskExecution = EventDataMap['TASK_EXECUTION'];

/** An event as the dashboard handles it: the typed ones, and task events, typed loosely. */
export interface AnyEvent {
  id: number;
  type: string;
  topic: string;
  timestamp: string;
  data: Record<string, unknown>;
}
