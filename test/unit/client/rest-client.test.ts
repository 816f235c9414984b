import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, SwarmClient } from '../../../src/client/index.js';

// The REST client against a fake `fetch`: the requests each method sends (method, URL, query,
// headers, body) and how it reads the answers (bodies, 204, problem documents). The client against
// the running service is test/api/client-sdk.test.ts.

/** One request as the service would receive it. */
interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A `fetch` that records each request and answers with `answer` (by default `{ ok: 1 }`). */
function fakeFetch(answer: () => Response = () => json({ ok: 1 })) {
  const sent: Sent[] = [];
  const fetch = async (input: string | URL | Request, init: RequestInit = {}) => {
    sent.push({
      method: init.method ?? 'GET',
      url: String(input),
      headers: init.headers as Record<string, string>,
      body: init.body as string | undefined,
      signal: init.signal ?? undefined,
    });
    return answer();
  };
  return { sent, fetch };
}

/** A client on a fake `fetch`; `only()` is the one request the test's call sent. */
function clientOn(answer?: () => Response, apiKey?: string) {
  const { sent, fetch } = fakeFetch(answer);
  const client = new SwarmClient({ baseUrl: 'http://swarm.test:3000/ignored/', apiKey, fetch });
  const only = () => {
    expect(sent).toHaveLength(1);
    return sent[0] as Sent;
  };
  return { client, sent, only };
}

const base = 'http://swarm.test:3000';
const jsonBody = { 'content-type': 'application/json' };

/** The ApiError a call rejects with (the test fails if it resolves). */
async function apiError(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('SwarmClient requests', () => {
  it('sends JSON bodies with their content type, and no body or content type without one', async () => {
    const { client, sent } = clientOn();
    expect(await client.projects.create({ name: 'P' })).toEqual({ ok: 1 });
    await client.projects.get('p1');
    expect(sent).toEqual([
      {
        method: 'POST',
        url: `${base}/api/v1/projects`,
        headers: jsonBody,
        body: '{"name":"P"}',
        signal: undefined,
      },
      {
        method: 'GET',
        url: `${base}/api/v1/projects/p1`,
        headers: {},
        body: undefined,
        signal: undefined,
      },
    ]);
  });

  it('authenticates every request with the API key as a bearer token', async () => {
    const { client, only } = clientOn(undefined, 'sk-1');
    await client.agents.heartbeat('a1', { status: 'idle' });
    expect(only()).toMatchObject({
      method: 'POST',
      url: `${base}/api/v1/agents/a1/heartbeat`,
      headers: { ...jsonBody, authorization: 'Bearer sk-1' },
      body: '{"status":"idle"}',
    });
  });

  it('sends If-Match as a quoted version on replace, patch and delete when asked', async () => {
    const { client, sent } = clientOn(() => new Response(null, { status: 204 }));
    await client.projects.replace('p1', { name: 'R' }, { ifMatch: 3 });
    await client.projects.patch('p1', { name: 'Q' }, { ifMatch: 4 });
    expect(await client.projects.delete('p1', { ifMatch: 5 })).toBeUndefined();
    await client.projects.patch('p1', { name: 'Q' });
    await client.projects.delete('p1');
    expect(sent.map(({ method, url, headers }) => ({ method, url, headers }))).toEqual([
      {
        method: 'PUT',
        url: `${base}/api/v1/projects/p1`,
        headers: { ...jsonBody, 'if-match': '"3"' },
      },
      {
        method: 'PATCH',
        url: `${base}/api/v1/projects/p1`,
        headers: { ...jsonBody, 'if-match': '"4"' },
      },
      { method: 'DELETE', url: `${base}/api/v1/projects/p1`, headers: { 'if-match': '"5"' } },
      { method: 'PATCH', url: `${base}/api/v1/projects/p1`, headers: jsonBody },
      { method: 'DELETE', url: `${base}/api/v1/projects/p1`, headers: {} },
    ]);
  });

  it('writes list queries: arrays repeat their key, undefined values are left out', async () => {
    const { client, sent } = clientOn();
    await client.agents.list({ capability: ['ts', 'go'], limit: 5, project_id: undefined });
    await client.agents.list();
    await client.agents.list({});
    await client.events({ after: 7, topic: ['a b', 'c&d'], limit: 1 });
    await client.events();
    await client.audit({ action: 'key.create', before: 9 });
    await client.audit();
    expect(sent.map(({ method, url }) => `${method} ${url.slice(base.length)}`)).toEqual([
      'GET /api/v1/agents?capability=ts&capability=go&limit=5',
      'GET /api/v1/agents',
      'GET /api/v1/agents',
      'GET /api/v1/events?after=7&topic=a+b&topic=c%26d&limit=1',
      'GET /api/v1/events',
      'GET /api/v1/audit?action=key.create&before=9',
      'GET /api/v1/audit',
    ]);
  });

  it('sends an empty heartbeat body when the agent reports nothing', async () => {
    const { client, only } = clientOn();
    await client.agents.heartbeat('a1');
    expect(only()).toMatchObject({ headers: jsonBody, body: '{}' });
  });

  it('calls the global fetch on the global object when no fetch is given', async () => {
    const calls: unknown[] = [];
    vi.stubGlobal('fetch', function (this: unknown, url: URL, init: RequestInit) {
      calls.push([this, `${init.method} ${String(url)}`]);
      return Promise.resolve(json({ items: [] }));
    });
    const client = new SwarmClient({ baseUrl: base });
    expect(await client.keys.list()).toEqual({ items: [] });
    expect(calls).toEqual([[globalThis, `GET ${base}/api/v1/keys`]]);
  });
});

describe('SwarmClient endpoints', () => {
  it('tasks: definitions and execution', async () => {
    const { client, sent } = clientOn();
    const signal = new AbortController().signal;
    await client.tasks.create({ project_id: 'p', title: 'T' });
    await client.tasks.list({ status: ['queued', 'running'] });
    await client.tasks.attempts('t1');
    await client.tasks.claim({ agent_id: 'a', wait_ms: 10 }, { signal });
    await client.tasks.heartbeat('t1', { attempt: 1, progress: 0.5 });
    await client.tasks.complete('t1', { attempt: 1, result: 'ok' });
    await client.tasks.fail('t1', { attempt: 2, error: 'no' });
    await client.tasks.cancel('t1');
    await client.tasks.retry('t1');
    expect(sent.map(({ method, url, body }) => [method, url.slice(base.length), body])).toEqual([
      ['POST', '/api/v1/tasks', '{"project_id":"p","title":"T"}'],
      ['GET', '/api/v1/tasks?status=queued&status=running', undefined],
      ['GET', '/api/v1/tasks/t1/attempts', undefined],
      ['POST', '/api/v1/tasks/claim', '{"agent_id":"a","wait_ms":10}'],
      ['POST', '/api/v1/tasks/t1/heartbeat', '{"attempt":1,"progress":0.5}'],
      ['POST', '/api/v1/tasks/t1/complete', '{"attempt":1,"result":"ok"}'],
      ['POST', '/api/v1/tasks/t1/fail', '{"attempt":2,"error":"no"}'],
      ['POST', '/api/v1/tasks/t1/cancel', undefined],
      ['POST', '/api/v1/tasks/t1/retry', undefined],
    ]);
    expect(sent[3]?.signal).toBe(signal);
  });

  it('tasks.claim: the claimed task, or null when the wait ended without one (204)', async () => {
    const claimed = { task: { id: 't1' }, attempt: { number: 1 } };
    const { client } = clientOn(() => json(claimed));
    expect(await client.tasks.claim({ agent_id: 'a' })).toEqual(claimed);
    const idle = clientOn(() => new Response(null, { status: 204 }));
    expect(await idle.client.tasks.claim({ agent_id: 'a' })).toBeNull();
    expect(idle.only().signal).toBeUndefined();
  });

  it('schedules, memory and keys', async () => {
    const { client, sent } = clientOn();
    await client.schedules.create({
      project_id: 'p',
      name: 'N',
      cron: '* * * * *',
      task: { title: 'T' },
    });
    await client.schedules.patch('s1', { enabled: false }, { ifMatch: 2 });
    await client.schedules.run('s1');
    await client.memory.store({ key: 'k', content: 'c' });
    await client.memory.list({ project_id: 'p' });
    await client.memory.list();
    await client.memory.get('a/b c', 'p');
    await client.memory.get('k');
    await client.memory.search({ q: 'x y', limit: 3 });
    await client.memory.circuit();
    await client.memory.resetCircuit();
    await client.keys.create({ name: 'ci', role: 'writer' });
    await client.keys.revoke('k1');
    expect(sent.map(({ method, url }) => `${method} ${url.slice(base.length)}`)).toEqual([
      'POST /api/v1/schedules',
      'PATCH /api/v1/schedules/s1',
      'POST /api/v1/schedules/s1/run',
      'POST /api/v1/memory',
      'GET /api/v1/memory?project_id=p',
      'GET /api/v1/memory',
      'GET /api/v1/memory/a%2Fb%20c?project_id=p',
      'GET /api/v1/memory/k',
      'GET /api/v1/memory/search?q=x+y&limit=3',
      'GET /api/v1/memory/circuit',
      'POST /api/v1/memory/circuit/reset',
      'POST /api/v1/keys',
      'DELETE /api/v1/keys/k1',
    ]);
    expect(sent[1]?.headers).toEqual({ ...jsonBody, 'if-match': '"2"' });
    expect(sent[11]?.body).toBe('{"name":"ci","role":"writer"}');
  });
});

describe('SwarmClient errors', () => {
  it('throws ApiError with the problem document of a non-2xx answer', async () => {
    const problem = {
      type: 'https://swarm.test/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'Attempt 1 no longer holds task t1',
      instance: '/api/v1/tasks/t1/complete',
    };
    const { client } = clientOn(() => json(problem, 409));
    const error = await apiError(client.tasks.complete('t1', { attempt: 1 }));
    expect(error).toMatchObject({
      name: 'ApiError',
      status: 409,
      problem,
      message: '409 Conflict: Attempt 1 no longer holds task t1',
    });
  });

  it('takes the status from the response, not from the problem document', async () => {
    const { client } = clientOn(() => json({ title: 'Bad', detail: 'd', status: 200 }, 422));
    const error = await apiError(client.projects.get('p'));
    expect(error.status).toBe(422);
    expect(error.problem).toEqual({ title: 'Bad', detail: 'd', status: 422 });
  });

  it('describes an answer that is no problem document from its status and text', async () => {
    const answers = [
      new Response('upstream down', { status: 502, statusText: 'Bad Gateway' }),
      new Response('', { status: 503, statusText: 'Service Unavailable' }),
      new Response('x'.repeat(600), { status: 500 }),
      json({ title: 'Half a problem' }, 400),
      json({ detail: 'no title' }, 400),
      json(null, 404),
    ];
    const { client } = clientOn(() => answers.shift() as Response);
    const problems = [];
    for (let i = 0; i < 6; i++) problems.push((await apiError(client.keys.list())).problem);
    expect(problems).toEqual([
      { type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'upstream down' },
      {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'Service Unavailable',
      },
      { type: 'about:blank', title: 'HTTP 500', status: 500, detail: 'x'.repeat(500) },
      { type: 'about:blank', title: 'HTTP 400', status: 400, detail: '{"title":"Half a problem"}' },
      { type: 'about:blank', title: 'HTTP 400', status: 400, detail: '{"detail":"no title"}' },
      { type: 'about:blank', title: 'HTTP 404', status: 404, detail: 'null' },
    ]);
  });
});
