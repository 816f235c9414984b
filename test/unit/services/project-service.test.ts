import { describe, expect, it, vi } from 'vitest';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
} from '../../../src/domain/errors.js';
import type { Project } from '../../../src/domain/project.js';
import { ProjectService } from '../../../src/services/project-service.js';
import type { AgentRepository } from '../../../src/store/agent-repository.js';
import { type Actor, unrestricted } from '../../../src/domain/auth.js';
import { PublishAfterCommitError } from '../../../src/store/write-transaction.js';
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
    insertBatch: vi.fn((items: readonly unknown[]) => ({
      name: 'insert',
      text: '',
      values: [items],
    })),
    updateBatch: vi.fn((items: readonly unknown[]) => ({
      name: 'update',
      text: '',
      values: [items],
    })),
    findById: vi.fn(async (): Promise<Project | null> => project),
    list: vi.fn(async () => ({ items: [project], total: 1, limit: 20, offset: 0 })),
    delete: vi.fn(async () => project),
    deleteTasks: vi.fn(async () => ({ deleted: [] as string[], running: 0 })),
    deleteSchedules: vi.fn(async (): Promise<string[]> => []),
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
  it('creates in a batched statement as the actor and answers the project of its event', async () => {
    const { writes, projects, service, answerBatches } = setup();
    answerBatches({ event: { data: { project } } });
    await expect(service.create(input, actor)).resolves.toBe(project);
    expect(projects.insertBatch).toHaveBeenCalledWith([{ input, actor }]);
    expect(writes.runBatch).toHaveBeenCalledTimes(1);
  });

  it('refuses a key limited to projects before writing anything', async () => {
    const { writes, service } = setup();
    const scoped = { ...actor, principal: { ...unrestricted, projectIds: [project.id] } };
    await expect(service.create(input, scoped)).rejects.toThrow('A key limited to projects');
    expect(writes.runBatch).not.toHaveBeenCalled();
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

  it("updates in a batched statement with the expected versions and the key's scope", async () => {
    const { writes, projects, service, answerBatches } = setup();
    const updated = { ...project, version: 3 };
    answerBatches({ current_version: 2, event: { data: { project: updated } } });
    const scoped = { ...actor, principal: { ...unrestricted, projectIds: [project.id] } };
    await expect(service.patch(project.id, { name: 'B' }, [2], scoped)).resolves.toEqual(updated);
    expect(projects.updateBatch).toHaveBeenCalledWith([
      { id: project.id, fields: { name: 'B' }, expected: [2], scope: [project.id], actor: scoped },
    ]);
    const replacement = { ...input, sparc_mode: 'completion' as const };
    await service.replace(project.id, replacement, null, actor);
    expect(projects.updateBatch).toHaveBeenLastCalledWith([
      { id: project.id, fields: replacement, expected: null, scope: null, actor },
    ]);
    expect(writes.runBatch).toHaveBeenCalledTimes(2);
  });

  it('never puts two updates of one project in the same statement', async () => {
    const { writes, projects, service, answerBatches } = setup();
    answerBatches({ current_version: 2, event: { data: { project } } });
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const answer = writes.runBatch.getMockImplementation()!;
    writes.runBatch.mockImplementation((statement) => gate.then(() => answer(statement)));
    // Four updates hold every batch slot; the three behind them wait together.
    const ids = [1, 2, 3, 4, 5].map((n) => `${n}${project.id.slice(1)}`);
    const queued = [...ids.slice(0, 4), project.id, ids[4]!, project.id];
    const patched = queued.map((id) => service.patch(id, { name: 'B' }, null, actor));
    release();
    await Promise.all(patched);
    const batches = projects.updateBatch.mock.calls.map(([items]) =>
      (items as Array<{ id: string }>).map((item) => item.id),
    );
    expect(batches.flat().sort()).toEqual([...queued].sort());
    for (const batch of batches) expect(new Set(batch).size).toBe(batch.length);
  });

  it('does not write a committed batch again when only publishing its events failed', async () => {
    const { writes, service } = setup();
    /** Statements run for seven creations while the first four batches hold every slot. */
    const runs = async (error: Error) => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      writes.runBatch.mockReset();
      writes.runBatch.mockImplementation(() => gate.then(() => Promise.reject(error)));
      const names = [...'ABCDEFG'].map((name) => service.create({ ...input, name }, actor));
      release();
      await Promise.allSettled(names);
      return writes.runBatch.mock.calls.length;
    };
    // Four single batches, then the three queued creations in one: a failure after its commit
    // rejects them as they are, an ordinary failure runs them again one by one.
    expect(await runs(new PublishAfterCommitError(new Error('a listener threw')))).toBe(5);
    expect(await runs(new Error('connection lost'))).toBe(8);
  });

  it('answers 404 when the statement found no project and 412 when the version differed', async () => {
    const { service, answerBatches } = setup();
    answerBatches({ current_version: null, event: null });
    await expect(service.patch(project.id, { name: 'B' }, [1], actor)).rejects.toThrow(
      new NotFoundError('Project', project.id),
    );
    answerBatches({ current_version: 4, event: null });
    const refused = service.patch(project.id, { name: 'B' }, [1], actor);
    await expect(refused).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(refused).rejects.toThrow('at version 4');
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

  it('deletes its tasks and schedules, each with its event and audit record', async () => {
    const { projects, transaction, emitted, audited, service } = setup();
    projects.deleteTasks.mockResolvedValueOnce({ deleted: ['t1', 't2'], running: 0 });
    projects.deleteSchedules.mockResolvedValueOnce(['s1']);
    await service.delete(project.id, null, actor);
    expect(projects.deleteTasks).toHaveBeenCalledWith(transaction, project.id);
    expect(projects.deleteSchedules).toHaveBeenCalledWith(transaction, project.id);
    const p = project.id;
    expect(emitted.slice(0, 3)).toEqual([
      {
        type: 'TASK_DELETED',
        topic: 'task:t1',
        topics: ['tasks', 'task:t1', `project:${p}`],
        data: { id: 't1', project_id: p },
      },
      {
        type: 'TASK_DELETED',
        topic: 'task:t2',
        topics: ['tasks', 'task:t2', `project:${p}`],
        data: { id: 't2', project_id: p },
      },
      {
        type: 'SCHEDULE_DELETED',
        topic: 'schedule:s1',
        topics: ['schedules', 'schedule:s1', `project:${p}`],
        data: { id: 's1', project_id: p },
      },
    ]);
    expect(emitted.slice(3).map((event) => event.type)).toEqual([
      'AGENT_UPDATE',
      'PROJECT_DELETED',
    ]);
    expect(audited.slice(0, 3)).toEqual([
      { action: 'delete', resource: 'task', resourceId: 't1' },
      { action: 'delete', resource: 'task', resourceId: 't2' },
      { action: 'delete', resource: 'schedule', resourceId: 's1' },
    ]);
  });

  it('refuses with 409 while tasks run, before its schedules, agents or row', async () => {
    const { projects, agents, service } = setup();
    projects.deleteTasks.mockResolvedValueOnce({ deleted: ['t1'], running: 1 });
    const one = service.delete(project.id, null, actor);
    await expect(one).rejects.toBeInstanceOf(ConflictError);
    await expect(one).rejects.toThrow(
      `Project ${project.id} cannot be deleted: 1 of its tasks is running; ` +
        'cancel them or let them finish first',
    );
    projects.deleteTasks.mockResolvedValueOnce({ deleted: [], running: 3 });
    await expect(service.delete(project.id, null, actor)).rejects.toThrow(
      ': 3 of its tasks are running;',
    );
    expect(projects.deleteSchedules).not.toHaveBeenCalled();
    expect(agents.detachFromProject).not.toHaveBeenCalled();
    expect(projects.delete).not.toHaveBeenCalled();
  });

  it('refuses a delete with a stale version, touching nothing', async () => {
    const { projects, agents, service } = setup();
    await expect(service.delete(project.id, [1], actor)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(projects.deleteTasks).not.toHaveBeenCalled();
    expect(agents.detachFromProject).not.toHaveBeenCalled();
    expect(projects.delete).not.toHaveBeenCalled();
  });
});
