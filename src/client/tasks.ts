import type {
  Schedule,
  ScheduleInput,
  ScheduleListQuery,
  SchedulePatch,
} from '../domain/schedule.js';
import type {
  Attempt,
  ClaimRequest,
  Claimed,
  Completion,
  Failure,
  Lease,
  Task,
  TaskHeartbeat,
  TaskInput,
  TaskListQuery,
  TaskPatch,
  TaskTemplate,
} from '../domain/task.js';
import {
  type Input,
  type PatchOnlyCollection,
  type Send,
  patchOnlyCollection,
} from './collection.js';

/** What a schedule makes on each tick: only `title` is required, the rest has defaults. */
export type TaskTemplateInput = Input<TaskTemplate, 'title'>;

/** Body of `schedules.create`: `task` is a template whose fields default as a task's do. */
export type ScheduleCreate = Omit<Input<ScheduleInput, 'project_id' | 'name' | 'cron'>, 'task'> & {
  task: TaskTemplateInput;
};

/** Body of `schedules.patch`: a new `task` template replaces the old one whole. */
export type ScheduleChange = Omit<SchedulePatch, 'task'> & { task?: TaskTemplateInput };

/** Options of a claim: `signal` stops a long poll early (the service then stops waiting too). */
export interface ClaimOptions {
  signal?: AbortSignal;
}

/**
 * Tasks (`/api/v1/tasks`, docs/tasks.md): definitions through the collection methods, and
 * execution by agents: claim, heartbeat, complete or fail, each naming the attempt it holds.
 */
export interface TasksApi extends PatchOnlyCollection<
  Task,
  Input<TaskInput, 'project_id' | 'title'>,
  TaskPatch,
  TaskListQuery
> {
  /** Every attempt of the task, oldest first. */
  attempts(id: string): Promise<{ items: Attempt[] }>;
  /**
   * The best task the agent may run, waiting up to `wait_ms` (at most 30 000) for one; null when
   * none came in time (the API's 204). Keep `attempt.number`: every later call names it.
   */
  claim(request: Input<ClaimRequest, 'agent_id'>, options?: ClaimOptions): Promise<Claimed | null>;
  /** Extends the lease; `cancel_requested: true` means the task was cancelled: stop working. */
  heartbeat(id: string, body: TaskHeartbeat): Promise<Lease>;
  /** Ends the attempt as succeeded; `ApiError` with status 409 when it no longer holds the task. */
  complete(id: string, body: Input<Completion, 'attempt'>): Promise<Task>;
  /** Ends the attempt as failed: retried after the backoff, or `failed` (409 as for `complete`). */
  fail(id: string, body: Input<Failure, 'attempt' | 'error'>): Promise<Task>;
  /** Cancels an unfinished task; a running attempt ends and dependents are cancelled. */
  cancel(id: string): Promise<Task>;
  /** Runs a failed or cancelled task again. */
  retry(id: string): Promise<Task>;
}

/** Schedules (`/api/v1/schedules`): cron schedules that make tasks, and `run` for "now". */
export interface SchedulesApi extends PatchOnlyCollection<
  Schedule,
  ScheduleCreate,
  ScheduleChange,
  ScheduleListQuery
> {
  /** Makes the schedule's task now, whatever its cron says; returns that task. */
  run(id: string): Promise<Task>;
}

/** The tasks API on `send`. */
export function tasksApi(send: Send): TasksApi {
  const path = '/api/v1/tasks';
  return {
    ...patchOnlyCollection(send, path),
    attempts: (id) => send('GET', `${path}/${id}/attempts`),
    claim: async (request, options = {}) =>
      (await send<Claimed | undefined>('POST', `${path}/claim`, request, {}, options.signal)) ??
      null,
    heartbeat: (id, body) => send('POST', `${path}/${id}/heartbeat`, body),
    complete: (id, body) => send('POST', `${path}/${id}/complete`, body),
    fail: (id, body) => send('POST', `${path}/${id}/fail`, body),
    cancel: (id) => send('POST', `${path}/${id}/cancel`),
    retry: (id) => send('POST', `${path}/${id}/retry`),
  };
}

/** The schedules API on `send`. */
export function schedulesApi(send: Send): SchedulesApi {
  const path = '/api/v1/schedules';
  return {
    ...patchOnlyCollection(send, path),
    run: (id) => send('POST', `${path}/${id}/run`),
  };
}
