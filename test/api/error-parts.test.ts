import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { expectProblem } from '../support/problems.js';

/*
 * A 422 raised by a service (not by a schema) names the request part that carries the field:
 * the same scope check serves `project_id` of a body and of a query (docs/api.md, "Errors").
 */
let t: TestApp;
let mine: string;
let foreign: string;
let scoped: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  const admin = await keyHeader(t.app, { role: 'admin' });
  const create = async (name: string) =>
    (
      await t.request({
        method: 'POST',
        url: '/api/v1/projects',
        payload: { name },
        headers: admin,
      })
    ).json().id as string;
  mine = await create('mine');
  foreign = await create('foreign');
  scoped = await keyHeader(t.app, { role: 'writer', project_ids: [mine] });
});
afterAll(() => t.close());

async function errorsOf(url: string, payload?: object) {
  const method = payload === undefined ? 'GET' : 'POST';
  const response = await t.request({ method, url, headers: scoped, payload });
  return expectProblem(response, 422).errors;
}

describe('the part a 422 names', () => {
  it('is the query for a search naming a project outside the key', async () => {
    const errors = await errorsOf(`/api/v1/memory/search?q=x&project_id=${foreign}`);
    expect(errors).toEqual([
      { path: '/project_id', message: `Project ${foreign} does not exist`, in: 'query' },
    ]);
  });

  it('is the query for a search that a scoped key sends without a project', async () => {
    const errors = await errorsOf('/api/v1/memory/search?q=x');
    expect(errors).toEqual([
      { path: '/project_id', message: 'is required for a key limited to projects', in: 'query' },
    ]);
  });

  it('is the body for a write naming a project outside the key', async () => {
    const errors = await errorsOf('/api/v1/memory', {
      key: 'k',
      content: 'c',
      project_id: foreign,
    });
    expect(errors).toEqual([
      { path: '/project_id', message: `Project ${foreign} does not exist`, in: 'body' },
    ]);
  });

  it('is the body for a write without the project a scoped key needs', async () => {
    const errors = await errorsOf('/api/v1/agents', { name: 'a', agent_type: 'coder' });
    expect(errors).toEqual([
      { path: '/project_id', message: 'is required for a key limited to projects', in: 'body' },
    ]);
  });
});
