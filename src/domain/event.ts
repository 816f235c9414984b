import { z } from 'zod';
import { agentSchema } from './agent.js';
import { timestampSchema } from './common.js';
import { memoryCircuitSchema } from './memory.js';
import { projectSchema } from './project.js';
import { scheduleSchema } from './schedule.js';
import { executionPhases, attemptOutcomes, taskSchema } from './task.js';

export const eventTypes = [
  'PROJECT_CREATED',
  'PROJECT_UPDATE',
  'PROJECT_DELETED',
  'AGENT_CREATED',
  'AGENT_UPDATE',
  'AGENT_STATUS',
  'AGENT_DELETED',
  'TASK_CREATED',
  'TASK_UPDATE',
  'TASK_DELETED',
  'TASK_EXECUTION',
  'SCHEDULE_CREATED',
  'SCHEDULE_UPDATE',
  'SCHEDULE_DELETED',
  'MEMORY_CIRCUIT',
] as const;
export type EventType = (typeof eventTypes)[number];

/** Topics every event belongs to at least one of; subscribing to all of them means "everything". */
export const rootTopics = ['projects', 'agents', 'tasks', 'schedules', 'system'] as const;

const uuidPattern = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const topicPattern = new RegExp(
  `^(${rootTopics.join('|')}|(project|agent|task|schedule):${uuidPattern})$`,
);

/** A topic name: a root topic, or `project:`, `agent:`, `task:` or `schedule:` and a UUID. */
export const topicSchema = z.string().regex(topicPattern, {
  message: `must be ${rootTopics.join(', ')}, or project:, agent:, task: or schedule: and a UUID`,
});

const changedFields = z
  .array(z.string())
  .describe('The writable fields whose value differs; [] for an update that changed none');
const circuitState = memoryCircuitSchema.shape.state;

/**
 * The `data` of each event type, exactly as the services emit it (docs/events.md). This record
 * is the one source of the event shapes: the wire schema ({@link eventSchema}, and through it the
 * OpenAPI document), {@link EventDataMap} and the emitting helpers below all derive from it.
 */
const eventData = {
  PROJECT_CREATED: z.object({ project: projectSchema }),
  PROJECT_UPDATE: z.object({ project: projectSchema, changed_fields: changedFields }),
  PROJECT_DELETED: z.object({ id: z.uuid() }),
  AGENT_CREATED: z.object({ agent: agentSchema }),
  AGENT_UPDATE: z.object({ agent: agentSchema, changed_fields: changedFields }),
  AGENT_STATUS: z.object({ agent: agentSchema, changed_fields: changedFields }),
  AGENT_DELETED: z.object({ id: z.uuid(), project_id: z.uuid().nullable() }),
  TASK_CREATED: z.object({ task: taskSchema }),
  TASK_UPDATE: z.object({ task: taskSchema, changed_fields: changedFields }),
  TASK_DELETED: z.object({ id: z.uuid(), project_id: z.uuid() }),
  TASK_EXECUTION: z.object({
    task: taskSchema,
    attempt: z
      .object({
        number: z.number().int(),
        agent_id: z.uuid().nullable(),
        outcome: z.enum(attemptOutcomes).optional(),
      })
      .nullable()
      .describe('The attempt the step belongs to; null for a task cancelled before it ran'),
    phase: z.enum(executionPhases),
  }),
  SCHEDULE_CREATED: z.object({ schedule: scheduleSchema }),
  SCHEDULE_UPDATE: z.object({ schedule: scheduleSchema, changed_fields: changedFields }),
  SCHEDULE_DELETED: z.object({ id: z.uuid(), project_id: z.uuid() }),
  MEMORY_CIRCUIT: z.object({
    from: circuitState,
    to: circuitState,
    reason: z.string(),
    at: timestampSchema,
  }),
} satisfies Record<EventType, z.ZodType>;

/** The `data` of each event type, as the service emits it (docs/events.md). */
export type EventDataMap = { [T in EventType]: z.infer<(typeof eventData)[T]> };

/** `PROJECT_UPDATE` → `ProjectUpdateEvent`: the component name of one event type. */
function variantName(type: EventType): string {
  const words = type
    .toLowerCase()
    .split('_')
    .map((word) => word[0]!.toUpperCase() + word.slice(1));
  return `${words.join('')}Event`;
}

/** The envelope of one event type, with its `data`; named so that generators name its type. */
function variant<T extends EventType>(type: T) {
  return z
    .object({
      id: z.number().int(),
      type: z.literal(type),
      topic: z.string(),
      timestamp: timestampSchema,
      data: eventData[type],
    })
    .meta({ id: variantName(type) });
}

/**
 * An event as it travels on the wire and sits in the log: one envelope per type, told apart by
 * `type` (a discriminated union), so that `data` is typed by the type it belongs to.
 */
export const eventSchema = z
  .discriminatedUnion('type', [
    variant('PROJECT_CREATED'),
    variant('PROJECT_UPDATE'),
    variant('PROJECT_DELETED'),
    variant('AGENT_CREATED'),
    variant('AGENT_UPDATE'),
    variant('AGENT_STATUS'),
    variant('AGENT_DELETED'),
    variant('TASK_CREATED'),
    variant('TASK_UPDATE'),
    variant('TASK_DELETED'),
    variant('TASK_EXECUTION'),
    variant('SCHEDULE_CREATED'),
    variant('SCHEDULE_UPDATE'),
    variant('SCHEDULE_DELETED'),
    variant('MEMORY_CIRCUIT'),
  ])
  .meta({ id: 'Event' });

/** An event whose `data` is typed by its `type`: narrow on `event.type` to read it. */
export type TypedEvent = z.infer<typeof eventSchema>;

/**
 * An event as the server handles it: `data` as logged, which the server passes on without
 * reading it (an event logged before a schema change keeps the shape it had).
 */
export interface SwarmEvent {
  id: number;
  type: EventType;
  topic: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * An event before the log has given it an id and a timestamp; `topics` lists every topic that
 * receives it.
 */
export interface EventDraft {
  type: EventType;
  topic: string;
  topics: string[];
  data: Record<string, unknown>;
}

/** A logged event with the topics it is delivered to (not part of the wire envelope). */
export interface LoggedEvent extends SwarmEvent {
  topics: string[];
}

/** Strips the routing data that only the server needs. */
export function toEnvelope({ topics: _topics, ...event }: LoggedEvent): SwarmEvent {
  return event;
}

/** Project events go to `projects` and `project:<id>`; `data` must have the shape of its type. */
export function projectEvent<T extends EventType>(
  type: T,
  projectId: string,
  data: EventDataMap[T],
): EventDraft {
  const topic = `project:${projectId}`;
  return { type, topic, topics: ['projects', topic], data };
}

/**
 * Agent events go to `agents`, `agent:<id>` and the topic of every project the agent belonged
 * to before or after the change, so a project's watchers see agents arrive and leave.
 */
export function agentEvent<T extends EventType>(
  type: T,
  agentId: string,
  projectIds: Array<string | null>,
  data: EventDataMap[T],
): EventDraft {
  const topic = `agent:${agentId}`;
  const projectTopics = [...new Set(projectIds.filter((id): id is string => id !== null))].map(
    (id) => `project:${id}`,
  );
  return { type, topic, topics: ['agents', topic, ...projectTopics], data };
}

/** System events (the memory circuit breaker, for instance) go to `system`. */
export function systemEvent<T extends EventType>(type: T, data: EventDataMap[T]): EventDraft {
  return { type, topic: 'system', topics: ['system'], data };
}

/**
 * Task events go to `tasks`, `task:<id>`, `project:<id>` and, for a step of an attempt, the
 * `agent:<id>` of the agent that holds it, so an agent's watchers see its work.
 */
export function taskEvent<T extends EventType>(
  type: T,
  task: { id: string; project_id: string },
  agentId: string | null,
  data: EventDataMap[T],
): EventDraft {
  const topic = `task:${task.id}`;
  const agentTopics = agentId === null ? [] : [`agent:${agentId}`];
  return {
    type,
    topic,
    topics: ['tasks', topic, `project:${task.project_id}`, ...agentTopics],
    data,
  };
}

/** Schedule events go to `schedules`, `schedule:<id>` and the schedule's project. */
export function scheduleEvent<T extends EventType>(
  type: T,
  schedule: { id: string; project_id: string },
  data: EventDataMap[T],
): EventDraft {
  const topic = `schedule:${schedule.id}`;
  return { type, topic, topics: ['schedules', topic, `project:${schedule.project_id}`], data };
}
