import type { Page } from '../domain/common.js';
import { NotFoundError } from '../domain/errors.js';
import { agentEvent, projectEvent } from '../domain/event.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import { AgentRepository } from '../store/agent-repository.js';
import type { Database } from '../store/database.js';
import { ProjectRepository } from '../store/project-repository.js';
import type { ExpectedVersions } from '../store/versioning.js';
import { changedFields, lockForWrite } from './versioned-write.js';
import type { WriteTransactions } from './write-transaction.js';

const writableFields = ['name', 'description', 'status', 'sparc_mode', 'metadata'] as const;

/** Use cases on projects. Each write is one transaction with its events, so a change is either whole or absent. */
export class ProjectService {
  constructor(
    private readonly db: Database,
    private readonly writes: WriteTransactions,
    private readonly projects = new ProjectRepository(),
    private readonly agents = new AgentRepository(),
  ) {}

  create(input: ProjectInput): Promise<Project> {
    return this.writes.run(async (tx, emit) => {
      const project = await this.projects.insert(tx, input);
      emit(projectEvent('PROJECT_CREATED', project.id, { project }));
      return project;
    });
  }

  async get(id: string): Promise<Project> {
    const project = await this.projects.findById(this.db, id);
    if (project === null) throw new NotFoundError('Project', id);
    return project;
  }

  list(query: ProjectListQuery): Promise<Page<Project>> {
    return this.projects.list(this.db, query);
  }

  /** PUT: `input` already holds defaults for every omitted optional field. */
  replace(id: string, input: ProjectInput, expected: ExpectedVersions): Promise<Project> {
    return this.update(id, input, expected);
  }

  patch(id: string, patch: ProjectPatch, expected: ExpectedVersions): Promise<Project> {
    return this.update(id, patch, expected);
  }

  /** Deletes the project after unassigning its agents, each as a versioned change with its own event. */
  delete(id: string, expected: ExpectedVersions): Promise<void> {
    return this.writes.run(async (tx, emit) => {
      await lockForWrite(this.projects, { executor: tx, resource: 'Project', id, expected });
      for (const agent of await this.agents.detachFromProject(tx, id)) {
        emit(agentEvent('AGENT_UPDATE', agent.id, [id], { agent, changed_fields: ['project_id'] }));
      }
      await this.projects.delete(tx, id);
      emit(projectEvent('PROJECT_DELETED', id, { id }));
    });
  }

  private update(id: string, fields: ProjectPatch, expected: ExpectedVersions): Promise<Project> {
    return this.writes.run(async (tx, emit) => {
      const before = await lockForWrite(this.projects, { executor: tx, resource: 'Project', id, expected });
      const project = (await this.projects.update(tx, id, fields))!;
      emit(projectEvent('PROJECT_UPDATE', id, { project, changed_fields: changedFields(before, project, writableFields) }));
      return project;
    });
  }
}
