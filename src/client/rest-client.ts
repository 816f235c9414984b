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
import { type ProblemDocument, readProblem } from './problem.js';

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

type Query = Record<string, string | number | string[] | undefined>;
/** What a create accepts: optional fields may be left out and get their documented defaults. */
type Input<T, Required extends keyof T> = Partial<T> & Pick<T, Required>;

/** Write options: `ifMatch` is the version the caller last saw (412 if it moved). */
export interface WriteOptions {
  ifMatch?: number;
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

function queryString(query: object): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query as Query)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      parameters.append(key, String(item));
  }
  const text = parameters.toString();
  return text === '' ? '' : `?${text}`;
}

/** One resource collection: create, read, list, replace, patch, delete. */
export interface Collection<Resource, CreateInput, PatchInput, ListQuery> {
  create(input: CreateInput): Promise<Resource>;
  get(id: string): Promise<Resource>;
  list(query?: Partial<ListQuery>): Promise<Page<Resource>>;
  replace(id: string, input: CreateInput, options?: WriteOptions): Promise<Resource>;
  patch(id: string, patch: PatchInput, options?: WriteOptions): Promise<Resource>;
  delete(id: string, options?: WriteOptions): Promise<void>;
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
  readonly memory: MemoryApi;
  readonly keys: KeysApi;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SwarmClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.projects = this.collection('/api/v1/projects');
    this.agents = {
      ...this.collection('/api/v1/agents'),
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

  private collection<R, C, P, Q>(path: string): Collection<R, C, P, Q> {
    const ifMatch = (options?: WriteOptions): Record<string, string> =>
      options?.ifMatch === undefined ? {} : { 'if-match': `"${options.ifMatch}"` };
    return {
      create: (input) => this.request('POST', path, input),
      get: (id) => this.request('GET', `${path}/${id}`),
      list: (query = {}) => this.request('GET', `${path}${queryString(query)}`),
      replace: (id, input, options) =>
        this.request('PUT', `${path}/${id}`, input, ifMatch(options)),
      patch: (id, patch, options) =>
        this.request('PATCH', `${path}/${id}`, patch, ifMatch(options)),
      delete: (id, options) => this.request('DELETE', `${path}/${id}`, undefined, ifMatch(options)),
    };
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const response = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.options.apiKey === undefined
          ? {}
          : { authorization: `Bearer ${this.options.apiKey}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new ApiError(await readProblem(response));
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
