import { describe, expect, it, vi } from 'vitest';
import { NotFoundError, PreconditionFailedError } from '../../../src/domain/errors.js';
import type { Project } from '../../../src/domain/project.js';
import { ProjectService } from '../../../src/services/project-service.js';
import type { AgentRepository } from '../../../src/store/agent-repository.js';
import { type Actor, unrestricted } from '../../../src/domain/auth.js';
import { fakeWrites } from './fakes.js';

const actor: Actor = { principal: unrestricted, ip: '127.0.0.1', userAgent: 'test' };

const project: Project = {
  id: '11111111-1111-4111-8111-111111111111',
  name: 'A',
  description: null,
  status: 'active',
  sparc_mode: 'specification',
  metadata: {},
  version: 2,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};
const agent = { id: 'a1', project_id: null, version: 2 };

function setup() {
  const fakes = fakeWrites();
  const projects = {
    insert: vi.fn(async () => project),
    findById: vi.fn(async (): Promise<Project | null> => project),
    list: vi.fn(async () => ({ items: [project], total: 1, limit: 20, offset: 0 })),
    update: vi.fn(async () => ({ ...project, name: 'B', version: 3 })),
    delete: vi.fn(async () => project),
  };
  const agents = { detachFromProject: vi.fn(async () => [agent]) };
  const service = new ProjectService(
    fakes.db,
    fakes.writes,
    projects,
    agents as unknown as AgentRepository,
  );
  return { ...fakes, projects, agents, service };
}

const input = {
  name: 'A',
  description: null,
  status: 'active' as const,
  sparc_mode: 'specification' as const,
  metadata: {},
};

describe('ProjectService', () => {
  it('creates inside a write transaction and emits PROJECT_CREATED to projects and project:<id>', async () => {
    const { writes, projects, transaction, emitted, audited, service } = setup();
    await expect(service.create(input, actor)).resolves.toBe(project);
    expect(writes.run).toHaveBeenCalledOnce();
    expect(projects.insert).toHaveBeenCalledWith(transaction, input);
    expect(emitted).toEqual([
      {
        type: 'PROJECT_CREATED',
        topic: `project:${project.id}`,
        topics: ['projects', `project:${project.id}`],
        data: { project },
      },
    ]);
    expect(audited).toEqual([{ action: 'create', resource: 'project', resourceId: project.id }]);
  });

  it('gets a project or throws NotFoundError', async () => {
    const { projects, service } = setup();
    await expect(service.get(project.id, unrestricted)).resolves.toBe(project);
    projects.findById.mockResolvedValueOnce(null);
    await expect(service.get(project.id, unrestricted)).rejects.toThrow(
      new NotFoundError('Project', project.id),
    );
  });

  it('lists through the repository outside any transaction', async () => {
    const { db, writes, projects, service } = setup();
    const query = { limit: 5, offset: 0, sort: 'name' as const };
    await service.list(query, unrestricted);
    expect(projects.list).toHaveBeenCalledWith(db, query, null);
    expect(writes.run).not.toHaveBeenCalled();
  });

  it('locks the row, updates it and names the fields that changed', async () => {
    const { projects, transaction, emitted, audited, service } = setup();
    const updated = await service.patch(project.id, { name: 'B' }, [2], actor);
    expect(projects.findById).toHaveBeenCalledWith(transaction, project.id, { lock: true });
    expect(projects.update).toHaveBeenCalledWith(transaction, project.id, { name: 'B' });
    expect(emitted[0]).toMatchObject({
      type: 'PROJECT_UPDATE',
      data: { project: updated, changed_fields: ['name'] },
    });
    expect(audited).toEqual([
      { action: 'update', resource: 'project', resourceId: project.id, changedFields: ['name'] },
    ]);
    await service.replace(project.id, { ...input, sparc_mode: 'completion' }, null, actor);
    expect(projects.update).toHaveBeenLastCalledWith(
      transaction,
      project.id,
      expect.objectContaining({ sparc_mode: 'completion' }),
    );
  });

  it('refuses an update with 404 when the row is gone and 412 when its version moved, emitting nothing', async () => {
    const { projects, emitted, audited, service } = setup();
    projects.findById.mockResolvedValueOnce(null);
    await expect(service.patch(project.id, { name: 'B' }, [1], actor)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(service.patch(project.id, { name: 'B' }, [1], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(projects.update).not.toHaveBeenCalled();
    expect([emitted, audited]).toEqual([[], []]);
  });

  it('deletes after unassigning agents, emitting and auditing their updates before the delete', async () => {
    const { projects, agents, transaction, emitted, audited, service } = setup();
    await service.delete(project.id, [2], actor);
    expect(agents.detachFromProject).toHaveBeenCalledWith(transaction, project.id);
    expect(projects.delete).toHaveBeenCalledWith(transaction, project.id);
    expect(emitted.map((event) => event.type)).toEqual(['AGENT_UPDATE', 'PROJECT_DELETED']);
    expect(emitted[0]).toMatchObject({
      topics: ['agents', 'agent:a1', `project:${project.id}`],
      data: { changed_fields: ['project_id'] },
    });
    expect(emitted[1]).toMatchObject({ data: { id: project.id } });
    expect(audited).toEqual([
      { action: 'update', resource: 'agent', resourceId: 'a1', changedFields: ['project_id'] },
      { action: 'delete', resource: 'project', resourceId: project.id },
    ]);
  });

  it('refuses a delete with a stale version, touching nothing', async () => {
    const { projects, agents, service } = setup();
    await expect(service.delete(project.id, [1], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(agents.detachFromProject).not.toHaveBeenCalled();
    expect(projects.delete).not.toHaveBeenCalled();
  });
});
