import { describe, expect, it } from 'vitest';
import { ConflictError, UnprocessableError } from '../../../src/domain/errors.js';
import { AgentRepository } from '../../../src/store/agent-repository.js';
import type { Executor } from '../../../src/store/database.js';
import { ProjectRepository } from '../../../src/store/project-repository.js';

/**
 * A stand-in for drizzle's query builder: every call chains, and awaiting it yields the next queued
 * result or error.
 */
function fakeExecutor(...outcomes: Array<unknown[] | Error>) {
  const calls: string[] = [];
  const chain: Record<string, unknown> = new Proxy(
    {},
    {
      get(_, property: string) {
        if (property === 'then') {
          const outcome = outcomes.shift() ?? [];
          return (resolve: (value: unknown) => void, reject: (error: unknown) => void) =>
            outcome instanceof Error ? reject(outcome) : resolve(outcome);
        }
        return () => {
          calls.push(property);
          return chain;
        };
      },
    },
  );
  return { executor: chain as unknown as Executor, calls };
}

const now = new Date('2026-05-01T10:00:00.000Z');
const projectRow = {
  id: 'p1',
  name: 'A',
  description: null,
  status: 'active',
  sparcMode: 'refinement',
  metadata: { k: 1 },
  version: 3,
  createdAt: now,
  updatedAt: now,
};
const agentRow = {
  id: 'a1',
  name: 'coder',
  agentType: 'coder',
  capabilities: ['ts'],
  status: 'idle',
  projectId: null,
  metadata: {},
  lastActiveAt: null,
  version: 1,
  createdAt: now,
  updatedAt: now,
};
const databaseError = (code: string) =>
  Object.assign(new Error('query failed'), { cause: Object.assign(new Error(code), { code }) });

describe('ProjectRepository', () => {
  const repository = new ProjectRepository();

  it('maps rows to the wire shape', async () => {
    const { executor } = fakeExecutor([projectRow]);
    await expect(repository.findById(executor, 'p1')).resolves.toEqual({
      id: 'p1',
      name: 'A',
      description: null,
      status: 'active',
      sparc_mode: 'refinement',
      metadata: { k: 1 },
      version: 3,
      created_at: '2026-05-01T10:00:00.000Z',
      updated_at: '2026-05-01T10:00:00.000Z',
    });
  });

  it('returns null for a missing row on read and delete, and the deleted project', async () => {
    const { executor } = fakeExecutor([], [], [projectRow]);
    expect(await repository.findById(executor, 'p1')).toBeNull();
    expect(await repository.delete(executor, 'p1')).toBeNull();
    expect(await repository.delete(executor, 'p1')).toMatchObject({ id: 'p1', version: 3 });
  });

  it('builds a page from the rows and the count, applying every filter', async () => {
    const { executor, calls } = fakeExecutor([projectRow], [{ value: 7 }]);
    const page = await repository.list(executor, {
      limit: 1,
      offset: 2,
      sort: '-name',
      status: ['active'],
      sparc_mode: ['refinement'],
      q: 'Pay',
    });
    expect(page).toMatchObject({ total: 7, limit: 1, offset: 2 });
    expect(page.items[0]?.id).toBe('p1');
    expect(calls).toEqual(
      expect.arrayContaining(['select', 'from', 'where', 'orderBy', 'limit', 'offset']),
    );
  });

  it('locks the row only when asked', async () => {
    const { executor, calls } = fakeExecutor([projectRow], [projectRow]);
    await repository.findById(executor, 'p1');
    expect(calls).not.toContain('for');
    expect(await repository.findById(executor, 'p1', { lock: true })).toMatchObject({ version: 3 });
    expect(calls).toContain('for');
  });
});

describe('AgentRepository', () => {
  const repository = new AgentRepository();
  const input = {
    name: 'coder',
    agent_type: 'coder' as const,
    capabilities: [],
    status: 'idle' as const,
    project_id: 'p9',
    metadata: {},
  };

  it('maps rows, including last_active_at', async () => {
    const { executor } = fakeExecutor([{ ...agentRow, lastActiveAt: now }]);
    const agent = await repository.insert(executor, input);
    expect(agent).toMatchObject({
      agent_type: 'coder',
      capabilities: ['ts'],
      project_id: null,
      last_active_at: '2026-05-01T10:00:00.000Z',
    });
  });

  it('turns a unique violation into ConflictError and a foreign-key violation into a 422 on project_id', async () => {
    const { executor } = fakeExecutor(databaseError('23505'), databaseError('23503'));
    const taken = new ConflictError('Agent name "coder" is already taken in project p9');
    await expect(repository.insert(executor, input)).rejects.toEqual(taken);
    const current = { name: 'coder', project_id: null };
    const move = repository.update(executor, 'a1', { project_id: 'p9' }, current);
    const error = await move.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as UnprocessableError).errors).toEqual([
      { path: '/project_id', message: 'Project p9 does not exist' },
    ]);
  });

  it('names where a renamed or moved agent would clash, after the write', async () => {
    const { executor } = fakeExecutor(databaseError('23505'), databaseError('23505'));
    const current = { name: 'a', project_id: 'p1' };
    const rename = repository.update(executor, 'a1', { name: 'b' }, current);
    const taken = new ConflictError('Agent name "b" is already taken in project p1');
    await expect(rename).rejects.toEqual(taken);
    const unassign = repository.update(executor, 'a1', { project_id: null }, current);
    const unassigned = 'Agent name "a" is already taken among the agents without a project';
    await expect(unassign).rejects.toEqual(new ConflictError(unassigned));
  });

  it('refuses to detach agents whose names the agents without a project hold (409)', async () => {
    const { executor } = fakeExecutor(databaseError('23505'), databaseError('40001'));
    const detach = () => repository.detachFromProject(executor, 'p1');
    await expect(detach()).rejects.toBeInstanceOf(ConflictError);
    await expect(detach()).rejects.not.toBeInstanceOf(ConflictError);
  });

  it('rethrows any other database error untouched', async () => {
    const failure = databaseError('40001');
    const { executor } = fakeExecutor(failure);
    await expect(repository.insert(executor, input)).rejects.toBe(failure);
  });

  it('lists with every filter, detaches and deletes', async () => {
    const { executor } = fakeExecutor([agentRow], [{ value: 1 }], [agentRow, agentRow], [agentRow]);
    const page = await repository.list(executor, {
      limit: 20,
      offset: 0,
      sort: 'created_at',
      agent_type: ['coder'],
      status: ['idle', 'busy'],
      project_id: 'p1',
      capability: ['ts'],
    });
    expect(page.total).toBe(1);
    expect(await repository.detachFromProject(executor, 'p1')).toHaveLength(2);
    expect(await repository.delete(executor, 'a1')).toMatchObject({ id: 'a1' });
  });

  it('returns null when an update or lookup finds nothing', async () => {
    const { executor } = fakeExecutor([], [], []);
    const current = { name: 'a', project_id: null };
    expect(await repository.update(executor, 'a1', { status: 'busy' }, current)).toBeNull();
    expect(await repository.findById(executor, 'a1', { lock: true })).toBeNull();
    expect(await repository.delete(executor, 'a1')).toBeNull();
  });
});
