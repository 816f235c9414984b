import { isUtf8 } from 'node:buffer';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { agentStatuses, agentTypes } from '../../src/domain/agent.js';
import { METADATA_MAX_BYTES, METADATA_MAX_DEPTH } from '../../src/domain/common.js';
import { METADATA_MAX_MEMBERS } from '../../src/domain/common.js';
import { projectStatuses, sparcModes } from '../../src/domain/project.js';
import { type TestApp, createTestApp, testEngine } from './app.js';
import { byDepth } from './depth.js';

/*
 * Shared by the fuzz files (test/api/fuzz-*.test.ts). Property: whatever a client sends,
 * the answer is a 2xx or a 4xx problem document, never a 5xx; a 4xx leaves every row exactly
 * as it was; and a 2xx gives back every field exactly as it was sent (names trimmed), so nothing
 * is changed silently (see {@link expectFaithful}).
 */

/**
 * Runs per endpoint on the engine of the file running now: 100 on PostgreSQL and 25 on PGlite at
 * the standard depth, 1 000 and 200 with `TEST_DEPTH=deep` (fast-check draws a new seed each run,
 * so routine runs keep exploring new inputs). A run costs about six times as much on PGlite, and
 * the validation it explores is the same on both engines; what is the engine's own (storing the
 * values back as sent) shows in every 2xx.
 */
export function fuzzRuns(): number {
  return testEngine() === 'postgres' ? byDepth(100, 1_000) : byDepth(25, 200);
}

/**
 * Any code point, lone surrogates included: what fast-check's `unit: 'binary'` draws, but that
 * built-in unit costs ≈ 1.6 s of CPU per process to set up (a reverse table over all 1.1 million
 * code points, used only to shrink values it did not generate), and every worker that runs a fuzz
 * file paid it.
 */
const anyCodePoint = fc.nat({ max: 0x10ffff }).map((codePoint) => String.fromCodePoint(codePoint));
export const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: anyCodePoint, maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000', '\ud800', '\ufeffa', 'a\ufeff', 'a'.repeat(300)),
);
const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 5 }),
  fc.dictionary(text, scalar, { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 40 }),
);
export const uuid = fc.oneof(fc.uuid(), fc.constant('00000000-0000-4000-8000-000000000000'));

export const projectField = {
  name: fc.oneof(text, value),
  description: fc.oneof(text, fc.constant(null), value),
  status: fc.oneof(fc.constantFrom(...projectStatuses), value),
  sparc_mode: fc.oneof(fc.constantFrom(...sparcModes), value),
  metadata: fc.oneof(fc.dictionary(text, value, { maxKeys: 8 }), value),
};
export const agentField = {
  name: fc.oneof(text, value),
  agent_type: fc.oneof(fc.constantFrom(...agentTypes), value),
  capabilities: fc.oneof(fc.array(text, { maxLength: 70 }), value),
  status: fc.oneof(fc.constantFrom(...agentStatuses), value),
  project_id: fc.oneof(uuid, fc.constant(null), value),
  metadata: projectField.metadata,
};

export function bodyOf(fields: Record<string, fc.Arbitrary<unknown>>) {
  const known = fc.record(fields, { requiredKeys: [] });
  const withExtra = fc
    .tuple(known, fc.dictionary(text, value, { maxKeys: 2 }))
    .map(([a, b]) => ({ ...b, ...a }));
  return fc.oneof(known, withExtra, value, fc.jsonValue());
}

const rawEscape = fc.constantFrom('%', '%ZZ', '%ff%fe', '%00', '%E0%A4%A', '%2', '&&', '==', '%25');

export function queryOf(keys: Record<string, fc.Arbitrary<string>>) {
  const pair = fc.oneof(
    ...Object.entries(keys).map(([key, arb]) => arb.map((v) => `${key}=${encode(v)}`)),
    fc.tuple(text, text).map(([k, v]) => `${encode(k)}=${encode(v)}`),
    rawEscape,
  );
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));
}

export const idSegment = fc.oneof(uuid, text.map(encode), rawEscape, fc.constant('a'.repeat(150)));

/** Spellings `z.coerce.number()` used to read as integers: only plain decimal digits are. */
const lenientInteger = fc.constantFrom('0x10', '', '1e1', ' 5', '+5', '05', '-0', '5.0', '0b1');
/** Integers as query values: in and out of every range, and in every lenient spelling. */
export const integerText = (max: number) =>
  fc.oneof(
    fc.integer({ min: -5, max }).map(String),
    fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
    lenientInteger,
    text,
  );

export const pageKeys = {
  limit: integerText(200),
  offset: integerText(1e12),
  sort: fc.oneof(fc.constantFrom('name', '-name', 'created_at', '-updated_at'), text),
};
const hasUnsafeInteger = (value: unknown): boolean =>
  typeof value === 'number'
    ? Number.isInteger(value) && !Number.isSafeInteger(value)
    : typeof value === 'object' && value !== null && Object.values(value).some(hasUnsafeInteger);

/**
 * JSON the API stores as sent: it refuses integers beyond ±2^53 (they would lose digits) and, as
 * Fastify does, keys that could poison prototypes; anything else JSON holds. For the properties
 * that compare what a write answered, what a read gives and what the event carried.
 */
export const storableJson = fc
  .jsonValue({ maxDepth: 3 })
  .map((value) => JSON.parse(JSON.stringify(value)) as unknown)
  .filter(
    (value) => !hasUnsafeInteger(value) && !/"(__proto__|constructor)"/.test(JSON.stringify(value)),
  );

export const ifMatch = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('"1"', '*', 'W/"1"', '"999999999999"'),
  fc.string({ maxLength: 20 }),
);

/**
 * A piece of a raw JSON body: its bytes, the value a faithful store gives back for it, and whether
 * the service must refuse it instead (it cannot give it back as sent).
 */
interface RawPart {
  bytes: Buffer;
  value: unknown;
  refused: boolean;
}

const bytesOf = (...pieces: Array<string | Buffer | number[]>) =>
  Buffer.concat(pieces.map((piece) => Buffer.from(piece as string)));
const part = (text: string, value: unknown): RawPart => ({
  bytes: Buffer.from(text),
  value,
  refused: false,
});
const refusedPart = (...pieces: Array<string | Buffer | number[]>): RawPart => ({
  bytes: bytesOf(...pieces),
  value: null,
  refused: true,
});
/** JSON.stringify writes -0 as `0`, which is what comes back. */
const withoutNegativeZero = (n: number) => (Object.is(n, -0) ? 0 : n);
const digit = fc.integer({ min: 1, max: 9 });
const unsafeInteger = fc.bigInt({ min: 2n ** 53n, max: 10n ** 30n });
const sign = fc.constantFrom('', '-');
const exponent = (min: number) => fc.integer({ min, max: 5_000 });

/** Numbers a double holds, and numbers JSON.parse would change: ±Infinity, 0, lost digits. */
const rawNumber = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .map((n) => part(JSON.stringify(n), withoutNegativeZero(n))),
  },
  { weight: 3, arbitrary: fc.maxSafeInteger().map((n) => part(String(n), n)) },
  fc.tuple(sign, digit, exponent(309)).map(([s, m, e]) => refusedPart(`${s}${m}e${e}`)),
  fc.tuple(sign, digit, exponent(325)).map(([s, m, e]) => refusedPart(`${s}${m}e-${e}`)),
  fc.tuple(sign, unsafeInteger).map(([s, n]) => refusedPart(`${s}${n}`)),
);

/** Byte sequences that are not UTF-8, which a lenient decoder would store as U+FFFD. */
const invalidUtf8 = fc.oneof(
  fc.constantFrom<number[]>([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90]),
  fc.array(fc.nat(255), { minLength: 1, maxLength: 4 }).filter((b) => !isUtf8(Buffer.from(b))),
);
const rawString = fc.oneof(
  { weight: 4, arbitrary: text.map((value) => part(JSON.stringify(value), value)) },
  invalidUtf8.map((bytes) => refusedPart('"a', bytes, '"')),
);

/** `inner` inside `depth` arrays or objects; metadata (level 1) may hold 31 more levels. */
function nest(inner: RawPart, depth: number, kind: 'array' | 'object'): RawPart {
  const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
  const pieces = [open.repeat(depth), inner.bytes, close.repeat(depth)];
  if (inner.refused || depth >= METADATA_MAX_DEPTH) return refusedPart(...pieces);
  let value = inner.value;
  for (let level = 0; level < depth; level += 1) value = kind === 'array' ? [value] : { a: value };
  return { bytes: bytesOf(...pieces), value, refused: false };
}

const depth = fc.oneof({ weight: 3, arbitrary: fc.nat(40) }, fc.integer({ min: 40, max: 100_000 }));
const containerKind = fc.constantFrom('array' as const, 'object' as const);
const zeros = (count: number) => part(JSON.stringify(Array(count).fill(0)), Array(count).fill(0));
/** Values of metadata members: nested up to 100 000 levels, or arrays of up to 10 010 numbers. */
const rawMember = fc.oneof(
  rawNumber,
  rawString,
  fc.tuple(fc.oneof(rawNumber, rawString), depth, containerKind).map((args) => nest(...args)),
  fc.integer({ min: 990, max: 10_010 }).map(zeros),
);
const memberName = fc.oneof(
  fc.oneof(fc.constantFrom('a', 'b'), text).map((name) => ({ name, text: JSON.stringify(name) })),
  fc.constant({ name: 'a', text: '"\\u0061"' }),
);
type RawMember = [{ name: string; text: string }, RawPart];

/** Members and items of a value at every level, as the metadata limit counts them. */
function memberCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return Object.values(value).reduce((sum: number, item) => sum + 1 + memberCount(item), 0);
}

function metadataText(members: RawMember[]): Buffer {
  const pieces = members.flatMap(([member, item], index) => [
    index === 0 ? '' : ',',
    `${member.text}:`,
    item.bytes,
  ]);
  return bytesOf('{', ...pieces, '}');
}

/** Metadata of `members` as a faithful store gives it back; refused past a documented limit. */
function rawMetadataOf(members: RawMember[]): RawPart {
  const bytes = metadataText(members);
  const names = new Set(members.map(([member]) => member.name));
  const refused = names.size < members.length || members.some(([, item]) => item.refused);
  if (refused) return { bytes, value: null, refused };
  const value = Object.fromEntries(members.map(([member, item]) => [member.name, item.value]));
  const tooLarge = Buffer.byteLength(JSON.stringify(value)) > METADATA_MAX_BYTES;
  return { bytes, value, refused: tooLarge || memberCount(value) > METADATA_MAX_MEMBERS };
}

const rawMetadata = fc.array(fc.tuple(memberName, rawMember), { maxLength: 5 }).map(rawMetadataOf);

/**
 * Stands for input no store can give back as sent, so a 2xx for it fails {@link expectFaithful}.
 */
const MUST_REFUSE = '\u0000 (must be refused)';
const sentValue = (piece: RawPart) => (piece.refused ? MUST_REFUSE : piece.value);

/** A request case of {@link fuzzHarness}: the request, and what a 2xx must give back. */
export type FuzzRequest = InjectOptions & { sent?: Record<string, unknown> };

/**
 * Raw JSON bodies with a `name` and a `metadata` member (after `fixed` members, as JSON text)
 * that JSON.stringify cannot write: bytes that are not UTF-8, nesting up to 100 000 levels,
 * numbers a double cannot hold, member names given twice; `sent` is what a 2xx must give back.
 */
export function rawBodyOf(fixed: string) {
  const name = fc.oneof({ weight: 4, arbitrary: rawString }, rawNumber);
  return fc.tuple(name, rawMetadata).map(([named, metadata]) => ({
    payload: bytesOf(`{${fixed}"name":`, named.bytes, ',"metadata":', metadata.bytes, '}'),
    headers: { 'content-type': 'application/json' },
    sent: { name: sentValue(named), metadata: sentValue(metadata) },
  }));
}

/** POSTs to `collection` and PATCHes of `id()` in it, with {@link rawBodyOf} bodies. */
export function rawWrites(collection: string, id: () => string, fixed = '') {
  const method = fc.constantFrom('POST' as const, 'PATCH' as const);
  return fc.tuple(method, rawBodyOf(fixed)).map(([verb, raw]): FuzzRequest => ({
    method: verb,
    url: verb === 'POST' ? collection : `${collection}/${id()}`,
    ...raw,
  }));
}

/**
 * Percent-encodes any string (lone surrogates included, as U+FFFD); malformed escapes come from
 * {@link rawEscape}.
 */
function encode(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

export function headersOf(tag: string | undefined): Record<string, string> {
  return tag === undefined ? {} : { 'if-match': tag.replace(/[^\t\x20-\x7e]/g, '') };
}

/** Serializes with sorted member names and ±Infinity apart from null, to compare as JSON. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_name, item: unknown) => {
    if (typeof item === 'number' && !Number.isFinite(item)) return `<${item}>`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const byName = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
    return Object.fromEntries(Object.entries(item).sort(byName));
  });
}

/** The fields of a write whose body is a JSON object: what a 2xx must give back. */
function sentFields(request: InjectOptions): Record<string, unknown> | undefined {
  const { method, payload } = request;
  if (!['POST', 'PUT', 'PATCH'].includes(method ?? 'GET')) return undefined;
  const isObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
  return isObject && !Buffer.isBuffer(payload) ? (payload as Record<string, unknown>) : undefined;
}

/** Fields that come back as the same instant, written in UTC with milliseconds. */
const timestampFields = new Set(['run_at']);

/** Fields the service fills with defaults (a schedule's task template): sent keys come back. */
const completedFields = new Set(['task', 'backoff']);

function expectSame(where: string, field: string, answered: unknown, value: unknown): void {
  const isObject = (item: unknown): item is Record<string, unknown> =>
    typeof item === 'object' && item !== null && !Array.isArray(item);
  if (completedFields.has(field) && isObject(value) && isObject(answered)) {
    for (const [key, inner] of Object.entries(value))
      expectSame(`${where}: ${field}`, key, answered[key], inner);
    return;
  }
  const trimmed = ['name', 'title'].includes(field) && typeof value === 'string';
  const expected = trimmed ? value.trim() : value;
  if (timestampFields.has(field) && typeof value === 'string')
    expect(Date.parse(String(answered)), `${where}: ${field}`).toBe(Date.parse(value));
  else expect(canonical(answered), `${where}: ${field}`).toBe(canonical(expected));
}

/**
 * A 2xx changes nothing silently: every field sent comes back exactly as sent (a name trimmed, as
 * docs/api.md says; a task template with the defaults filled in), and a page names the `limit`
 * and `offset` exactly as the query spelled them.
 */
function expectFaithful(request: FuzzRequest, response: LightMyRequestResponse): void {
  if (response.body === '') return;
  const body = response.json<Record<string, unknown>>();
  const where = `${request.method} ${String(request.url)}`;
  for (const [field, value] of Object.entries(request.sent ?? sentFields(request) ?? {})) {
    if (field in body) expectSame(where, field, body[field], value);
  }
  const query = new URLSearchParams(String(request.url).split('?')[1] ?? '');
  for (const name of ['limit', 'offset']) {
    const spelled = query.getAll(name);
    if (spelled.length !== 1 || !(name in body)) continue;
    expect(String(body[name]), `${where}: ${name}`).toBe(spelled[0]);
  }
}

/**
 * Registers the file's app and fixtures (one app per file, a fixture project and agent) and
 * returns the property runner and the fixture ids. Call once at the top of a fuzz file.
 */
export function fuzzHarness() {
  let t: TestApp;
  let projectId: string;
  let agentId: string;
  let taskId: string;

  beforeAll(async () => {
    t = await createTestApp();
    await restoreFixtures();
  });
  afterAll(() => t.close());

  async function restoreFixtures(): Promise<void> {
    await t.reset();
    projectId = (
      await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'fixture' } })
    ).json().id;
    const agent = { name: 'fixture-agent', agent_type: 'coder', project_id: projectId };
    agentId = (await t.request({ method: 'POST', url: '/api/v1/agents', payload: agent })).json()
      .id;
    const task = { project_id: projectId, title: 'fixture-task' };
    taskId = (await t.request({ method: 'POST', url: '/api/v1/tasks', payload: task })).json().id;
  }

  /**
   * Changes whenever any row of projects, agents, tasks, attempts, schedules, events, the audit
   * log or the keys is inserted,
   * updated or deleted: every new row version carries a newer transaction id (`xmin`), and a
   * delete lowers a count.
   */
  async function fingerprint(): Promise<string> {
    const result = await t.database.db.execute(sql`select
      (select count(*) from projects) as projects, (select max(xmin::text::bigint) from projects) as project_versions,
      (select count(*) from agents) as agents, (select max(xmin::text::bigint) from agents) as agent_versions,
      (select count(*) from api_keys) as keys,
      (select max(xmin::text::bigint) from api_keys) as key_versions,
      (select count(*) from tasks) as tasks, (select max(xmin::text::bigint) from tasks) as task_versions,
      (select count(*) from task_attempts) as attempts,
      (select max(xmin::text::bigint) from task_attempts) as attempt_versions,
      (select count(*) from schedules) as schedules,
      (select max(xmin::text::bigint) from schedules) as schedule_versions,
      (select count(*) from events) as events, (select count(*) from audit_log) as audit`);
    return JSON.stringify((result as { rows: unknown[] }).rows[0]);
  }

  let knownState: string | undefined;

  async function check(fuzzRequest: FuzzRequest): Promise<void> {
    const { sent: _sent, ...request } = fuzzRequest;
    const before = knownState ?? (await fingerprint());
    const response = await t.request(request);
    knownState = response.statusCode >= 400 ? before : undefined;
    expect(
      response.statusCode,
      `${request.method} ${String(request.url)} -> ${response.body}`,
    ).toBeLessThan(500);
    if (response.statusCode >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({
        type: expect.any(String),
        title: expect.any(String),
        status: response.statusCode,
        detail: expect.any(String),
      });
      expect(await fingerprint()).toBe(before);
      return;
    }
    expectFaithful(fuzzRequest, response);
    if (request.method === 'DELETE') await restoreFixtures();
  }

  return {
    property: (arbitrary: fc.Arbitrary<FuzzRequest>) =>
      fc.assert(fc.asyncProperty(arbitrary, check), { numRuns: fuzzRuns() }),
    projectId: () => projectId,
    agentId: () => agentId,
    taskId: () => taskId,
  };
}
