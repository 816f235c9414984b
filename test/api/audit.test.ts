import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';

/**
 * `GET /api/v1/audit` as an admin reads it: each filter alone (who, what, which resource, when),
 * newest first, and pages that walk back through the log with `before`. The authorization matrix
 * (auth.postgres-only.test.ts) proves who may read it and what each write records.
 */
let t: TestApp;
let admin: Record<string, string>;
let writer: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
});
afterAll(() => t.close());
beforeEach(async () => {
  await t.reset();
  admin = await keyHeader(t.app, { role: 'admin' });
  writer = await keyHeader(t.app, { role: 'writer' });
});

interface Entry {
  id: number;
  at: string;
  key_id: string | null;
  action: string;
  resource: string;
  resource_id: string | null;
}

async function send(method: 'POST' | 'PATCH', url: string, payload: object, headers: object) {
  const response = await t.request({
    method,
    url,
    payload,
    headers: { ...headers, 'user-agent': 'audit-test' },
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  // Entries a millisecond apart at least, so that each has a time of its own to filter on.
  await new Promise((resolve) => setTimeout(resolve, 3));
  return response.json();
}

const keyId = async (headers: Record<string, string>) =>
  (await t.request({ url: '/api/v1/keys/self', headers })).json().key_id as string;

async function audit(query: string) {
  const response = await t.request({ url: `/api/v1/audit?${query}`, headers: admin });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ items: Entry[]; next_before: number | null; has_more: boolean }>();
}

const ids = async (query: string) => (await audit(query)).items.map((entry) => entry.id);

/**
 * Four writes by two keys after the two keys' creations (by the system: no key): the writer's
 * project, the admin's project, the writer's agent, the writer's PATCH. The log, newest first.
 */
async function writes() {
  const mine = await send('POST', '/api/v1/projects', { name: 'Mine' }, writer);
  const theirs = await send('POST', '/api/v1/projects', { name: 'Theirs' }, admin);
  const agent = { name: 'a', agent_type: 'coder', project_id: mine.id };
  await send('POST', '/api/v1/agents', agent, writer);
  await send('PATCH', `/api/v1/projects/${mine.id}`, { status: 'completed' }, writer);
  const entries = (await audit('')).items;
  expect(entries.map((entry) => `${entry.action} ${entry.resource}`)).toEqual([
    'update project',
    'create agent',
    'create project',
    'create project',
    'create key',
    'create key',
  ]);
  return { mine: mine.id as string, theirs: theirs.id as string, entries };
}

describe('GET /api/v1/audit', () => {
  it('names who wrote: the key, its IP and user agent, for batched writes too', async () => {
    const { entries } = await writes();
    const by = { key_id: await keyId(writer), ip: '127.0.0.1', user_agent: 'audit-test' };
    // A project's creation and change go through batched statements (project-repository.ts).
    expect(entries[0]).toMatchObject({ ...by, changed_fields: ['status'] });
    expect(entries[3]).toMatchObject({ ...by, changed_fields: null });
    expect(entries[2]).toMatchObject({ ...by, key_id: await keyId(admin) });
  });

  it('filters by key, action, resource and resource id, each alone, newest first', async () => {
    const { mine, theirs, entries } = await writes();
    const [update, agent, second, first, writerKey, adminKey] = entries.map((entry) => entry.id);
    expect(await ids(`key_id=${await keyId(writer)}`)).toEqual([update, agent, first]);
    expect(await ids(`key_id=${await keyId(admin)}`)).toEqual([second]);
    expect(await ids('action=create')).toEqual([agent, second, first, writerKey, adminKey]);
    expect(await ids('resource=project')).toEqual([update, second, first]);
    expect(await ids(`resource_id=${mine}`)).toEqual([update, first]);
    expect(await ids(`resource_id=${theirs}`)).toEqual([second]);
    expect(await ids(`resource=agent&key_id=${await keyId(admin)}`)).toEqual([]);
  });

  it('filters by time, both bounds inclusive', async () => {
    const { entries } = await writes();
    const [update, agent, second, first] = entries;
    expect(await ids(`since=${agent!.at}`)).toEqual([update!.id, agent!.id]);
    expect(await ids(`until=${first!.at}`)).toEqual(entries.slice(3).map((entry) => entry.id));
    expect(await ids(`since=${second!.at}&until=${agent!.at}`)).toEqual([agent!.id, second!.id]);
    const later = new Date(Date.parse(update!.at) + 1).toISOString();
    expect(await ids(`since=${later}`)).toEqual([]);
  });

  it('pages back with before: limit entries each, has_more until the oldest', async () => {
    const { entries } = await writes();
    const [update, agent, , first] = entries.map((entry) => entry.id);
    const one = await audit('limit=2');
    expect(one).toEqual({ items: entries.slice(0, 2), next_before: agent, has_more: true });
    const two = await audit(`limit=2&before=${one.next_before}`);
    expect(two).toEqual({ items: entries.slice(2, 4), next_before: first, has_more: true });
    const three = await audit(`limit=2&before=${two.next_before}`);
    expect(three).toEqual({ items: entries.slice(4), next_before: null, has_more: false });
    expect(await ids(`before=${update}`)).toEqual(entries.slice(1).map((entry) => entry.id));
    expect(await ids(`before=${entries.at(-1)!.id}`)).toEqual([]);
  });
});
