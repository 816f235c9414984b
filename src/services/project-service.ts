import { type Actor, type Principal, inScope } from '../domain/auth.js';
import type { Page } from '../domain/common.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
} from '../domain/errors.js';
import {
  type LoggedEvent,
  agentEvent,
  projectEvent,
  scheduleEvent,
  taskEvent,
} from '../domain/event.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import { AgentRepository } from '../store/agent-repository.js';
import type { Database, Executor } from '../store/database.js';
import {
  type ProjectCreation,
  type ProjectUpdate,
  ProjectRepository,
} from '../store/project-repository.js';
import { WriteBatcher } from '../store/write-batcher.js';
import type { ExpectedVersions } from '../domain/common.js';
import type { WriteContext } from './task-transitions.js';
import { lockForWrite } from './versioned-write.js';
import {
  type BatchRow,
  PublishAfterCommitError,
  type WriteTransactions,
} from '../store/write-transaction.js';

/** A batch may run again item by item unless it committed (a rerun would write twice). */
const notCommitted = (error: unknown) => !(error instanceof PublishAfterCommitError);

/** "1 of its tasks is running", "3 of its tasks are running". */
const runningTasks = (count: number) =>
  count === 1 ? '1 of its tasks is running' : `${count} of its tasks are running`;

/** The project a PROJECT_CREATED or PROJECT_UPDATE event carries. */
function projectOf(event: LoggedEvent): Project {
  return (event.data as { project: Project }).project;
}

/**
 * Use cases on projects. Each write commits with its events and audit records (creations and
 * updates in a statement they may share with concurrent ones), so a change is either whole or
 * absent. A project outside the caller's scope is reported as missing.
 */
export class ProjectService {
  private readonly creations: WriteBatcher<ProjectCreation, BatchRow>;
  private readonly updates: WriteBatcher<ProjectUpdate, BatchRow>;

  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly projects = new ProjectRepository(),
    private readonly agents = new AgentRepository(),
  ) {
    this.creations = new WriteBatcher({
      run: (items) => writes.runBatch(projects.insertBatch(items)),
      retryable: notCommitted,
    });
    this.updates = new WriteBatcher({
      run: (items) => writes.runBatch(projects.updateBatch(items)),
      retryable: notCommitted,
      keyOf: (item) => item.id,
    });
  }

  /**
   * A key limited to some projects cannot create one: the new project would be outside its own
   * scope.
   */
  async create(input: ProjectInput, actor: Actor): Promise<Project> {
    if (actor.principal.projectIds !== null)
      throw new ForbiddenError('A key limited to projects cannot create projects');
    const { event } = await this.creations.submit({ input, actor });
    return projectOf(event!);
  }

  async get(id: string, principal: Principal): Promise<Project> {
    const project = await this.projects.findById(this.db, id);
    if (project === null || !inScope(principal, project.id)) throw new NotFoundError('Project', id);
    return project;
  }

  list(query: ProjectListQuery, principal: Principal): Promise<Page<Project>> {
    return this.projects.list(this.db, query, principal.projectIds);
  }

  /** PUT: `input` already holds defaults for every omitted optional field. */
  replace(
    id: string,
    input: ProjectInput,
    expected: ExpectedVersions,
    actor: Actor,
  ): Promise<Project> {
    return this.update(id, input, expected, actor);
  }

  patch(
    id: string,
    patch: ProjectPatch,
    expected: ExpectedVersions,
    actor: Actor,
  ): Promise<Project> {
    return this.update(id, patch, expected, actor);
  }

  /**
   * Deletes the project with its tasks and schedules, each with the event and audit record its
   * own DELETE would write, after unassigning its agents, each as a versioned change with its own
   * event. A 409 while any of its tasks runs: the agent holding it would stay busy for good.
   */
  delete(id: string, expected: ExpectedVersions, actor: Actor): Promise<void> {
    return this.writes.run(actor, async (tx, emit, audit) => {
      await this.lock(tx, id, expected, actor.principal);
      await this.deleteContents({ tx, emit, audit }, id);
      const changedFields = ['project_id'];
      for (const agent of await this.agents.detachFromProject(tx, id)) {
        emit(agentEvent('AGENT_UPDATE', agent.id, [id], { agent, changed_fields: changedFields }));
        audit({ action: 'update', resource: 'agent', resourceId: agent.id, changedFields });
      }
      await this.projects.delete(tx, id);
      emit(projectEvent('PROJECT_DELETED', id, { id }));
      audit({ action: 'delete', resource: 'project', resourceId: id });
    });
  }

  /**
   * Deletes the project's tasks and schedules, announced one by one, so that watchers of a task
   * or schedule learn it is gone (a thousand tasks are a thousand events, appended by the one
   * statement that appends the others).
   */
  private async deleteContents(write: WriteContext, id: string): Promise<void> {
    const { tx, emit, audit } = write;
    const { deleted, running } = await this.projects.deleteTasks(tx, id);
    if (running > 0)
      throw new ConflictError(
        `Project ${id} cannot be deleted: ${runningTasks(running)}; ` +
          'cancel them or let them finish first',
      );
    const place = (taskId: string) => ({ id: taskId, project_id: id });
    for (const taskId of deleted) {
      emit(taskEvent('TASK_DELETED', place(taskId), null, place(taskId)));
      audit({ action: 'delete', resource: 'task', resourceId: taskId });
    }
    for (const scheduleId of await this.projects.deleteSchedules(tx, id)) {
      emit(scheduleEvent('SCHEDULE_DELETED', place(scheduleId), place(scheduleId)));
      audit({ action: 'delete', resource: 'schedule', resourceId: scheduleId });
    }
  }

  /**
   * One item of a batched statement: 404 when the project is missing or out of scope, 412 on
   * another version.
   */
  private async update(
    id: string,
    fields: ProjectPatch,
    expected: ExpectedVersions,
    actor: Actor,
  ): Promise<Project> {
    const scope = actor.principal.projectIds;
    const row = await this.updates.submit({ id, fields, expected, scope, actor });
    if (row.current_version === null) throw new NotFoundError('Project', id);
    if (row.event === null)
      throw new PreconditionFailedError('Project', id, row.current_version as number);
    return projectOf(row.event);
  }

  private lock(
    executor: Executor,
    id: string,
    expected: ExpectedVersions,
    principal: Principal,
  ): Promise<Project> {
    return lockForWrite(this.projects, {
      executor,
      resource: 'Project',
      id,
      expected,
      visible: (project) => inScope(principal, project.id),
    });
  }
}
