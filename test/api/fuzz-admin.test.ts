import fc from 'fast-check';
import { describe, it } from 'vitest';
import { roles } from '../../src/domain/auth.js';
import {
  bodyOf,
  fuzzHarness,
  fuzzRuns,
  integerText,
  queryOf,
  text,
  uuid,
} from '../support/fuzz.js';

/**
 * Random requests to the key and audit endpoints: never a 5xx, a 4xx changes nothing, and a 2xx
 * gives back what was sent (see test/support/fuzz.ts).
 */
const fuzz = fuzzHarness();

const keyField = {
  name: fc.oneof(text, fc.constant('\ufeffkey')),
  role: fc.oneof(fc.constantFrom(...roles), text),
  project_ids: fc.oneof(fc.constant(null), fc.array(uuid, { maxLength: 3 }), text),
};

const auditKeys = {
  limit: integerText(2_000),
  before: integerText(Number.MAX_SAFE_INTEGER),
  key_id: fc.oneof(fc.uuid(), text),
  action: fc.oneof(fc.constantFrom('create', 'update'), text),
  resource: fc.oneof(fc.constantFrom('project', 'agent'), text),
  resource_id: text,
  since: fc.oneof(
    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
    text,
  ),
  until: text,
};

const createKey = (payload: unknown) => ({
  method: 'POST' as const,
  url: '/api/v1/keys',
  payload: payload as object,
});
const readAudit = (query: string) => ({ method: 'GET' as const, url: `/api/v1/audit?${query}` });

describe(`${fuzzRuns()} random requests per admin endpoint: no 5xx, no change on 4xx`, () => {
  it('POST /keys', () => fuzz.property(bodyOf(keyField).map(createKey)));
  it('GET /audit', () => fuzz.property(queryOf(auditKeys).map(readAudit)));
});
