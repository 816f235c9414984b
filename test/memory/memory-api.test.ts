import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asc } from 'drizzle-orm';
import type { MemoryRecord } from '../../src/memory/mcp-records.js';
import { DatabaseReplayQueue, MemoryRepository } from '../../src/memory/memory-repository.js';
import { memoryReplayQueue } from '../../src/store/schema.js';
import { type TestApp, createTestApp, testEngine } from '../support/app.js';
import {
  buildMemoryApp,
  memoryApi,
  readGraphDirectly,
  temporaryMemoryFile,
} from '../support/memory.js';
import { errorPaths, expectProblem } from '../support/problems.js';

/**
 * MEMORY_MCP=off (the test default): every write is kept locally and queued, every search answered
 * from storage.
 */
let t: TestApp;
const api = memoryApi(() => t.app);
let projectId: string;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  projectId = await createProject('memory');
});

async function createProject(name: string): Promise<string> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/v1/projects',
    payload: { name },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

/** Entries written in one transaction, as one batch would: they share their timestamps. */
async function savedTogether(keys: string[], content: string): Promise<void> {
  const repository = new MemoryRepository();
  await t.database.transaction(async (tx) => {
    for (const key of keys) {
      const record: MemoryRecord = { key, content, tags: [], project_id: null, agent_id: null };
      await repository.save(tx, record);
    }
  });
}

async function stored(payload: object) {
  const response = await api.store(payload);
  expect(response.statusCode, response.body).toBe(201);
  return response;
}

describe('POST /api/v1/memory and GET /api/v1/memory/{key}', () => {
  it('stores an entry locally, queues it for the MCP server and reads it back', async () => {
    const response = await stored({
      key: 'deploy',
      content: 'Deploy uses blue/green',
      tags: ['ops', 'ci'],
      project_id: projectId,
    });
    expect(response.json()).toEqual({ key: 'deploy', project_id: projectId, stored_in: 'queued' });
    expect(response.headers.location).toBe(`/api/v1/memory/deploy?project_id=${projectId}`);
    const entry = (await api.get('deploy', projectId)).json();
    expect(entry).toEqual({
      key: 'deploy',
      content: 'Deploy uses blue/green',
      tags: ['ops', 'ci'],
      project_id: projectId,
      agent_id: null,
      created_at: expect.any(String),
      updated_at: entry.created_at,
    });
    expect((await api.circuit()).queued_writes).toBe(1);
  });

  it('replaces an entry by key, keeping created_at and moving updated_at forward; each write is queued in order', async () => {
    await stored({ key: 'k', content: 'first', tags: ['a'] });
    const first = (await api.get('k')).json();
    await stored({ key: 'k', content: 'second' });
    const second = (await api.get('k')).json();
    expect(second).toMatchObject({ content: 'second', tags: [], created_at: first.created_at });
    expect(Date.parse(second.updated_at)).toBeGreaterThan(Date.parse(first.updated_at));
    const queue = new MemoryRepository();
    const [head] = await queue.oldest(t.database.db, [], 1);
    expect(head?.record).toEqual({
      key: 'k',
      content: 'first',
      tags: ['a'],
      project_id: null,
      agent_id: null,
    });
    expect(await queue.queuedCount(t.database.db)).toBe(2);
  });

  it('round-trips keys with slashes, spaces, query characters and non-ASCII text, up to 255 characters', async () => {
    for (const key of ['notes/2026 plan?v=1#top', 'café ☕ 𝄞', 'k'.repeat(255), 'é'.repeat(255)]) {
      const response = await stored({ key, content: 'x' });
      expect(response.headers.location).toBe(`/api/v1/memory/${encodeURIComponent(key)}`);
      expect((await api.get(key)).json().key).toBe(key);
    }
  });

  it('answers 404 for an unknown key, 422 for a key over 255 characters and 414 beyond the router limit', async () => {
    expect(expectProblem(await api.get('missing'), 404).detail).toBe(
      'Memory entry missing not found',
    );
    expect(errorPaths(await api.get('k'.repeat(256)))).toEqual(['/key']);
    expectProblem(await api.get('k'.repeat(1025)), 414);
  });

  it('names every bad field in one 422, including missing and unknown ones, and stores nothing', async () => {
    const response = await api.store({
      tags: ['a', 'a'],
      project_id: 'nope',
      agent_id: 7,
      extra: true,
    });
    expect(errorPaths(response)).toEqual([
      '/agent_id',
      '/content',
      '/extra',
      '/key',
      '/project_id',
      '/tags',
    ]);
    expect(expectProblem(response, 422).errors).toContainEqual({
      path: '/key',
      message: 'is required',
      in: 'body',
    });
    expect((await api.circuit()).queued_writes).toBe(0);
  });

  it.each([
    ['an empty key', { key: '', content: 'x' }, '/key'],
    ['a key over 255 characters', { key: 'k'.repeat(256), content: 'x' }, '/key'],
    ['the reserved key "search"', { key: 'search', content: 'x' }, '/key'],
    ['the reserved key "circuit"', { key: 'circuit', content: 'x' }, '/key'],
    ['a NUL in the key', { key: 'a\u0000b', content: 'x' }, '/key'],
    ['empty content', { key: 'k', content: '' }, '/content'],
    [
      'content over 64 KiB of UTF-8 (in fewer characters)',
      { key: 'k', content: 'é'.repeat(32 * 1024 + 1) },
      '/content',
    ],
    ['an unpaired surrogate in the content', { key: 'k', content: 'a\ud800' }, '/content'],
    [
      '65 tags',
      { key: 'k', content: 'x', tags: Array.from({ length: 65 }, (_, index) => `t${index}`) },
      '/tags',
    ],
    ['a repeated tag', { key: 'k', content: 'x', tags: ['a', 'a'] }, '/tags'],
    ['an empty tag', { key: 'k', content: 'x', tags: [''] }, '/tags/0'],
    ['a tag over 64 characters', { key: 'k', content: 'x', tags: ['t'.repeat(65)] }, '/tags/0'],
    [
      'a project_id that is not a UUID',
      { key: 'k', content: 'x', project_id: 'p1' },
      '/project_id',
    ],
  ])('rejects %s with 422', async (_, payload, path) => {
    expect(errorPaths(await api.store(payload))).toEqual([path]);
  });

  it('accepts content of exactly 64 KiB and 64 tags of 64 characters', async () => {
    const tags = Array.from({ length: 64 }, (_, index) => `${index}`.padEnd(64, 't'));
    await stored({ key: 'big', content: 'x'.repeat(64 * 1024), tags });
    expect((await api.get('big')).json().tags).toHaveLength(64);
  });
});

describe('GET /api/v1/memory', () => {
  const page = async (query: string) => {
    const response = await t.request({ url: `/api/v1/memory?${query}` });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  };
  const keysOf = (body: { items: Array<{ key: string }> }) => body.items.map((item) => item.key);

  it('lists entries a page at a time, newest first, filtered by project, agent or tag', async () => {
    const agentId = '0a0a0a0a-0000-4000-8000-000000000001';
    await stored({ key: 'b', content: 'x', tags: ['ops'], project_id: projectId });
    await stored({ key: 'a', content: 'x', agent_id: agentId });
    await stored({ key: 'c', content: 'x', tags: ['ops', 'ci'] });
    expect(await page('')).toMatchObject({ total: 3, limit: 20, offset: 0 });
    expect(keysOf(await page(''))).toEqual(['c', 'a', 'b']);
    expect(keysOf(await page('sort=key'))).toEqual(['a', 'b', 'c']);
    expect(keysOf(await page('sort=key&limit=1&offset=1'))).toEqual(['b']);
    expect(keysOf(await page(`project_id=${projectId}`))).toEqual(['b']);
    expect(keysOf(await page(`agent_id=${agentId}`))).toEqual(['a']);
    expect(keysOf(await page('tag=ops&sort=-key'))).toEqual(['c', 'b']);
    expect((await page('tag=ops')).total).toBe(2);
  });

  it('sorts by creation or by last update, in either direction', async () => {
    await stored({ key: 'a', content: 'x' });
    await stored({ key: 'b', content: 'x' });
    await stored({ key: 'a', content: 'y' });
    expect(keysOf(await page(''))).toEqual(['a', 'b']);
    expect(keysOf(await page('sort=updated_at'))).toEqual(['b', 'a']);
    expect(keysOf(await page('sort=created_at'))).toEqual(['a', 'b']);
    expect(keysOf(await page('sort=-created_at'))).toEqual(['b', 'a']);
  });

  it('orders entries of the same instant by key, in the direction of the sort', async () => {
    await savedTogether(['b', 'c', 'a'], 'x');
    expect(keysOf(await page('sort=updated_at'))).toEqual(['a', 'b', 'c']);
    expect(keysOf(await page(''))).toEqual(['c', 'b', 'a']);
    expect(keysOf(await page('sort=-created_at'))).toEqual(['c', 'b', 'a']);
  });

  it('pages through one key of several projects without overlap, the one of no project first', async () => {
    const other = await createProject('other');
    await stored({ key: 'same', content: 'x', project_id: other });
    await stored({ key: 'same', content: 'x' });
    await stored({ key: 'same', content: 'x', project_id: projectId });
    const projects = [];
    for (const offset of [0, 1, 2]) {
      const body = await page(`sort=key&limit=1&offset=${offset}`);
      expect(body.total).toBe(3);
      projects.push(body.items[0].project_id);
    }
    expect(projects).toEqual([null, ...[projectId, other].sort()]);
  });

  it('lists only the entries of the projects in scope (a scoped key), none of no project', async () => {
    const other = await createProject('other');
    await stored({ key: 'mine', content: 'x', project_id: projectId });
    await stored({ key: 'theirs', content: 'x', project_id: other });
    await stored({ key: 'global', content: 'x' });
    const query = { limit: 20, offset: 0, sort: 'key' } as const;
    const scoped = await new MemoryRepository().list(t.database.db, query, [projectId]);
    expect(scoped).toMatchObject({ total: 1, items: [{ key: 'mine' }] });
    const all = await new MemoryRepository().list(t.database.db, query, null);
    expect(all.items.map((item) => item.key)).toEqual(['global', 'mine', 'theirs']);
  });

  it('rejects bad filters with 422', async () => {
    const response = await t.request({
      url: '/api/v1/memory?limit=0&sort=size&project_id=x&tag=&color=red',
    });
    expect(errorPaths(response)).toEqual(['/color', '/limit', '/project_id', '/sort', '/tag']);
  });
});

describe('GET /api/v1/memory/search from storage', () => {
  beforeEach(async () => {
    await stored({
      key: 'deploy-guide',
      content: 'Deploy uses blue and green stacks',
      tags: ['ops'],
      project_id: projectId,
    });
    await stored({ key: 'ci', content: 'Tests run in CI on every push', tags: ['Pipeline'] });
    await stored({ key: 'discount', content: '100%_off is a literal code' });
  });

  const keys = async (query: string) => {
    const response = await api.search(query);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().source).toBe('fallback_storage');
    return response.json().items.map((item: { key: string }) => item.key);
  };

  it('finds case-insensitive substrings of the key, the content or a tag', async () => {
    expect(await keys('q=DEPLOY')).toEqual(['deploy-guide']);
    expect(await keys('q=pipe')).toEqual(['ci']);
    expect(await keys('q=reen')).toEqual(['deploy-guide']);
    expect(await keys('q=%25_off')).toEqual(['discount']);
    expect(await keys('q=nothing')).toEqual([]);
  });

  it('also finds every word of the query in any order, best rank first, with a score', async () => {
    expect(await keys('q=green%20deploy')).toEqual(['deploy-guide']);
    const response = (await api.search('q=push')).json();
    expect(response.items).toEqual([
      {
        key: 'ci',
        content: 'Tests run in CI on every push',
        tags: ['Pipeline'],
        project_id: null,
        agent_id: null,
        score: expect.any(Number),
      },
    ]);
    await stored({ key: 'later', content: 'about pushing' });
    expect(await keys('q=push')).toEqual(['ci', 'later']);
  });

  it('ranks substring-only matches alike, the most recently updated first, then by key', async () => {
    await stored({ key: 'later', content: 'about pushing' });
    expect(await keys('q=ush')).toEqual(['later', 'ci']);
    await stored({ key: 'ci', content: 'Tests run in CI on every push' });
    expect(await keys('q=ush')).toEqual(['ci', 'later']);
    await savedTogether(['tie-b', 'tie-a'], 'a tie');
    expect(await keys('q=ie')).toEqual(['tie-a', 'tie-b']);
  });

  it('keeps finding an entry whose write the MCP server has since acknowledged', async () => {
    const repository = new MemoryRepository();
    const queued = await repository.oldest(t.database.db, [], 10);
    await repository.acknowledge(
      t.database.db,
      queued.map((row) => row.id),
    );
    expect(await repository.queuedCount(t.database.db)).toBe(0);
    expect(await keys('q=deploy')).toEqual(['deploy-guide']);
  });

  it('filters by project_id and caps at limit', async () => {
    expect(await keys(`q=e&project_id=${projectId}`)).toEqual(['deploy-guide']);
    expect(await keys('q=e&limit=2')).toHaveLength(2);
  });

  it('rejects a missing or empty q, a bad limit or project_id and unknown parameters with 422', async () => {
    expect(errorPaths(await api.search(''))).toEqual(['/q']);
    expect(errorPaths(await api.search('q='))).toEqual(['/q']);
    expect(errorPaths(await api.search('q=a&limit=0&project_id=x&color=red'))).toEqual([
      '/color',
      '/limit',
      '/project_id',
    ]);
    expect(errorPaths(await api.search('q=a&limit=101'))).toEqual(['/limit']);
  });
});

describe('the circuit with MEMORY_MCP=off', () => {
  it('reports a CLOSED breaker, the fallbacks and the queue; reset zeroes the counters', async () => {
    await api.reset();
    await stored({ key: 'a', content: 'x' });
    await api.search('q=x');
    expect(await api.circuit()).toEqual({
      state: 'CLOSED',
      failure_count: 0,
      success_count: 0,
      consecutive_failures: 0,
      last_failure_at: null,
      last_success_at: null,
      opened_at: null,
      next_attempt_at: null,
      rejected_count: 0,
      fallback_count: 2,
      queued_writes: 1,
    });
    const reset = await api.reset();
    expect(reset.statusCode).toBe(200);
    expect(reset.json()).toMatchObject({ state: 'CLOSED', fallback_count: 0, queued_writes: 1 });
  });

  it('adds no memory check to readiness: nothing but the database to depend on', async () => {
    expect((await api.ready()).json()).toEqual({
      status: 'ready',
      checks: { database: { status: 'up' } },
    });
  });

  it('documents the memory routes and schemas in OpenAPI', async () => {
    const document = (await t.request({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/memory',
        '/api/v1/memory/search',
        '/api/v1/memory/circuit',
        '/api/v1/memory/circuit/reset',
        '/api/v1/memory/{key}',
      ]),
    );
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining([
        'MemoryEntry',
        'MemorySearchResult',
        'MemoryCircuit',
        'MemoryStoreResult',
      ]),
    );
    expect(Object.keys(document.paths['/api/v1/memory'].post.responses)).toEqual(
      expect.arrayContaining(['201', '413', '415', '422']),
    );
  });
});

describe('the replay queue lock', () => {
  it('lets one drainer at a time work (on PostgreSQL a second one is refused while the first holds the lock)', async () => {
    const first = new DatabaseReplayQueue(t.database);
    const second = new DatabaseReplayQueue(t.database);
    let release!: () => void;
    const held = first.withLock(
      () => new Promise<string>((resolve) => (release = () => resolve('first'))),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (testEngine() === 'postgres') {
      expect(await second.withLock(async () => 'second')).toEqual({ acquired: false });
    }
    release();
    expect(await held).toEqual({ acquired: true, value: 'first' });
    expect(await second.withLock(async (queue) => queue.oldest([], 1))).toEqual({
      acquired: true,
      value: [],
    });
  });
});

describe('the replay queue rows', () => {
  it('reads the oldest rows past skipped keys, records failures and reports which rows are still queued', async () => {
    await stored({ key: 'a', content: 'first' });
    await stored({ key: 'b', content: 'second' });
    await stored({ key: 'c', content: 'third' });
    const repository = new MemoryRepository();
    const db = t.database.db;
    const [headA, headB] = await repository.oldest(db, [], 2);
    expect([headA?.key, headB?.key]).toEqual(['a', 'b']);
    expect((await repository.oldest(db, ['a'], 10)).map((row) => row.key)).toEqual(['b', 'c']);
    expect(await repository.oldest(db, ['a', 'b', 'c'], 10)).toEqual([]);
    await repository.recordFailure(db, [headA!.id, headB!.id], `bad\u0000${'x'.repeat(2_000)}`);
    expect((await repository.oldest(db, [], 3)).map((row) => row.attempts)).toEqual([1, 1, 0]);
    // The reason an operator reads: storable (no NUL) and cut to 1 000 characters.
    const reasons = await db
      .select({ lastError: memoryReplayQueue.lastError })
      .from(memoryReplayQueue)
      .orderBy(asc(memoryReplayQueue.id));
    const reason = `bad${'x'.repeat(997)}`;
    expect(reasons.map((row) => row.lastError)).toEqual([reason, reason, null]);
    await repository.acknowledge(db, [headA!.id]);
    expect(await repository.stillQueued(t.database.db, [headA!.id, headB!.id])).toEqual(
      new Set([headB!.id]),
    );
    expect(await repository.stillQueued(t.database.db, [])).toEqual(new Set());
  });

  it('gives the replay worker, under the lock, the same rows to read, acknowledge and fail', async () => {
    await stored({ key: 'a', content: 'first' });
    await stored({ key: 'b', content: 'second' });
    const queue = new DatabaseReplayQueue(t.database);
    const outcome = await queue.withLock(async (locked) => {
      const [a, b] = await locked.oldest([], 10);
      await locked.recordFailure([b!.id], 'server gone');
      await locked.acknowledge([a!.id]);
      return { ids: [a!.id, b!.id], left: await locked.oldest([], 10) };
    });
    if (!outcome.acquired) throw new Error('nobody else holds the lock');
    const { ids, left } = outcome.value;
    expect(left.map((row) => [row.key, row.attempts])).toEqual([['b', 1]]);
    expect(await queue.stillQueued(ids)).toEqual(new Set([ids[1]]));
  });
});

describe('with the real MCP server', () => {
  let live: FastifyInstance;
  let graph: Awaited<ReturnType<typeof temporaryMemoryFile>>;
  const liveApi = memoryApi(() => live);

  beforeAll(async () => {
    graph = await temporaryMemoryFile();
    // A second instance on the file's database, emptied first so that it replays nothing the other
    // queued; it runs server-memory as the service starts it by default (no MEMORY_MCP_COMMAND).
    await t.reset();
    live = await buildMemoryApp(t.database, { MEMORY_MCP: 'on', MEMORY_FILE_PATH: graph.path });
  });
  afterAll(async () => {
    await live?.close();
    await graph?.remove();
  });

  it('delivers a write before answering, searches the server, and reports a connected, CLOSED memory', async () => {
    const response = await liveApi.store({
      key: 'live',
      content: 'Delivered to server-memory',
      tags: ['mcp'],
    });
    expect(response.json()).toEqual({ key: 'live', project_id: null, stored_in: 'mcp' });
    expect((await liveApi.search('q=server-memory')).json()).toEqual({
      items: [
        {
          key: 'live',
          content: 'Delivered to server-memory',
          tags: ['mcp'],
          project_id: null,
          agent_id: null,
        },
      ],
      source: 'mcp',
    });
    expect((await liveApi.get('live')).json().content).toBe('Delivered to server-memory');
    expect(await liveApi.circuit()).toMatchObject({
      state: 'CLOSED',
      queued_writes: 0,
      fallback_count: 0,
      success_count: 2,
    });
    expect((await liveApi.ready()).json().checks.memory).toEqual({
      status: 'up',
      circuit: 'CLOSED',
      mcp: 'connected',
    });
    const onServer = await readGraphDirectly(graph.path, (server) => server.get('live'));
    expect(onServer?.tags).toEqual(['mcp']);
  });

  it('finds a write that has not reached the server yet in an answer from the server', async () => {
    expect(
      (await liveApi.store({ key: 'delivered', content: 'pending and delivered' })).json()
        .stored_in,
    ).toBe('mcp');
    const pending = {
      key: 'pending',
      content: 'pending, still queued',
      tags: [],
      project_id: null,
      agent_id: null,
    };
    const repository = new MemoryRepository();
    await t.database.transaction(async (tx) => {
      await repository.save(tx, pending);
      await repository.enqueue(tx, pending);
    });
    const found = (await liveApi.search('q=pending')).json();
    expect(found.source).toBe('mcp');
    expect(found.items.map((item: { key: string }) => item.key)).toEqual(['pending', 'delivered']);
  });

  it('keeps the same key of two projects apart, on the server too', async () => {
    const other = await createProject('other');
    for (const [project, content] of [
      [projectId, 'first'],
      [other, 'second'],
    ] as const) {
      expect(
        (await liveApi.store({ key: 'shared', content, project_id: project })).json().stored_in,
      ).toBe('mcp');
    }
    const found = (await liveApi.search('q=shared')).json();
    expect(found.source).toBe('mcp');
    const pairs = found.items.map((item: { project_id: string; content: string }) => [
      item.project_id,
      item.content,
    ]);
    expect(pairs.sort()).toEqual(
      [
        [projectId, 'first'],
        [other, 'second'],
      ].sort(),
    );
    const onServer = await readGraphDirectly(graph.path, (server) =>
      server.get(`@${other}/shared`),
    );
    expect(onServer).toMatchObject({ key: 'shared', project_id: other, content: 'second' });
  });
});
