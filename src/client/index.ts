/** Published client entry: `import { SwarmClient, EventStream } from 'swarm-control/client'`. */
export { ApiError, type Collection, type ProblemDocument, SwarmClient, type SwarmClientOptions, type WriteOptions } from './rest-client.js';
export { type BackoffOptions, EventStream, type EventStreamOptions, type StreamNotice, backoffDelay } from './event-stream.js';
export type { Agent, AgentInput, AgentPatch } from '../domain/agent.js';
export type { Project, ProjectInput, ProjectPatch } from '../domain/project.js';
export type { SwarmEvent } from '../domain/event.js';
