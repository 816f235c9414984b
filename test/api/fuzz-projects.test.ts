import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  fuzzHarness,
  fuzzRuns,
  pageKeys,
  bodyOf,
  headersOf,
  idSegment,
  ifMatch,
  projectField,
  queryOf,
  text,
} from '../support/fuzz.js';
import { rawWrites } from '../support/fuzz.js';

/**
 * Random requests to the project endpoints: never a 5xx, a 4xx changes nothing, and a 2xx gives
 * back what was sent (see test/support/fuzz.ts).
 */
const fuzz = fuzzHarness();

describe(`${fuzzRuns()} random requests per project endpoint never yield a 5xx or a change on 4xx`, () => {
  it('POST /projects', () =>
    fuzz.property(
      bodyOf(projectField).map((payload) => ({
        method: 'POST',
        url: '/api/v1/projects',
        payload: payload as object,
      })),
    ));
  it('PUT /projects/:id', () =>
    fuzz.property(
      fc.tuple(bodyOf(projectField), ifMatch).map(([payload, tag]) => ({
        method: 'PUT',
        url: `/api/v1/projects/${fuzz.projectId()}`,
        payload: payload as object,
        headers: headersOf(tag),
      })),
    ));
  it('PATCH /projects/:id', () =>
    fuzz.property(
      fc.tuple(bodyOf(projectField), ifMatch).map(([payload, tag]) => ({
        method: 'PATCH',
        url: `/api/v1/projects/${fuzz.projectId()}`,
        payload: payload as object,
        headers: headersOf(tag),
      })),
    ));
  it('POST and PATCH /projects with raw JSON bodies', () =>
    fuzz.property(rawWrites('/api/v1/projects', fuzz.projectId)));
  it('GET /projects', () =>
    fuzz.property(
      queryOf({ ...pageKeys, status: text, sparc_mode: text, q: text }).map((query) => ({
        method: 'GET',
        url: `/api/v1/projects?${query}`,
      })),
    ));
  it('GET and DELETE /projects/:id', () =>
    fuzz.property(
      fc.tuple(fc.constantFrom('GET', 'DELETE'), idSegment, ifMatch).map(([method, id, tag]) => ({
        method: method as 'GET',
        url: `/api/v1/projects/${id}`,
        headers: headersOf(tag),
      })),
    ));
});
