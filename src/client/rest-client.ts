import type { Agent, AgentInput, AgentListQuery, AgentPatch, Heartbeat } from '../domain/agent.js';
import type { Page } from '../domain/common.js';
import type { SwarmEvent } from '../domain/event.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';

/** The problem document the API answers every error with. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: Array<{ path: string; message: string; in?: string }>;
}

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
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | string[] | undefined>;
type Input<T> = Partial<T> & Pick<T, never>;

/** Write options: `ifMatch` is the version the caller last saw (412 if it moved). */
export interface WriteOptions {
  ifMatch?: number;
}

function queryString(query: Query): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) parameters.append(key, String(item));
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

/**
 * Typed REST client for the service. Input types are the API's own: optional fields may be
 * omitted and get their documented defaults.
 */
export class SwarmClient {
  readonly projects: Collection<Project, Input<ProjectInput> & { name: string }, ProjectPatch, ProjectListQuery>;
  readonly agents: Collection<Agent, Input<AgentInput> & Pick<AgentInput, 'name' | 'agent_type'>, AgentPatch, AgentListQuery> & {
    heartbeat(id: string, body?: NonNullable<Heartbeat>): Promise<Agent>;
  };
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SwarmClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.projects = this.collection('/api/v1/projects');
    this.agents = {
      ...this.collection('/api/v1/agents'),
      heartbeat: (id, body) => this.request('POST', `/api/v1/agents/${id}/heartbeat`, body ?? {}),
    };
  }

  /** Pages through the event log after `after`. */
  events(query: { after?: number; topic?: string[]; limit?: number } = {}): Promise<{ items: SwarmEvent[]; next_after: number; has_more: boolean; pruned_through_id: number }> {
    return this.request('GET', `/api/v1/events${queryString(query)}`);
  }

  private collection<R, C, P, Q>(path: string): Collection<R, C, P, Q> {
    const ifMatch = (options?: WriteOptions): Record<string, string> => (options?.ifMatch === undefined ? {} : { 'if-match': `"${options.ifMatch}"` });
    return {
      create: (input) => this.request('POST', path, input),
      get: (id) => this.request('GET', `${path}/${id}`),
      list: (query = {}) => this.request('GET', `${path}${queryString(query as Query)}`),
      replace: (id, input, options) => this.request('PUT', `${path}/${id}`, input, ifMatch(options)),
      patch: (id, patch, options) => this.request('PATCH', `${path}/${id}`, patch, ifMatch(options)),
      delete: (id, options) => this.request('DELETE', `${path}/${id}`, undefined, ifMatch(options)),
    };
  }

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const response = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.options.apiKey === undefined ? {} : { authorization: `Bearer ${this.options.apiKey}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new ApiError((await response.json()) as ProblemDocument);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
