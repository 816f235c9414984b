import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { agentStatuses, agentTypes } from '../../src/domain/agent.js';
import { projectStatuses, sparcModes } from '../../src/domain/project.js';
import { type TestApp, createTestApp, testEngine } from './app.js';
import { byDepth } from './depth.js';

/*
 * Shared by the fuzz files (test/integration/fuzz-*.test.ts). Property: whatever a client sends,
 * the answer is a 2xx or a 4xx problem document, never a 5xx, and a 4xx leaves every row exactly
 * as it was.
 */

/**
 * Runs per endpoint on the engine of the file running now: 200 on PostgreSQL and 50 on PGlite at
 * the standard depth, 1 000 and 200 with `TEST_DEPTH=deep` (fast-check draws a new seed each run,
 * so routine runs keep exploring new inputs).
 */
export function fuzzRuns(): number {
  return testEngine() === 'postgres' ? byDepth(200, 1_000) : byDepth(50, 200);
}

/**
 * Any code point, lone surrogates included: what fast-check's `unit: 'binary'` draws, but that
 * built-in unit costs ≈ 1.6 s of CPU per process to set up (a reverse table over all 1.1 million code
 * points, used only to shrink values it did not generate), and every worker that runs a fuzz file paid it.
 */
const anyCodePoint = fc.nat({ max: 0x10ffff }).map((codePoint) => String.fromCodePoint(codePoint));
export const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: anyCodePoint, maxLength: 40 }), fc.constantFrom('', ' ', '\u0000', '\ud800', 'a'.repeat(300)));
const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 5 }), fc.dictionary(text, scalar, { maxKeys: 5 }), fc.jsonValue({ maxDepth: 40 }));
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
  const withExtra = fc.tuple(known, fc.dictionary(text, value, { maxKeys: 2 })).map(([a, b]) => ({ ...b, ...a }));
  return fc.oneof(known, withExtra, value, fc.jsonValue());
}

const rawEscape = fc.constantFrom('%', '%ZZ', '%ff%fe', '%00', '%E0%A4%A', '%2', '&&', '==', '%25');

export function queryOf(keys: Record<string, fc.Arbitrary<string>>) {
  const pair = fc.oneof(...Object.entries(keys).map(([key, arb]) => arb.map((v) => `${key}=${encode(v)}`)), fc.tuple(text, text).map(([k, v]) => `${encode(k)}=${encode(v)}`), rawEscape);
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));
}

export const idSegment = fc.oneof(uuid, text.map(encode), rawEscape, fc.constant('a'.repeat(150)));

export const pageKeys = {
  limit: fc.oneof(fc.integer({ min: -5, max: 200 }).map(String), text),
  offset: fc.oneof(fc.integer({ min: -5, max: 1e12 }).map(String), text),
  sort: fc.oneof(fc.constantFrom('name', '-name', 'created_at', '-updated_at'), text),
};
export const ifMatch = fc.oneof(fc.constant(undefined), fc.constantFrom('"1"', '*', 'W/"1"', '"999999999999"'), fc.string({ maxLength: 20 }));

/** Percent-encodes any string (lone surrogates included, as U+FFFD); malformed escapes come from {@link rawEscape}. */
function encode(value: string): string {
  return encodeURIComponent(value.toWellFormed());
}

export function headersOf(tag: string | undefined): Record<string, string> {
  return tag === undefined ? {} : { 'if-match': tag.replace(/[^\t\x20-\x7e]/g, '') };
}

/**
 * Registers the file's app and fixtures (one app per file, a fixture project and agent) and
 * returns the property runner and the fixture ids. Call once at the top of a fuzz file.
 */
export function fuzzHarness() {
  let t: TestApp;
  let projectId: string;
  let agentId: string;

  beforeAll(async () => {
    t = await createTestApp();
    await restoreFixtures();
  });
  afterAll(() => t.close());

  async function restoreFixtures(): Promise<void> {
    await t.reset();
    projectId = (await t.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'fixture' } })).json().id;
    const agent = { name: 'fixture-agent', agent_type: 'coder', project_id: projectId };
    agentId = (await t.request({ method: 'POST', url: '/api/v1/agents', payload: agent })).json().id;
  }

  /**
   * Changes whenever any row of projects, agents, events or the audit log is inserted, updated or
   * deleted: every new row version carries a newer transaction id (`xmin`), and a delete lowers a count.
   */
  async function fingerprint(): Promise<string> {
    const result = await t.database.db.execute(sql`select
      (select count(*) from projects) as projects, (select max(xmin::text::bigint) from projects) as project_versions,
      (select count(*) from agents) as agents, (select max(xmin::text::bigint) from agents) as agent_versions,
      (select count(*) from events) as events, (select count(*) from audit_log) as audit`);
    return JSON.stringify((result as unknown as { rows: unknown[] }).rows[0]);
  }

  let knownState: string | undefined;

  async function check(request: InjectOptions): Promise<void> {
    const before = knownState ?? (await fingerprint());
    const response = await t.request(request);
    knownState = response.statusCode >= 400 ? before : undefined;
    expect(response.statusCode, `${request.method} ${request.url} -> ${response.body}`).toBeLessThan(500);
    if (response.statusCode >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ type: expect.any(String), title: expect.any(String), status: response.statusCode, detail: expect.any(String) });
      expect(await fingerprint()).toBe(before);
    } else if (request.method === 'DELETE') {
      await restoreFixtures();
    }
  }

  return {
    property: (arbitrary: fc.Arbitrary<InjectOptions>) => fc.assert(fc.asyncProperty(arbitrary, check), { numRuns: fuzzRuns() }),
    projectId: () => projectId,
    agentId: () => agentId,
  };
}
