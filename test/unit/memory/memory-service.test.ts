import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Actor, type Principal, unrestricted } from '../../../src/domain/auth.js';
import { NotFoundError, UnprocessableError } from '../../../src/domain/errors.js';
import type { MemoryEntry, MemoryInput } from '../../../src/domain/memory.js';
import { isMemoryCallerError } from '../../../src/memory/caller-error.js';
import { BreakerOpenError, CircuitBreaker } from '../../../src/memory/circuit-breaker.js';
import { SearchCache } from '../../../src/memory/search-cache.js';
import { McpMemoryToolError } from '../../../src/memory/mcp-errors.js';
import type { MemorySearchHit } from '../../../src/memory/mcp-records.js';
import { MemoryService } from '../../../src/memory/memory-service.js';
import type { Database } from '../../../src/store/database.js';
import type { MemoryRepository } from '../../../src/memory/memory-repository.js';

const transaction = { name: 'tx' };
const input: MemoryInput = {
  key: 'deploy',
  content: 'blue/green',
  tags: ['ops'],
  project_id: null,
  agent_id: null,
};
const hit: MemorySearchHit = { ...input };
const stored: MemoryEntry = {
  ...input,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};
const query = { q: 'blue', limit: 10 };
const page = { items: [stored], total: 1, limit: 10, offset: 0 };
const actor: Actor = { principal: unrestricted, ip: null, userAgent: null };
const scoped: Principal = {
  keyId: 'k',
  role: 'writer',
  projectIds: ['11111111-1111-4111-8111-111111111111'],
};

function setup(options: { mcp?: boolean } = {}) {
  const db = { transaction: vi.fn(async (work: (tx: unknown) => unknown) => work(transaction)) };
  const audited: unknown[] = [];
  const writes = {
    run: vi.fn(
      async (
        _actor: unknown,
        work: (tx: unknown, emit: unknown, audit: (record: unknown) => void) => unknown,
      ) =>
        db.transaction((tx) =>
          work(
            tx,
            () => undefined,
            (record) => audited.push(record),
          ),
        ),
    ),
  };
  const repository = {
    save: vi.fn(async () => undefined),
    enqueue: vi.fn(async () => 42),
    findByKey: vi.fn(async (): Promise<MemoryEntry | null> => stored),
    search: vi.fn(async () => [{ ...hit, score: 0.1 }]),
    queuedCount: vi.fn(async () => 3),
    list: vi.fn(async (_db: unknown, _query: unknown, _projectIds: string[] | null) => page),
  };
  const projects = { findById: vi.fn(async (_tx: unknown, id: string) => ({ id })) };
  const breaker = new CircuitBreaker({
    failureThreshold: 2,
    openMs: 60_000,
    isCallerError: isMemoryCallerError,
  });
  const server = { search: vi.fn(async (): Promise<MemorySearchHit[]> => [hit]) };
  const delivery = { awaitDelivery: vi.fn(async () => true) };
  const cache = new SearchCache({ maxEntries: 10, maxBytes: 100_000 });
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const service = new MemoryService({
    db: db as unknown as Database,
    writes: writes as never,
    repository: repository as unknown as MemoryRepository,
    projects: projects as never,
    breaker,
    mcp: options.mcp === false ? null : { server, delivery },
    cache,
    storeTimeoutMs: 1_000,
    searchTimeoutMs: 50,
    logger,
  });
  return {
    db,
    writes,
    audited,
    repository,
    projects,
    breaker,
    server,
    delivery,
    cache,
    logger,
    service,
  };
}

async function openBreaker(breaker: CircuitBreaker): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    await breaker
      .execute(async () => Promise.reject(new Error('down')), { timeoutMs: 10 })
      .catch(() => undefined);
  }
  expect(breaker.currentState().name).toBe('OPEN');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryService.store', () => {
  it('saves the entry and queues it in one transaction, then answers "mcp" once the worker delivered it', async () => {
    const { db, repository, delivery, service } = setup();
    await expect(service.store(input, actor)).resolves.toEqual({
      key: 'deploy',
      project_id: null,
      stored_in: 'mcp',
    });
    expect(db.transaction).toHaveBeenCalledOnce();
    expect(repository.save).toHaveBeenCalledWith(transaction, input);
    expect(repository.enqueue).toHaveBeenCalledWith(transaction, input);
    expect(delivery.awaitDelivery).toHaveBeenCalledWith(42, 1_000);
    expect((await service.circuit()).fallback_count).toBe(0);
  });

  it('answers "queued" when the row was not delivered in time, and counts the fallback', async () => {
    const { delivery, service } = setup();
    delivery.awaitDelivery.mockResolvedValueOnce(false);
    await expect(service.store(input, actor)).resolves.toEqual({
      key: 'deploy',
      project_id: null,
      stored_in: 'queued',
    });
    expect((await service.circuit()).fallback_count).toBe(1);
  });

  it('answers "queued" at once, without waiting, while the breaker is not CLOSED or MCP is off', async () => {
    const open = setup();
    await openBreaker(open.breaker);
    await expect(open.service.store(input, actor)).resolves.toMatchObject({ stored_in: 'queued' });
    expect(open.delivery.awaitDelivery).not.toHaveBeenCalled();
    expect(open.repository.enqueue).toHaveBeenCalledOnce();

    const off = setup({ mcp: false });
    await expect(off.service.store(input, actor)).resolves.toMatchObject({ stored_in: 'queued' });
    expect(off.repository.save).toHaveBeenCalledOnce();
  });

  it('drops cached answers the write could change', async () => {
    const { server, service } = setup();
    await service.search({ q: 'green', limit: 10 }, unrestricted);
    server.search.mockRejectedValue(new Error('down'));
    expect((await service.search({ q: 'green', limit: 10 }, unrestricted)).source).toBe(
      'fallback_cache',
    );
    await service.store({ ...input, content: 'now green/blue' }, actor);
    expect((await service.search({ q: 'green', limit: 10 }, unrestricted)).source).toBe(
      'fallback_storage',
    );
  });

  it('lets a failing transaction reject without queuing anything', async () => {
    const { db, delivery, service } = setup();
    db.transaction.mockRejectedValueOnce(new Error('connection terminated'));
    await expect(service.store(input, actor)).rejects.toThrow('connection terminated');
    expect(delivery.awaitDelivery).not.toHaveBeenCalled();
  });
});

describe('MemoryService.search', () => {
  it('asks the server through the breaker while CLOSED and keeps its answer', async () => {
    const { server, service, breaker } = setup();
    await expect(service.search({ ...query, project_id: 'p1' }, unrestricted)).resolves.toEqual({
      items: [hit],
      source: 'mcp',
    });
    expect(server.search).toHaveBeenCalledWith(
      'blue',
      { limit: 10, project_id: 'p1' },
      expect.any(AbortSignal),
    );
    expect(breaker.snapshot().success_count).toBe(1);
  });

  it('adds the entries whose writes have not reached the server yet, first and newer, up to the limit', async () => {
    const { server, service, repository } = setup();
    const older = { ...hit, content: 'blue, as the server has it' };
    const other = { ...hit, key: 'other' };
    server.search.mockResolvedValueOnce([older, other]);
    repository.search.mockResolvedValueOnce([
      { ...hit, content: 'blue, just written', score: 0.3 },
    ]);
    const found = await service.search({ ...query, limit: 2 }, unrestricted);
    expect(found).toEqual({
      items: [{ ...hit, content: 'blue, just written' }, other],
      source: 'mcp',
    });
    expect(repository.search).toHaveBeenCalledWith(expect.anything(), { ...query, limit: 2 }, true);

    server.search.mockResolvedValueOnce([older, other]);
    repository.search.mockResolvedValueOnce([{ ...hit, key: 'new', score: 0 }]);
    const capped = await service.search({ ...query, limit: 2 }, unrestricted);
    expect(capped.items.map((item) => item.key)).toEqual(['new', 'deploy']);
  });

  it('finds a write whose delivery lands while the server searches (queue read before the server)', async () => {
    const { server, service, repository } = setup();
    let delivered = false;
    repository.search.mockImplementation(async () => (delivered ? [] : [{ ...hit, score: 0 }]));
    server.search.mockImplementationOnce(async () => {
      delivered = true; // the batch is acknowledged now, but the server answers from before it
      return [];
    });
    expect((await service.search(query, unrestricted)).items.map((item) => item.key)).toEqual([
      'deploy',
    ]);
  });

  it('falls back to the cached answer of the same search, then to storage, when the server fails', async () => {
    const { repository, server, service, breaker } = setup();
    await service.search(query, unrestricted);
    server.search.mockRejectedValue(new Error('server down'));
    await expect(service.search({ ...query, q: 'BLUE' }, unrestricted)).resolves.toEqual({
      items: [hit],
      source: 'fallback_cache',
    });
    await expect(service.search({ ...query, q: 'other' }, unrestricted)).resolves.toEqual({
      items: [{ ...hit, score: 0.1 }],
      source: 'fallback_storage',
    });
    expect(repository.search).toHaveBeenCalledWith(expect.anything(), { ...query, q: 'other' });
    expect(breaker.snapshot()).toMatchObject({ state: 'OPEN', failure_count: 2 });
    expect((await service.circuit()).fallback_count).toBe(2);
  });

  it('does not call the server while the breaker is OPEN or MCP is off', async () => {
    const open = setup();
    await openBreaker(open.breaker);
    await expect(open.service.search(query, unrestricted)).resolves.toMatchObject({
      source: 'fallback_storage',
    });
    expect(open.server.search).not.toHaveBeenCalled();
    expect(open.breaker.snapshot().rejected_count).toBe(0);

    const off = setup({ mcp: false });
    await expect(off.service.search(query, unrestricted)).resolves.toMatchObject({
      source: 'fallback_storage',
    });
  });

  it('keeps the server answer that arrives within MEMORY_SEARCH_TIMEOUT_MS', async () => {
    vi.useFakeTimers();
    const { server, service, breaker } = setup();
    const late = new Promise<MemorySearchHit[]>((resolve) => setTimeout(resolve, 40, [hit]));
    server.search.mockReturnValueOnce(late);
    const answer = service.search(query, unrestricted);
    await vi.advanceTimersByTimeAsync(40);
    await expect(answer).resolves.toMatchObject({ source: 'mcp' });
    expect(breaker.snapshot()).toMatchObject({ failure_count: 0, success_count: 1 });
  });

  it('counts a search that outlives its timeout as a failure', async () => {
    vi.useFakeTimers();
    const { server, service, breaker, logger } = setup();
    server.search.mockImplementation(() => new Promise(() => undefined));
    const answer = service.search(query, unrestricted);
    await vi.advanceTimersByTimeAsync(50);
    await expect(answer).resolves.toMatchObject({ source: 'fallback_storage' });
    expect(breaker.snapshot()).toMatchObject({ failure_count: 1, consecutive_failures: 1 });
    expect(logger.warn).toHaveBeenCalledWith(
      { err: expect.objectContaining({ name: 'BreakerTimeoutError' }) },
      expect.any(String),
    );
  });

  it('falls back quietly when the breaker opened between the check and the call', async () => {
    const { service, breaker, server, logger } = setup();
    await openBreaker(breaker);
    vi.spyOn(breaker, 'currentState').mockReturnValueOnce({
      name: 'CLOSED',
      consecutiveFailures: 0,
    });
    await expect(service.search(query, unrestricted)).resolves.toMatchObject({
      source: 'fallback_storage',
    });
    expect(server.search).not.toHaveBeenCalled();
    expect(logger.debug).toHaveBeenCalledWith(
      { err: expect.any(BreakerOpenError) },
      expect.any(String),
    );
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('does not count a request the server rejects as invalid, and still answers from a fallback', async () => {
    const { server, service, breaker } = setup();
    const invalid = new McpError(
      ErrorCode.InvalidParams,
      'Input validation error: Invalid arguments for tool search_nodes',
    );
    server.search.mockRejectedValueOnce(invalid).mockRejectedValueOnce(invalid);
    await service.search(query, unrestricted);
    await service.search(query, unrestricted);
    expect(breaker.snapshot()).toMatchObject({
      state: 'CLOSED',
      failure_count: 0,
      consecutive_failures: 0,
    });
  });
});

describe('MemoryService project checks', () => {
  it('refuses a project that does not exist, as agents do, and saves nothing', async () => {
    const { projects, repository, service } = setup();
    const missing = '33333333-3333-4333-8333-333333333333';
    projects.findById.mockResolvedValueOnce(null as never);
    const refused = service.store({ ...input, project_id: missing }, actor);
    await expect(refused).rejects.toBeInstanceOf(UnprocessableError);
    const message = `Project ${missing} does not exist`;
    await expect(refused).rejects.toMatchObject({
      message,
      errors: [{ path: '/project_id', message }],
    });
    expect(repository.save).not.toHaveBeenCalled();
    expect(projects.findById).toHaveBeenCalledWith(transaction, missing);
  });

  it('stores upper-case ids as PostgreSQL prints them, so both spellings are one entry', async () => {
    const { repository, audited, service } = setup();
    const project = 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA';
    const agent = 'BBBBBBBB-BBBB-4BBB-8BBB-BBBBBBBBBBBB';
    const result = await service.store({ ...input, project_id: project, agent_id: agent }, actor);
    const lower = { project_id: project.toLowerCase(), agent_id: agent.toLowerCase() };
    expect(result).toMatchObject({ project_id: lower.project_id });
    expect(repository.save).toHaveBeenCalledWith(transaction, { ...input, ...lower });
    expect(audited).toMatchObject([{ resourceId: `@${lower.project_id}/deploy` }]);
  });

  it('asks nothing about projects for an entry without one', async () => {
    const { projects, service } = setup();
    await service.store(input, actor);
    expect(projects.findById).not.toHaveBeenCalled();
  });
});

describe('MemoryService reads and the circuit', () => {
  it('gets an entry from storage or throws "Memory entry <key> not found"', async () => {
    const { repository, service } = setup();
    await expect(service.get('deploy', null, unrestricted)).resolves.toBe(stored);
    expect(repository.findByKey).toHaveBeenLastCalledWith(expect.anything(), 'deploy', null);
    repository.findByKey.mockResolvedValueOnce(null);
    await expect(service.get('gone', null, unrestricted)).rejects.toThrow(
      new NotFoundError('Memory entry', 'gone'),
    );
  });

  it('lists a page from storage, limited to the projects of a scoped key', async () => {
    const { repository, service } = setup();
    const listQuery = { limit: 10 } as never;
    await expect(service.list(listQuery, unrestricted)).resolves.toBe(page);
    await expect(service.list(listQuery, scoped)).resolves.toBe(page);
    expect(repository.list.mock.calls.map((call) => call[2])).toEqual([
      unrestricted.projectIds,
      scoped.projectIds,
    ]);
  });

  it('reports the breaker snapshot, the fallbacks and the queue length; reset zeroes them', async () => {
    const { service, server, breaker } = setup();
    server.search.mockRejectedValue(new Error('down'));
    await service.search(query, unrestricted);
    await service.search(query, unrestricted);
    expect(await service.circuit()).toEqual({
      ...breaker.snapshot(),
      fallback_count: 2,
      queued_writes: 3,
    });
    const reset = await service.resetCircuit(actor);
    expect(reset).toMatchObject({
      state: 'CLOSED',
      failure_count: 0,
      fallback_count: 0,
      queued_writes: 3,
      opened_at: null,
    });
  });
});

describe('isMemoryCallerError', () => {
  it('accepts validation errors only', () => {
    expect(isMemoryCallerError(new UnprocessableError('bad', []))).toBe(true);
    expect(
      isMemoryCallerError(new McpError(ErrorCode.InvalidParams, 'Input validation error: x')),
    ).toBe(true);
    expect(
      isMemoryCallerError(
        new McpMemoryToolError('create_entities', 'MCP error -32602: Input validation error: x'),
      ),
    ).toBe(true);
    expect(
      isMemoryCallerError(new McpError(ErrorCode.InvalidParams, 'Tool search_nodes not found')),
    ).toBe(false);
    expect(
      isMemoryCallerError(new McpError(ErrorCode.RequestTimeout, 'Input validation error')),
    ).toBe(false);
    expect(isMemoryCallerError(new McpMemoryToolError('create_entities', 'ENOSPC'))).toBe(false);
    expect(isMemoryCallerError(new Error('Input validation error'))).toBe(false);
  });
});

describe('MemoryService scopes and audit', () => {
  const own = '11111111-1111-4111-8111-111111111111';
  const scopedActor: Actor = { principal: scoped, ip: '10.0.0.1', userAgent: 'agent' };

  it('audits every store and every manual reset in the write transaction', async () => {
    const { audited, writes, service } = setup();
    await service.store(input, actor);
    await service.store({ ...input, project_id: own }, actor);
    await service.resetCircuit(actor);
    expect(writes.run).toHaveBeenCalledTimes(3);
    expect(audited).toEqual([
      {
        action: 'store',
        resource: 'memory',
        resourceId: 'deploy',
        changedFields: ['content', 'tags', 'project_id', 'agent_id'],
      },
      {
        action: 'store',
        resource: 'memory',
        resourceId: `@${own}/deploy`,
        changedFields: ['content', 'tags', 'project_id', 'agent_id'],
      },
      { action: 'reset', resource: 'memory_circuit', resourceId: null },
    ]);
  });

  it('keeps a scoped key to its own projects for writes, reads and searches', async () => {
    const { repository, service } = setup();
    await expect(service.store(input, scopedActor)).rejects.toBeInstanceOf(UnprocessableError);
    await expect(
      service.store({ ...input, project_id: '22222222-2222-4222-8222-222222222222' }, scopedActor),
    ).rejects.toThrow('does not exist');
    await expect(service.store({ ...input, project_id: own }, scopedActor)).resolves.toMatchObject({
      key: 'deploy',
    });
    await expect(service.get('deploy', null, scoped)).rejects.toBeInstanceOf(NotFoundError);
    expect(repository.findByKey).not.toHaveBeenCalled();
    repository.findByKey.mockResolvedValueOnce({ ...stored, project_id: own });
    await expect(service.get('deploy', own, scoped)).resolves.toMatchObject({ project_id: own });
    expect(repository.findByKey).toHaveBeenLastCalledWith(expect.anything(), 'deploy', own);
    await expect(service.search(query, scoped)).rejects.toBeInstanceOf(UnprocessableError);
    await expect(service.search({ ...query, project_id: own }, scoped)).resolves.toMatchObject({
      source: 'mcp',
    });
  });
});
