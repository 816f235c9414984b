/**
 * The client for browsers (and any runtime with a standard WebSocket): `import { SwarmClient,
 * EventStream } from '@swarm-control/client'` resolves here through the `browser` condition.
 * The stream sends the API key as the `token` query parameter, since browsers cannot set headers.
 */
export {
  ApiError,
  type AuditQuery,
  type Collection,
  type EventPage,
  type KeysApi,
  type MemoryApi,
  SwarmClient,
  type SwarmClientOptions,
  type WriteOptions,
} from './rest-client.js';
export type { Input, PatchOnlyCollection } from './collection.js';
export type {
  ClaimOptions,
  ScheduleChange,
  ScheduleCreate,
  SchedulesApi,
  TaskTemplateInput,
  TasksApi,
} from './tasks.js';
export {
  EventStream,
  EventStreamError,
  type EventStreamOptions,
  type StreamNotice,
} from './event-stream.js';
export { type BackoffOptions, backoffDelay } from '../domain/timing.js';
export type { ProblemDocument } from './problem.js';
export type { SocketFactory, StreamSocket } from './stream-socket.js';
export type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
export type { ApiKey, AuditEntry, CreatedKey, KeyInput, Role } from '../domain/auth.js';
export type { Page, SortOrder } from '../domain/common.js';
export type { EventDataMap, EventType, TypedEvent as SwarmEvent } from '../domain/event.js';
export type {
  MemoryCircuit,
  MemoryEntry,
  MemoryInput,
  MemoryListQuery,
  MemorySearchItem,
  MemorySearchQuery,
  MemorySearchResult,
  MemorySource,
  MemoryStoreResult,
} from '../domain/memory.js';
export type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
export type {
  Schedule,
  ScheduleInput,
  ScheduleListQuery,
  SchedulePatch,
} from '../domain/schedule.js';
export type {
  Attempt,
  AttemptOutcome,
  Backoff,
  ClaimRequest,
  Claimed,
  Completion,
  ExecutionPhase,
  Failure,
  Lease,
  Task,
  TaskHeartbeat,
  TaskInput,
  TaskListQuery,
  TaskPatch,
  TaskStatus,
  TaskTemplate,
} from '../domain/task.js';
