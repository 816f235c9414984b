import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import type { ApiKey, AuditEntry, CreatedKey, KeyInput } from '../domain/auth.js';
import type { Page } from '../domain/common.js';
import type { TypedEvent } from '../domain/event.js';
import type {
  MemoryCircuit,
  MemoryEntry,
  MemoryInput,
  MemoryListQuery,
  MemorySearchQuery,
  MemorySearchResult,
  MemoryStoreResult,
} from '../domain/memory.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import { type Collection, type Input, type Send, collection, queryString } from './collection.js';
import { type ProblemDocument, readProblem } from './problem.js';
import { type SchedulesApi, type TasksApi, schedulesApi, tasksApi } from './tasks.js';

export type { Collection, WriteOptions } from './collection.js';

/** Thrown for every non-2xx answer; `problem` is the server's explanation. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly problem: ProblemDocument) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
  }

  get status(): number {
    return this.problem.status;
  }
}

/** Options of {@link SwarmClient}. */
export interface SwarmClientOptions {
  /** The service root, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** Defaults to the global `fetch`, bound to the global object as browsers require. */
  fetch?: typeof fetch;
}

/** A page of the event log (`GET /api/v1/events`). */
export interface EventPage {
  items: TypedEvent[];
  next_after: number;
  has_more: boolean;
  pruned_through_id: number;
}

/** Filters of `GET /api/v1/audit` (admin keys only). */
export interface AuditQuery {
  limit?: number;
  before?: number;
  key_id?: string;
  action?: string;
  resource?: string;
  resource_id?: string;
  since?: string;
  until?: string;
}

/** Shared memory (`/api/v1/memory`): keys are unique per project. */
export interface MemoryApi {
  store(input: Input<MemoryInput, 'key' | 'content'>): Promise<MemoryStoreResult>;
  /** A page of entries (a scoped key sees its projects' only). */
  list(query?: Partial<MemoryListQuery>): Promise<Page<MemoryEntry>>;
  /** The entry `key` of `projectId` (omitted: the entry of no project). */
  get(key: string, projectId?: string): Promise<MemoryEntry>;
  search(query: Input<MemorySearchQuery, 'q'>): Promise<MemorySearchResult>;
  circuit(): Promise<MemoryCircuit>;
  /** Admin keys only. */
  resetCircuit(): Promise<MemoryCircuit>;
}

/** API keys (admin keys only). */
export interface KeysApi {
  /** The answer holds the secret, shown this once. */
  create(input: Input<KeyInput, 'name' | 'role'>): Promise<CreatedKey>;
  list(): Promise<{ items: ApiKey[] }>;
  revoke(id: string): Promise<void>;
}

/**
 * Typed REST client for the service, for Node and browsers alike. Input types are the API's
 * own: optional fields may be omitted and get their documented defaults.
 */
export class SwarmClient {
  readonly projects: Collection<
    Project,
    Input<ProjectInput, 'name'>,
    ProjectPatch,
    ProjectListQuery
  >;
  readonly agents: Collection<
    Agent,
    Input<AgentInput, 'name' | 'agent_type'>,
    AgentPatch,
    AgentListQuery
  > & {
    heartbeat(id: string, body?: NonNullable<Heartbeat>): Promise<Agent>;
  };
  /** Tasks: definitions, and their execution by agents (claim, heartbeat, complete, fail). */
  readonly tasks: TasksApi;
  /** Cron schedules that make tasks. */
  readonly schedules: SchedulesApi;
  readonly memory: MemoryApi;
  readonly keys: KeysApi;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SwarmClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    const send: Send = (...args) => this.request(...args);
    this.projects = collection(send, '/api/v1/projects');
    this.tasks = tasksApi(send);
    this.schedules = schedulesApi(send);
    this.agents = {
      ...collection(send, '/api/v1/agents'),
      heartbeat: (id, body) => this.request('POST', `/api/v1/agents/${id}/heartbeat`, body ?? {}),
    };
    this.memory = this.memoryApi();
    this.keys = {
      create: (input) => this.request('POST', '/api/v1/keys', input),
      list: () => this.request('GET', '/api/v1/keys'),
      revoke: (id) => this.request('DELETE', `/api/v1/keys/${id}`),
    };
  }

  /** Pages through the event log after `after`; `data` is typed by each event's `type`. */
  events(query: { after?: number; topic?: string[]; limit?: number } = {}): Promise<EventPage> {
    return this.request('GET', `/api/v1/events${queryString(query)}`);
  }

  /** The audit log, newest first (admin keys only). */
  audit(
    query: AuditQuery = {},
  ): Promise<{ items: AuditEntry[]; next_before: number | null; has_more: boolean }> {
    return this.request('GET', `/api/v1/audit${queryString(query)}`);
  }

  private memoryApi(): MemoryApi {
    const path = '/api/v1/memory';
    return {
      store: (input) => this.request('POST', path, input),
      list: (query = {}) => this.request('GET', `${path}${queryString(query)}`),
      get: (key, projectId) =>
        this.request(
          'GET',
          `${path}/${encodeURIComponent(key)}${queryString({ project_id: projectId })}`,
        ),
      search: (query) => this.request('GET', `${path}/search${queryString(query)}`),
      circuit: () => this.request('GET', `${path}/circuit`),
      resetCircuit: () => this.request('POST', `${path}/circuit/reset`),
    };
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<T> {
    const response = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      signal,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.options.apiKey === undefined
          ? {}
          : { authorization: `Bearer ${this.options.apiKey}` }),
      },
      // Stryker disable next-line ConditionalExpression: JSON.stringify(undefined) is undefined too
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new ApiError(await readProblem(response));
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
