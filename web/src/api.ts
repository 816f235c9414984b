import { ApiError, SwarmClient } from '../../src/client/browser.js';
import { readProblem } from '../../src/client/problem.js';
import type {
  AgentFigures,
  Attempt,
  Caller,
  Page,
  Schedule,
  Stats,
  Task,
  TaskStatus,
} from './types.js';

export { ApiError };

type Query = Record<string, string | number | boolean | string[] | undefined>;

function queryString(query: Query): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value)
      ? value
      : value === undefined || value === ''
        ? []
        : [value];
    for (const item of values) parameters.append(key, String(item));
  }
  const text = parameters.toString();
  return text === '' ? '' : `?${text}`;
}

/** Filters and page of `GET /api/v1/tasks`. */
export interface TaskQuery {
  project_id?: string;
  status?: TaskStatus[];
  agent_id?: string;
  kind?: string;
  limit?: number;
  offset?: number;
  sort?: string;
}

/** What the task form sends (`POST /api/v1/tasks`). */
export interface TaskInput {
  project_id: string;
  title: string;
  kind?: string;
  input?: unknown;
  required_capabilities?: string[];
  priority?: number;
  max_attempts?: number;
}

/**
 * The service's API as the dashboard uses it: the typed client of `src/client` for projects,
 * agents, memory and the event log, and the same kind of call for what it does not cover yet
 * (stats, the caller, tasks and schedules). Every error is an {@link ApiError}.
 */
export class Api {
  readonly client: SwarmClient;

  constructor(readonly apiKey: string | undefined) {
    this.client = new SwarmClient({ baseUrl: location.origin, apiKey });
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const response = await fetch(path, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.apiKey === undefined ? {} : { authorization: `Bearer ${this.apiKey}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new ApiError(await readProblem(response));
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  self(): Promise<Caller> {
    return this.request('GET', '/api/v1/keys/self');
  }

  stats(): Promise<Stats> {
    return this.request('GET', '/api/v1/stats');
  }

  /** Current task, success rate and mean duration of up to 100 agents. */
  agentFigures(ids: string[]): Promise<{ items: AgentFigures[] }> {
    return this.request('GET', `/api/v1/stats/agents${queryString({ agent_id: ids })}`);
  }

  readonly tasks = {
    list: (query: TaskQuery): Promise<Page<Task>> =>
      this.request('GET', `/api/v1/tasks${queryString({ ...query })}`),
    get: (id: string): Promise<Task> => this.request('GET', `/api/v1/tasks/${id}`),
    create: (input: TaskInput): Promise<Task> => this.request('POST', '/api/v1/tasks', input),
    patch: (id: string, patch: { run_at?: string }, version: number): Promise<Task> =>
      this.request('PATCH', `/api/v1/tasks/${id}`, patch, { 'if-match': `"${version}"` }),
    attempts: (id: string): Promise<{ items: Attempt[] }> =>
      this.request('GET', `/api/v1/tasks/${id}/attempts`),
    cancel: (id: string): Promise<Task> => this.request('POST', `/api/v1/tasks/${id}/cancel`),
    retry: (id: string): Promise<Task> => this.request('POST', `/api/v1/tasks/${id}/retry`),
  };

  readonly schedules = {
    list: (query: {
      project_id?: string;
      limit?: number;
      offset?: number;
    }): Promise<Page<Schedule>> => this.request('GET', `/api/v1/schedules${queryString(query)}`),
    patch: (id: string, patch: { enabled: boolean }, version: number): Promise<Schedule> =>
      this.request('PATCH', `/api/v1/schedules/${id}`, patch, { 'if-match': `"${version}"` }),
    run: (id: string): Promise<Task> => this.request('POST', `/api/v1/schedules/${id}/run`),
  };
}

/** A person-readable line for any error. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail;
  return error instanceof Error ? error.message : String(error);
}
