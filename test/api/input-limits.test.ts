import { sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp, testEngine } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

/*
 * Bad input of every kind gets a 4xx problem and changes nothing, or is stored exactly as sent:
 * never a 500 and never a silent change (docs/api.md, "Input rules").
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(() => t.reset());

const jsonHeaders = { 'content-type': 'application/json' };
const post = (url: string, payload: string | Buffer) =>
  t.request({ method: 'POST', url, headers: jsonHeaders, payload });
const postJson = (url: string, payload: object) => t.request({ method: 'POST', url, payload });
const postProject = (metadata: string) =>
  post('/api/v1/projects', `{"name":"p","metadata":${metadata}}`);

async function count(table: 'projects' | 'agents' | 'api_keys'): Promise<number> {
  const result = await t.database.db.execute(sql.raw(`select count(*) as n from ${table}`));
  return Number((result as { rows: Array<{ n: string }> }).rows[0]!.n);
}

const says = (text: string) => expect.stringContaining(text);

/** The first error of a 422 problem. */
function firstError(response: LightMyRequestResponse) {
  const errors = expectProblem(response, 422).errors ?? [];
  expect(errors.length, response.body).toBeGreaterThan(0);
  return errors[0]!;
}

function nested(kind: 'object' | 'array', depth: number): string {
  if (kind === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

describe('nesting and size of JSON bodies', () => {
  it.each([
    ['projects', 'object'],
    ['projects', 'array'],
    ['agents', 'object'],
    ['agents', 'array'],
  ] as const)('refuses %s metadata of %ss 100 000 levels deep with 422', async (resource, kind) => {
    const fields = resource === 'agents' ? '"name":"a","agent_type":"coder"' : '"name":"p"';
    const body = `{${fields},"metadata":{"deep":${nested(kind, 100_000)}}}`;
    const error = firstError(await post(`/api/v1/${resource}`, body));
    expect(error).toMatchObject({ in: 'body', message: says('64 levels') });
    expect(error.path.startsWith('/metadata/deep/')).toBe(true);
    expect(await count(resource)).toBe(0);
  });

  it('refuses deep nesting in any field, known or not, and in a bare array body', async () => {
    const name = await post('/api/v1/projects', `{"name":${nested('array', 1000)}}`);
    expect(firstError(name).path).toMatch(/^\/name(\/0)+$/);
    const extra = await post('/api/v1/projects', `{"extra":${nested('object', 1000)}}`);
    expect(firstError(extra).path).toMatch(/^\/extra(\/a)+$/);
    const bare = await post('/api/v1/keys', nested('array', 65));
    expect(firstError(bare).message).toContain('64 levels');
  });

  it('accepts 32 levels of metadata and refuses 33 with the metadata rule', async () => {
    expect((await postProject(`{"a":${nested('object', 31)}}`)).statusCode).toBe(201);
    const tooDeep = firstError(await postProject(`{"a":${nested('object', 32)}}`));
    expect(tooDeep).toMatchObject({ path: '/metadata', message: says('32 levels') });
  });

  it('refuses more than 10 000 values in a body and 1 000 members in metadata', async () => {
    const values = firstError(await postProject(`{"a":[${Array(10_000).fill('0').join(',')}]}`));
    expect(values).toMatchObject({ path: '/', message: says('10000 values') });
    const members = (n: number) => `{${Array.from({ length: n }, (_, i) => `"${i}":0`).join(',')}}`;
    const tooMany = firstError(await postProject(members(1001)));
    expect(tooMany).toMatchObject({ path: '/metadata', message: says('1000 members') });
    expect((await postProject(members(1000))).statusCode).toBe(201);
  });

  it('refuses a member name given twice, which JSON.parse would drop silently', async () => {
    const error = firstError(await postProject('{"a":1,"b":{"x":1,"\\u0078":2}}'));
    expect(error).toMatchObject({ path: '/metadata/b/x', message: says('more than once') });
    const twice = await post('/api/v1/projects', '{"name":"a","name":"b"}');
    expect(firstError(twice).path).toBe('/name');
  });
});

describe('bytes and numbers that would not survive', () => {
  it.each([
    ['a byte that never occurs in UTF-8', [0xff]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses %s in a JSON body with 422, where it was stored as U+FFFD', async (_, bytes) => {
    const body = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from(bytes), Buffer.from('"}')]);
    const error = firstError(await post('/api/v1/projects', body));
    expect(error).toEqual({ path: '/', message: 'must be valid UTF-8', in: 'body' });
    expect(await count('projects')).toBe(0);
  });

  it('stores valid UTF-8 of every length byte for byte', async () => {
    const name = 'é ✓ 😀 \u{10ffff}';
    const response = await post('/api/v1/projects', Buffer.from(`{"name":"${name}"}`));
    expect(response.statusCode, response.body).toBe(201);
    expect(Buffer.from(response.json().name).equals(Buffer.from(name))).toBe(true);
  });

  it.each([
    ['1e400', 'is too large'],
    ['-1e400', 'is too large'],
    ['1e-400', 'is too small'],
    ['12345678901234567890', 'safe integer'],
    ['-9007199254740993', 'safe integer'],
  ])('refuses the number %s with 422 instead of storing another value', async (number, message) => {
    const error = firstError(await postProject(`{"x":[1,${number}]}`));
    expect(error).toMatchObject({ path: '/metadata/x/1', message: says(message) });
    expect(await count('projects')).toBe(0);
  });

  it('stores numbers a double holds as sent', async () => {
    const numbers = [0, -1.5, 0.1, 1e300, -1e-300, 9007199254740991, -9007199254740991, 1e21];
    const response = await postProject(`{"n":[${numbers.join(',')}],"e":1E+2}`);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().metadata).toEqual({ n: numbers, e: 100 });
  });
});

describe('text the database cannot store or the engine would change', () => {
  it.each([
    ['a NUL', 'a\u0000b'],
    ['an unpaired surrogate', 'a\ud800b'],
  ])('refuses %s in an API key name with 422 and stores no key', async (_, name) => {
    const error = firstError(await postJson('/api/v1/keys', { name, role: 'reader' }));
    expect(error).toMatchObject({ path: '/name', in: 'body' });
    expect(await count('api_keys')).toBe(0);
  });

  it('trims names of white space, U+FEFF included, as before', async () => {
    const created = await postJson('/api/v1/keys', { name: '\ufeff key \ufeff', role: 'reader' });
    expect(created.json().name).toBe('key');
  });

  it('refuses a NUL or a leading U+FEFF in the audit resource_id filter with 422', async () => {
    for (const value of ['a%00b', encodeURIComponent('\ufeffx')]) {
      const response = await t.request({ url: `/api/v1/audit?resource_id=${value}` });
      expect(firstError(response)).toMatchObject({ path: '/resource_id', in: 'query' });
    }
  });

  /** What the engine under test gives back for a text value: PGlite drops a leading U+FEFF. */
  async function engineEcho(value: string): Promise<string> {
    const result = await t.database.db.execute(sql`select ${value}::text as value`);
    return (result as { rows: Array<{ value: string }> }).rows[0]!.value;
  }

  it('refuses a leading U+FEFF everywhere, as PGlite drops it from text it reads', async () => {
    expect(await engineEcho('\ufeffx')).toBe(testEngine() === 'pglite' ? 'x' : '\ufeffx');
    const fields = [
      { description: '\ufeffd' },
      { metadata: { '\ufeffk': 1 } },
      { metadata: { k: ['\ufeffv'] } },
    ];
    for (const field of fields) {
      expectProblem(await postJson('/api/v1/projects', { name: 'p', ...field }), 422);
    }
    const agent = { name: 'a', agent_type: 'coder', capabilities: ['\ufeffc'] };
    expect(firstError(await postJson('/api/v1/agents', agent)).path).toBe('/capabilities/0');
  });

  it('round-trips U+FEFF anywhere but at the start, on every engine', async () => {
    const project = { name: 'p\ufeffq', description: 'd\ufeff\ufeff', metadata: { 'k\ufeff': 1 } };
    const created = await postJson('/api/v1/projects', project);
    expect(created.statusCode, created.body).toBe(201);
    const read = await t.request({ url: `/api/v1/projects/${created.json().id}` });
    expect(read.json()).toMatchObject(project);
    const agent = { name: 'a\ufeffb', agent_type: 'coder', capabilities: ['c\ufeff'] };
    const id = (await postJson('/api/v1/agents', agent)).json().id;
    expect((await t.request({ url: `/api/v1/agents/${id}` })).json()).toMatchObject(agent);
  });
});

describe('integers in queries', () => {
  const parameters = [
    '/api/v1/projects?limit',
    '/api/v1/projects?offset',
    '/api/v1/agents?limit',
    '/api/v1/agents?offset',
    '/api/v1/events?after',
    '/api/v1/events?limit',
    '/api/v1/audit?limit',
    '/api/v1/audit?before',
    '/ws?last_event_id',
  ];
  const lenient = ['0x10', '', '1e1', ' 5', '+5', '5.0', '05', '-0', '1_0', 'Infinity', '5 '];

  it.each(parameters)('takes plain decimal integers only in %s, 422 else', async (parameter) => {
    const name = parameter.split('?')[1]!;
    for (const value of lenient) {
      const response = await t.request({ url: `${parameter}=${encodeURIComponent(value)}` });
      const errors = expectProblem(response, 422).errors;
      const expected = [expect.objectContaining({ path: `/${name}`, in: 'query' })];
      expect(errors, `${parameter}=${value}`).toEqual(expected);
    }
    if (parameter.startsWith('/ws')) return;
    const plain = await t.request({ url: `${parameter}=16` });
    expect(plain.statusCode, plain.body).toBe(200);
  });

  it('answers 422, not 500, to an id beyond what the database holds', async () => {
    expectProblem(await t.request({ url: '/api/v1/audit?before=100000000000000000000' }), 422);
    expectProblem(await t.request({ url: '/api/v1/events?after=9007199254740992' }), 422);
  });
});

describe('percent-escapes in URLs', () => {
  it('answers a malformed escape in the query with 400, as in the path', async () => {
    expectProblem(await t.request({ url: '/api/v1/projects/%zz' }), 400);
    for (const query of ['q=%ZZ', 'q=%FF', 'q=50%', 'q%ZZ=1', 'sort=name&q=%E0%A4']) {
      const response = await t.request({ url: `/api/v1/projects?${query}` });
      expect(expectProblem(response, 400).detail, query).toMatch(/malformed percent-escape/);
    }
  });

  it('decodes well-formed escapes as before: %25 is a literal %', async () => {
    await postJson('/api/v1/projects', { name: '100%ZZ sure' });
    const found = await t.request({ url: '/api/v1/projects?q=%25ZZ+sure' });
    expect(found.statusCode, found.body).toBe(200);
    expect(found.json().items.map((item: { name: string }) => item.name)).toEqual(['100%ZZ sure']);
  });
});
