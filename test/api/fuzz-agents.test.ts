import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  fuzzHarness,
  fuzzRuns,
  pageKeys,
  agentField,
  bodyOf,
  headersOf,
  idSegment,
  ifMatch,
  queryOf,
  text,
} from '../support/fuzz.js';
import { rawWrites } from '../support/fuzz.js';

/**
 * Random requests to the agent endpoints: never a 5xx, a 4xx changes nothing, and a 2xx gives
 * back what was sent (see test/support/fuzz.ts).
 */
const fuzz = fuzzHarness();

describe(`${fuzzRuns()} random requests per agent endpoint never yield a 5xx or a change on 4xx`, () => {
  it('POST /agents', () =>
    fuzz.property(
      bodyOf(agentField).map((payload) => ({
        method: 'POST',
        url: '/api/v1/agents',
        payload: payload as object,
      })),
    ));
  it('PUT /agents/:id', () =>
    fuzz.property(
      fc.tuple(bodyOf(agentField), ifMatch).map(([payload, tag]) => ({
        method: 'PUT',
        url: `/api/v1/agents/${fuzz.agentId()}`,
        payload: payload as object,
        headers: headersOf(tag),
      })),
    ));
  it('PATCH /agents/:id', () =>
    fuzz.property(
      fc.tuple(bodyOf(agentField), ifMatch).map(([payload, tag]) => ({
        method: 'PATCH',
        url: `/api/v1/agents/${fuzz.agentId()}`,
        payload: payload as object,
        headers: headersOf(tag),
      })),
    ));
  it('POST and PATCH /agents with raw JSON bodies', () =>
    fuzz.property(rawWrites('/api/v1/agents', fuzz.agentId, '"agent_type":"coder",')));
  it('GET /agents', () =>
    fuzz.property(
      queryOf({
        ...pageKeys,
        agent_type: text,
        status: text,
        project_id: fc.oneof(fc.uuid(), text),
        capability: text,
      }).map((query) => ({ method: 'GET', url: `/api/v1/agents?${query}` })),
    ));
  it('GET and DELETE /agents/:id', () =>
    fuzz.property(
      fc.tuple(fc.constantFrom('GET', 'DELETE'), idSegment, ifMatch).map(([method, id, tag]) => ({
        method: method as 'GET',
        url: `/api/v1/agents/${id}`,
        headers: headersOf(tag),
      })),
    ));
  it('POST /agents/:id/heartbeat', () =>
    fuzz.property(
      fc.oneof(fc.constant(undefined), bodyOf({ status: agentField.status })).map((payload) => ({
        method: 'POST',
        url: `/api/v1/agents/${fuzz.agentId()}/heartbeat`,
        ...(payload === undefined ? {} : { payload: payload as object }),
      })),
    ));
});
