import { z } from 'zod';
import type { Agent } from './agent.js';
import type { MemoryCircuit } from './memory.js';
import type { Project } from './project.js';

export const eventTypes = [
  'PROJECT_CREATED', 'PROJECT_UPDATE', 'PROJECT_DELETED', 'AGENT_CREATED', 'AGENT_UPDATE', 'AGENT_STATUS',
  'AGENT_DELETED', 'TASK_EXECUTION', 'MEMORY_CIRCUIT',
] as const;
export type EventType = (typeof eventTypes)[number];

/** Topics every event belongs to at least one of; subscribing to all three means "everything". */
export const rootTopics = ['projects', 'agents', 'system'] as const;

const uuidPattern = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const topicPattern = new RegExp(`^(projects|agents|system|project:${uuidPattern}|agent:${uuidPattern})$`);

/** A topic name: `projects`, `agents`, `system`, `project:<uuid>` or `agent:<uuid>`. */
export const topicSchema = z.string().regex(topicPattern, { message: 'must be projects, agents, system, project:<uuid> or agent:<uuid>' });

/** An event as it travels on the wire and sits in the log. */
export const eventSchema = z
  .object({
    id: z.number().int(),
    type: z.enum(eventTypes),
    topic: z.string(),
    timestamp: z.iso.datetime(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event' });
export type SwarmEvent = z.infer<typeof eventSchema>;

/** An event before the log has given it an id and a timestamp; `topics` lists every topic that receives it. */
export interface EventDraft {
  type: EventType;
  topic: string;
  topics: string[];
  data: Record<string, unknown>;
}

/** Fields of an update event: the resource as it is now, and the writable fields that changed. */
type Changed = { changed_fields: string[] };

/** The `data` of each event type, as the service emits it (docs/events.md). */
export interface EventDataMap {
  PROJECT_CREATED: { project: Project };
  PROJECT_UPDATE: { project: Project } & Changed;
  PROJECT_DELETED: { id: string };
  AGENT_CREATED: { agent: Agent };
  AGENT_UPDATE: { agent: Agent } & Changed;
  AGENT_STATUS: { agent: Agent } & Changed;
  AGENT_DELETED: { id: string; project_id: string | null };
  TASK_EXECUTION: Record<string, unknown>;
  MEMORY_CIRCUIT: { from: CircuitState; to: CircuitState; reason: string; at: string };
}

type CircuitState = MemoryCircuit['state'];

/** An event whose `data` is typed by its `type`: narrow on `event.type` to read it. */
export type TypedEvent = {
  [T in EventType]: Omit<SwarmEvent, 'type' | 'data'> & { type: T; data: EventDataMap[T] };
}[EventType];

/** A logged event with the topics it is delivered to (not part of the wire envelope). */
export interface LoggedEvent extends SwarmEvent {
  topics: string[];
}

/** Strips the routing data that only the server needs. */
export function toEnvelope({ topics: _topics, ...event }: LoggedEvent): SwarmEvent {
  return event;
}

/** Project events go to `projects` and `project:<id>`. */
export function projectEvent(type: EventType, projectId: string, data: Record<string, unknown>): EventDraft {
  const topic = `project:${projectId}`;
  return { type, topic, topics: ['projects', topic], data };
}

/**
 * Agent events go to `agents`, `agent:<id>` and the topic of every project the agent belonged
 * to before or after the change, so a project's watchers see agents arrive and leave.
 */
export function agentEvent(type: EventType, agentId: string, projectIds: Array<string | null>, data: Record<string, unknown>): EventDraft {
  const topic = `agent:${agentId}`;
  const projectTopics = [...new Set(projectIds.filter((id): id is string => id !== null))].map((id) => `project:${id}`);
  return { type, topic, topics: ['agents', topic, ...projectTopics], data };
}

/** System events (the memory circuit breaker, for instance) go to `system`. */
export function systemEvent(type: EventType, data: Record<string, unknown>): EventDraft {
  return { type, topic: 'system', topics: ['system'], data };
}
