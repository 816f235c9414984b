import { describe, expect, it, vi } from 'vitest';
import { NotFoundError, PreconditionFailedError } from '../../../src/domain/errors.js';
import type { Project } from '../../../src/domain/project.js';
import { ProjectService } from '../../../src/services/project-service.js';
import type { AgentRepository } from '../../../src/store/agent-repository.js';
import type { Database } from '../../../src/store/database.js';
import type { ProjectRepository } from '../../../src/store/project-repository.js';

const transaction = { name: 'tx' };
const project: Project = {
  id: '11111111-1111-4111-8111-111111111111', name: 'A', description: null, status: 'active', sparc_mode: 'specification',
  metadata: {}, version: 2, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z',
};

function setup() {
  const db = { transaction: vi.fn(async (work: (tx: unknown) => unknown) => work(transaction)) };
  const projects = {
    insert: vi.fn(async () => project), findById: vi.fn(async () => project), list: vi.fn(async () => ({ items: [project], total: 1, limit: 20, offset: 0 })),
    update: vi.fn(async () => project), delete: vi.fn(async () => project), lockVersion: vi.fn(async () => 2),
  };
  const agents = { detachFromProject: vi.fn(async () => []) };
  const service = new ProjectService(db as unknown as Database, projects as unknown as ProjectRepository, agents as unknown as AgentRepository);
  return { db, projects, agents, service };
}

describe('ProjectService', () => {
  it('creates inside a transaction', async () => {
    const { db, projects, service } = setup();
    await expect(service.create({ name: 'A', description: null, status: 'active', sparc_mode: 'specification', metadata: {} })).resolves.toBe(project);
    expect(db.transaction).toHaveBeenCalledOnce();
    expect(projects.insert).toHaveBeenCalledWith(transaction, expect.objectContaining({ name: 'A' }));
  });

  it('gets a project or throws NotFoundError', async () => {
    const { projects, service } = setup();
    await expect(service.get(project.id)).resolves.toBe(project);
    projects.findById.mockResolvedValueOnce(null as never);
    await expect(service.get(project.id)).rejects.toThrow(new NotFoundError('Project', project.id));
  });

  it('lists through the repository outside any transaction', async () => {
    const { db, projects, service } = setup();
    const query = { limit: 5, offset: 0, sort: 'name' as const };
    await service.list(query);
    expect(projects.list).toHaveBeenCalledWith(db, query);
    expect(db.transaction).not.toHaveBeenCalled();
  });

  it('passes the expected versions to a guarded update', async () => {
    const { projects, service } = setup();
    await service.patch(project.id, { name: 'B' }, [2]);
    expect(projects.update).toHaveBeenCalledWith(transaction, project.id, { name: 'B' }, [2]);
    await service.replace(project.id, { name: 'C', description: null, status: 'active', sparc_mode: 'completion', metadata: {} }, null);
    expect(projects.update).toHaveBeenLastCalledWith(transaction, project.id, expect.objectContaining({ sparc_mode: 'completion' }), null);
  });

  it('explains a refused update: 404 when the row is gone, 412 when its version moved', async () => {
    const { projects, service } = setup();
    projects.update.mockResolvedValue(null as never);
    projects.lockVersion.mockResolvedValueOnce(null as never);
    await expect(service.patch(project.id, { name: 'B' }, [1])).rejects.toBeInstanceOf(NotFoundError);
    projects.lockVersion.mockResolvedValueOnce(3);
    await expect(service.patch(project.id, { name: 'B' }, [1])).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('deletes after checking the version and detaching agents, in one transaction', async () => {
    const { db, projects, agents, service } = setup();
    await service.delete(project.id, [2]);
    expect(db.transaction).toHaveBeenCalledOnce();
    expect(agents.detachFromProject).toHaveBeenCalledWith(transaction, project.id);
    expect(projects.delete).toHaveBeenCalledWith(transaction, project.id, null);
  });

  it('refuses a delete with a stale version or for a missing project, touching nothing', async () => {
    const { projects, agents, service } = setup();
    await expect(service.delete(project.id, [1])).rejects.toBeInstanceOf(PreconditionFailedError);
    projects.lockVersion.mockResolvedValueOnce(null as never);
    await expect(service.delete(project.id, null)).rejects.toBeInstanceOf(NotFoundError);
    expect(agents.detachFromProject).not.toHaveBeenCalled();
    expect(projects.delete).not.toHaveBeenCalled();
  });
});
