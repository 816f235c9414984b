import type { Page } from '../domain/common.js';
import { NotFoundError } from '../domain/errors.js';
import type { Project, ProjectInput, ProjectListQuery, ProjectPatch } from '../domain/project.js';
import { AgentRepository } from '../store/agent-repository.js';
import type { Database } from '../store/database.js';
import { ProjectRepository } from '../store/project-repository.js';
import type { ExpectedVersions } from '../store/versioning.js';
import { assertVersion, writtenOrExplain } from './versioned-write.js';

/** Use cases on projects. Each write is one transaction, so a change is either whole or absent. */
export class ProjectService {
  constructor(
    private readonly db: Database,
    private readonly projects = new ProjectRepository(),
    private readonly agents = new AgentRepository(),
  ) {}

  create(input: ProjectInput): Promise<Project> {
    return this.db.transaction((tx) => this.projects.insert(tx, input));
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

  /** Deletes the project after unassigning its agents, each as a versioned change of its own. */
  delete(id: string, expected: ExpectedVersions): Promise<void> {
    return this.db.transaction(async (tx) => {
      await assertVersion(expected, { executor: tx, repository: this.projects, resource: 'Project', id });
      await this.agents.detachFromProject(tx, id);
      await this.projects.delete(tx, id, null);
    });
  }

  private update(id: string, fields: ProjectPatch, expected: ExpectedVersions): Promise<Project> {
    return this.db.transaction(async (tx) => {
      const written = await this.projects.update(tx, id, fields, expected);
      return writtenOrExplain(written, { executor: tx, repository: this.projects, resource: 'Project', id });
    });
  }
}
